//! HubSpot webhook batches (POST /hubspot/webhook bodies): any bytes parse or fail with a
//! reason, never panic; an accepted batch respects the 100-event cap.
#![no_main]

use hubspot_slack_fuzz::inbound::{
    check_depth, parse_hubspot_batch, HubSpotAction, MAX_WEBHOOK_EVENTS,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let depth_ok = check_depth(data).is_ok();
    match parse_hubspot_batch(data) {
        Ok(events) => {
            assert!(depth_ok, "a batch nested too deep was accepted");
            assert!(events.len() <= MAX_WEBHOOK_EVENTS);
            for ev in &events {
                let _ = ev.dedup_key();
                match ev.action() {
                    HubSpotAction::Sync {
                        portal_id,
                        thread_id,
                        ..
                    }
                    | HubSpotAction::Delete {
                        portal_id,
                        thread_id,
                        ..
                    } => assert!(!portal_id.is_empty() && !thread_id.is_empty()),
                    HubSpotAction::Ignore { reason } => assert!(!reason.is_empty()),
                }
            }
        }
        Err(e) => assert!(!e.0.is_empty()),
    }
});
