#!/usr/bin/env bash
# Start / stop a real single-node Apache Kafka broker (KRaft) on loopback, without Docker.
#
#   scripts/kafka.sh up       fetch jars (first time, through Maven), format storage, start, wait until ready
#   scripts/kafka.sh down     stop the broker started by `up` and wait until it is gone
#   scripts/kafka.sh status   exit 0 if the broker answers metadata requests
#   scripts/kafka.sh log      print the broker log path
#   scripts/kafka.sh secure-up|secure-down|secure-status
#                             the same for a second broker that speaks SASL_SSL to clients (SCRAM users,
#                             TLS client certificates required), made fresh on every secure-up: a test CA,
#                             broker and client certificates (openssl) and random passwords, written under
#                             .cache/kafka/secure/ (see secure.env there: the TOLLGUARD_* settings to reach it).
#                             Ports from KAFKA_SECURE_PORT (9192): +1 controller, +2 internal PLAINTEXT,
#                             +3 a PLAINTEXT listener advertised as +4, where tests run a proxy they can cut
#
# Environment: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093), KAFKA_SECURE_PORT (9192, then 9193/9194 for
# its controller and internal listener), TOLLGUARD_CACHE (.cache under the repo),
# KAFKA_HEAP_OPTS (-Xms256m -Xmx512m), PYTHON (python used for the readiness probe).
set -euo pipefail

KAFKA_VERSION=4.1.1   # keep in step with scripts/kafka/pom.xml and docker-compose.yml
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
cache="${TOLLGUARD_CACHE:-$root/.cache}"
kdir="$cache/kafka"
libs="$kdir/libs-$KAFKA_VERSION"
data="$kdir/data"
logfile="$kdir/broker.log"
pidfile="$kdir/broker.pid"
port="${KAFKA_PORT:-9092}"
cport="${KAFKA_CONTROLLER_PORT:-9093}"
heap="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
template="$here/kafka/server.properties.in"
iport="$port"           # the PLAINTEXT port the readiness probe asks
secure=0
tls=""
python="${PYTHON:-python3}"

log() { printf 'kafka: %s\n' "$*" >&2; }

fetch_jars() {
  if [ -f "$libs/.complete" ]; then return; fi
  command -v mvn >/dev/null || { log "mvn not found: install Maven (and Java 17) first"; exit 1; }
  log "fetching Apache Kafka $KAFKA_VERSION jars through Maven into $libs"
  rm -rf "$libs"; mkdir -p "$libs"
  # -Dstyle.color=never, and the filter for what still slips through: Maven's -q writes bare ESC[0m resets
  if ! mvn -B -q -Dstyle.color=never -f "$here/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
      dependency:copy-dependencies -DoutputDirectory="$libs" -DincludeScope=runtime 2>&1 | sed 's/\x1b\[[0-9;]*m//g'; then
    log "Maven could not fetch the Kafka jars (see above)"; exit 1
  fi
  touch "$libs/.complete"
}

java_cmd() {
  # shellcheck disable=SC2086
  java $heap -XX:+UseG1GC -Djava.awt.headless=true \
       -Dlog4j2.configurationFile="$here/kafka/log4j2.yaml" -Dkafka.log.file="$logfile" \
       -cp "$libs/*" "$@"
}

ready() {
  "$python" - "$iport" <<'PY'
import socket, struct, sys
# A Kafka ApiVersions request (v0) answered means the broker is serving requests.
port = int(sys.argv[1])
try:
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    body = struct.pack(">hhih", 18, 0, 1, 8) + b"probe-tg"
    s.sendall(struct.pack(">i", len(body)) + body)
    head = s.recv(4)
    if len(head) < 4:
        sys.exit(1)
    size = struct.unpack(">i", head)[0]
    data = b""
    while len(data) < size:
        chunk = s.recv(size - len(data))
        if not chunk:
            sys.exit(1)
        data += chunk
    corr, err = struct.unpack(">ih", data[:6])
    sys.exit(0 if corr == 1 and err == 0 else 1)
except OSError:
    sys.exit(1)
PY
}

