//! The card a sync builds: the conversation as the inbox reads it now, with what the card
//! kept from before (the first message, which a later page may not hold; last reply, first
//! response), the assignee and the contact's owner looked up (cached).

use super::*;

async fn person(
    app: &App,
    token: &Secret,
    portal: &str,
    uid: &str,
) -> Result<Option<Person>, JobError> {
    let owner = crate::services::lookups::owner_by_user_id(app, portal, token, uid)
        .await
        .map_err(hubspot_failure)?;
    let mapped = app
        .records
        .user_for_inbox(portal, uid)
        .await
        .map_err(|e| JobError::retry(e.to_string()))?;
    Ok(Some(Person {
        user_id: Some(uid.to_string()),
        name: owner
            .as_ref()
            .map(|o| o.display_name())
            .unwrap_or_else(|| format!("HubSpot user {uid}")),
        email: owner.as_ref().and_then(|o| o.email.clone()),
        slack_user: mapped.map(|m| m.slack_user_id),
    }))
}

/// The card, and the thread's `associatedContactId` when it turned out not to be a CRM
/// contact (to be remembered on the conversation, so it is not asked again).
pub(super) async fn build_card(
    app: &App,
    token: &Secret,
    portal: &str,
    thread: &Conversation,
    messages: &[Message],
    old: Option<&Card>,
    known_not_contact: Option<&str>,
) -> Result<(Card, Option<String>), JobError> {
    // A card built before knows the first message, which a later page may not hold.
    let first = messages.iter().find(|m| m.is_from_visitor());
    let (first_message, visitor) = match old.filter(|c| !c.first_message.is_empty()) {
        Some(c) => (c.first_message.clone(), c.visitor.clone()),
        None => (
            first.and_then(|m| m.text.clone()).unwrap_or_default(),
            first.map(sender_name).unwrap_or_else(|| "Visitor".into()),
        ),
    };
    let assignee = match thread.assignee_user_id.as_deref() {
        Some(uid) => person(app, token, portal, uid).await?,
        None => None,
    };
    // `associatedContactId` is a visitor id until the visitor becomes a contact, and the
    // definitions give no way to tell the two apart (HubSpot-public-api-spec-collection,
    // Conversations 2026-09, PublicThread; contracts/hubspot.md): the CRM is asked once,
    // and an id it does not know is not asked again for this conversation.
    let lookup = thread
        .contact_id
        .as_deref()
        .filter(|c| Some(*c) != known_not_contact);
    let (contact, not_contact) = match lookup {
        Some(c) => {
            match crate::services::lookups::contact(app, portal, token, c, thread.created_at_ms)
                .await
            {
                Ok(Some(contact)) => (Some(contact), None),
                Ok(None) => {
                    tracing::info!(portal, conversation = %thread.id, "the thread's contact id is not a CRM contact (a visitor id); not asked again");
                    (None, Some(c.to_string()))
                }
                Err(e) if e.is_retryable() => return Err(hubspot_failure(e)),
                // Refused (a scope missing, say): show no owner, ask again next time.
                Err(_) => (None, None),
            }
        }
        None => (None, None),
    };
    let contact_owner = match contact.as_ref().and_then(|c| c.owner_id.as_deref()) {
        Some(owner_id) => crate::services::lookups::owner_by_id(app, portal, token, owner_id)
            .await
            .map_err(hubspot_failure)?
            .map(|o| o.display_name()),
        None => None,
    };
    let assignee_available = match assignee.as_ref().and_then(|p| p.user_id.as_deref()) {
        Some(uid) => app
            .records
            .list_availability(portal)
            .await
            .ok()
            .and_then(|l| l.into_iter().find(|a| a.inbox_user_id == uid))
            .map(|a| a.available),
        None => None,
    };
    let mut card = Card {
        last_reply: old.and_then(|c| c.last_reply.clone()),
        first_response_secs: old.and_then(|c| c.first_response_secs),
        first_in_ms: old.and_then(|c| c.first_in_ms),
        waiting_since: old.and_then(|c| c.waiting_since),
        portal_id: portal.to_string(),
        thread_id: thread.id.clone(),
        first_message,
        visitor,
        status: thread.status.as_str().to_string(),
        // No API gives the page a chat started on: the contact's last page seen as of the
        // chat's start, when the CRM knows it (contracts/hubspot-platform-2026.md).
        page: contact.and_then(|c| c.last_page_seen),
        assignee,
        contact_owner,
        inbox_url: inbox_link(app, portal, &thread.id),
        assignee_available,
    };
    card_state::apply_messages(&mut card, messages);
    Ok((card, not_contact))
}
