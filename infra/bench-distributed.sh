#!/bin/bash
# Runs a load-tests scenario against Lectern distributed on this machine: GATEWAYS gateways
# and ROOMS rooms processes on NATS (NATS_URL, default nats://127.0.0.1:4222) and Postgres
# (a fresh schema `bench_dist` in PGDATABASE_URL, default postgres://postgres@127.0.0.1:5432/test).
#
#   infra/bench-distributed.sh rooms                  # W2: 200 rooms x 10, 1,000 msg/s
#   ROOMS=1 infra/bench-distributed.sh burst          # one rooms process, for comparison
#   HANDOFF_AT=10 infra/bench-distributed.sh rooms    # a rooms process joins 10 s in: hand-off under load
#
# Needs `npm run build` (services and load-tests). Every process started here is stopped by
# pid at the end. Extra bench flags: BENCH_ARGS="--duration 30".
set -euo pipefail
cd "$(dirname "$0")/.."
scenario=${1:-rooms}
gateways=${GATEWAYS:-2}
rooms=${ROOMS:-2}
base=${PGDATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
psql "$base" -qc 'drop schema if exists bench_dist cascade' -c 'create schema bench_dist' 2>/dev/null
export JWT_SECRET=${JWT_SECRET:-bench-secret-0123456789} LOG_LEVEL=${LOG_LEVEL:-warn}
export NATS_URL=${NATS_URL:-nats://127.0.0.1:4222} LECTERN_SUBJECT_PREFIX=benchdist.rt
export DATABASE_URL="$base?options=-c%20search_path%3Dbench_dist"
node services/cli/dist/main.js migrate
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
for i in $(seq 1 "$rooms"); do LECTERN_METRICS_PORT=$((5190 + i)) node services/cli/dist/main.js rooms & pids+=($!); done
urls=()
for i in $(seq 1 "$gateways"); do PORT=$((5180 + i)) node services/cli/dist/main.js gateway & pids+=($!); urls+=("ws://127.0.0.1:$((5180 + i))/ws"); done
sleep 3
server_pids=()
for p in "${pids[@]}"; do server_pids+=(--server-pid "$p"); done
if [ -n "${HANDOFF_AT:-}" ]; then
  (sleep "$HANDOFF_AT"; LECTERN_METRICS_PORT=5199 exec node services/cli/dist/main.js rooms) & pids+=($!)
fi
node load-tests/dist/bench.js "$scenario" --url "$(IFS=,; echo "${urls[*]}")" --secret "$JWT_SECRET" "${server_pids[@]}" ${BENCH_ARGS:-}
for i in $(seq 1 "$rooms") ${HANDOFF_AT:+9}; do
  echo "--- rooms metrics :$((5190 + i))"
  curl -s "localhost:$((5190 + i))/metrics" | grep -E '^lectern_(shards_owned|shard_transitions|append_calls_total|room_activations)' || true
done