running_pid() {
  [ -f "$pidfile" ] || return 1
  local pid; pid="$(cat "$pidfile")"
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

up() {
  local t0=$SECONDS
  if pid="$(running_pid)"; then
    if ready; then log "already running (pid $pid) on 127.0.0.1:$port"; return 0; fi
  fi
  if ready; then log "port $port already answers as a Kafka broker that this script did not start; using it"; return 0; fi
  command -v java >/dev/null || { log "java not found: Java 17 is required"; exit 1; }
  fetch_jars
  mkdir -p "$kdir"
  local props="$(dirname "$data")/server.properties" scram=()
  if [ "$secure" = 1 ]; then rm -rf "$data"; make_tls; scram_users; fi
  sed -e "s#@DATA_DIR@#$data#" -e "s#@PORT@#$port#g" -e "s#@CONTROLLER_PORT@#$cport#g" \
      -e "s#@INTERNAL_PORT@#$iport#g" -e "s#@TLS_DIR@#$tls#g" -e "s#@PROXIED_PORT@#$((port + 3))#g" \
      -e "s#@PROXY_PORT@#$((port + 4))#g" "$template" > "$props"
  if [ ! -f "$data/meta.properties" ]; then
    local cid; cid="$(java_cmd kafka.tools.StorageTool random-uuid | tail -n 1)"
    java_cmd kafka.tools.StorageTool format --standalone -t "$cid" -c "$props" "${scram[@]}" >/dev/null
  fi
  : > "$logfile"
  nohup bash -c "exec java $heap -XX:+UseG1GC -Djava.awt.headless=true \
       -Dlog4j2.configurationFile='$here/kafka/log4j2.yaml' -Dkafka.log.file='$logfile' \
       -cp '$libs/*' kafka.Kafka '$props'" >>"$logfile.stdout" 2>&1 &
  echo $! > "$pidfile"
  local pid; pid="$(cat "$pidfile")"
  for _ in $(seq 1 240); do
    if ready; then log "broker $KAFKA_VERSION ready on 127.0.0.1:$port (pid $pid) in $((SECONDS - t0)) s; log: $logfile"; return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      log "broker exited during start-up; last log lines ($logfile):"; tail -n 30 "$logfile" "$logfile.stdout" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
  log "broker did not answer within 120 s; see $logfile"; exit 1
}

down() {
  local pid
  if ! pid="$(running_pid)"; then log "not running"; rm -f "$pidfile"; return 0; fi
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; log "stopped (pid $pid)"; return 0; }
    sleep 0.5
  done
  log "broker did not stop in 30 s; killing"; kill -9 "$pid" 2>/dev/null || true; rm -f "$pidfile"
}

# -- the secured broker ----------------------------------------------------------------------
use_secure() {
  secure=1
  local sdir="$kdir/secure"
  data="$sdir/data"; logfile="$sdir/broker.log"; pidfile="$sdir/broker.pid"; tls="$sdir/tls"
  port="${KAFKA_SECURE_PORT:-9192}"; cport=$((port + 1)); iport=$((port + 2))
  template="$here/kafka/server-secure.properties.in"
  mkdir -p "$sdir"
}

make_tls() {
  # a throw-away CA, a broker certificate for 127.0.0.1/localhost and a client certificate, all signed by it
  rm -rf "$tls"; mkdir -p "$tls"; chmod 700 "$tls"
  ( cd "$tls"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=tollguard test CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    for who in broker client; do
      openssl req -newkey rsa:2048 -nodes -keyout "$who.key" -out "$who.csr" -subj "/CN=tollguard-$who" 2>/dev/null
      printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' > "$who.ext"
      openssl x509 -req -in "$who.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out "$who.crt" \
          -extfile "$who.ext" 2>/dev/null
      openssl pkcs8 -topk8 -nocrypt -in "$who.key" -out "$who.pk8"
    done
    cat broker.pk8 broker.crt ca.pem > broker.pem
    rm -f ./*.csr ./*.ext ca.srl )
}

scram_users() {
  # alice uses SCRAM-SHA-256 and bob SCRAM-SHA-512; their passwords are random and written beside secure.env
  local sdir; sdir="$(dirname "$data")"
  local a b; a="$(openssl rand -hex 16)"; b="$(openssl rand -hex 16)"
  printf '%s' "$a" > "$sdir/alice.password"; printf '%s' "$b" > "$sdir/bob.password"
  chmod 600 "$sdir/alice.password" "$sdir/bob.password"
  cat > "$sdir/secure.env" <<ENV
TOLLGUARD_BROKER=kafka://127.0.0.1:$port
TOLLGUARD_SECURITY_PROTOCOL=SASL_SSL
TOLLGUARD_SASL_MECHANISM=SCRAM-SHA-256
TOLLGUARD_SASL_USERNAME=alice
TOLLGUARD_SASL_PASSWORD_FILE=$sdir/alice.password
TOLLGUARD_SSL_CAFILE=$tls/ca.pem
TOLLGUARD_SSL_CERTFILE=$tls/client.crt
TOLLGUARD_SSL_KEYFILE=$tls/client.key
ENV
  scram=(--add-scram "SCRAM-SHA-256=[name=alice,password=$a]" --add-scram "SCRAM-SHA-512=[name=bob,password=$b]")  # up's local
}

case "${1:-}" in
  secure-up) use_secure; up ;;
  secure-down) use_secure; down ;;
  secure-status) use_secure; ready ;;
  up) up ;;
  down) down ;;
  status) ready ;;
  reset) down; rm -rf "$data"; log "storage removed" ;;
  log) echo "$logfile" ;;
  *) echo "usage: $0 up|down|status|reset|log" >&2; exit 2 ;;
esac
