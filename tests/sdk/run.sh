#!/usr/bin/env bash
# The official OpenAI and Anthropic SDKs against a running Tollgate, twice:
#  1. `tollgate serve --demo` on its defaults (built-in mock provider), with the README's curl
#     example first;
#  2. through the real HTTP adapters: `tollgate mock-provider` on its own port behind an
#     OpenAI-compatible provider and an Anthropic provider, so every SDK check also crosses the
#     translation between the two APIs.
# Usage: tests/sdk/run.sh path/to/tollgate path/to/python
set -euo pipefail
bin="$(realpath "$1")"
python="$(command -v "$2" || realpath "$2")"
here="$(cd "$(dirname "$0")" && pwd)"
port="${TOLLGATE_TEST_SDK_PORT:-18089}"
mock_port=$((port + 1))
work="$(mktemp -d)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

wait_for() { # url, pid, log
    for _ in $(seq 1 300); do
        curl -s -o /dev/null "$1" 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || { cat "$3"; echo "process exited"; exit 1; }
        sleep 0.1
    done
    echo "$1 did not answer"; exit 1
}

# Starts `serve --demo` in $work/$1 with the given extra arguments; sets key and broke.
start_gateway() {
    local dir="$work/$1"; shift
    mkdir -p "$dir"
    (cd "$dir" && TOLLGATE_SERVER__BIND="127.0.0.1:$port" TOLLGATE_SERVER__EXTERNAL_URL="http://127.0.0.1:$port" \
        TOLLGATE_DATABASE__URL="sqlite://$dir/tollgate.db" TOLLGATE_LOG__LEVEL=warn \
        exec "$bin" "$@" serve --demo >"$dir/out.txt" 2>"$dir/log.txt") &
    gateway=$!
    pids+=("$gateway")
    wait_for "http://127.0.0.1:$port/readyz" "$gateway" "$dir/log.txt"
    key=$(awk '/Demo Key 1:/ {print $4}' "$dir/out.txt")
    broke=$(awk '/Demo Key 2:/ {print $4}' "$dir/out.txt")
    limited=$(awk '/Demo Key 3:/ {print $4}' "$dir/out.txt")
    db="$dir/tollgate.db"
    [ -n "$key" ] && [ -n "$broke" ] && [ -n "$limited" ] || { cat "$dir/out.txt"; echo "no demo keys printed"; exit 1; }
    # Empty the second demo key's credits for the 402 check (the SQLite file is ours).
    "$python" - "$dir/tollgate.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE api_keys SET credits_remaining = 0 WHERE name = 'Demo Key 2'")
db.commit()
PY
}

stop_gateway() {
    kill "$gateway" 2>/dev/null || true
    wait "$gateway" 2>/dev/null || true
}

status=0
run_sdks() { # chat models, embedding model
    # The third demo key may call only the first chat model (unused so far, so not cached).
    "$python" - "$db" "${1%%,*}" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE api_keys SET allowed_models = ? WHERE name = 'Demo Key 3'", (json.dumps([sys.argv[2]]),))
db.commit()
PY
    export TOLLGATE_TEST_URL="http://127.0.0.1:$port" TOLLGATE_TEST_KEY="$key" TOLLGATE_TEST_BROKE_KEY="$broke"
    export TOLLGATE_TEST_LIMITED_KEY="$limited"
    export TOLLGATE_TEST_CHAT_MODELS="$1" TOLLGATE_TEST_EMBED_MODEL="$2"
    echo "-- openai SDK"
    "$python" "$here/openai_compat.py" || status=1
    echo "-- anthropic SDK"
    "$python" "$here/anthropic_compat.py" || status=1
}

echo "== serve --demo (built-in mock provider)"
start_gateway demo
# The README's example, as printed by serve --demo.
example=$(sed -n '/^try next:/,$p' "$work/demo/out.txt" | tail -n +2 | tr -d '\\\n')
answer=$(eval "$example")
echo "$answer" | grep -q 'You said: Hello, Tollgate' || { echo "README example failed: $answer"; exit 1; }
echo "ok     README curl example"
run_sdks "mock-small,mock-large" "mock-embed"
stop_gateway

echo "== through the HTTP adapters (mock-provider on :$mock_port, OpenAI-compatible and Anthropic)"
export SDK_UPSTREAM_KEY="sk-sdk-upstream-$(date +%s)"
TOLLGATE_MOCK_API_KEY="$SDK_UPSTREAM_KEY" "$bin" mock-provider --bind "127.0.0.1:$mock_port" >"$work/mock.txt" 2>&1 &
pids+=("$!")
wait_for "http://127.0.0.1:$mock_port/v1/models" "$!" "$work/mock.txt"
cat >"$work/adapters.toml" <<TOML
[providers.compat]
base_url = "http://127.0.0.1:$mock_port/v1"
api_key_env = "SDK_UPSTREAM_KEY"

[providers.claude]
kind = "anthropic"
base_url = "http://127.0.0.1:$mock_port"
api_key_env = "SDK_UPSTREAM_KEY"

[[models]]
name = "gpt-mock"
provider = "compat"
upstream_model = "mock-small"
input_micros_per_mtok = 150000
output_micros_per_mtok = 600000
context_tokens = 16384

[[models]]
name = "claude-mock"
provider = "claude"
upstream_model = "mock-large"
input_micros_per_mtok = 3000000
output_micros_per_mtok = 15000000
context_tokens = 200000

[[models]]
name = "embed-mock"
provider = "compat"
upstream_model = "mock-embed"
input_micros_per_mtok = 20000
output_micros_per_mtok = 0
context_tokens = 8192
kind = "embedding"
dimensions = 256
TOML
start_gateway adapters --config "$work/adapters.toml"
run_sdks "gpt-mock,claude-mock" "embed-mock"
stop_gateway
exit "$status"
