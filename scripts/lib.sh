# Shared pieces of the scripts (sourced, not run). Callers cd to the repository root first.

CARGO_LAMBDA_VERSION="1.9.2"

# .env from .env.example with a fresh token-encryption key, on first use.
ensure_env_file() {
  if [[ ! -f .env ]]; then
    local key
    key=$(python3 -c 'import os,base64;print(base64.b64encode(os.urandom(32)).decode())')
    sed "s|^TOKEN_ENCRYPTION_KEY=.*|TOKEN_ENCRYPTION_KEY=${key}|" .env.example > .env
    echo "created .env from .env.example (edit it to add your Slack and HubSpot settings)" >&2
  fi
}

# cargo-lambda (and zig, the cross linker) from PyPI into .venv/lambda, on first use; puts
# that venv first on PATH (cargo-lambda finds zig through the venv's Python).
ensure_cargo_lambda() {
  local venv="$PWD/.venv/lambda"
  if ! "$venv/bin/cargo-lambda" lambda --version 2>/dev/null | grep -q "cargo-lambda $CARGO_LAMBDA_VERSION"; then
    echo "==> installing cargo-lambda==$CARGO_LAMBDA_VERSION (with zig) into $venv" >&2
    [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "cargo-lambda==$CARGO_LAMBDA_VERSION"
  fi
  export PATH="$venv/bin:$PATH"
}
