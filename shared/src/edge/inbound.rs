//! Parsers for everything that comes from outside: HubSpot webhook batches, Slack event
//! envelopes, slash-command forms, interaction payloads. Pure functions over bytes, so they
//! are unit-tested and fuzzed without a server. Each error says what was wrong (for a 400).

use crate::domain::SlackFile;
use serde::Deserialize;
use serde_json::Value;

/// HubSpot sends fewer than 100 events per request (contracts/hubspot.md).
pub const MAX_WEBHOOK_EVENTS: usize = 100;
/// Deeper JSON is refused before serde sees it (serde_json's own limit is 128; ours is
/// lower because no real payload nests past about 10).
pub const MAX_JSON_DEPTH: usize = 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct ParseError(pub String);

fn bad(msg: impl Into<String>) -> ParseError {
    ParseError(msg.into())
}

/// Refuses JSON nested deeper than `MAX_JSON_DEPTH` (counts brackets outside strings).
pub fn check_depth(body: &[u8]) -> Result<(), ParseError> {
    let (mut depth, mut in_str, mut esc) = (0usize, false, false);
    for &b in body {
        if in_str {
            match (esc, b) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return Err(bad(format!(
                        "JSON nested deeper than {MAX_JSON_DEPTH} levels"
                    )));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn parse_json<T: for<'de> Deserialize<'de>>(body: &[u8], what: &str) -> Result<T, ParseError> {
    check_depth(body)?;
    serde_json::from_slice(body).map_err(|e| bad(format!("malformed {what}: {e}")))
}

/// An id HubSpot sends as a number or a string.
fn id_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

// ---------------- HubSpot ----------------

/// One webhook event (contracts/hubspot.md: real payloads name the type `subscriptionType`;
/// the guide's table says `eventType`; accept both).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HubSpotEvent {
    #[serde(default, deserialize_with = "id_string")]
    pub event_id: Option<String>,
    #[serde(default, deserialize_with = "id_string")]
    pub subscription_id: Option<String>,
    #[serde(default, deserialize_with = "id_string")]
    pub portal_id: Option<String>,
    #[serde(default, deserialize_with = "id_string")]
    pub app_id: Option<String>,
    #[serde(default)]
    pub occurred_at: Option<i64>,
    #[serde(default, alias = "eventType")]
    pub subscription_type: Option<String>,
    #[serde(default)]
    pub attempt_number: Option<i64>,
    #[serde(default, deserialize_with = "id_string")]
    pub object_id: Option<String>,
    #[serde(default, deserialize_with = "id_string")]
    pub message_id: Option<String>,
    #[serde(default)]
    pub message_type: Option<String>,
    #[serde(default)]
    pub property_name: Option<String>,
    #[serde(default, deserialize_with = "id_string")]
    pub property_value: Option<String>,
    #[serde(default)]
    pub change_source: Option<String>,
}

/// What an event asks of us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubSpotAction {
    /// Bring the conversation's Slack side up to date.
    Sync {
        portal_id: String,
        thread_id: String,
        /// A new message only: the thread itself may be as stored.
        messages_only: bool,
        /// That message's id, when the event names it.
        message_id: Option<String>,
    },
    /// The conversation was deleted (archived) or permanently deleted.
    Delete {
        portal_id: String,
        thread_id: String,
        privacy: bool,
    },
    /// Acknowledged and ignored, with the reason (logged).
    Ignore { reason: String },
}

impl HubSpotEvent {
    pub fn action(&self) -> HubSpotAction {
        let ignore = |r: &str| HubSpotAction::Ignore { reason: r.into() };
        let (Some(portal), Some(thread)) = (&self.portal_id, &self.object_id) else {
            return ignore("event without portalId or objectId");
        };
        let (portal_id, thread_id) = (portal.clone(), thread.clone());
        match self.subscription_type.as_deref() {
            Some(kind @ ("conversation.creation" | "conversation.newMessage")) => {
                HubSpotAction::Sync {
                    portal_id,
                    thread_id,
                    message_id: self
                        .message_id
                        .clone()
                        .filter(|_| kind != "conversation.creation"),
                    // A message of the chat only; the inbox also reports changes to the
                    // thread as messages (a move to another inbox: THREAD_INBOX_CHANGE),
                    // and those, or a type not given, read the thread.
                    messages_only: kind == "conversation.newMessage"
                        && matches!(
                            self.message_type.as_deref(),
                            Some("MESSAGE" | "COMMENT" | "WELCOME_MESSAGE")
                        ),
                }
            }
            Some("conversation.propertyChange") => match self.property_name.as_deref() {
                // isArchived=false is a restore: the thread reappears.
                Some("status") | Some("assignedTo") | Some("isArchived") | Some("inboxId") => {
                    HubSpotAction::Sync {
                        portal_id,
                        thread_id,
                        messages_only: false,
                        message_id: None,
                    }
                }
                other => ignore(&format!(
                    "property change of {} is not shown",
                    other.unwrap_or("(none)")
                )),
            },
            Some("conversation.deletion") => HubSpotAction::Delete {
                portal_id,
                thread_id,
                privacy: false,
            },
            Some("conversation.privacyDeletion") => HubSpotAction::Delete {
                portal_id,
                thread_id,
                privacy: true,
            },
            Some(other) => ignore(&format!("subscription type {other} is not handled")),
            None => ignore("event without subscriptionType"),
        }
    }

    /// A key for this delivery (eventId alone is not unique, contracts/hubspot.md).
    pub fn dedup_key(&self) -> String {
        format!(
            "{}:{}:{}:{}:{}",
            self.portal_id.as_deref().unwrap_or(""),
            self.subscription_id.as_deref().unwrap_or(""),
            self.event_id.as_deref().unwrap_or(""),
            self.object_id.as_deref().unwrap_or(""),
            self.occurred_at.unwrap_or(0)
        )
    }
}

/// Parses a webhook body: a JSON array of at most `MAX_WEBHOOK_EVENTS` events.
pub fn parse_hubspot_batch(body: &[u8]) -> Result<Vec<HubSpotEvent>, ParseError> {
    let v: Value = parse_json(body, "webhook body")?;
    let Value::Array(items) = v else {
        return Err(bad("webhook body must be a JSON array of events"));
    };
    if items.len() > MAX_WEBHOOK_EVENTS {
        return Err(bad(format!(
            "webhook batch of {} events exceeds {MAX_WEBHOOK_EVENTS}",
            items.len()
        )));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, it)| {
            if !it.is_object() {
                return Err(bad(format!("event {i} is not an object")));
            }
            serde_json::from_value(it).map_err(|e| bad(format!("event {i}: {e}")))
        })
        .collect()
}

