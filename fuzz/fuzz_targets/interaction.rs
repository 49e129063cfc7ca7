//! Interactivity bodies (POST /slack/interactions): the form, the JSON payload inside it,
//! and the Claim button's value, which the clicker's client sends back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::inbound::{parse_interaction, Interaction};
use shared::notify::parse_claim_value;

fuzz_target!(|data: &[u8]| {
    // Half the inputs are raw bodies; the other half a payload wrapped in a valid form, so
    // the fuzzer reaches the JSON parser without having to learn percent-encoding.
    let wrapped;
    let body = match data.split_first() {
        Some((0, rest)) => {
            wrapped = serde_urlencoded::to_string([("payload", String::from_utf8_lossy(rest))])
                .unwrap_or_default();
            wrapped.as_bytes()
        }
        _ => data,
    };
    match parse_interaction(body) {
        Ok(Interaction::BlockActions { actions, .. }) => {
            for a in actions {
                if let Some(v) = a.value {
                    if let Some((p, t, u, e)) = parse_claim_value(&v) {
                        assert!(!p.is_empty() && !t.is_empty() && !u.is_empty());
                        assert!(e.contains('@'));
                    }
                }
            }
        }
        Ok(Interaction::Other { kind }) => assert_ne!(kind, "block_actions"),
        Err(e) => assert!(!e.0.is_empty()),
    }
});
