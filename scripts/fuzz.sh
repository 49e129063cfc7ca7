#!/usr/bin/env bash
# Fuzzes every parser that takes outside input, each for a bounded time (cargo fuzz, libFuzzer):
#   scripts/fuzz.sh [SECONDS_PER_TARGET]             default 30; the test command runs 20
#   FUZZ_TARGETS="slack_text interaction" scripts/fuzz.sh 3600   some targets, longer
#   FUZZ_FULL=1 scripts/fuzz.sh 600                  also what needs all of `shared` (below)
#
# Targets (fuzz/fuzz_targets/): hubspot_batch, slack_envelope, slash_command, interaction,
# slack_text (escaping, cutting, mrkdwn to plain text), signatures (Slack v0 and HubSpot v3
# checks over hostile headers, the v3 URI decoding). They compile shared's parser source files
# alone (fuzz/src/lib.rs), so the build takes a minute or two. FUZZ_FULL=1 builds against all
# of `shared` (the AWS SDK too: a first build of 10 to 20 minutes on 2 cores) and adds
# thread_text (inbox messages from HubSpot's API to Slack thread text), the notification card
# in slack_text and the Claim button's value in interaction.
#
# The machine has one stable toolchain: RUSTC_BOOTSTRAP=1 lets cargo fuzz's nightly-only flags
# (-Zsanitizer=address, coverage instrumentation) through. cargo-fuzz is installed when
# missing. Each run: the regressions in fuzz/regressions/<target>/ are replayed first, then
# libFuzzer starts from fuzz/seeds/<target>/ and the samples in events/raw/, with
# AddressSanitizer, debug assertions, -rss_limit_mb=512, -malloc_limit_mb=256 (a single
# allocation above it is a failure: no unbounded allocation), -timeout=10 per input and a
# -max_len per target. A crash stops the script; its input is in fuzz/artifacts/<target>/.
# Fix it, then copy the input into fuzz/regressions/<target>/ and add a unit test for it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
SECS="${1:-30}"
ALL=(hubspot_batch slack_envelope slash_command interaction slack_text signatures)
features=()
if [[ "${FUZZ_FULL:-0}" == 1 ]]; then
  ALL+=(thread_text)
  features=(--features full)
fi
read -r -a TARGETS <<<"${FUZZ_TARGETS:-${ALL[*]}}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "==> installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1

max_len() {
  case "$1" in
    hubspot_batch) echo 65536 ;;
    slash_command | signatures) echo 4096 ;;
    slack_text) echo 8192 ;;
    *) echo 16384 ;;
  esac
}

# Seeds: hand-written ones and the sample requests of the matching route.
seed() {
  local t="$1" dir="$2"
  cp -f "$ROOT/fuzz/seeds/$t/"* "$dir/" 2>/dev/null || true
  case "$t" in
    hubspot_batch) cp -f "$ROOT"/events/raw/hubspot-webhook/*.json "$dir/" ;;
    slack_envelope) cp -f "$ROOT"/events/raw/slack-events/*.json "$dir/" ;;
    slash_command) cp -f "$ROOT"/events/raw/slack-commands/*.form "$dir/" ;;
    interaction)
      cp -f "$ROOT"/events/raw/slack-interactions/*.form "$dir/"
      # A leading 0 byte: the target wraps the rest in a valid form as the payload.
      for f in "$ROOT"/events/raw/slack-interactions/*.payload.json; do
        { printf '\0'; cat "$f"; } >"$dir/wrapped-$(basename "$f")"
      done
      ;;
    slack_text)
      for f in "$ROOT"/events/raw/slack-events/*.json; do
        { printf '\x80'; cat "$f"; } >"$dir/text-$(basename "$f")"
      done
      ;;
  esac
}

cd fuzz
echo "==> cargo fuzz build (AddressSanitizer, debug assertions) ${features[*]}"
cargo fuzz build --debug-assertions --codegen-units 16 "${features[@]}"

summary=()
for t in "${TARGETS[@]}"; do
  corpus="$ROOT/fuzz/corpus/$t"
  mkdir -p "$corpus" "$ROOT/fuzz/artifacts/$t"
  seed "$t" "$corpus"
  common=(-rss_limit_mb=512 -malloc_limit_mb=256 -timeout=10 "-max_len=$(max_len "$t")"
    "-dict=$ROOT/fuzz/fuzz.dict" -print_final_stats=1 "-artifact_prefix=$ROOT/fuzz/artifacts/$t/")
  if compgen -G "$ROOT/fuzz/regressions/$t/*" >/dev/null; then
    echo "==> $t: replaying fuzz/regressions/$t"
    cargo fuzz run --debug-assertions --codegen-units 16 "${features[@]}" "$t" "$ROOT/fuzz/regressions/$t" -- -runs=0 "${common[@]}"
  fi
  echo "==> $t: fuzzing for ${SECS}s"
  log="$(mktemp)"
  if ! cargo fuzz run --debug-assertions --codegen-units 16 "${features[@]}" "$t" "$corpus" -- -max_total_time="$SECS" "${common[@]}" >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "==> $t FAILED: the input is in fuzz/artifacts/$t/" >&2
    exit 1
  fi
  execs="$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n 1 || true)"
  cov="$(grep -oE 'DONE[[:space:]]+cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1 | sed -E 's/.*cov: ([0-9]+) ft: ([0-9]+)/\1 \2/' || true)"
  rss="$(grep -oE 'stat::peak_rss_mb: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n 1 || true)"
  cov="${cov:-? ?}"
  rm -f "$log"
  summary+=("$(printf '%-16s %12s %8s %8s %9s' "$t" "${execs:-?}" "${cov% *}" "${cov#* }" "${rss:-?}")")
done
echo "==> fuzzing: no crash, no leak, no timeout, no allocation over 256 MB (${SECS}s a target)"
printf '%-16s %12s %8s %8s %9s\n' target executions cov features peak_MB
printf '%s\n' "${summary[@]}"
