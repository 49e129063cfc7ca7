//! The file manager: an agent's file uploaded for a message, an attachment's size.

use serde::Deserialize;
use serde_json::json;

use super::versions::FILES;
use super::wire::de_id;
use super::{none_if_not_found, parse, segment, HubSpotApi, HubSpotError, UPLOAD_TIMEOUT};
use crate::support::secret::Secret;

/// The file manager folder agents' files from Slack are uploaded to (created on first use).
pub const FILES_FOLDER: &str = "/conversations-from-slack";

impl HubSpotApi {
    /// `POST {FILES}/files` (multipart, scope `files`): uploads a file for a message's
    /// `attachments` (`{type: FILE, fileId}`) and returns its id. Not in contracts/: from
    /// HubSpot's reference, developers.hubspot.com/docs/api-reference/files-files-v3 (upload
    /// file) and .../conversations-conversations-v3 (send a message to a thread). `PRIVATE`: other people's files are never public or
    /// indexable; the inbox gives the visitor a signed link.
    pub async fn upload_file(
        &self,
        token: &Secret,
        name: &str,
        mimetype: Option<&str>,
        data: bytes::Bytes,
    ) -> Result<String, HubSpotError> {
        #[derive(Deserialize)]
        struct Uploaded {
            #[serde(deserialize_with = "de_id")]
            id: String,
        }
        let len = data.len() as u64;
        let part =
            reqwest::multipart::Part::stream_with_length(data, len).file_name(name.to_string());
        let part = match mimetype {
            Some(m) => part.mime_str(m).map_err(|_| {
                HubSpotError::Unexpected("the file's type is not a MIME type".into())
            })?,
            None => part,
        };
        let form = reqwest::multipart::Form::new()
            .part("file", part)
            .text("fileName", name.to_string())
            .text("folderPath", FILES_FOLDER)
            .text("options", json!({"access": "PRIVATE"}).to_string());
        let req = self
            .http
            .post(format!("{}{FILES}/files", self.base))
            .bearer_auth(token.expose())
            .multipart(form);
        let bytes = self
            .execute_within("upload_file", req, UPLOAD_TIMEOUT)
            .await?;
        let up: Uploaded = parse("upload_file", &bytes)?;
        Ok(up.id)
    }

    /// `GET {FILES}/files/{fileId}` (scope `files`): a file's size in bytes, for an
    /// attachment the inbox describes by id, name and URL only. None when unknown or gone.
    pub async fn file_size(
        &self,
        token: &Secret,
        file_id: &str,
    ) -> Result<Option<u64>, HubSpotError> {
        #[derive(Deserialize)]
        struct File {
            #[serde(default)]
            size: Option<u64>,
        }
        let url = format!("{}{FILES}/files/{}", self.base, segment(file_id, "file")?);
        let req = self.http.get(url).bearer_auth(token.expose());
        let Some(bytes) = none_if_not_found(self.execute("file_size", req).await)? else {
            return Ok(None);
        };
        Ok(parse::<File>("file_size", &bytes)?.size)
    }
}
