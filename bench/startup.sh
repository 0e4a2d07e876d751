#!/usr/bin/env bash
# Time from `tollgate serve` to a ready /readyz on SQLite, and idle RSS, over several runs.
# Usage: bench/startup.sh [path/to/tollgate] [runs]
# Builds the release binary first when no path is given. Loopback only; stops what it starts.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-}"
runs="${2:-10}"
if [ -z "$bin" ]; then
    cargo build --release -p tollgate >/dev/null
    bin="${CARGO_TARGET_DIR:-target}/release/tollgate"
fi
port=18080
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

ready_ms=()
for i in $(seq 1 "$runs"); do
    rm -f "$work"/tollgate.db*
    start=$(date +%s%N)
    TOLLGATE_SERVER__BIND="127.0.0.1:$port" TOLLGATE_DATABASE__URL="sqlite://$work/tollgate.db" \
        TOLLGATE_LOG__LEVEL=warn "$bin" serve >/dev/null 2>&1 &
    pid=$!
    until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
        kill -0 "$pid" 2>/dev/null || { echo "tollgate exited early"; exit 1; }
        sleep 0.002
    done
    end=$(date +%s%N)
    ready_ms+=($(( (end - start) / 1000 )))
    if [ "$i" -eq "$runs" ]; then
        sleep 2
        rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    fi
    kill -TERM "$pid"; wait "$pid" || true
done
sorted=$(printf '%s\n' "${ready_ms[@]}" | sort -n)
median=$(echo "$sorted" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
min=$(echo "$sorted" | head -n1)
max=$(echo "$sorted" | tail -n1)
printf 'serve -> ready (fresh SQLite file, migrations applied): median %.1f ms, min %.1f ms, max %.1f ms over %d runs\n' \
    "$(echo "$median/1000" | bc -l)" "$(echo "$min/1000" | bc -l)" "$(echo "$max/1000" | bc -l)" "$runs"
printf 'idle RSS after start: %.1f MiB\n' "$(echo "$rss_kb/1024" | bc -l)"
printf 'binary size: %.1f MiB\n' "$(echo "$(stat -c %s "$bin")/1048576" | bc -l)"
