#!/usr/bin/env bash
# Local AWS (DynamoDB, Secrets Manager, SQS) for tests and local runs: moto's server mode.
#   scripts/moto.sh start   # idempotent; prints the endpoint
#   scripts/moto.sh stop
set -euo pipefail

cd "$(dirname "$0")/.."
PORT="${MOTO_PORT:-5005}"
VENV=.venv/moto
PIDFILE=target/moto.pid
LOG=target/moto.log
ENDPOINT="http://127.0.0.1:${PORT}"

# moto checks a write's condition and applies it without a lock, so two concurrent conditional
# puts on one key can both succeed (seen in the store race test); DynamoDB is atomic per item.
# This runs moto_server's own main with every request serialized (moto has no option for it).
# It also lists its own package directory (about 60 stat calls) on every request to route it;
# the list never changes while it runs, so it is read once (3x the requests per second, which
# the soak test needs).
SERVER_PY='
import sys, threading
from moto import server, backends
from moto.moto_server.werkzeug_app import DomainDispatcherApplication as App
lock, call = threading.Lock(), App.__call__
def serialized(self, environ, start_response):
    with lock:
        return call(self, environ, start_response)
App.__call__ = serialized
modules = tuple(backends.list_of_moto_modules())
backends.list_of_moto_modules = lambda: iter(modules)
server.main(sys.argv[1:])
'

running() {
  [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

# Any HTTP answer means the server is up. (Not /moto-api/reset: that would wipe the data of
# tests already using a running server.)
ready() {
  curl -s -o /dev/null --max-time 2 "${ENDPOINT}/moto-api/" 2>/dev/null
}

start() {
  if [[ ! -x "$VENV/bin/moto_server" ]]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q 'moto[dynamodb,secretsmanager,sqs]==5.2.5' flask flask-cors
  fi
  mkdir -p target
  if ! running; then
    "$VENV/bin/python" -c "$SERVER_PY" -H 127.0.0.1 -p "$PORT" >"$LOG" 2>&1 &
    echo $! >"$PIDFILE"
  fi
  for _ in $(seq 1 300); do
    if ready; then
      echo "$ENDPOINT"
      return 0
    fi
    if ! running; then
      echo "moto_server exited; see $LOG" >&2
      tail -n 20 "$LOG" >&2 || true
      return 1
    fi
    sleep 0.1
  done
  echo "moto_server not ready after 30 s; see $LOG" >&2
  return 1
}

stop() {
  if running; then
    kill "$(cat "$PIDFILE")"
    # Exiting can take seconds with many tables in memory; a start right after needs the port.
    for _ in $(seq 1 100); do
      running || break
      sleep 0.1
    done
  fi
  rm -f "$PIDFILE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
