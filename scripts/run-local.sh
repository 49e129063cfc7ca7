#!/usr/bin/env bash
# Runs the whole bundle locally: every route on one localhost port (PORT, default 3000),
# the embedded store by default, jobs run in-process. Settings come from .env (created
# from .env.example with a fresh encryption key on first use).
#   scripts/run-local.sh                 serve
#   scripts/run-local.sh replay FILE     sign and send a sample from events/raw
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -f .env ]]; then
  key=$(python3 -c 'import os,base64;print(base64.b64encode(os.urandom(32)).decode())')
  sed "s|^TOKEN_ENCRYPTION_KEY=.*|TOKEN_ENCRYPTION_KEY=${key}|" .env.example > .env
  echo "created .env from .env.example (edit it to add your Slack and HubSpot settings)" >&2
fi
mkdir -p .local-data
set -a
# shellcheck disable=SC1091
source .env
set +a
exec cargo run --quiet -p local-runner -- "$@"
