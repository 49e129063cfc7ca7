//! Messages posted in a conversation's thread: the inbox's messages as Slack text.

use crate::chat::blocks::card::{MAX_TEXT, NAME};

/// At most this much of a thread message goes to its attachments.
const ATTACHMENTS: usize = 1000;
use crate::chat::text as slack_text;
use crate::domain::{Attachment, Direction, Message};

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
    let who = slack_text::escape_and_truncate(&sender_name(m), NAME).0;
    let label = if m.is_note() {
        format!(":lock: *{who}* _(internal note, not seen by the visitor)_")
    } else if m.direction == Some(Direction::FromAgent) {
        format!("*{who}* _(sent from the inbox)_")
    } else {
        format!("*{who}*")
    };
    // Attachments first take what they need, up to a third of the message; the ones that
    // do not fit are counted. The text then has the rest, with the link when it is cut: the
    // whole stays within Slack's limit, and no link token is ever cut in two.
    let lines: Vec<String> = m.attachments.iter().filter_map(attachment_line).collect();
    let mut attached = String::new();
    for (i, line) in lines.iter().enumerate() {
        let rest = lines.len() - i;
        let more = format!("\n:paperclip: {rest} more in the inbox");
        let room = ATTACHMENTS - more.chars().count();
        if attached.chars().count() + 1 + line.chars().count() > room && rest > 0 {
            attached.push_str(&more);
            break;
        }
        attached.push('\n');
        attached.push_str(line);
    }
    let link = format!(" <{inbox_url}|(read the whole message in the inbox)>");
    let budget =
        MAX_TEXT - label.chars().count() - 2 - attached.chars().count() - link.chars().count();
    let (body, cut) = slack_text::escape_and_truncate(m.text.as_deref().unwrap_or(""), budget);
    let mut out = format!("{label}: {body}");
    if cut {
        out.push_str(&link);
    }
    out.push_str(&attached);
    out
}

/// A link for Slack only from a plain http(s) URL: a link's URL may not carry `|`, `<`, `>`
/// or a space (they end the token).
fn linkable(url: Option<&str>) -> Option<&str> {
    url.filter(|u| {
        (u.starts_with("https://") || u.starts_with("http://")) && !u.contains(['|', '>', '<', ' '])
    })
}

/// A name as a link's label: escaped, with no `|` (which would end the label).
fn label(name: &str) -> String {
    slack_text::escape_and_truncate(name, NAME)
        .0
        .replace('|', "¦")
}

/// How an attachment reads in the thread, by kind: files as links (a paperclip), other kinds
/// for what they are, metadata not at all.
fn attachment_line(a: &Attachment) -> Option<String> {
    Some(match a {
        Attachment::File {
            name, url, size, ..
        } => {
            let mut name = label(name.as_deref().unwrap_or("attachment"));
            if let Some(n) = size {
                name.push_str(&format!(" ({})", human_size(*n)));
            }
            match linkable(url.as_deref()) {
                Some(u) => format!(":paperclip: <{u}|{name}>"),
                None => format!(":paperclip: {name} (open it in the inbox)"),
            }
        }
        Attachment::Location { name, url } => {
            let name = label(name.as_deref().unwrap_or("a location"));
            match linkable(url.as_deref()) {
                Some(u) => format!(":round_pushpin: Location: <{u}|{name}>"),
                None => format!(":round_pushpin: Location: {name}"),
            }
        }
        Attachment::Contact { name } => format!(
            ":bust_in_silhouette: A contact card: {} (open it in the inbox)",
            label(name.as_deref().unwrap_or("no name"))
        ),
        Attachment::QuickReplies { labels } if labels.is_empty() => {
            ":point_right: Quick replies were offered".to_string()
        }
        Attachment::QuickReplies { labels } => format!(
            ":point_right: Quick replies offered: {}",
            labels
                .iter()
                .map(|l| label(l))
                .collect::<Vec<_>>()
                .join(" · ")
        ),
        Attachment::Unsupported => {
            ":grey_question: Content the inbox cannot show (open it in the inbox)".to_string()
        }
        Attachment::Metadata => return None,
        Attachment::Other { kind } => format!(
            ":grey_question: An attachment of kind {} (open it in the inbox)",
            label(kind)
        ),
    })
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
