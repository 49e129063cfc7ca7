"""Reading a stack's outputs, for the scripts that fill files or run commands from them.

The input is `aws cloudformation describe-stacks --output json` (one stack) or just its
Outputs array, from a file or "-" (stdin).
"""
import json
import sys


def load(src):
    """The outputs as {OutputKey: OutputValue}; exits with a message on bad input."""
    try:
        data = json.load(sys.stdin if src == "-" else open(src))
    except ValueError as e:
        sys.exit(f"the stack outputs are not JSON: {e}")
    if isinstance(data, dict) and "Stacks" in data:
        if len(data["Stacks"]) != 1:
            sys.exit("describe-stacks output must hold exactly one stack (use --stack-name)")
        data = data["Stacks"][0].get("Outputs", [])
    return {o["OutputKey"]: o["OutputValue"] for o in data if "OutputKey" in o}


def url(outputs, key):
    """An output that must be an https URL."""
    v = outputs.get(key, "")
    if not v.startswith("https://"):
        sys.exit(f"stack output {key} is missing or not an https URL (got {v!r})")
    return v
