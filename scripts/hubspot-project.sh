#!/usr/bin/env bash
# The HubSpot app as code (hubspot-app/): writes a copy of one project with its URLs filled
# from the stack's outputs (HubSpotWebhookUrl, HubSpotRedirectUrl of template.yaml), ready
# for `hs project upload`, as scripts/manifest.sh does for Slack.
#   aws cloudformation describe-stacks --stack-name STACK --output json \
#     | scripts/hubspot-project.sh oauth  build/hubspot-app      # multi-account (OAuth)
#   scripts/hubspot-project.sh static build/hubspot-app outputs.json  # one account (static token)
#   scripts/hubspot-project.sh --check   # HubSpot's parsing library parses both projects
# The input is describe-stacks output or its Outputs array, from the file named or stdin.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

if [[ "${1:-}" == "--check" ]]; then
  lib="$root/.venv/hsparse"
  if [[ ! -d "$lib/node_modules/@hubspot/project-parsing-lib" ]]; then
    echo "==> installing @hubspot/project-parsing-lib (npm) into .venv/hsparse"
    mkdir -p "$lib"
    npm install --prefix "$lib" --ignore-scripts --no-audit --no-fund --silent \
      @hubspot/project-parsing-lib@0.23.0 >/dev/null
  fi
  # ESM resolves packages from the script's own folder: run a copy that sits beside them.
  cp "$root/scripts/hubspot-project-parse.mjs" "$lib/parse.mjs"
  exec node "$lib/parse.mjs" "$root/hubspot-app/oauth" "$root/hubspot-app/static"
fi

variant="${1:-}"
out="${2:-}"
input="${3:--}"
if [[ "$variant" != "oauth" && "$variant" != "static" ]] || [[ -z "$out" ]]; then
  echo "usage: scripts/hubspot-project.sh oauth|static OUTDIR [outputs.json]   (or --check)" >&2
  exit 2
fi
if [[ "$input" != "-" && ! -f "$input" ]]; then
  echo "no such file: $input" >&2
  exit 2
fi
rm -rf "$out"
mkdir -p "$out"
cp -R "$root/hubspot-app/$variant/." "$out/"
read -r -d '' PROGRAM <<'PY' || true
import json, os, sys

sys.path.insert(0, os.environ["STACK_OUTPUTS_DIR"])
import stack_outputs

src, out, variant = sys.argv[1], sys.argv[2], sys.argv[3]
outputs = stack_outputs.load(src)

def url(key):
    return stack_outputs.url(outputs, key)

def edit(path, change):
    with open(path) as f:
        doc = json.load(f)
    change(doc["config"])
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")

def hooks(c):
    c["settings"]["targetUrl"] = url("HubSpotWebhookUrl")
edit(f"{out}/src/app/webhooks/webhooks-hsmeta.json", hooks)
if variant == "oauth":
    def app(c):
        c["auth"]["redirectUrls"] = [url("HubSpotRedirectUrl")]
    edit(f"{out}/src/app/app-hsmeta.json", app)
PY
STACK_OUTPUTS_DIR="$root/scripts" python3 -c "$PROGRAM" "$input" "$out" "$variant"
echo "HubSpot project written to $out: upload it with 'cd $out && hs project upload'" >&2
if [[ "$variant" == "static" ]]; then
  echo "then install it in your account: 'hs project install-app' (a static app is private)" >&2
fi
