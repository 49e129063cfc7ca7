//! Slash-command forms (POST /slack/commands bodies), and the availability command's
//! reading of them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::inbound::parse_slash_command;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = parse_slash_command(data) {
        assert!(!e.0.is_empty());
    }
});
