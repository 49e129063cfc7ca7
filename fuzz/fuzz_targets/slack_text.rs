//! Slack text: escaping visitor text (nothing it contains may become a Slack token:
//! `<!channel>`, `<@U1>`, `<url|label>`), cutting to a length, and Slack mrkdwn back to plain
//! text for the inbox. With `--features full`, also the notification card built from
//! visitor-controlled text.
#![no_main]

use hubspot_slack_fuzz::slack_text::{
    escape, escape_and_truncate, to_plain, truncate_chars, user_ids_mentioned,
};
use libfuzzer_sys::fuzz_target;

/// Escaped text: no `<` or `>` at all, and every `&` starts one of the three entities.
fn assert_inert(s: &str) {
    assert!(
        !s.contains('<') && !s.contains('>'),
        "unescaped bracket in {s:?}"
    );
    for (i, _) in s.match_indices('&') {
        let rest = &s[i..];
        assert!(
            rest.starts_with("&amp;") || rest.starts_with("&lt;") || rest.starts_with("&gt;"),
            "bare & in {s:?}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let max = usize::from(n);

    let e = escape(&text);
    assert_inert(&e);

    let (cut, was_cut) = escape_and_truncate(&text, max);
    assert_eq!(was_cut, e.chars().count() > max);
    if was_cut {
        assert!(cut.chars().count() <= max);
        assert_inert(cut.strip_suffix('…').unwrap_or(&cut));
    } else {
        assert_eq!(cut, e);
    }

    let (t, was_cut) = truncate_chars(&text, max);
    assert_eq!(was_cut, text.chars().count() > max);
    if was_cut {
        assert!(t.chars().count() <= max);
    } else {
        assert_eq!(t, text);
    }

    // Slack -> inbox: total, and mentions resolve through the callback only.
    let ids = user_ids_mentioned(&text);
    for id in &ids {
        assert!(id.starts_with(['U', 'W']));
    }
    let plain = to_plain(&text, &|id| Some(format!("name-of-{id}")));
    let _ = to_plain(&plain, &|_| None);

    #[cfg(feature = "full")]
    card(&text);
});

/// The notification card a visitor's first message, name and last reply end up in.
#[cfg(feature = "full")]
fn card(text: &str) {
    use shared::chat::blocks::card::{Card, Person};
    let card = Card {
        portal_id: "22761544".into(),
        thread_id: "3624100517".into(),
        first_message: text.to_string(),
        visitor: text.to_string(),
        status: "OPEN".into(),
        page: Some(text.to_string()),
        assignee: Some(Person {
            user_id: Some("2620022".into()),
            name: text.to_string(),
            email: Some("ann@example.com".into()),
            slack_user: None,
        }),
        contact_owner: Some(text.to_string()),
        inbox_url: "https://app.hubspot.com/live-messages/22761544/inbox/3624100517".into(),
        assignee_available: None,
        last_reply: Some((text.to_string(), 1_795_773_601)),
        first_response_secs: Some(i64::from(text.len() as u32)),
        first_in_ms: None,
        waiting_since: Some(text.len() as i64).filter(|_| text.len() % 2 == 0),
    };
    // Within Slack's Block Kit limits for any text (else Slack refuses the whole card).
    if let Err(e) = shared::chat::blocks::limits::check(&card.blocks(), false) {
        panic!("the card breaks a Slack limit: {e}");
    }
    // The only tokens in the card are ours: the inbox link and Slack's date formatting.
    let blocks = card.blocks().to_string();
    for (i, _) in blocks.match_indices('<') {
        let token = &blocks[i + 1..];
        let ours = token.starts_with("https://app.hubspot.com/live-messages/22761544/inbox/")
            || token
                .strip_prefix("!date^")
                .is_some_and(|d| d.starts_with(|c: char| c.is_ascii_digit()));
        assert!(
            ours,
            "live token in the card: {}",
            token.chars().take(60).collect::<String>()
        );
    }
    assert_inert(&card.fallback_text());
}
