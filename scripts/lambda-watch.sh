#!/usr/bin/env bash
# Every function under `cargo lambda watch` (cargo-lambda's local Lambda Runtime API; invoke
# port 9000), started the way Lambda starts them (`App::from_lambda`): settings from .env,
# the AWS SDK against moto (the DynamoDB table is created on first use, the SQS FIFO queue
# here). In another shell, replay a sample into one function:
#   scripts/lambda-invoke.sh slack-events events/raw/slack-events/url-verification.json
# MOTO_PORT (default 5005) picks the moto; it is started when not running and left running.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
ensure_env_file
ensure_cargo_lambda
endpoint=$(scripts/moto.sh start)
queue_url=$(.venv/moto/bin/python - "$endpoint" <<'PY'
import sys, boto3
sqs = boto3.client("sqs", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="test", aws_secret_access_key="test")
print(sqs.create_queue(QueueName="hs-slack-local.fifo",
                       Attributes={"FifoQueue": "true"})["QueueUrl"])
PY
)
set -a
# shellcheck disable=SC1091
source .env
set +a
export AWS_ENDPOINT_URL="$endpoint" DYNAMODB_ENDPOINT="$endpoint" TABLE_NAME=hs-slack-local \
  QUEUE_URL="$queue_url" AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test \
  AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true
echo "==> cargo lambda watch: AWS at $endpoint, table $TABLE_NAME, queue $QUEUE_URL" >&2
exec cargo lambda watch