// ---------------- Slack Events API ----------------

/// The outer envelope of an Events API delivery. Lives for one request, so the size
/// difference between variants costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum SlackEnvelope {
    UrlVerification {
        challenge: String,
    },
    EventCallback {
        team_id: String,
        event_id: String,
        api_app_id: Option<String>,
        /// Our bot user in this workspace, from the event's `authorizations` (the entry with
        /// `is_bot`), when Slack includes it.
        bot_user: Option<String>,
        event: SlackEvent,
        /// The `event` object as Slack sent it, for the worker (which reads it again with
        /// `parse_event`): the envelope's other fields (its verification token) never travel.
        raw_event: Value,
    },
    /// Another envelope type (app_rate_limited, ...): acknowledged and ignored.
    Other {
        kind: String,
    },
}

/// The inner event, reduced to what the bundle acts on. Lives for one request: the size
/// difference between variants costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum SlackEvent {
    Message(SlackMessage),
    AppUninstalled,
    TokensRevoked {
        bot_user_ids: Vec<String>,
    },
    AppHomeOpened {
        user: String,
        tab: Option<String>,
    },
    MemberJoinedChannel {
        user: String,
        channel: String,
    },
    /// Someone left a channel (`member_left_channel`, `user` set) or the app was removed from
    /// one (`channel_left`, `group_left`, `user` None).
    LeftChannel {
        user: Option<String>,
        channel: String,
    },
    /// `reaction_added` / `reaction_removed` on a message.
    Reaction {
        user: String,
        reaction: String,
        channel: String,
        ts: String,
        added: bool,
    },
    Other {
        kind: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SlackMessage {
    pub channel: String,
    pub user: Option<String>,
    pub text: String,
    pub ts: String,
    pub thread_ts: Option<String>,
    /// Who wrote the thread's parent (`parent_user_id`), when Slack says.
    pub parent_user: Option<String>,
    pub subtype: Option<String>,
    pub bot_id: Option<String>,
    pub hidden: bool,
    pub has_files: bool,
    /// The files Slack describes (`files[]`); may be fewer than were shared (see `SlackFile`).
    pub files: Vec<SlackFile>,
    /// For `message_changed` / `message_deleted`: the message that was edited or deleted.
    pub changed: Option<ChangedMessage>,
}

/// Slack sends at most 10 files a message; more entries are not files of one message.
const MAX_FILES: usize = 10;

fn slack_files(ev: &Value) -> Vec<SlackFile> {
    let Some(files) = ev.get("files").and_then(Value::as_array) else {
        return vec![];
    };
    files
        .iter()
        .take(MAX_FILES)
        .filter(|f| f.is_object())
        .map(SlackFile::from_slack)
        .collect()
}

/// The earlier message an edit or deletion event is about.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChangedMessage {
    pub user: Option<String>,
    pub ts: String,
    pub thread_ts: Option<String>,
    pub bot_id: Option<String>,
    /// Whether the text changed (Slack also sends message_changed for link unfurls).
    pub text_changed: bool,
    pub deleted: bool,
}

