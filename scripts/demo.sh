#!/usr/bin/env bash
# make demo: the real pipeline on this machine, from event to action. Starts the broker (if not
# running), a worker (with /metrics), `notify` posting to a local webhook, streams the bundled
# fixture day through `tollguard produce`, shows alerts and incidents, runs `enforce --dry-run`,
# acknowledges an incident, compares with replay, and stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
TG="$PY -m streams.cli"
POLICY=${POLICY:-fixtures/policy.example.yaml}
EVENTS=${EVENTS:-fixtures/sample-events.jsonl}
export TOLLGUARD_TOPIC_PREFIX=${TOLLGUARD_TOPIC_PREFIX:-demo-$(date +%Y%m%d%H%M%S)}
export TOLLGUARD_PARTITIONS=${TOLLGUARD_PARTITIONS:-2}
log_dir=.cache/demo; mkdir -p "$log_dir"
pids=()

started_broker=0
if ! scripts/kafka.sh status 2>/dev/null; then scripts/kafka.sh up; started_broker=1; fi
cleanup() {
  trap - INT TERM
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for _ in $(seq 50); do  # up to 10 s for a clean stop, then no more waiting
    alive=0; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break; sleep 0.2
  done
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  [ "$started_broker" = 1 ] && scripts/kafka.sh down || true
}
trap cleanup EXIT
trap 'echo; echo "== stopping everything the demo started"; exit 130' INT TERM  # Ctrl-C: cleanup runs on the way out
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "== tollguard demo: topics under '$TOLLGUARD_TOPIC_PREFIX', policy $POLICY"
SAMPLE=$EVENTS
$PY scripts/demo_events.py "$EVENTS" "$log_dir/events.jsonl"   # the fixture day, moved to the last weeks
EVENTS="$log_dir/events.jsonl"

rm -f "$log_dir/hook.port"
$PY scripts/demo_webhook.py "$log_dir/hook.port" >"$log_dir/webhook.txt" 2>&1 & pids+=($!)
for _ in $(seq 50); do [ -s "$log_dir/hook.port" ] && break; sleep 0.1; done
HOOK="http://127.0.0.1:$(cat "$log_dir/hook.port")/hook"
cat >"$log_dir/notify.yaml" <<YAML
channels:
  - {name: soc-chat, type: webhook, url: "$HOOK", min_severity: warning, digest_seconds: 5, max_per_minute: 120}
YAML
echo "== a local webhook listens on $HOOK (what it receives: $log_dir/webhook.txt)"

WEB=$(free_port)
$TG worker --policy "$POLICY" --web-port "$WEB" >"$log_dir/worker.log" 2>&1 & pids+=($!)
echo "== worker started (log $log_dir/worker.log); its metrics: http://127.0.0.1:$WEB/metrics, health: /health"
$TG notify --config "$log_dir/notify.yaml" >"$log_dir/notify.log" 2>&1 & pids+=($!)
echo "== notify started (log $log_dir/notify.log)"

CONSOLE_PORT=${CONSOLE_PORT:-$(free_port)}
rm -f "$log_dir/users.json"
echo "demo-password" | $TG console user add "$log_dir/users.json" demo --role analyst --password-stdin >/dev/null
# plain HTTP on 127.0.0.1: --insecure-cookie so any browser (and the urllib check below) keeps the session cookie
$TG console --users "$log_dir/users.json" --port "$CONSOLE_PORT" --metrics "http://127.0.0.1:$WEB/metrics" \
  --insecure-cookie >"$log_dir/console.log" 2>&1 & pids+=($!)
echo "== the SOC console: http://127.0.0.1:$CONSOLE_PORT/  (log in as demo / demo-password; log $log_dir/console.log)"
echo "   open it now to watch the incidents arrive; HOLD=1 keeps everything running at the end until Ctrl-C"

if [ "$SAMPLE" = fixtures/sample-events.jsonl ]; then
  echo "== producing the fixture day. It holds 3 deliberately broken lines (a time without a zone, a source that"
  echo "   is not an IP address, a line that is not JSON): each is reported with its file:line and reason, never lost"
