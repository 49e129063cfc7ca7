//! Slack's limits on Block Kit, checked on what is about to be sent (contracts/slack.md,
//! "Block Kit"; the same numbers slack_sdk's models enforce): a payload that breaks one is
//! refused whole (`invalid_blocks`), so every builder keeps within them after every prefix,
//! escape and appended link, and `check` says which limit a payload breaks.

use serde_json::Value;

/// A section's (or any text object's) text.
pub const TEXT: usize = 3000;
/// A header block's text.
pub const HEADER: usize = 150;
/// A button's text.
pub const BUTTON_TEXT: usize = 75;
/// A button's value.
pub const BUTTON_VALUE: usize = 2000;
/// A confirmation dialog's text.
pub const CONFIRM_TEXT: usize = 300;
/// A confirmation dialog's title, and its two buttons (python-slack-sdk `ConfirmObject`).
pub const CONFIRM_TITLE: usize = 100;
pub const CONFIRM_BUTTON: usize = 30;
/// Blocks in a message.
pub const MESSAGE_BLOCKS: usize = 50;
/// Blocks in a Home tab (a view).
pub const VIEW_BLOCKS: usize = 100;
/// Fields of a section, and each field's text.
pub const FIELDS: usize = 10;
pub const FIELD_TEXT: usize = 2000;
/// Elements of a context block.
pub const CONTEXT_ELEMENTS: usize = 10;
/// A message's top-level `text` (Slack truncates past 40,000; we keep well under).
pub const MESSAGE_TEXT: usize = 4000;

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

fn text_of(v: &Value) -> usize {
    chars(&v["text"])
}

