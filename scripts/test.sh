#!/usr/bin/env bash
# Runs every test on a fresh machine: installs what the tests need (moto in .venv/moto,
# SAM CLI and cfn-lint in .venv/sam, Debian's chromium when missing), starts the local
# DynamoDB-compatible server, runs the Rust tests (unit and integration, DynamoDB half
# against moto), the browser tests of the install pages, the soak with faults, fuzzing
# (20 s a parser; FUZZ_SECONDS to change), parses the HubSpot projects with HubSpot's library
# (npm, into .venv/hsparse), lints the SAM template, and stops what it started.
#   scripts/test.sh              everything
#   scripts/test.sh -- FILTER    only cargo tests matching FILTER (still with moto)
set -euo pipefail
cd "$(dirname "$0")/.."

export MOTO_PORT="${MOTO_PORT:-5005}"
export DYNAMODB_ENDPOINT="http://127.0.0.1:${MOTO_PORT}"
export AWS_EC2_METADATA_DISABLED=true
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
# Tests must not inherit a developer's settings.
unset TABLE_NAME PUBLIC_BASE_URL SLACK_API_URL HUBSPOT_API_URL SECRET_ARN QUEUE_URL || true

# Stop moto at the end only if this run started it (another run may be using it).
started_moto=0
if ! curl -s -o /dev/null --max-time 2 "${DYNAMODB_ENDPOINT}/moto-api/"; then
  started_moto=1
fi
cleanup() { [[ $started_moto == 1 ]] && scripts/moto.sh stop >/dev/null 2>&1 || true; }
trap cleanup EXIT

echo "==> starting moto (DynamoDB-compatible server) on ${DYNAMODB_ENDPOINT}"
scripts/moto.sh start

filter=()
if [[ "${1:-}" == "--" ]]; then
  shift
  filter=("$@")
fi

echo "==> cargo test --workspace"
if [[ ${#filter[@]} -eq 0 ]]; then
  # The soak runs on its own below, where its table is shown.
  cargo test --workspace --quiet -- --skip soak_with_faults_loses_nothing
else
  cargo test --workspace --quiet -- "${filter[@]}"
fi

if [[ ${#filter[@]} -eq 0 ]]; then
  # The install pages in headless Chromium (Debian's package; apt only when it is missing).
  if [[ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]]; then
    echo "==> installing chromium (apt)"
    sudo=""
    [[ $(id -u) -eq 0 ]] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
  fi
  echo "==> browser tests (headless Chromium)"
  cargo test --workspace --quiet --test browser -- --ignored
  echo "==> soak with faults (tests/tests/soak.rs; scripts/soak.sh --large for a bigger one)"
  cargo test --workspace --quiet --test soak -- --nocapture soak_with_faults_loses_nothing
  echo "==> fuzzing every parser of outside input (scripts/fuzz.sh; cargo-fuzz installed if missing)"
  scripts/fuzz.sh "${FUZZ_SECONDS:-20}"
  echo "==> the HubSpot projects parse with HubSpot's own library (npm @hubspot/project-parsing-lib)"
  scripts/hubspot-project.sh --check
  echo "==> sample events are up to date"
  python3 events/make_forms.py --check
  echo "==> SAM template lint"
  scripts/lint-template.sh
fi
echo "==> all tests passed"
