//! Conversations (2026-09): threads, their messages, inboxes, actors; sending and status.

use serde::Deserialize;
use serde_json::json;

use super::versions::CONVERSATIONS;
use super::wire::{
    de_opt_id, null_default, Actor, InboxWire, MessageWire, OutgoingWire, ThreadWire,
};
use super::{parse, segment, HubSpotApi, HubSpotError, MAX_PAGES, PAGE_LIMIT};
use crate::domain::{Conversation, InboxInfo, Message, OutgoingMessage};
use crate::support::secret::Secret;

/// A page's `paging.next.after` (a string or a number), unless absent, empty or the token
/// just used (a page that would repeat itself).
fn next_after(paging: Option<&serde_json::Value>, used: Option<&str>) -> Option<String> {
    paging
        .and_then(|p| p.pointer("/next/after"))
        .and_then(|a| {
            a.as_str()
                .map(str::to_string)
                .or_else(|| a.as_i64().map(|n| n.to_string()))
        })
        .filter(|a| !a.is_empty() && used != Some(a.as_str()))
}

impl HubSpotApi {
    pub async fn get_thread(
        &self,
        token: &Secret,
        thread_id: &str,
    ) -> Result<Conversation, HubSpotError> {
        let url = self.thread_url(thread_id)?;
        let req = self.http.get(url).bearer_auth(token.expose());
        let bytes = self.execute("get_thread", req).await?;
        parse::<ThreadWire>("get_thread", &bytes).map(Conversation::from)
    }

    /// Threads whose latest message is after `after_ms` (epoch ms), soonest first:
    /// `GET {CONVERSATIONS}/threads` sorted by `latestMessageTimestamp`, which HubSpot takes
    /// only with `latestMessageTimestampAfter` (contracts/hubspot-platform-2026.md, threads
    /// list; the 2026-09 definitions give both as query parameters), following
    /// `paging.next.after` until `max` threads or 10 pages.
    pub async fn list_active_threads(
        &self,
        token: &Secret,
        after_ms: i64,
        max: usize,
    ) -> Result<Vec<Conversation>, HubSpotError> {
        let url = format!("{}{CONVERSATIONS}/threads", self.base);
        let since = crate::support::clock::rfc3339_ms(after_ms);
        let query = [
            ("sort", "latestMessageTimestamp".to_string()),
            ("latestMessageTimestampAfter", since),
        ];
        let mut threads: Vec<Conversation> = self
            .walk_pages::<ThreadWire>(token, "list_threads", &url, &query, max)
            .await?
            .into_iter()
            .map(Conversation::from)
            .collect();
        threads.truncate(max);
        Ok(threads)
    }

    /// The portal's inboxes that are not archived (`GET {CONVERSATIONS}/inboxes`,
    /// `{results: [{id, name, type, archived}], paging}`), following `paging.next.after` up to
    /// 10 pages; sorted by name then id, each once.
    pub async fn list_inboxes(&self, token: &Secret) -> Result<Vec<InboxInfo>, HubSpotError> {
        let url = format!("{}{CONVERSATIONS}/inboxes", self.base);
        let mut inboxes: Vec<InboxInfo> = self
            .walk_pages::<InboxWire>(token, "list_inboxes", &url, &[], usize::MAX)
            .await?
            .into_iter()
            .filter(|i| !i.archived)
            .map(InboxInfo::from)
            .collect();
        inboxes.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        inboxes.dedup_by(|a, b| a.id == b.id);
        Ok(inboxes)
    }

    /// The `results` of a list's pages (`{results, paging: {next: {after}}}`, `PAGE_LIMIT` a
    /// page), following `after` until the last page, `enough` results, or 10 pages.
    async fn walk_pages<W: serde::de::DeserializeOwned>(
        &self,
        token: &Secret,
        op: &'static str,
        url: &str,
        query: &[(&str, String)],
        enough: usize,
    ) -> Result<Vec<W>, HubSpotError> {
        #[derive(Deserialize)]
        #[serde(bound(deserialize = "W: serde::de::DeserializeOwned"))]
        struct Page<W> {
            #[serde(default = "Vec::new", deserialize_with = "null_default")]
            results: Vec<W>,
            #[serde(default)]
            paging: Option<serde_json::Value>,
        }
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..10 {
            let mut q = query.to_vec();
            q.push(("limit", PAGE_LIMIT.to_string()));
            if let Some(a) = &after {
                q.push(("after", a.clone()));
            }
            let req = self.http.get(url).bearer_auth(token.expose()).query(&q);
            let bytes = self.execute(op, req).await?;
            let page: Page<W> = parse(op, &bytes)?;
            out.extend(page.results);
            match next_after(page.paging.as_ref(), after.as_deref()) {
                Some(n) if out.len() < enough => after = Some(n),
                _ => break,
            }
        }
        Ok(out)
    }

    /// All messages of a thread, following `paging.next.after` (100 a page, at most 50 pages),
    /// sorted by (createdAt, id) ascending, duplicates removed.
    pub async fn list_messages(
        &self,
        token: &Secret,
        thread_id: &str,
    ) -> Result<Vec<Message>, HubSpotError> {
        Ok(self.list_messages_from(token, thread_id, None).await?.0)
    }

