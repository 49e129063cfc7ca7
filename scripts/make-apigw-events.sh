#!/usr/bin/env bash
# Writes events/apigw/<route>/<name>.json: every sample of events/raw as an API Gateway HTTP
# API (payload 2.0) event, signed with the secrets in .env (or .env.example) and the current
# time. Signatures are valid for 5 minutes: regenerate right before
#   cargo lambda invoke <function> --data-file events/apigw/<route>/<name>.json
set -euo pipefail
cd "$(dirname "$0")/.."
envfile=.env
[[ -f $envfile ]] || envfile=.env.example
set -a
# shellcheck disable=SC1090
source "$envfile"
set +a
cargo build -q -p local-runner
for f in events/raw/*/*; do
  case "$f" in *.payload.json) continue ;; esac
  route=$(basename "$(dirname "$f")")
  name=$(basename "$f"); name=${name%.*}
  mkdir -p "events/apigw/$route"
  target/debug/local-runner apigw "$f" > "events/apigw/$route/$name.json"
done
# The GET routes carry no signature: one event each.
for p in health slack/install hubspot/install; do
  name=$(echo "$p" | tr '/' '-')
  mkdir -p events/apigw/get
  cat > "events/apigw/get/$name.json" <<JSON
{
  "version": "2.0",
  "routeKey": "GET /$p",
  "rawPath": "/$p",
  "rawQueryString": "",
  "headers": {"accept": "text/html"},
  "requestContext": {
    "accountId": "123456789012", "apiId": "local", "domainName": "localhost", "domainPrefix": "localhost",
    "http": {"method": "GET", "path": "/$p", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "replay"},
    "requestId": "replay-get", "routeKey": "GET /$p", "stage": "\$default",
    "time": "27/Nov/2026:00:00:00 +0000", "timeEpoch": 1795737600000
  },
  "isBase64Encoded": false
}
JSON
done
echo "wrote $(find events/apigw -name '*.json' | wc -l) events under events/apigw"
