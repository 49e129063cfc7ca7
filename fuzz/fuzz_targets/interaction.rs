//! Interactivity bodies (POST /slack/interactions): the form, the JSON payload inside it,
//! and (with `--features full`) the Claim button's value, which the clicker's client sends
//! back.
#![no_main]

use hubspot_slack_fuzz::inbound::{parse_interaction, Interaction};
use libfuzzer_sys::fuzz_target;

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
            #[cfg(feature = "full")]
            for a in actions {
                // The Claim button's value comes back from the clicker's client.
                if let Some((p, t, u, e)) = a
                    .value
                    .as_deref()
                    .and_then(shared::chat::blocks::card::parse_claim_value)
                {
                    assert!(!p.is_empty() && !t.is_empty() && !u.is_empty());
                    assert!(e.contains('@'));
                }
            }
            #[cfg(not(feature = "full"))]
            let _ = actions;
        }
        Ok(Interaction::Other { kind }) => assert_ne!(kind, "block_actions"),
        Err(e) => assert!(!e.0.is_empty()),
    }
});
