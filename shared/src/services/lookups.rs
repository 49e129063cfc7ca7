//! HubSpot owners and contacts, read once per warm process and portal for
//! `app::LOOKUP_TTL_MS` (the card is redrawn on most events; who the assignee, contact and
//! contact owner are rarely changes). Keys start with the portal, so nothing read for one
//! tenant is ever shown to another; "not found" is kept too; errors are not.

use crate::app::App;
use crate::domain::{Agent, Contact, InboxError};
use crate::support::secret::Secret;

/// The owner with HubSpot user id `uid` (a conversation's assignee).
pub async fn owner_by_user_id(
    app: &App,
    portal: &str,
    token: &Secret,
    uid: &str,
) -> Result<Option<Agent>, InboxError> {
    let key = format!("{portal}:user:{uid}");
    let now = app.clock.now_ms();
    if let Some(hit) = app.lookups.owners.get(&key, now) {
        return Ok(hit);
    }
    let found = app.inbox.agent_by_user_id(token, uid).await?;
    app.lookups.owners.put(key, found.clone(), now);
    Ok(found)
}

/// The owner with owner id `id` (a contact's owner).
pub async fn owner_by_id(
    app: &App,
    portal: &str,
    token: &Secret,
    id: &str,
) -> Result<Option<Agent>, InboxError> {
    let key = format!("{portal}:owner:{id}");
    let now = app.clock.now_ms();
    if let Some(hit) = app.lookups.owners.get(&key, now) {
        return Ok(hit);
    }
    let found = app.inbox.agent_by_id(token, id).await?;
    app.lookups.owners.put(key, found.clone(), now);
    Ok(found)
}

/// The contact `id` as of `as_of_ms` (its last page seen then).
pub async fn contact(
    app: &App,
    portal: &str,
    token: &Secret,
    id: &str,
    as_of_ms: i64,
) -> Result<Option<Contact>, InboxError> {
    let key = format!("{portal}:contact:{id}:{as_of_ms}");
    let now = app.clock.now_ms();
    if let Some(hit) = app.lookups.contacts.get(&key, now) {
        return Ok(hit);
    }
    let found = app.inbox.contact(token, id, as_of_ms).await?;
    app.lookups.contacts.put(key, found.clone(), now);
    Ok(found)
}
