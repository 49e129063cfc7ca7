//! Slack Events API envelopes (POST /slack/events bodies).
#![no_main]

use hubspot_slack_fuzz::inbound::{check_depth, parse_slack_envelope, SlackEnvelope, SlackEvent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let depth_ok = check_depth(data).is_ok();
    match parse_slack_envelope(data) {
        Ok(env) => {
            assert!(depth_ok, "an envelope nested too deep was accepted");
            if let SlackEnvelope::EventCallback {
                event: SlackEvent::Message(m),
                event_id,
                ..
            } = &env
            {
                let _ = event_id.len();
                // A reply is only ever one inside a thread, from a user, not the bot.
                if m.skip_reason(Some("U0BOT00001")).is_none() {
                    assert!(m.user.is_some() && m.bot_id.is_none() && !m.hidden);
                    assert!(m.thread_ts.as_deref().is_some_and(|t| t != m.ts));
                }
            }
        }
        Err(e) => assert!(!e.0.is_empty()),
    }
});
