#!/usr/bin/env bash
# The load run of docs/benchmarks.md: 100 chats x 4 messages a minute x 5 minutes against
# fakes that hold to HubSpot's and Slack's rate limits (tests/tests/load.rs). Not part of
# the test command. LOAD_CHATS, LOAD_MINUTES, LOAD_PER_MINUTE change its size.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo test --release -p integration-tests --test load -- --ignored --nocapture "$@"