impl SlackMessage {
    /// Why this message must not reach the inbox, if it must not (contracts/slack.md:
    /// skip bots, edits, deletions, joins; only real replies inside a thread).
    pub fn skip_reason(&self, own_bot_user: Option<&str>) -> Option<&'static str> {
        if self.bot_id.is_some() {
            return Some("posted by a bot");
        }
        if self.hidden {
            return Some("hidden message event (edit or deletion)");
        }
        match self.subtype.as_deref() {
            None | Some("thread_broadcast") | Some("file_share") => {}
            Some(_) => return Some("message subtype is not a human reply"),
        }
        let Some(user) = self.user.as_deref() else {
            return Some("message without a user");
        };
        if Some(user) == own_bot_user {
            return Some("posted by this app");
        }
        match self.thread_ts.as_deref() {
            None => Some("not in a thread"),
            Some(t) if t == self.ts => Some("thread parent, not a reply"),
            Some(_) => None,
        }
    }
}

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

pub fn parse_slack_envelope(body: &[u8]) -> Result<SlackEnvelope, ParseError> {
    let v: Value = parse_json(body, "event body")?;
    if !v.is_object() {
        return Err(bad("event body must be a JSON object"));
    }
    let kind = s(&v, "type").ok_or_else(|| bad("event body has no type"))?;
    match kind.as_str() {
        "url_verification" => Ok(SlackEnvelope::UrlVerification {
            challenge: s(&v, "challenge")
                .ok_or_else(|| bad("url_verification without challenge"))?,
        }),
        "event_callback" => {
            let team_id = s(&v, "team_id").ok_or_else(|| bad("event_callback without team_id"))?;
            let event_id =
                s(&v, "event_id").ok_or_else(|| bad("event_callback without event_id"))?;
            let ev = v
                .get("event")
                .filter(|e| e.is_object())
                .ok_or_else(|| bad("event_callback without an event object"))?;
            Ok(SlackEnvelope::EventCallback {
                team_id,
                event_id,
                api_app_id: s(&v, "api_app_id"),
                bot_user: v
                    .get("authorizations")
                    .and_then(Value::as_array)
                    .and_then(|a| {
                        a.iter()
                            .find(|x| x.get("is_bot").and_then(Value::as_bool) == Some(true))
                    })
                    .and_then(|x| s(x, "user_id")),
                event: parse_event(ev)?,
                raw_event: ev.clone(),
            })
        }
        other => Ok(SlackEnvelope::Other {
            kind: other.to_string(),
        }),
    }
}

