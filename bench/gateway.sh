#!/usr/bin/env bash
# Load through a running Tollgate on loopback (mock provider, SQLite file), with wrk:
# concurrency 1 (latency unloaded) and 64 (saturation on 2 shared cores: a CPU measure), for
# GET /healthz (the HTTP floor of the same server) and POST /v1/chat/completions with an
# unlimited key and with a key that has credits. Reports requests/s, latency percentiles, CPU
# time of the tollgate process per request and its RSS. Bounded: each run lasts $secs seconds.
# Usage: bench/gateway.sh path/to/release/tollgate [seconds]
set -euo pipefail
bin="$(realpath "$1")"
secs="${2:-10}"
port=18181
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; wait "${pid:-}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)"; exit 1; }

cd "$work"
TOLLGATE_SERVER__BIND="127.0.0.1:$port" TOLLGATE_DATABASE__URL="sqlite://$work/tollgate.db" \
    TOLLGATE_LOG__LEVEL=warn TOLLGATE_GATEWAY__KEY_CACHE_SECONDS=30 \
    "$bin" serve --demo >"$work/out.txt" 2>"$work/log.txt" &
pid=$!
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
credited=$(awk '/Demo Key 1:/ {print $4}' "$work/out.txt")
app=00000000-0000-0000-0000-000000000010
unlimited=$(TOLLGATE_DATABASE__URL="sqlite://$work/tollgate.db" "$bin" keys create --app "$app" --name bench | tail -n 1)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)

run() { # name, concurrency, method script, key
    local name="$1" conns="$2" lua="$3" key="$4" path="$5"
    local before after requests
    before=$(cpu_ticks)
    out=$(KEY="$key" wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$here/$lua" "http://127.0.0.1:$port$path")
    after=$(cpu_ticks)
    requests=$(echo "$out" | awk '/requests in/ {print $1}')
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1=="50%" {print $2}')
    p99=$(echo "$out" | awk '$1=="99%" {print $2}')
    errors=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
    cpu_ms=$(echo "($after - $before) * 1000 / $hz / $requests" | bc -l)
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    printf '%-34s c=%-3s %9s req/s  p50 %8s  p99 %8s  CPU %.3f ms/req  RSS %d MiB  non-2xx %s\n' \
        "$name" "$conns" "$rps" "$p50" "$p99" "$cpu_ms" "$((rss / 1024))" "${errors:-0}"
}

for c in 1 64; do
    run "GET /healthz (HTTP floor)" "$c" get.lua "" /healthz
    run "chat, unlimited key" "$c" chat.lua "$unlimited" /v1/chat/completions
    run "chat, key with credits" "$c" chat.lua "$credited" /v1/chat/completions
done
