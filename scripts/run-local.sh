#!/usr/bin/env bash
# Runs the whole bundle locally: every route on one localhost port (PORT, default 3000),
# the embedded store by default, jobs run in-process. Settings come from .env (created
# from .env.example with a fresh encryption key on first use).
#   scripts/run-local.sh                 serve
#   scripts/run-local.sh --sandbox       the sandbox: a Slack channel and a HubSpot inbox of its
#                                        own on one page (prints its URL; see the README)
#   scripts/run-local.sh replay FILE     sign and send a sample from events/raw
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
ensure_env_file
mkdir -p .local-data
set -a
# shellcheck disable=SC1091
source .env
set +a
exec cargo run --quiet -p local-runner -- "$@"
