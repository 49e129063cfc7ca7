#!/usr/bin/env python3
"""Writes the form-encoded sample bodies under events/raw/ (stdlib only).

- slack-commands/*.form: from COMMANDS below.
- slack-interactions/<name>.form: `payload=<url-encoded JSON>` built from the readable
  <name>.payload.json next to it.

Both are encoded the way Slack sends them: application/x-www-form-urlencoded with
`+` for spaces and everything else outside [A-Za-z0-9_.-~] percent-encoded
(`/` -> %2F), no trailing newline. Interaction payload JSON is compact and, like
Slack's, escapes `/` as `\\/`.

    python3 events/make_forms.py          # (re)write the files
    python3 events/make_forms.py --check  # exit 1 if a file is missing or stale
"""

import json
import sys
from pathlib import Path
from urllib.parse import urlencode

RAW = Path(__file__).resolve().parent / "raw"

# Fields in the order Slack sends them.
_COMMAND_BASE = {
    "token": "Zq0fA1b2C3d4E5f6G7h8I9j0",
    "team_id": "T0TEAM0001",
    "team_domain": "example-team",
    "channel_id": "C0CHAN0001",
    "channel_name": "hs-chat",
    "user_id": "U0AGENT001",
    "user_name": "agent",
    "command": None,
    "text": "",
    "api_app_id": "A0APP00001",
    "is_enterprise_install": "false",
    "response_url": "https://hooks.slack.com/commands/T0TEAM0001/1/abc",
    "trigger_id": "1700000500.1234567890.0123456789abcdef0123456789abcdef",
}

COMMANDS = {
    "away": {"command": "/hs-chat-away", "text": ""},
    "available": {"command": "/hs-chat-available", "text": ""},
    "available-status": {"command": "/hs-chat-available", "text": "status"},
    "unknown": {"command": "/hs-chat-foo", "text": ""},
}

INTERACTIONS = ["claim", "reply-in-inbox", "home-route-inbox"]


def slack_json(value) -> str:
    """Compact JSON as Slack sends it (ASCII only, `/` escaped as `\\/`).

    `/` only ever occurs inside JSON strings, so escaping every one is safe."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/")


def command_form(overrides: dict) -> str:
    fields = dict(_COMMAND_BASE)
    fields.update(overrides)
    return urlencode(list(fields.items()))


def interaction_form(payload_file: Path) -> str:
    payload = json.loads(payload_file.read_text(encoding="utf-8"))
    return urlencode([("payload", slack_json(payload))])


def outputs() -> dict:
    files = {}
    for name, overrides in COMMANDS.items():
        files[RAW / "slack-commands" / f"{name}.form"] = command_form(overrides)
    for name in INTERACTIONS:
        source = RAW / "slack-interactions" / f"{name}.payload.json"
        files[RAW / "slack-interactions" / f"{name}.form"] = interaction_form(source)
    return files


def main(argv: list) -> int:
    check = "--check" in argv[1:]
    stale = []
    for path, body in outputs().items():
        current = path.read_bytes() if path.exists() else None
        if current == body.encode("ascii"):
            continue
        if check:
            stale.append(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body.encode("ascii"))
            print(f"wrote {path.relative_to(RAW.parent.parent)}")
    if stale:
        for path in stale:
            print(f"stale: {path.relative_to(RAW.parent.parent)} (run python3 events/make_forms.py)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
