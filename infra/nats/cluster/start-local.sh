#!/bin/sh
# Starts (or stops) the 3-node NATS cluster of n1.conf–n3.conf on loopback, for trying the
# distributed mode on one machine. Client ports 4222–4224, routes 6222–6224, monitoring 8222–8224.
# A single nats-server already on 4222 must be stopped first.
#   infra/nats/cluster/start-local.sh          start, pid files in $TMPDIR/lectern-nats
#   infra/nats/cluster/start-local.sh stop     stop the three by pid
set -eu
here=$(cd "$(dirname "$0")" && pwd)
run=${TMPDIR:-/tmp}/lectern-nats
mkdir -p "$run"
if [ "${1:-start}" = stop ]; then
  for n in 1 2 3; do
    [ -f "$run/n$n.pid" ] && kill "$(cat "$run/n$n.pid")" 2>/dev/null || true
    rm -f "$run/n$n.pid"
  done
  exit 0
fi
for n in 1 2 3; do
  nats-server -c "$here/n$n.conf" -P "$run/n$n.pid" -l "$run/n$n.log" &
done
sleep 1
echo "NATS_URL=nats://127.0.0.1:4222,nats://127.0.0.1:4223,nats://127.0.0.1:4224"
