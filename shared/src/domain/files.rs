//! Files agents share in Slack, as the job that sends them on carries them.

use serde::Deserialize;

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
