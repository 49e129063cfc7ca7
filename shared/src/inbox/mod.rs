//! The inbox side: the `Inbox` port the flows use, in the domain's words, with HubSpot's
//! Conversations Inbox as its adapter (`hubspot`) and an in-memory inbox (`memory`) that the
//! flow tests run against.
//!
//! `token` is the portal's credential as the install holds it (a private-app token or an
//! OAuth access token); `services::tokens` refreshes it and calls again on `Unauthorized`.

use async_trait::async_trait;

use crate::domain::{
    Agent, Contact, Conversation, InboxError, InboxInfo, InboxTokens, Message, OutgoingMessage,
    Status,
};
use crate::support::secret::Secret;

pub mod hubspot;
pub mod memory;

#[async_trait]
pub trait Inbox: Send + Sync {
    // Conversations
    async fn conversation(&self, token: &Secret, id: &str) -> Result<Conversation, InboxError>;
    /// Every message of a conversation, oldest first, each once.
    async fn messages(
        &self,
        token: &Secret,
        conversation: &str,
    ) -> Result<Vec<Message>, InboxError>;
    /// The messages from an inbox page token seen earlier onward (oldest first), and the
    /// token of the last page read, so the next read starts there: what a sync reads stays
    /// one page however long the conversation. Without paging: every message, no token.
    async fn messages_from(
        &self,
        token: &Secret,
        conversation: &str,
        _from: Option<&str>,
    ) -> Result<(Vec<Message>, Option<String>), InboxError> {
        Ok((self.messages(token, conversation).await?, None))
    }
    /// Sends a reply or a note; answers the message as the inbox stored it.
    async fn send(
        &self,
        token: &Secret,
        conversation: &str,
        msg: &OutgoingMessage,
    ) -> Result<Message, InboxError>;
    async fn set_status(
        &self,
        token: &Secret,
        conversation: &str,
        status: &Status,
    ) -> Result<(), InboxError>;
    /// Assigns the conversation to an agent (by user id), or unassigns it (None).
    async fn assign(
        &self,
        token: &Secret,
        conversation: &str,
        agent_user_id: Option<&str>,
    ) -> Result<(), InboxError>;
    /// Conversations with a message after `after_ms` (epoch ms), soonest first, at most
    /// `max` (the reconciliation sweep's read).
    async fn active_since(
        &self,
        token: &Secret,
        after_ms: i64,
        max: usize,
    ) -> Result<Vec<Conversation>, InboxError>;
    /// The portal's inboxes that are not archived, by name.
    async fn inboxes(&self, token: &Secret) -> Result<Vec<InboxInfo>, InboxError>;

    // Agents and contacts
    async fn agent_by_user_id(
        &self,
        token: &Secret,
        user_id: &str,
    ) -> Result<Option<Agent>, InboxError>;
    async fn agent_by_email(
        &self,
        token: &Secret,
        email: &str,
    ) -> Result<Option<Agent>, InboxError>;
    /// By the agent's id as an owner (what a contact's owner names).
    async fn agent_by_id(&self, token: &Secret, id: &str) -> Result<Option<Agent>, InboxError>;
    /// A conversation's contact as of `as_of_ms` (the chat's start; 0: unknown): its owner
    /// and the last page it had seen. None for an id that is no CRM contact.
    async fn contact(
        &self,
        token: &Secret,
        contact_id: &str,
        as_of_ms: i64,
    ) -> Result<Option<Contact>, InboxError>;
    /// Some(true) available, Some(false) away, None unknown.
    async fn availability(&self, token: &Secret, user_id: &str)
        -> Result<Option<bool>, InboxError>;
    async fn set_availability(
        &self,
        token: &Secret,
        user_id: &str,
        available: bool,
    ) -> Result<(), InboxError>;

    // Files
    /// Stores a file for a later `OutgoingMessage::file_ids`; answers its id.
    async fn upload_file(
        &self,
        token: &Secret,
        name: &str,
        mimetype: Option<&str>,
        data: bytes::Bytes,
    ) -> Result<String, InboxError>;
    /// A stored file's size in bytes; None when unknown or gone.
    async fn file_size(&self, token: &Secret, file_id: &str) -> Result<Option<u64>, InboxError>;

    // Authorization (OAuth installs)
    async fn exchange_code(
        &self,
        client_id: &str,
        client_secret: &Secret,
        redirect_uri: &str,
        code: &str,
    ) -> Result<InboxTokens, InboxError>;
    /// A refresh; an answer without a refresh token keeps the one passed in.
    async fn refresh(
        &self,
        client_id: &str,
        client_secret: &Secret,
        refresh_token: &Secret,
    ) -> Result<InboxTokens, InboxError>;
    /// The portal an access token belongs to.
    async fn token_portal(
        &self,
        client_id: &str,
        client_secret: &Secret,
        access_token: &Secret,
    ) -> Result<String, InboxError>;
    /// Ends an OAuth grant (a disconnect).
    async fn revoke(
        &self,
        client_id: &str,
        client_secret: &Secret,
        refresh_token: &Secret,
    ) -> Result<(), InboxError>;
}
