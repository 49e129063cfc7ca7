#!/usr/bin/env bash
# Private-app mode (one portal by a static token): prints a one-time install link for the
# deployed stack. Anyone else who opens /hubspot/install is told to ask for one.
#   aws cloudformation describe-stacks --stack-name STACK --output json | scripts/install-link.sh
#   scripts/install-link.sh outputs.json [SECS]        valid SECS seconds (default 3600)
#   scripts/install-link.sh --dry-run outputs.json     print what it would run, run nothing
# It runs the local runner's install-link command with the stack's table (output TableName),
# secret (SecretArn) and URL (ApiBaseUrl), so the settings are read from Secrets Manager as
# the Lambdas read them, and the link's single-use item (its SHA-256, not the link) is
# written to the stack's table. Needs AWS credentials allowed secretsmanager:GetSecretValue
# on the secret and dynamodb:PutItem on the table, and the region in AWS_REGION.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dry=0
if [[ "${1:-}" == "--dry-run" ]]; then
  dry=1
  shift
fi
input="${1:--}"
ttl="${2:-3600}"
if [[ "$input" != "-" && ! -f "$input" ]]; then
  echo "no such file: $input" >&2
  exit 2
fi
if ! [[ "$ttl" =~ ^[0-9]+$ ]]; then
  echo "SECS must be a number of seconds, not $ttl" >&2
  exit 2
fi
read -r -d '' PROGRAM <<'PY' || true
import json, os, sys

sys.path.insert(0, os.environ["STACK_OUTPUTS_DIR"])
import stack_outputs

src = sys.argv[1]
outputs = stack_outputs.load(src)
need = {"TableName": "TABLE_NAME", "SecretArn": "SECRET_ARN", "ApiBaseUrl": "PUBLIC_BASE_URL"}
for key, var in need.items():
    v = outputs.get(key, "")
    if not v:
        sys.exit(f"stack output {key} is missing")
    if key == "ApiBaseUrl" and not v.startswith("https://"):
        sys.exit(f"stack output ApiBaseUrl is not an https URL (got {v!r})")
    if key == "SecretArn" and not v.startswith("arn:"):
        sys.exit(f"stack output SecretArn is not an ARN (got {v!r})")
    if any(c.isspace() for c in v):
        sys.exit(f"stack output {key} holds a space: {v!r}")
    print(f"{var}={v.rstrip('/') if key == 'ApiBaseUrl' else v}")
PY
assignments="$(STACK_OUTPUTS_DIR="$root/scripts" python3 -c "$PROGRAM" "$input")"
if [[ $dry == 1 ]]; then
  echo "$assignments"
  echo "cargo run --release -q -p local-runner -- install-link $ttl"
  exit 0
fi
cd "$root"
while IFS='=' read -r name value; do
  export "$name=$value"
done <<< "$assignments"
exec cargo run --release -q -p local-runner -- install-link "$ttl"