/// What in `blocks` breaks a limit, for a message (`view` false) or a Home tab.
pub fn check(blocks: &Value, view: bool) -> Result<(), String> {
    let list = blocks.as_array().ok_or("blocks are not a list")?;
    let max = if view { VIEW_BLOCKS } else { MESSAGE_BLOCKS };
    if list.len() > max {
        return Err(format!("{} blocks, more than {max}", list.len()));
    }
    for (i, b) in list.iter().enumerate() {
        let kind = b["type"].as_str().unwrap_or("");
        let over = |what: &str, n: usize, max: usize| {
            Err(format!(
                "block {i} ({kind}): {what} of {n} chars, more than {max}"
            ))
        };
        match kind {
            "header" if text_of(&b["text"]) > HEADER => {
                return over("header text", text_of(&b["text"]), HEADER)
            }
            "section" => {
                if text_of(&b["text"]) > TEXT {
                    return over("text", text_of(&b["text"]), TEXT);
                }
                if let Some(fields) = b["fields"].as_array() {
                    if fields.len() > FIELDS {
                        return Err(format!(
                            "block {i}: {} fields, more than {FIELDS}",
                            fields.len()
                        ));
                    }
                    if let Some(f) = fields.iter().find(|f| text_of(f) > FIELD_TEXT) {
                        return over("a field", text_of(f), FIELD_TEXT);
                    }
                }
                if b["accessory"].is_object() {
                    check_element(&b["accessory"], i)?;
                }
            }
            "context" => {
                let els = b["elements"].as_array().map_or(0, Vec::len);
                if els > CONTEXT_ELEMENTS {
                    return Err(format!(
                        "block {i}: {els} context elements, more than {CONTEXT_ELEMENTS}"
                    ));
                }
                if let Some(e) = b["elements"]
                    .as_array()
                    .and_then(|e| e.iter().find(|e| text_of(e) > TEXT))
                {
                    return over("a context element", text_of(e), TEXT);
                }
            }
            "actions" => {
                for e in b["elements"].as_array().into_iter().flatten() {
                    check_element(e, i)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_element(e: &Value, block: usize) -> Result<(), String> {
    if e["type"] == "button" {
        let t = text_of(&e["text"]);
        if t > BUTTON_TEXT {
            return Err(format!(
                "block {block}: button text of {t} chars, more than {BUTTON_TEXT}"
            ));
        }
        let v = chars(&e["value"]);
        if v > BUTTON_VALUE {
            return Err(format!(
                "block {block}: button value of {v} chars, more than {BUTTON_VALUE}"
            ));
        }
    }
    // A confirmation dialog's text is plain text of at most 300 chars.
    let confirm = &e["confirm"];
    if confirm.is_object() {
        if confirm["text"]["type"] != "plain_text" {
            return Err(format!(
                "block {block}: a confirm dialog's text is not plain_text"
            ));
        }
        if text_of(&confirm["text"]) > CONFIRM_TEXT {
            return Err(format!(
                "block {block}: a confirm dialog's text is over {CONFIRM_TEXT} chars"
            ));
        }
        if text_of(&confirm["title"]) > CONFIRM_TITLE {
            return Err(format!(
                "block {block}: a confirm dialog's title is over {CONFIRM_TITLE} chars"
            ));
        }
        for b in ["confirm", "deny"] {
            if text_of(&confirm[b]) > CONFIRM_BUTTON {
                return Err(format!(
                    "block {block}: a confirm dialog's {b} is over {CONFIRM_BUTTON} chars"
                ));
            }
        }
    }
    Ok(())
}

/// `items` joined by `sep` within `max_chars`, the rest counted: "a, b and 3 more".
pub fn join_capped(items: &[String], sep: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut len = 0;
    for (i, item) in items.iter().enumerate() {
        let more = format!(" and {} more", items.len() - i);
        let add = if i == 0 { 0 } else { sep.chars().count() } + item.chars().count();
        // Room for this one and, if any follow, the count of the rest.
        let tail = if i + 1 < items.len() {
            format!(" and {} more", items.len() - i - 1).chars().count()
        } else {
            0
        };
        if len + add + tail > max_chars {
            out.push_str(&more);
            return out;
        }
        if i > 0 {
            out.push_str(sep);
        }
        out.push_str(item);
        len += add;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_limit_is_found() {
        let long = |n: usize| "x".repeat(n);
        assert!(check(
            &json!([{"type": "section", "text": {"type": "mrkdwn", "text": long(3000)}}]),
            false
        )
        .is_ok());
        assert!(check(
            &json!([{"type": "section", "text": {"type": "mrkdwn", "text": long(3001)}}]),
            false
        )
        .is_err());
        assert!(check(
            &json!([{"type": "header", "text": {"type": "plain_text", "text": long(151)}}]),
            true
        )
        .is_err());
        let button = |t: usize, v: usize| json!([{"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": long(t)}, "value": long(v)}]}]);
        assert!(check(&button(75, 2000), false).is_ok());
        assert!(check(&button(76, 1), false).is_err());
        assert!(check(&button(1, 2001), false).is_err());
        let many = |n: usize| Value::Array(vec![json!({"type": "divider"}); n]);
        assert!(check(&many(50), false).is_ok());
        assert!(check(&many(51), false).is_err());
        assert!(check(&many(100), true).is_ok());
        assert!(check(&many(101), true).is_err());
        let fields = |n: usize, len: usize| json!([{"type": "section", "fields": vec![json!({"type": "mrkdwn", "text": long(len)}); n]}]);
        assert!(check(&fields(10, 2000), false).is_ok());
        assert!(check(&fields(11, 1), false).is_err());
        assert!(check(&fields(1, 2001), false).is_err());
        let ctx = json!([{"type": "context", "elements": vec![json!({"type": "mrkdwn", "text": "a"}); 11]}]);
        assert!(check(&ctx, false).is_err());
        let confirm = |kind: &str| {
            json!([{"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "x"},
            "confirm": {"title": {"type": "plain_text", "text": "t"}, "text": {"type": kind, "text": "sure?"},
            "confirm": {"type": "plain_text", "text": "y"}, "deny": {"type": "plain_text", "text": "n"}}}]}])
        };
        assert!(check(&confirm("plain_text"), true).is_ok());
        assert!(check(&confirm("mrkdwn"), true).is_err());
    }

    #[test]
    fn joins_stop_within_the_budget_and_count_the_rest() {
        let items: Vec<String> = (0..100).map(|i| format!("<@U{i:08}>")).collect();
        let s = join_capped(&items, ", ", 120);
        assert!(s.chars().count() <= 120, "{s}");
        assert!(s.ends_with(" more"), "{s}");
        assert_eq!(
            join_capped(&items[..2], ", ", 120),
            "<@U00000000>, <@U00000001>"
        );
        assert_eq!(join_capped(&[], ", ", 10), "");
    }
}
