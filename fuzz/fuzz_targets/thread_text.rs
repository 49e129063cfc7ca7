//! Inbox messages as HubSpot's API returns them (visitor-controlled text, sender names and
//! attachments) turned into Slack thread text: lenient parsing never panics, and the only
//! Slack tokens in the result are our own links.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::chat::blocks::messages::thread_text;
use shared::inbox::hubspot::parse_message;

const INBOX: &str = "https://app.hubspot.com/live-messages/22761544/inbox/3624100517";

fuzz_target!(|data: &[u8]| {
    if shared::edge::inbound::check_depth(data).is_err() {
        return;
    }
    let Ok(m) = parse_message(data) else {
        return;
    };
    let out = thread_text(&m, INBOX);
    // Every `<` opens a link to an http(s) URL whose target holds no `|`, `<` or space.
    let mut rest = out.as_str();
    while let Some(i) = rest.find('<') {
        let token = &rest[i + 1..];
        let end = token.find('>').expect("unterminated token");
        let inner = &token[..end];
        let target = inner.split('|').next().unwrap_or_default();
        assert!(
            target.starts_with("https://") || target.starts_with("http://"),
            "token {inner:?} in {out:?}"
        );
        assert!(!target.contains(['<', ' ']), "token {inner:?}");
        assert!(inner.matches('|').count() <= 1, "token {inner:?}");
        rest = &token[end + 1..];
    }
});
