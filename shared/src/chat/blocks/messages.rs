//! Messages posted in a conversation's thread: the inbox's messages as Slack text.

use crate::chat::blocks::card::MAX_TEXT;
use crate::chat::text as slack_text;
use crate::domain::{Direction, Message};

/// Who wrote a message, as the thread and the card name them.
pub fn sender_name(m: &Message) -> String {
    m.senders
        .iter()
        .find_map(|s| s.name.clone().filter(|n| !n.trim().is_empty()))
        .unwrap_or_else(|| {
            if m.direction == Some(Direction::FromVisitor) {
                "Visitor".into()
            } else {
                "Agent".into()
            }
        })
}

/// The text of one mirrored message (escaped, cut to Slack's limit).
pub fn thread_text(m: &Message, inbox_url: &str) -> String {
    let who = slack_text::escape(&sender_name(m));
    let label = if m.is_note() {
        format!(":lock: *{who}* _(internal note, not seen by the visitor)_")
    } else if m.direction == Some(Direction::FromAgent) {
        format!("*{who}* _(sent from the inbox)_")
    } else {
        format!("*{who}*")
    };
    let (body, cut) =
        slack_text::escape_and_truncate(m.text.as_deref().unwrap_or(""), MAX_TEXT - 300);
    let mut out = format!("{label}: {body}");
    if cut {
        out.push_str(&format!(
            " <{inbox_url}|(read the whole message in the inbox)>"
        ));
    }
    for a in &m.attachments {
        let name = a.name.as_deref().unwrap_or("attachment");
        let url = a.url.as_deref().unwrap_or("");
        let mut name = slack_text::escape(name).replace('|', "¦");
        if let Some(n) = a.size {
            name.push_str(&format!(" ({})", human_size(n)));
        }
        // A link's URL may not carry `|` or `>` (they end the token): only plain http(s) URLs.
        if (url.starts_with("https://") || url.starts_with("http://"))
            && !url.contains(['|', '>', '<', ' '])
        {
            out.push_str(&format!("\n:paperclip: <{url}|{name}>"));
        } else {
            out.push_str(&format!("\n:paperclip: {name} (open it in the inbox)"));
        }
    }
    out
}

/// "512 B", "48 KB", "1.2 MB".
pub fn human_size(bytes: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = 1024 * 1024;
    match bytes {
        b if b < KB => format!("{b} B"),
        b if b < MB => format!("{} KB", (b + KB / 2) / KB),
        b => format!("{:.1} MB", b as f64 / MB as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1 KB");
        assert_eq!(human_size(48_213), "47 KB");
        assert_eq!(human_size(1_258_291), "1.2 MB");
    }
}