fi
$TG produce "$EVENTS"
echo "== alerts as they arrive (stops after 8 s without a new one):"
$TG alerts --from-beginning --idle-timeout 8 --format table | tee "$log_dir/alerts.txt"
echo "== incidents: every detection about one subject folded into one record"
$TG incidents | tee "$log_dir/incidents.txt"

echo "== enforce --dry-run: the exact commands it would run (log: $log_dir/enforce.txt)"
$TG enforce --config fixtures/enforce.demo.yaml --dry-run --idle-timeout 4 >"$log_dir/enforce.txt" 2>&1 || true
grep '^dry-run' "$log_dir/enforce.txt" | cut -c1-220
echo "   ($(grep -c 'expired, not applied' "$log_dir/enforce.txt" || true) actions skipped: their block time has already run out)"

# the SOC takes the first critical incident still open (else any incident still open)
first=$(awk '$3 ~ /^i-/ && $4=="critical" && $5!="closed" {print $3; exit}' "$log_dir/incidents.txt")
[ -n "$first" ] || first=$(awk '$3 ~ /^i-/ && $5!="closed" {print $3; exit}' "$log_dir/incidents.txt")
if [ -n "$first" ]; then
  echo "== the SOC acknowledges $first"
  $TG ack "$first" --note "demo: on it" --by demo-analyst || true
fi
sleep 8   # notify's digest of the acknowledgement
echo "== what the webhook received:"
cat "$log_dir/webhook.txt"

echo "== worker metrics (excerpt):"
$PY - "$WEB" <<'PYEOF'
import sys, urllib.request
text = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=5).read().decode()
for line in text.splitlines():
    if line.startswith(("tollguard_events_total", "tollguard_incident_updates_total", "tollguard_dlq_total")):
        print("  " + line)
PYEOF

echo "== summary"
echo "alerts by rule:"; awk '{print $4}' "$log_dir/alerts.txt" | sort | uniq -c | sort -rn
w_alerts=$(grep -c . "$log_dir/alerts.txt" || true)
w_inc=$(grep -c ' i-' "$log_dir/incidents.txt" || true)
r=$($TG replay --policy "$POLICY" -q --format jsonl "$EVENTS" 2>/dev/null)
r_alerts=$(grep -c '"type":"alert"' <<<"$r" || true)
r_inc=$(grep -c '"type":"incident"' <<<"$r" || true)
echo "worker: $w_alerts alerts, $w_inc incidents; replay of the same file without Kafka: $r_alerts alerts, $r_inc incidents"

$PY - "$CONSOLE_PORT" <<'PYEOF'
import http.cookiejar, json, sys, urllib.parse, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
opener.open(base + "/login", urllib.parse.urlencode({"name": "demo", "password": "demo-password"}).encode(), timeout=10)
got = json.load(opener.open(base + "/api/incidents", timeout=10))
print(f"console: {got['total']} incidents on the page at {base}/")
PYEOF
echo "== tollguard doctor: this demo's broker, topics, lag, clock, policy, model, notify channel and enforcers"
$TG doctor --policy "$POLICY" --notify "$log_dir/notify.yaml" --send-test --enforce fixtures/enforce.demo.yaml 2>&1 || true
cat <<NEXT
== next: put tollguard on your PATH and try it on your own files
   source .venv/bin/activate          # or call .venv/bin/tollguard directly
   tollguard replay --policy $POLICY YOUR-Master.csv   # a CDR export or a PBX log, no Kafka needed
   tollguard policy $POLICY           # check a policy, with warnings about settings that disarm detection
   tollguard --help                   # every command; docs/README.md is the documentation's index
NEXT
if [ "${HOLD:-0}" = 1 ]; then
  echo "== HOLD=1: the console stays up at http://127.0.0.1:$CONSOLE_PORT/ (demo / demo-password); Ctrl-C stops everything"
  while :; do sleep 1; done  # until Ctrl-C (or TERM): the trap stops what the demo started
fi
