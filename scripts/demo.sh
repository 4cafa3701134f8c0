#!/usr/bin/env bash
# make demo: the real pipeline on this machine. Starts the broker (if not running) and a worker,
# streams the bundled fixture day through `tollguard produce`, shows alerts as they arrive,
# prints a summary, and stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
POLICY=${POLICY:-fixtures/policy.example.yaml}
EVENTS=${EVENTS:-fixtures/sample-events.jsonl}
export TOLLGUARD_TOPIC_PREFIX=${TOLLGUARD_TOPIC_PREFIX:-demo-$(date +%Y%m%d%H%M%S)}
export TOLLGUARD_PARTITIONS=${TOLLGUARD_PARTITIONS:-2}
log_dir=.cache/demo; mkdir -p "$log_dir"

started_broker=0
if ! scripts/kafka.sh status 2>/dev/null; then scripts/kafka.sh up; started_broker=1; fi
worker_pid=""
cleanup() {
  [ -n "$worker_pid" ] && kill "$worker_pid" 2>/dev/null && wait "$worker_pid" 2>/dev/null || true
  [ "$started_broker" = 1 ] && scripts/kafka.sh down || true
}
trap cleanup EXIT

echo "== tollguard demo: topics under '$TOLLGUARD_TOPIC_PREFIX', policy $POLICY"
$PY -m streams.cli worker --policy "$POLICY" >"$log_dir/worker.log" 2>&1 &
worker_pid=$!
echo "== worker started (pid $worker_pid, log $log_dir/worker.log)"
$PY -m streams.cli produce "$EVENTS"
echo "== alerts as they arrive (stops after 8 s without a new one):"
$PY -m streams.cli alerts --from-beginning --idle-timeout 8 --format table | tee "$log_dir/alerts.txt"
echo "== summary"
echo "alerts by rule:"; awk '{print $4}' "$log_dir/alerts.txt" | sort | uniq -c | sort -rn
echo "replay of the same file without Kafka gives:"
$PY -m streams.cli replay --policy "$POLICY" -q --format jsonl "$EVENTS" 2>/dev/null | grep -c '"type":"alert"' | xargs echo "  alerts:"
