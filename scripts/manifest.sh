#!/usr/bin/env bash
# Prints the Slack app manifest (manifest.json) with its URLs filled from the stack's outputs:
# the events, commands, interactivity and OAuth redirect URLs (outputs SlackEventsUrl,
# SlackCommandsUrl, SlackInteractionsUrl, SlackRedirectUrl of template.yaml).
#   aws cloudformation describe-stacks --stack-name STACK --output json | scripts/manifest.sh
#   scripts/manifest.sh outputs.json > slack-manifest.json
# The input is describe-stacks output ({"Stacks":[{"Outputs":[...]}]}) or just its Outputs
# array, read from the file named or from stdin. Paste the result into the Slack app's
# "App Manifest" page (api.slack.com/apps > your app), or create the app from it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
input="${1:--}"
if [[ "$input" != "-" && ! -f "$input" ]]; then
  echo "no such file: $input" >&2
  exit 2
fi
# The program is an argument, so stdin stays free for the outputs.
read -r -d '' PROGRAM <<'PY' || true
import json, os, sys

sys.path.insert(0, os.environ["STACK_OUTPUTS_DIR"])
import stack_outputs

src, manifest_path = sys.argv[1], sys.argv[2]
outputs = stack_outputs.load(src)

def url(key):
    return stack_outputs.url(outputs, key)

m = json.load(open(manifest_path))
for c in m["features"]["slash_commands"]:
    c["url"] = url("SlackCommandsUrl")
m["oauth_config"]["redirect_urls"] = [url("SlackRedirectUrl")]
m["settings"]["event_subscriptions"]["request_url"] = url("SlackEventsUrl")
m["settings"]["interactivity"]["request_url"] = url("SlackInteractionsUrl")
json.dump(m, sys.stdout, indent=2)
sys.stdout.write("\n")
PY
STACK_OUTPUTS_DIR="$root/scripts" exec python3 -c "$PROGRAM" "$input" "$root/manifest.json"
