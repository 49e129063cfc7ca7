#!/usr/bin/env bash
# The benchmark (run by hand; never by scripts/test.sh or CI). Builds the release binaries,
# measures each function through a local Lambda Runtime API emulator, and a minimal Bolt for
# JavaScript app beside them, prints the table and writes it into docs/benchmarks.md
# (between the bench markers; the analysis around it stays):
#   cold start (process start to first response) and init (to first poll), per function;
#   warm p50/p99 for a burst of signed requests; peak RSS (VmHWM) under it;
#   the zipped artifact of each function (arm64, by scripts/build.sh);
#   store and API calls per kind of event (counted in process).
#
#   scripts/bench.sh                      everything (about 15-25 minutes on 2 cores)
#   scripts/bench.sh --reps 5 --burst 200 --burst-reps 1 --no-sizes   a quick look
#   options: --reps N (cold starts per function, 10)  --burst N (1000)  --burst-reps N (3)
#            --only fn,fn  --no-bolt  --no-counts  --label TEXT
#            --no-sizes (skip the arm64 build)  --x86-64-sizes (measure x86_64 artifacts)
#            --skip-build (use the binaries already in target/release)
#
# AWS side: moto. MOTO_URL names one (e.g. http://127.0.0.1:5015); otherwise the moto at
# 127.0.0.1:${MOTO_PORT:-5005} is used, started with scripts/moto.sh when it is not running
# (and then stopped at the end). The benchmark creates a table and a FIFO queue of its own
# and deletes them at the end; it never resets the server.
# On a shared machine, BENCH_NICE=-10 runs the measured processes (and a moto this script
# starts) at that priority; the report records it and the load average.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
FUNCTIONS=(oauth chat-webhook slack-events slash-commands interactivity delivery-worker)

sizes=arm64
build=1
pass=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --no-sizes) sizes=none ;;
    --x86-64-sizes) sizes=x86_64 ;;
    --skip-build) build=0 ;;
    --reps|--burst|--burst-reps|--only|--label) pass+=("$1" "$2"); shift ;;
    --no-bolt|--no-counts) pass+=("$1") ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

mkdir -p target/bench
if [[ $build == 1 ]]; then
  bins=()
  for f in "${FUNCTIONS[@]}"; do bins+=(--bin "$f"); done
  # The functions alone (as cargo lambda and sam build them), for this machine: the
  # emulator runs them here.
  echo "==> cargo build --release (functions, $(uname -m), to run here)" >&2
  cargo build --release "${bins[@]}"
fi

sizes_file=target/bench/sizes.tsv
: >"$sizes_file"
case "$sizes" in
  arm64) scripts/build.sh --sizes "$sizes_file" ;;
  x86_64) scripts/build.sh --x86-64 --sizes "$sizes_file" ;;
  none) ;;
esac

# The Bolt peer: installed from the lock file when missing; its artifact is the zip of the
# app with its node_modules (the Node.js runtime itself is AWS's).
bolt=bench/bolt
if [[ " ${pass[*]-} " != *" --no-bolt "* ]]; then
  if [[ ! -d "$bolt/node_modules/@slack/bolt" ]]; then
    echo "==> npm ci in $bolt" >&2
    (cd "$bolt" && npm ci --no-audit --no-fund)
  fi
  if [[ "$sizes" != none ]]; then
    rm -f target/bench/bolt.zip
    (cd "$bolt" && zip -q -r -X -9 "$ROOT/target/bench/bolt.zip" app.js package.json node_modules)
    unzipped=$(unzip -Z -t target/bench/bolt.zip | awk '{print $3}')
    printf 'bolt-peer\tnode\t%s\t%s\n' "$unzipped" "$(stat -c %s target/bench/bolt.zip)" >>"$sizes_file"
  fi
fi

# The benchmark tool itself: optimised, but without the functions' LTO (its own target dir,
# so the functions' release artifacts stay as they are).
echo "==> building lambda-bench" >&2
CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
  CARGO_PROFILE_RELEASE_OPT_LEVEL=2 \
  cargo build --release -p bench --target-dir target/bench-tool

started_moto=0
if [[ -z "${MOTO_URL:-}" ]]; then
  export MOTO_PORT="${MOTO_PORT:-5005}"
  MOTO_URL="http://127.0.0.1:${MOTO_PORT}"
  if ! curl -s -o /dev/null --max-time 2 "${MOTO_URL}/moto-api/"; then
    started_moto=1
  fi
  scripts/moto.sh start >/dev/null
fi
cleanup() { [[ $started_moto == 1 ]] && scripts/moto.sh stop >/dev/null 2>&1 || true; }
trap cleanup EXIT

profile="$(awk '/^\[profile\.release\]/{f=1; next} /^\[/{f=0} f && NF {printf "%s%s", sep, $0; sep=", "}' Cargo.toml)"
jitter="jitter entropy $(grep -qs 'AWS_LC_SYS_NO_JITTER_ENTROPY *= *"1"' .cargo/config.toml && echo off || echo on) in aws-lc"
label="[profile.release] ${profile}; ${jitter}"
has_label=0
for a in "${pass[@]}"; do [[ "$a" == --label ]] && has_label=1; done
[[ $has_label == 1 ]] || pass+=(--label "$label")

runner=()
if [[ -n "${BENCH_NICE:-}" ]]; then
  runner=(nice -n "$BENCH_NICE")
  if [[ $started_moto == 1 ]]; then renice -n "$BENCH_NICE" -p "$(cat target/moto.pid)" >/dev/null; fi
  export BENCH_NICE
fi

"${runner[@]}" target/bench-tool/release/lambda-bench \
  --bin-dir target/release \
  --moto "$MOTO_URL" \
  --sizes "$sizes_file" \
  --out "${BENCH_OUT:-docs/benchmarks.md}" \
  --json target/bench/results.json \
  "${pass[@]}"
