#!/usr/bin/env bash
# Relay benchmark: ScaiSend beside Postfix in the same run, with the peer harness
# (bench/peers/peers.sh: smtp-source -> MTA -> smtp-sink, all on 127.0.0.1).
#   bench/relay_bench.sh                 # N=20000 messages of 5 KB, 20 clients, 3 repetitions
#   N=2000 REPEAT=1 bench/relay_bench.sh # a quick look
#   WORKERS=2 bench/relay_bench.sh       # [server] workers = 2 (default 1: one process)
# ScaiSend runs with the trusted-network relay ([smtp] relay_networks) so smtp-source can
# inject without AUTH, and a smarthost route ("*") to the harness's sink. Figures go to
# $OUT (default /tmp/mtabench-out/<time>); copy them into docs/benchmarks.md.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
PEERS="${PEERS:-$HERE/peers}"  # the peer harness: Postfix, smtp-source, smtp-sink
PORT="${MTA_UNDER_TEST_PORT:-2530}"
STATE="${SCAISEND_BENCH_DIR:-/var/tmp/scaisend-bench}"
PY="$ROOT/.venv/bin/python"
WORKERS="${WORKERS:-1}"
[ -x "$PY" ] || { echo "run 'make test' or 'make run' once to create .venv" >&2; exit 1; }

rm -rf "$STATE" && mkdir -p "$STATE"
cat >"$STATE/bench.sh" <<RUN
#!/usr/bin/env bash
# started by peers.sh with BENCH_SINK_HOST / BENCH_SINK_PORT in the environment
cat >"$STATE/scaisend.toml" <<TOML
[http]
listen = "127.0.0.1:18080"
[smtp]
hostname = "scaisend-bench.example.com"
submission_listen = ""
smtps_listen = ""
mx_listen = "127.0.0.1:$PORT"
relay_networks = ["127.0.0.0/8"]
relay_account = "bench"
[storage]
data_dir = "$STATE/var"
[delivery]
routes = { "*" = "\$BENCH_SINK_HOST:\$BENCH_SINK_PORT" }
[server]
workers = $WORKERS
[log]
level = "warning"
TOML
exec "$PY" -m mta.server.cli.main serve --config "$STATE/scaisend.toml"
RUN
chmod +x "$STATE/bench.sh"

export MTA_UNDER_TEST_PORT="$PORT" MTA_UNDER_TEST_NAME="${MTA_UNDER_TEST_NAME:-scaisend}"
export MTA_UNDER_TEST_START_CMD="$STATE/bench.sh"
export RUN_DIRECT="${RUN_DIRECT:-0}" RUN_FSYNC="${RUN_FSYNC:-0}"
cd "$ROOT"
exec bash "$PEERS/peers.sh"