fn changed_message(ev: &Value) -> Option<ChangedMessage> {
    let deleted = match s(ev, "subtype").as_deref() {
        Some("message_changed") => false,
        Some("message_deleted") => true,
        _ => return None,
    };
    let prev = ev.get("previous_message");
    let target = if deleted { prev? } else { ev.get("message")? };
    let text = |v: Option<&Value>| v.and_then(|m| s(m, "text"));
    Some(ChangedMessage {
        user: s(target, "user"),
        ts: s(target, "ts")?,
        thread_ts: s(target, "thread_ts"),
        bot_id: s(target, "bot_id"),
        text_changed: deleted || text(prev) != text(ev.get("message")),
        deleted,
    })
}

/// One Events API `event` object.
pub fn parse_event(ev: &Value) -> Result<SlackEvent, ParseError> {
    let kind = s(ev, "type").ok_or_else(|| bad("event without type"))?;
    Ok(match kind.as_str() {
        "message" => SlackEvent::Message(SlackMessage {
            channel: s(ev, "channel").ok_or_else(|| bad("message event without channel"))?,
            user: s(ev, "user"),
            text: s(ev, "text").unwrap_or_default(),
            ts: s(ev, "ts").ok_or_else(|| bad("message event without ts"))?,
            thread_ts: s(ev, "thread_ts"),
            parent_user: s(ev, "parent_user_id"),
            subtype: s(ev, "subtype"),
            bot_id: s(ev, "bot_id"),
            hidden: ev.get("hidden").and_then(Value::as_bool).unwrap_or(false),
            has_files: ev
                .get("files")
                .and_then(Value::as_array)
                .is_some_and(|f| !f.is_empty()),
            files: slack_files(ev),
            changed: changed_message(ev),
        }),
        "app_uninstalled" => SlackEvent::AppUninstalled,
        "tokens_revoked" => SlackEvent::TokensRevoked {
            bot_user_ids: ev
                .pointer("/tokens/bot")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        },
        "app_home_opened" => SlackEvent::AppHomeOpened {
            user: s(ev, "user").ok_or_else(|| bad("app_home_opened without user"))?,
            tab: s(ev, "tab"),
        },
        "member_joined_channel" => SlackEvent::MemberJoinedChannel {
            user: s(ev, "user").ok_or_else(|| bad("member_joined_channel without user"))?,
            channel: s(ev, "channel")
                .ok_or_else(|| bad("member_joined_channel without channel"))?,
        },
        "member_left_channel" => SlackEvent::LeftChannel {
            user: Some(s(ev, "user").ok_or_else(|| bad("member_left_channel without user"))?),
            channel: s(ev, "channel").ok_or_else(|| bad("member_left_channel without channel"))?,
        },
        kind @ ("reaction_added" | "reaction_removed") => {
            let item = ev.get("item").filter(|i| i["type"] == "message");
            match item {
                // A reaction on a file or a file comment: not a card.
                None => SlackEvent::Other {
                    kind: kind.to_string(),
                },
                Some(item) => SlackEvent::Reaction {
                    user: s(ev, "user").ok_or_else(|| bad(format!("{kind} without user")))?,
                    reaction: s(ev, "reaction")
                        .ok_or_else(|| bad(format!("{kind} without reaction")))?,
                    channel: s(item, "channel")
                        .ok_or_else(|| bad(format!("{kind} without item.channel")))?,
                    ts: s(item, "ts").ok_or_else(|| bad(format!("{kind} without item.ts")))?,
                    added: kind == "reaction_added",
                },
            }
        }
        kind @ ("channel_left" | "group_left") => SlackEvent::LeftChannel {
            user: None,
            channel: s(ev, "channel").ok_or_else(|| bad(format!("{kind} without channel")))?,
        },
        other => SlackEvent::Other {
            kind: other.to_string(),
        },
    })
}

// ---------------- slash commands ----------------

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct SlashCommand {
    pub team_id: String,
    pub user_id: String,
    pub command: String,
    #[serde(default)]
    pub text: String,
    pub response_url: String,
    #[serde(default)]
    pub channel_id: Option<String>,
    #[serde(default)]
    pub user_name: Option<String>,
}

pub fn parse_slash_command(body: &[u8]) -> Result<SlashCommand, ParseError> {
    serde_urlencoded::from_bytes(body).map_err(|e| bad(format!("malformed command form: {e}")))
}

