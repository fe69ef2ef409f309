#!/usr/bin/env bash
# All benchmarks (`make bench`). Each prints its method and figures; ratios are to a
# baseline measured in the same run. Set BENCH_QUICK=1 for a smaller, faster pass.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
if [ "${BENCH_QUICK:-0}" = 1 ]; then
  $PY benchmarks/check_bench.py --parcels 2000 --repeat 1
  FAUST_EVENTS=10000
  RISK_ARGS="--parcels 5000 --repeat 1"
  TP_ARGS="--events 100000 --repeat 1"
else
  FAUST_EVENTS=100000
  RISK_ARGS="--parcels 90000 --repeat 3"
  TP_ARGS="--events 200000 --repeat 1"
  $PY benchmarks/check_bench.py --parcels 10000 --big-parcels 100000
fi
for extra in benchmarks/sender_bench.py benchmarks/tiles_bench.py benchmarks/audit_bench.py benchmarks/stream_bench.py benchmarks/alert_bench.py benchmarks/api_bench.py; do
  if [ -f "$extra" ]; then $PY "$extra"; fi
done
# issue 16: everything side by side on the same events (bare consumers, the quixstreams peer, the
# worker on PostgreSQL and SQLite, check), the sequencer's capacity, two workers, the peak sizing
mkdir -p var/bench
$PY benchmarks/throughput_bench.py $TP_ARGS --json var/bench/throughput.json
# cold risk rankings from the side tables vs from the events (README, "Performance")
$PY benchmarks/risk_bench.py $RISK_ARGS
# the measured comparison behind the worker's design (see README, "Why not faust")
$PY benchmarks/faust_bench.py --events "$FAUST_EVENTS"
