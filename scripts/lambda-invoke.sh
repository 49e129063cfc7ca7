#!/usr/bin/env bash
# Replays a sample into one function running under scripts/lambda-watch.sh: the sample
# (events/raw/...) is wrapped as an API Gateway HTTP API (v2) event, signed with the secrets
# in .env and the current time, then sent with `cargo lambda invoke`.
#   scripts/lambda-invoke.sh FUNCTION events/raw/<route>/<file>
# e.g. scripts/lambda-invoke.sh chat-webhook events/raw/hubspot-webhook/new-message.json
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -eq 2 ]] || { sed -n '2,6p' "$0" >&2; exit 2; }
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
ensure_env_file
ensure_cargo_lambda
set -a
# shellcheck disable=SC1091
source .env
set +a
event=$(mktemp)
trap 'rm -f "$event"' EXIT
cargo run -q -p local-runner -- apigw "$2" > "$event"
cargo lambda invoke "$1" --data-file "$event"
