//! Slash-command forms (POST /slack/commands bodies), and the availability command's
//! reading of them.
#![no_main]

use hubspot_slack_fuzz::inbound::parse_slash_command;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = parse_slash_command(data) {
        assert!(!e.0.is_empty());
    }
});
