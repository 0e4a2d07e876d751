#!/usr/bin/env bash
# The gateway's overhead, measured against its baseline in one run, on loopback:
#   upstream: `tollgate mock-provider` in its own process (no latency of its own);
#   direct:   the load generator calls the mock provider;
#   tollgate: the load generator calls `tollgate serve` (SQLite, key auth, credits on the
#             "credits" key, usage journaled and stored), whose OpenAI-compatible provider is
#             that same mock provider.
# For JSON answers and for streams (14 events): latency at concurrency 1, latency at a fixed
# offered rate (open loop, corrected for coordinated omission), throughput at concurrency 64
# (on two shared cores: a CPU measure), CPU time per request of each process, and the
# gateway's peak RSS. The load generator is oha (`cargo install oha`).
# With "postgres" as the fourth argument the gateway stores into a fresh PostgreSQL database at
# 127.0.0.1:5432 (owned by a plain role, so row-level security applies) instead of SQLite; the
# database server's CPU is then not in the gateway's.
# Usage: bench/load.sh [path/to/release/tollgate] [seconds per run] [rate] [sqlite|postgres]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:-${CARGO_TARGET_DIR:-$here/../target}/release/tollgate}"
bin="$(realpath "$bin")"
secs="${2:-10}"
rate="${3:-2000}"
backend="${4:-sqlite}"
oha="$(command -v oha || echo "$HOME/.cache/tollgate-tools/bin/oha")"
[ -x "$oha" ] || { echo "oha is needed: cargo install oha --locked"; exit 1; }
mock_port=18301
port=18300
work="$(mktemp -d)"
pids=()
pg_db="tg_bench_$$"
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ "$backend" = postgres ] && psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT

if [ "$backend" = postgres ]; then
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "DO \$\$ BEGIN CREATE ROLE tollgate_bench LOGIN NOSUPERUSER NOBYPASSRLS; EXCEPTION WHEN duplicate_object THEN NULL; END \$\$" >/dev/null
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $pg_db OWNER tollgate_bench" >/dev/null
    db_url="postgres://tollgate_bench@127.0.0.1:5432/$pg_db"
else
    db_url="sqlite://$work/tollgate.db"
fi

"$bin" mock-provider --bind "127.0.0.1:$mock_port" >"$work/mock.log" 2>&1 &
mock=$!
pids+=("$mock")
cat >"$work/tollgate.toml" <<TOML
[server]
bind = "127.0.0.1:$port"
[database]
url = "$db_url"
[usage]
journal_dir = "$work/journal"
[log]
level = "warn"
[gateway]
key_cache_seconds = 300
[providers.upstream]
base_url = "http://127.0.0.1:$mock_port/v1"
[[models]]
name = "bench"
provider = "upstream"
upstream_model = "mock-small"
input_micros_per_mtok = 150000
output_micros_per_mtok = 600000
context_tokens = 16384
TOML
(cd "$work" && exec "$bin" --config "$work/tollgate.toml" serve --demo >"$work/out.txt" 2>"$work/tollgate.log") &
gateway=$!
pids+=("$gateway")
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
app=00000000-0000-0000-0000-000000000010
free=$("$bin" --config "$work/tollgate.toml" keys create --app "$app" --name bench-free | tail -n 1)
paying=$("$bin" --config "$work/tollgate.toml" keys create --app "$app" --name bench-credits --credits 1000000 | tail -n 1)

