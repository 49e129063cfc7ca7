//! Signature checks over attacker-chosen headers and bodies (Slack v0, HubSpot v3), and the
//! v3 URI normalisation. Nothing forged may pass; nothing may panic.
#![no_main]

use http::{HeaderMap, HeaderName, HeaderValue};
use hubspot_slack_fuzz::verify::{hubspot_v3_uri, verify_hubspot_v3, verify_slack};
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"fuzz-secret";
const NOW_SECS: i64 = 1_700_000_000;

fuzz_target!(|data: &[u8]| {
    // signature \xff timestamp \xff uri \xff body
    let mut parts = data.splitn(4, |b| *b == 0xff);
    let (sig, ts, uri, body) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let header = |name: &'static str, v: &[u8]| {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_bytes(v) {
            h.insert(HeaderName::from_static(name), v);
        }
        h
    };
    let mut slack = header("x-slack-signature", sig);
    slack.extend(header("x-slack-request-timestamp", ts));
    // Without the secret, a match is a 2^-256 event: treat one as a bug.
    assert!(verify_slack(SECRET, &slack, body, NOW_SECS).is_err());

    let mut hubspot = header("x-hubspot-signature-v3", sig);
    hubspot.extend(header("x-hubspot-request-timestamp", ts));
    let uri = String::from_utf8_lossy(uri);
    assert!(verify_hubspot_v3(SECRET, "POST", &uri, &hubspot, body, NOW_SECS * 1000).is_err());

    let decoded = hubspot_v3_uri(&uri);
    assert!(decoded.len() <= uri.len());
    if !uri.contains('%') {
        assert_eq!(decoded, uri);
    }
});
