#!/usr/bin/env bash
# The soak with faults (tests/tests/soak.rs) on its own: the local runner on moto, fake Slack
# and HubSpot injecting 429s, 5xx, slow answers and dropped connections, HubSpot and Slack
# re-delivering as they do. Prints the table (sent, delivered, duplicated, out of order,
# dead-lettered, lost) and fails unless nothing is lost, duplicated or out of order.
#   scripts/soak.sh            the CI size: 50 conversations, 1000 messages, 10 % faults
#   scripts/soak.sh --large    200 conversations, 5000 messages (tens of minutes on 2 cores)
#   SOAK_SEED=7 SOAK_FAULT_RATE=0.2 SOAK_MAX_ATTEMPTS=4 scripts/soak.sh   (see soak.rs)
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--large" ]]; then
  export SOAK_CONVERSATIONS="${SOAK_CONVERSATIONS:-200}"
  export SOAK_MESSAGES="${SOAK_MESSAGES:-5000}"
  export SOAK_TIME_LIMIT_SECS="${SOAK_TIME_LIMIT_SECS:-3600}"
elif [[ -n "${1:-}" ]]; then
  echo "usage: $0 [--large]" >&2
  exit 2
fi

export MOTO_PORT="${MOTO_PORT:-5005}"
export DYNAMODB_ENDPOINT="http://127.0.0.1:${MOTO_PORT}"
export AWS_EC2_METADATA_DISABLED=true
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
unset TABLE_NAME PUBLIC_BASE_URL SLACK_API_URL HUBSPOT_API_URL SECRET_ARN QUEUE_URL || true

# Start moto unless it is running already (then leave it running).
if ! curl -sf -o /dev/null -X POST -H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
  -H 'Content-Type: application/x-amz-json-1.0' -d '{"Limit":1}' "${DYNAMODB_ENDPOINT}/"; then
  trap 'scripts/moto.sh stop >/dev/null 2>&1 || true' EXIT
  scripts/moto.sh start
fi

cargo test --workspace --quiet --test soak -- --nocapture soak_with_faults_loses_nothing