# BENCH_PROMPT replaces the prompt (JSON-escaped), e.g. one with personal data for the PII
# firewall's redact-and-restore path; TOLLGATE_PII__ENABLED=false turns the firewall off.
prompt="${BENCH_PROMPT:-Say hello to the load test}"
body="{\"model\": \"MODEL\", \"messages\": [{\"role\": \"user\", \"content\": \"$prompt\"}]}"
stream_body="{\"model\": \"MODEL\", \"stream\": true, \"messages\": [{\"role\": \"user\", \"content\": \"$prompt\"}]}"
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run NAME TARGET(direct|tollgate) KEY STREAM(0|1) ARGS...: one oha run; prints a result line.
run() {
    local name="$1" target="$2" key="$3" stream="$4"; shift 4
    local url model b
    if [ "$target" = direct ]; then url="http://127.0.0.1:$mock_port/v1/chat/completions"; model=mock-small
    else url="http://127.0.0.1:$port/v1/chat/completions"; model=bench; fi
    if [ "$stream" = 1 ]; then b="${stream_body/MODEL/$model}"; else b="${body/MODEL/$model}"; fi
    local g0 m0 g1 m1
    g0=$(cpu_ticks "$gateway"); m0=$(cpu_ticks "$mock")
    "$oha" --no-tui --output-format json -z "${secs}s" -m POST -T application/json \
        -H "Authorization: Bearer $key" -d "$b" "$@" "$url" >"$work/run.json"
    g1=$(cpu_ticks "$gateway"); m1=$(cpu_ticks "$mock")
    python3 - "$work/run.json" "$name" "$((g1 - g0))" "$((m1 - m0))" "$hz" "$target" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
name, g, m, hz, target = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
s = r["summary"]
ok = sum(v for k, v in r.get("statusCodeDistribution", {}).items() if k == "200")
total = sum(r.get("statusCodeDistribution", {}).values()) or 1
lat = r["latencyPercentiles"]
ms = lambda v: (v or 0) * 1000
cpu = lambda t: t * 1000 / hz / max(ok, 1)
gw = f"{cpu(g):.3f}" if target == "tollgate" else "-"
print(f"| {name} | {s['requestsPerSec']:.0f} | {ms(lat['p50']):.3f} | {ms(lat['p99']):.3f} | {gw} | {cpu(m):.3f} | {ok}/{total} |")
PY
}

echo "machine: $(nproc) cores, $(uname -r); $($bin --version); $($oha --version); ${secs}s per run; $backend; worker threads: ${TOLLGATE_SERVER__WORKER_THREADS:-0 (one per core)}; PII firewall: ${TOLLGATE_PII__ENABLED:-true}; prompt: $prompt"
echo
echo "| run | req/s | p50 ms | p99 ms | gateway CPU ms/req | mock CPU ms/req | 200s |"
echo "|---|---|---|---|---|---|---|"
run "direct, JSON, c=1" direct x 0 -c 1
run "tollgate, JSON, c=1, no credits" tollgate "$free" 0 -c 1
run "tollgate, JSON, c=1, credits" tollgate "$paying" 0 -c 1
run "direct, stream, c=1" direct x 1 -c 1
run "tollgate, stream, c=1, credits" tollgate "$paying" 1 -c 1
run "direct, JSON, ${rate}/s offered" direct x 0 -c 64 -q "$rate" --latency-correction
run "tollgate, JSON, ${rate}/s offered, credits" tollgate "$paying" 0 -c 64 -q "$rate" --latency-correction
run "direct, JSON, c=64" direct x 0 -c 64
run "tollgate, JSON, c=64, credits" tollgate "$paying" 0 -c 64
run "direct, stream, c=64" direct x 1 -c 64
run "tollgate, stream, c=64, credits" tollgate "$paying" 1 -c 64
echo
echo "gateway RSS: $(awk '/VmRSS/ {print int($2/1024)}' "/proc/$gateway/status") MiB at the end, $(awk '/VmHWM/ {print int($2/1024)}' "/proc/$gateway/status") MiB at peak; mock peak RSS: $(awk '/VmHWM/ {print int($2/1024)}' "/proc/$mock/status") MiB"
if [ "$backend" = postgres ]; then
    stored=$(psql -At -h 127.0.0.1 -U postgres -d "$pg_db" -c "select count(*) from usage_logs")
else
    stored=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from usage_logs').fetchone()[0])" "$work/tollgate.db")
fi
echo "backend: $backend; usage rows stored by the end: $stored"
