#!/usr/bin/env bash
# Starts `tollgate serve --demo` on a fresh SQLite file, then runs the README's curl example and
# the OpenAI and Anthropic SDK checks against it. Usage: tests/sdk/run.sh path/to/tollgate path/to/python
set -euo pipefail
bin="$(realpath "$1")"
python="$(command -v "$2" || realpath "$2")"
here="$(cd "$(dirname "$0")" && pwd)"
port="${TOLLGATE_SDK_PORT:-18089}"
work="$(mktemp -d)"
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; wait "${pid:-}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

cd "$work"
TOLLGATE_SERVER__BIND="127.0.0.1:$port" TOLLGATE_SERVER__EXTERNAL_URL="http://127.0.0.1:$port" \
    TOLLGATE_DATABASE__URL="sqlite://$work/tollgate.db" TOLLGATE_LOG__LEVEL=warn \
    "$bin" serve --demo >"$work/out.txt" 2>"$work/log.txt" &
pid=$!
for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/log.txt"; echo "tollgate exited"; exit 1; }
    sleep 0.1
done
key=$(awk '/Demo Key 1:/ {print $4}' "$work/out.txt")
broke=$(awk '/Demo Key 2:/ {print $4}' "$work/out.txt")
[ -n "$key" ] && [ -n "$broke" ] || { cat "$work/out.txt"; echo "no demo keys printed"; exit 1; }

# The README's example, as printed by serve --demo.
example=$(sed -n '/^try next:/,$p' "$work/out.txt" | tail -n +2 | tr -d '\\\n')
answer=$(eval "$example")
echo "$answer" | grep -q 'You said: Hello, Tollgate' || { echo "README example failed: $answer"; exit 1; }
echo "ok     README curl example"

# Empty the second demo key's credits for the 402 check (the SQLite file is ours).
"$python" - "$work/tollgate.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE api_keys SET credits_remaining = 0 WHERE name = 'Demo Key 2'")
db.commit()
PY

export TOLLGATE_URL="http://127.0.0.1:$port" TOLLGATE_KEY="$key" TOLLGATE_BROKE_KEY="$broke"
status=0
echo "-- openai SDK"
"$python" "$here/openai_compat.py" || status=1
echo "-- anthropic SDK"
"$python" "$here/anthropic_compat.py" || status=1
exit "$status"