// ---------------- interactivity ----------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockAction {
    pub action_id: String,
    pub value: Option<String>,
    pub url: Option<String>,
    /// What a select picked (`selected_conversation` / `selected_channel` /
    /// `selected_user`).
    pub selected: Option<String>,
    pub action_ts: Option<String>,
    /// The block the element is in (a select without a value carries its context there).
    pub block_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interaction {
    BlockActions {
        team_id: String,
        user_id: String,
        channel_id: Option<String>,
        message_ts: Option<String>,
        response_url: Option<String>,
        actions: Vec<BlockAction>,
    },
    /// Another payload type (view_submission, shortcut, ...): acknowledged and ignored.
    Other { kind: String },
}

#[derive(Deserialize)]
struct PayloadForm {
    payload: String,
}

pub fn parse_interaction(body: &[u8]) -> Result<Interaction, ParseError> {
    let form: PayloadForm = serde_urlencoded::from_bytes(body)
        .map_err(|e| bad(format!("interaction body must be a form with payload: {e}")))?;
    let v: Value = parse_json(form.payload.as_bytes(), "interaction payload")?;
    if !v.is_object() {
        return Err(bad("interaction payload must be a JSON object"));
    }
    let kind = s(&v, "type").ok_or_else(|| bad("interaction payload has no type"))?;
    if kind != "block_actions" {
        return Ok(Interaction::Other { kind });
    }
    let team_id = v
        .pointer("/team/id")
        .and_then(Value::as_str)
        .or_else(|| v.pointer("/user/team_id").and_then(Value::as_str))
        .ok_or_else(|| bad("block_actions without team.id"))?
        .to_string();
    let user_id = v
        .pointer("/user/id")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("block_actions without user.id"))?
        .to_string();
    let ptr = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
    let actions = v
        .get("actions")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("block_actions without actions"))?
        .iter()
        .map(|a| {
            Ok(BlockAction {
                action_id: s(a, "action_id").ok_or_else(|| bad("action without action_id"))?,
                value: s(a, "value"),
                url: s(a, "url"),
                selected: s(a, "selected_conversation")
                    .or_else(|| s(a, "selected_channel"))
                    .or_else(|| s(a, "selected_user"))
                    .or_else(|| {
                        a.pointer("/selected_option/value")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    }),
                action_ts: s(a, "action_ts"),
                block_id: s(a, "block_id"),
            })
        })
        .collect::<Result<Vec<_>, ParseError>>()?;
    Ok(Interaction::BlockActions {
        team_id,
        user_id,
        channel_id: ptr("/container/channel_id").or_else(|| ptr("/channel/id")),
        message_ts: ptr("/container/message_ts").or_else(|| ptr("/message/ts")),
        response_url: s(&v, "response_url"),
        actions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hubspot_real_payload_parses() {
        let body = br#"[{"eventId":1376226851,"subscriptionId":1870311,"portalId":22761544,"appId":1098266,"occurredAt":1670373142223,"subscriptionType":"conversation.newMessage","attemptNumber":1,"objectId":3624100517,"messageId":"5bc511c6161c41ba811829eb460a83b8","messageType":"MESSAGE","changeFlag":"NEW_MESSAGE"}]"#;
        let evs = parse_hubspot_batch(body).unwrap();
        assert_eq!(evs[0].portal_id.as_deref(), Some("22761544"));
        assert_eq!(
            evs[0].action(),
            HubSpotAction::Sync {
                portal_id: "22761544".into(),
                thread_id: "3624100517".into(),
                messages_only: true,
                message_id: Some("5bc511c6161c41ba811829eb460a83b8".into()),
            }
        );
    }

    #[test]
    fn hubspot_kinds() {
        let ev = |t: &str, p: Option<&str>| HubSpotEvent {
            event_id: None,
            subscription_id: None,
            portal_id: Some("1".into()),
            app_id: None,
            occurred_at: None,
            subscription_type: Some(t.into()),
            attempt_number: None,
            object_id: Some("9".into()),
            message_id: None,
            message_type: None,
            property_name: p.map(str::to_string),
            property_value: None,
            change_source: None,
        };
        assert!(matches!(
            ev("conversation.deletion", None).action(),
            HubSpotAction::Delete { privacy: false, .. }
        ));
        assert!(matches!(
            ev("conversation.privacyDeletion", None).action(),
            HubSpotAction::Delete { privacy: true, .. }
        ));
        assert!(matches!(
            ev("conversation.propertyChange", Some("status")).action(),
            HubSpotAction::Sync { .. }
        ));
        assert!(matches!(
            ev("conversation.propertyChange", Some("priority")).action(),
            HubSpotAction::Ignore { .. }
        ));
        assert!(matches!(
            ev("contact.creation", None).action(),
            HubSpotAction::Ignore { .. }
        ));
    }

    #[test]
    fn hubspot_bad_bodies() {
        assert!(parse_hubspot_batch(b"{}").is_err());
        assert!(parse_hubspot_batch(b"[1]").is_err());
        assert!(parse_hubspot_batch(b"not json").is_err());
        let many = format!("[{}]", vec!["{}"; 101].join(","));
        assert!(parse_hubspot_batch(many.as_bytes())
            .unwrap_err()
            .0
            .contains("exceeds"));
        let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
        assert!(parse_hubspot_batch(deep.as_bytes())
            .unwrap_err()
            .0
            .contains("nested"));
        // Brackets inside strings do not count.
        let s = format!(r#"[{{"changeSource":"{}"}}]"#, "[".repeat(100));
        assert!(parse_hubspot_batch(s.as_bytes()).is_ok());
    }

    #[test]
    fn slack_envelopes() {
        let uv = br#"{"token":"t","challenge":"abc","type":"url_verification"}"#;
        assert_eq!(
            parse_slack_envelope(uv).unwrap(),
            SlackEnvelope::UrlVerification {
                challenge: "abc".into()
            }
        );
        let reply = br#"{"type":"event_callback","team_id":"T1","event_id":"Ev1","event":{"type":"message","channel":"C1","user":"U1","text":"hi","ts":"2.0","thread_ts":"1.0"}}"#;
        let SlackEnvelope::EventCallback {
            event: SlackEvent::Message(m),
            ..
        } = parse_slack_envelope(reply).unwrap()
        else {
            panic!("not a message")
        };
        assert_eq!(m.skip_reason(Some("UBOT")), None);
        assert_eq!(m.parent_user, None);
        // Our bot user comes from the authorization that is a bot; the thread's parent author
        // from parent_user_id.
        let with_auth = br#"{"type":"event_callback","team_id":"T1","event_id":"Ev2","authorizations":[{"user_id":"UHUMAN","is_bot":false},{"user_id":"UBOT","is_bot":true}],"event":{"type":"message","channel":"C1","user":"U1","text":"hi","ts":"2.0","thread_ts":"1.0","parent_user_id":"UBOT"}}"#;
        let SlackEnvelope::EventCallback {
            bot_user,
            event: SlackEvent::Message(m),
            ..
        } = parse_slack_envelope(with_auth).unwrap()
        else {
            panic!("not a message")
        };
        assert_eq!(bot_user.as_deref(), Some("UBOT"));
        assert_eq!(m.parent_user.as_deref(), Some("UBOT"));
        assert!(parse_slack_envelope(b"[]").is_err());
        assert!(parse_slack_envelope(br#"{"type":"event_callback"}"#).is_err());
    }

    #[test]
    fn shared_files_keep_what_sending_them_needs() {
        let ev = json!({"type": "event_callback", "team_id": "T1", "event_id": "Ev1", "event": {
        "type": "message", "subtype": "file_share", "channel": "C1", "user": "U1", "text": "",
        "ts": "2.0", "thread_ts": "1.0", "files": [
            {"id": "F1", "name": "a.png", "mimetype": "image/png", "size": 12,
             "url_private": "https://files.slack.com/files-pri/T1-F1/a.png",
             "url_private_download": "https://files.slack.com/files-pri/T1-F1/download/a.png"},
            {"id": "F2", "title": "untitled", "mode": "hidden_by_limit",
             "url_private": "https://files.slack.com/x"},
            {"id": "F3", "mode": "external", "url_private": "https://drive.example/x"},
            "not an object"
        ]}});
        let SlackEnvelope::EventCallback {
            event: SlackEvent::Message(m),
            ..
        } = parse_slack_envelope(ev.to_string().as_bytes()).unwrap()
        else {
            panic!("not a message")
        };
        assert!(m.has_files);
        assert_eq!(m.skip_reason(None), None, "a file reply is a reply");
        assert_eq!(m.files.len(), 3);
        assert_eq!(
            m.files[0],
            SlackFile {
                id: "F1".into(),
                name: "a.png".into(),
                mimetype: Some("image/png".into()),
                size: Some(12),
                url: Some("https://files.slack.com/files-pri/T1-F1/download/a.png".into()),
                check_info: false,
            }
        );
        // Hidden and external files are named, but can't be fetched.
        assert_eq!(
            (m.files[1].name.as_str(), m.files[1].url.as_deref()),
            ("untitled", None)
        );
        assert_eq!(
            (m.files[2].name.as_str(), m.files[2].url.as_deref()),
            ("file", None)
        );
    }

    #[test]
    fn slack_skip_reasons() {
        let base = SlackMessage {
            channel: "C".into(),
            user: Some("U1".into()),
            ts: "2.0".into(),
            thread_ts: Some("1.0".into()),
            ..Default::default()
        };
        assert_eq!(base.skip_reason(None), None);
        let m = SlackMessage {
            thread_ts: None,
            ..base.clone()
        };
        assert_eq!(m.skip_reason(None), Some("not in a thread"));
        let m = SlackMessage {
            bot_id: Some("B".into()),
            ..base.clone()
        };
        assert_eq!(m.skip_reason(None), Some("posted by a bot"));
        let m = SlackMessage {
            subtype: Some("channel_join".into()),
            ..base.clone()
        };
        assert!(m.skip_reason(None).is_some());
        let m = SlackMessage {
            hidden: true,
            subtype: Some("message_changed".into()),
            ..base.clone()
        };
        assert!(m.skip_reason(None).is_some());
        assert_eq!(base.skip_reason(Some("U1")), Some("posted by this app"));
        let m = SlackMessage {
            thread_ts: Some("2.0".into()),
            ..base
        };
        assert!(m.skip_reason(None).is_some());
    }

    #[test]
    fn slash_and_interactions() {
        let c = parse_slash_command(
            b"team_id=T&user_id=U&command=%2Fhs-chat-away&text=&response_url=https%3A%2F%2Fx",
        )
        .unwrap();
        assert_eq!(c.command, "/hs-chat-away");
        assert!(parse_slash_command(b"team_id=T").is_err());
        let payload = r#"{"type":"block_actions","team":{"id":"T"},"user":{"id":"U"},"container":{"type":"message","message_ts":"1.0","channel_id":"C"},"response_url":"https://x","actions":[{"action_id":"claim","value":"v","type":"button"}]}"#;
        let body = serde_urlencoded::to_string([("payload", payload)]).unwrap();
        let Interaction::BlockActions {
            actions,
            channel_id,
            ..
        } = parse_interaction(body.as_bytes()).unwrap()
        else {
            panic!()
        };
        assert_eq!(actions[0].action_id, "claim");
        assert_eq!(channel_id.as_deref(), Some("C"));
        assert!(parse_interaction(b"payload=notjson").is_err());
        assert!(parse_interaction(b"nopayload=1").is_err());
    }

    #[test]
    fn home_tab_select_carries_the_picked_channel() {
        let payload = r#"{"type":"block_actions","team":{"id":"T"},"user":{"id":"U","team_id":"T"},"container":{"type":"view","view_id":"V1"},"view":{"id":"V1","type":"home"},"actions":[{"type":"conversations_select","action_id":"home_channel","block_id":"b","selected_conversation":"C9","action_ts":"1700000000.1"}]}"#;
        let body = serde_urlencoded::to_string([("payload", payload)]).unwrap();
        let Interaction::BlockActions {
            actions,
            channel_id,
            response_url,
            ..
        } = parse_interaction(body.as_bytes()).unwrap()
        else {
            panic!()
        };
        assert_eq!(actions[0].selected.as_deref(), Some("C9"));
        assert_eq!(actions[0].action_ts.as_deref(), Some("1700000000.1"));
        assert!(channel_id.is_none() && response_url.is_none());
    }
}
