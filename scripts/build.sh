#!/usr/bin/env bash
# Builds every function for AWS Lambda (provided.al2023, arm64 as template.yaml declares)
# and prints the size of each zipped artifact. By hand or before `sam deploy`; not part of
# scripts/test.sh.
#
#   scripts/build.sh               cargo lambda build --release --arm64 --output-format zip:
#                                  target/lambda/<function>/bootstrap.zip
#   scripts/build.sh --sam         sam build (the template's BuildMethod rust-cargolambda,
#                                  which runs cargo lambda) into .aws-sam/build; each
#                                  function's bootstrap is then zipped the way `sam deploy`
#                                  uploads it, to report its size
#   scripts/build.sh --x86-64      x86_64 instead of arm64 (sizes labelled x86_64; the
#                                  template still says arm64, so this is for measuring only)
#   scripts/build.sh --sizes FILE  also write "name<TAB>arch<TAB>binary bytes<TAB>zip bytes"
#
# Needs: Rust with the aarch64-unknown-linux-gnu standard library (installed here with
# `rustup target add aarch64-unknown-linux-gnu` on first use), Python 3 (cargo-lambda 1.9.2
# and zig, the cross linker, come from PyPI into .venv/lambda on first use), and for --sam
# the SAM CLI in .venv/sam (scripts/lint-template.sh installs it).
set -euo pipefail

FUNCTIONS=(oauth chat-webhook slack-events slash-commands interactivity delivery-worker)

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

arch=arm64
mode=cargo-lambda
sizes_file=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --sam) mode=sam ;;
    --x86-64) arch=x86_64 ;;
    --sizes) sizes_file="$2"; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

# shellcheck source=scripts/lib.sh
source scripts/lib.sh
ensure_cargo_lambda

case "$arch" in
  arm64) triple=aarch64-unknown-linux-gnu; flag=--arm64 ;;
  x86_64) triple=x86_64-unknown-linux-gnu; flag=--x86-64 ;;
esac
if ! rustup target list --installed 2>/dev/null | grep -qx "$triple"; then
  echo "==> the Rust standard library for $triple is missing; rustup target add $triple" >&2
  if ! rustup target add "$triple"; then
    echo "cannot install the $triple standard library (rustup downloads it from static.rust-lang.org)." >&2
    echo "Without it there is no $arch build; scripts/build.sh --x86-64 measures x86_64 instead." >&2
    exit 1
  fi
fi

bins=()
for f in "${FUNCTIONS[@]}"; do bins+=(--bin "$f"); done

zip_size() { # zip a bootstrap alone (as Lambda expects it: at the root, executable) and print the size
  local bin="$1" out="$2"
  rm -f "$out"
  (cd "$(dirname "$bin")" && zip -q -X -9 "$out" bootstrap)
  stat -c %s "$out"
}

declare -A binary_bytes zip_bytes
if [[ "$mode" == cargo-lambda ]]; then
  echo "==> cargo lambda build --release $flag --output-format zip (${FUNCTIONS[*]})" >&2
  cargo lambda build --release "$flag" --output-format zip "${bins[@]}"
  for f in "${FUNCTIONS[@]}"; do
    z="target/lambda/$f/bootstrap.zip"
    [[ -f "$z" ]] || { echo "missing $z" >&2; exit 1; }
    zip_bytes[$f]=$(stat -c %s "$z")
    binary_bytes[$f]=$(unzip -Z -l "$z" | awk '$NF=="bootstrap"{print $4}')
  done
else
  SAM="$ROOT/.venv/sam/bin/sam"
  [[ -x "$SAM" ]] || scripts/lint-template.sh >/dev/null
  [[ "$arch" == arm64 ]] || { echo "--sam builds what the template declares (arm64)" >&2; exit 2; }
  export SAM_CLI_TELEMETRY=0 AWS_EC2_METADATA_DISABLED=true
  export AWS_REGION="${AWS_REGION:-us-east-1}" AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
  echo "==> sam build (rust-cargolambda, arm64)" >&2
  "$SAM" build --template template.yaml
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  # Logical ids from the template: <Name>Function with BuildProperties Binary: <name>.
  while read -r logical binary; do
    b=".aws-sam/build/$logical/bootstrap"
    [[ -f "$b" ]] || { echo "missing $b" >&2; exit 1; }
    binary_bytes[$binary]=$(stat -c %s "$b")
    zip_bytes[$binary]=$(zip_size "$ROOT/$b" "$tmp/$binary.zip")
  done < <(awk '/^  [A-Za-z0-9]+Function:$/{id=$1; sub(":","",id)} /Binary:/{print id, $2}' template.yaml)
fi

echo
printf '%-16s %-8s %14s %14s\n' function arch "bootstrap (B)" "zipped (B)"
for f in "${FUNCTIONS[@]}"; do
  awk -v f="$f" -v a="$arch" -v b="${binary_bytes[$f]}" -v z="${zip_bytes[$f]}" \
    'BEGIN { printf "%-16s %-8s %14d %14d  (%.2f MB zipped)\n", f, a, b, z, z / 1e6 }'
done
if [[ -n "$sizes_file" ]]; then
  mkdir -p "$(dirname "$sizes_file")"
  : >"$sizes_file"
  for f in "${FUNCTIONS[@]}"; do
    printf '%s\t%s\t%s\t%s\n' "$f" "$arch" "${binary_bytes[$f]}" "${zip_bytes[$f]}" >>"$sizes_file"
  done
fi