    /// The messages from the page that `from` (a `paging.next.after` token seen earlier)
    /// starts, to the end, sorted and deduplicated as `list_messages`; and the token the last
    /// of those pages started at (None: the first page), for the next read to start there.
    /// A token the inbox no longer takes (HTTP 400) means a read from the first page.
    pub async fn list_messages_from(
        &self,
        token: &Secret,
        thread_id: &str,
        from: Option<&str>,
    ) -> Result<(Vec<Message>, Option<String>), HubSpotError> {
        match self.read_message_pages(token, thread_id, from).await {
            Err(HubSpotError::Api { status: 400, .. }) if from.is_some() => {
                tracing::info!(
                    conversation = thread_id,
                    "hubspot list_messages: page token refused; reading from the first page"
                );
                self.read_message_pages(token, thread_id, None).await
            }
            other => other,
        }
    }

    async fn read_message_pages(
        &self,
        token: &Secret,
        thread_id: &str,
        from: Option<&str>,
    ) -> Result<(Vec<Message>, Option<String>), HubSpotError> {
        #[derive(Deserialize)]
        struct Page {
            #[serde(default, deserialize_with = "null_default")]
            results: Vec<MessageWire>,
            #[serde(default)]
            paging: Option<Paging>,
        }
        #[derive(Deserialize)]
        struct Paging {
            #[serde(default)]
            next: Option<Next>,
        }
        #[derive(Deserialize)]
        struct Next {
            #[serde(default, deserialize_with = "de_opt_id")]
            after: Option<String>,
        }

        let url = format!("{}/messages", self.thread_url(thread_id)?);
        let mut messages = Vec::new();
        let mut after: Option<String> = from.map(str::to_string);
        let mut pages = 0;
        loop {
            let mut query = vec![("limit", PAGE_LIMIT.to_string())];
            if let Some(a) = &after {
                query.push(("after", a.clone()));
            }
            let req = self
                .http
                .get(&url)
                .bearer_auth(token.expose())
                .query(&query);
            let bytes = self.execute("list_messages", req).await?;
            let page: Page = parse("list_messages", &bytes)?;
            messages.extend(page.results.into_iter().map(Message::from));
            pages += 1;
            let next = page
                .paging
                .and_then(|p| p.next)
                .and_then(|n| n.after)
                .filter(|a| !a.is_empty());
            match next {
                // A cursor that does not move would loop forever.
                Some(n) if after.as_deref() != Some(n.as_str()) => {
                    if pages >= MAX_PAGES {
                        tracing::warn!(pages, "hubspot list_messages: page cap reached, stopping");
                        break;
                    }
                    after = Some(n);
                }
                _ => break,
            }
        }
        messages.sort_by(|a, b| {
            a.created_at_ms
                .cmp(&b.created_at_ms)
                .then_with(|| a.id.cmp(&b.id))
        });
        messages.dedup_by(|a, b| a.id == b.id);
        Ok((messages, after))
    }

    pub async fn get_message(
        &self,
        token: &Secret,
        thread_id: &str,
        message_id: &str,
    ) -> Result<Message, HubSpotError> {
        let url = format!(
            "{}/messages/{}",
            self.thread_url(thread_id)?,
            segment(message_id, "message")?
        );
        let req = self.http.get(url).bearer_auth(token.expose());
        let bytes = self.execute("get_message", req).await?;
        parse::<MessageWire>("get_message", &bytes).map(Message::from)
    }

    /// `GET {CONVERSATIONS}/actors/{actorId}`.
    pub async fn get_actor(&self, token: &Secret, actor_id: &str) -> Result<Actor, HubSpotError> {
        let url = format!(
            "{}{CONVERSATIONS}/actors/{}",
            self.base,
            segment(actor_id, "actor")?
        );
        let req = self.http.get(url).bearer_auth(token.expose());
        let bytes = self.execute("get_actor", req).await?;
        parse("get_actor", &bytes)
    }

    /// `POST .../threads/{threadId}/messages`; answers 201 with the created message.
    pub async fn send_message(
        &self,
        token: &Secret,
        thread_id: &str,
        msg: &OutgoingMessage,
    ) -> Result<Message, HubSpotError> {
        let url = format!("{}/messages", self.thread_url(thread_id)?);
        let req = self
            .http
            .post(url)
            .bearer_auth(token.expose())
            .json(&OutgoingWire::from(msg));
        let bytes = self.execute("send_message", req).await?;
        parse::<MessageWire>("send_message", &bytes).map(Message::from)
    }

    /// `PATCH .../threads/{threadId}` with `{"status": ...}` (`OPEN`/`CLOSED`).
    pub async fn update_thread_status(
        &self,
        token: &Secret,
        thread_id: &str,
        status: &str,
    ) -> Result<(), HubSpotError> {
        let url = self.thread_url(thread_id)?;
        let req = self
            .http
            .patch(url)
            .bearer_auth(token.expose())
            .json(&json!({ "status": status }));
        self.execute("update_thread_status", req).await.map(drop)
    }

    /// `PUT .../threads/{threadId}/assignee` with `{"actorId": "A-<userId>"}`, or `DELETE`
    /// it to unassign (2026-09; scope `conversations.write`; contracts/
    /// hubspot-platform-2026.md).
    pub async fn set_assignee(
        &self,
        token: &Secret,
        thread_id: &str,
        user_id: Option<&str>,
    ) -> Result<(), HubSpotError> {
        let url = format!("{}/assignee", self.thread_url(thread_id)?);
        let req = match user_id {
            Some(u) => {
                let actor = format!("A-{}", segment(u, "user")?);
                self.http
                    .put(url)
                    .bearer_auth(token.expose())
                    .json(&json!({ "actorId": actor }))
            }
            None => self.http.delete(url).bearer_auth(token.expose()),
        };
        self.execute("set_assignee", req).await.map(drop)
    }
}
