#!/usr/bin/env bash
# Lints the SAM template offline:
#   1. cfn-lint template.yaml
#   2. sam validate --lint
#   3. a check on the SAM-transformed template that the two above skip: circular
#      dependencies (cfn-lint ignores cycles that involve AWS::Serverless::* resources,
#      and CloudFormation rejects them only at deploy time), and that every HttpApi
#      event has its route, pointing at the same function, in the API's DefinitionBody.
# Creates .venv/sam on first use (pinned versions, about 2 minutes); later runs reuse it
# and take a few seconds (about 10 s of CPU, the three checks run side by side).
set -euo pipefail

SAM_CLI_VERSION="1.170.0"
CFN_LINT_VERSION="1.58.0"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv/sam"
TEMPLATE="${TEMPLATE:-template.yaml}"
cd "$ROOT"

installed_ok() {
  [[ -x "$VENV/bin/sam" && -x "$VENV/bin/cfn-lint" ]] || return 1
  # Cheap check (no imports) that the pinned versions are the ones installed.
  compgen -G "$VENV/lib/python3*/site-packages/aws_sam_cli-${SAM_CLI_VERSION}.dist-info" >/dev/null &&
    compgen -G "$VENV/lib/python3*/site-packages/cfn_lint-${CFN_LINT_VERSION}.dist-info" >/dev/null
}

if ! installed_ok; then
  echo "==> installing aws-sam-cli==$SAM_CLI_VERSION cfn-lint==$CFN_LINT_VERSION into $VENV" >&2
  [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check \
    "aws-sam-cli==$SAM_CLI_VERSION" "cfn-lint==$CFN_LINT_VERSION"
fi

# Everything below is offline. `sam validate` and the SAM translator need a region;
# dummy credentials keep botocore from probing the instance-metadata endpoint.
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-AKIAIOSFODNN7EXAMPLE}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export AWS_REGION="${AWS_REGION:-$AWS_DEFAULT_REGION}"
export AWS_EC2_METADATA_DISABLED=true
export SAM_CLI_TELEMETRY=0

[[ -f "$TEMPLATE" ]] || { echo "no such template: $TEMPLATE" >&2; exit 2; }

# The three checks are independent: run them side by side, print them in order.
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

"$VENV/bin/cfn-lint" "$TEMPLATE" >"$OUT/1" 2>&1 &
pid_cfn=$!
"$VENV/bin/sam" validate --lint --template "$TEMPLATE" --region us-east-1 >"$OUT/2" 2>&1 &
pid_sam=$!
"$VENV/bin/python" - "$TEMPLATE" >"$OUT/3" 2>&1 <<'PY' &
import copy
import json
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse
from cfnlint.template import Template


class NoManagedPolicies:
    """The template names no managed policies by name; nothing to look up."""

    def load(self):
        return {}


path = sys.argv[1]
with open(path, encoding="utf-8") as f:
    template = yaml_parse(f.read())
problems = []

# --- every HttpApi event has its route in the DefinitionBody, for the same function
resources = template.get("Resources", {})
bodies = {
    name: res.get("Properties", {}).get("DefinitionBody")
    for name, res in resources.items()
    if res.get("Type") == "AWS::Serverless::HttpApi"
}
seen = set()
for name, res in resources.items():
    if res.get("Type") != "AWS::Serverless::Function":
        continue
    props = res.get("Properties", {})
    for ev_name, ev in (props.get("Events") or {}).items():
        if ev.get("Type") != "HttpApi":
            continue
        ep = ev.get("Properties", {})
        api = (ep.get("ApiId") or {}).get("Ref")
        body = bodies.get(api)
        route = f"{ep.get('Method', '').upper()} {ep.get('Path')}"
        if not body:
            problems.append(f"{name}.{ev_name}: {route} is on an API without a DefinitionBody")
            continue
        op = (body.get("paths", {}).get(ep.get("Path")) or {}).get(ep.get("Method", "").lower())
        if not op:
            problems.append(f"{name}.{ev_name}: {route} is missing from {api}'s DefinitionBody")
            continue
        uri = op.get("x-amazon-apigateway-integration", {}).get("uri")
        uri = uri.get("Fn::Sub") if isinstance(uri, dict) else uri
        fn = props.get("FunctionName")
        fn = fn.get("Fn::Sub") if isinstance(fn, dict) else fn
        if not (isinstance(uri, str) and isinstance(fn, str) and uri.endswith(f":function:{fn}/invocations")):
            problems.append(f"{name}.{ev_name}: {route} in the DefinitionBody does not invoke FunctionName {fn!r}")
        seen.add((api, route))
for api, body in bodies.items():
    for p, item in (body or {}).get("paths", {}).items():
        for method in item:
            if (api, f"{method.upper()} {p}") not in seen:
                problems.append(f"{api}: {method.upper()} {p} has no HttpApi event (no invoke permission)")

# --- cycles in the template CloudFormation will actually receive
def s3_code(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "CodeUri" and isinstance(value, str) and not value.startswith("s3://"):
                node[key] = "s3://lint-placeholder-bucket/code.zip"
            else:
                s3_code(value)
    elif isinstance(node, list):
        for value in node:
            s3_code(value)

to_transform = copy.deepcopy(template)
s3_code(to_transform)
try:
    transformed = transform(to_transform, {}, NoManagedPolicies())
except Exception as exc:  # the SAM checks above already report translator errors
    problems.append(f"SAM transform failed: {exc}")
else:
    # The graph cfn-lint's E3004 uses, without E3004's skip of SAM resource types.
    cfn = Template(None, json.loads(json.dumps(transformed)), ["us-east-1"])
    for edge in cfn.graph.get_cycles(cfn) if cfn.graph else []:
        source, target = edge[:2]
        nodes = cfn.graph.graph.nodes
        if nodes[source].get("type") == "Resource" and nodes[target].get("type") == "Resource":
            problems.append(f"after transform: circular dependency {source} -> {target}")

if problems:
    print("\n".join(problems))
    sys.exit(1)
print("no cycles; HttpApi events and DefinitionBody routes match")
PY
pid_graph=$!

failed=0
report() { # title, pid, output file
  local rc=0
  wait "$2" || rc=$?
  echo "==> $1 (exit $rc)"
  cat "$3"
  [[ $rc -eq 0 ]] || failed=1
}
report "cfn-lint $TEMPLATE" "$pid_cfn" "$OUT/1"
report "sam validate --lint --template $TEMPLATE --region us-east-1" "$pid_sam" "$OUT/2"
report "transformed template: circular dependencies, HttpApi routes" "$pid_graph" "$OUT/3"

if [[ $failed -ne 0 ]]; then
  echo "==> template FAILED" >&2
  exit 1
fi
echo "==> template OK"
