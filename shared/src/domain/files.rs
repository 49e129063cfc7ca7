//! Files agents share in Slack, as the job that sends them on carries them.

use serde::Deserialize;
use serde_json::Value;

/// A file shared in a message, as its `files[]` entry describes it. Only what sending it on
/// needs; `url` is `url_private_download` (else `url_private`), which takes the bot token
/// and the `files:read` scope to fetch. Files Slack hides (`mode` `hidden_by_limit`,
/// `tombstone`) or that live elsewhere (`external`) have no usable `url`.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, Deserialize)]
pub struct SlackFile {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mimetype: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Shared from a Slack Connect channel (`file_access: check_file_info`): the event does
    /// not describe it; `files.info` does.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub check_info: bool,
}

impl SlackFile {
    /// A file object as Slack describes it (a message's `files[]` entry, or `files.info`'s
    /// `file`): the one reading of it, for the event parser and the client alike.
    pub fn from_slack(f: &Value) -> SlackFile {
        let s = |k: &str| f.get(k).and_then(Value::as_str).map(str::to_string);
        let usable = !matches!(
            s("mode").as_deref(),
            Some("hidden_by_limit" | "tombstone" | "external")
        );
        SlackFile {
            id: s("id").unwrap_or_default(),
            name: s("name")
                .or_else(|| s("title"))
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| "file".into()),
            mimetype: s("mimetype").filter(|m| !m.is_empty()),
            size: f.get("size").and_then(Value::as_u64),
            url: usable
                .then(|| s("url_private_download").or_else(|| s("url_private")))
                .flatten()
                .filter(|u| !u.is_empty()),
            check_info: s("file_access").as_deref() == Some("check_file_info"),
        }
    }
}
