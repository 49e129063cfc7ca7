//! The conversations' thread mappings: each conversation's Slack side (its card, its
//! thread, the cursor of what was mirrored), with the pointer back from the Slack thread.

use super::{get_n, get_s, keys, opt_n, opt_s, put_opt_s, s, Records, R};
use crate::domain::ThreadMap;
use crate::store::{item, Attr, Cond, Item, StoreError, Write, DUEAT, DUEPK, GSI1PK};
use crate::support::secret::Secret;

/// One item of the timer index that is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    Conversation {
        portal: String,
        thread: String,
        at: i64,
    },
    Install {
        portal: String,
        at: i64,
    },
}

impl Records {
    fn thread_item(&self, t: &ThreadMap, version: i64) -> R<Item> {
        let mut it = item(keys::conv_pk(&t.portal_id, &t.thread_id), keys::CONV_SK);
        it.insert(GSI1PK.into(), s(keys::portal_index(&t.portal_id)));
        it.insert("portal_id".into(), s(t.portal_id.clone()));
        it.insert("thread_id".into(), s(t.thread_id.clone()));
        it.insert("team_id".into(), s(t.team_id.clone()));
        it.insert("channel_id".into(), s(t.channel_id.clone()));
        it.insert("parent_ts".into(), s(t.parent_ts.clone()));
        put_opt_s(&mut it, "first_message_id", &t.first_message_id);
        it.insert("cursor_at".into(), Attr::N(t.cursor_at));
        it.insert("cursor_id".into(), s(t.cursor_id.clone()));
        it.insert("status".into(), s(t.status.clone()));
        put_opt_s(&mut it, "assignee", &t.assignee);
        it.insert("version".into(), Attr::N(version));
        put_opt_s(&mut it, "inbox_id", &t.inbox_id);
        if !t.earlier.is_empty() {
            // Channel ids and Slack timestamps hold neither ' ' nor ','.
            let e: Vec<String> = t
                .earlier
                .iter()
                .map(|(c, ts)| format!("{c} {ts}"))
                .collect();
            it.insert("earlier".into(), s(e.join(",")));
        }
        put_opt_s(&mut it, "not_a_contact", &t.not_a_contact);
        if t.move_notice_pending {
            it.insert("move_notice_pending".into(), Attr::Bool(true));
        }
        put_opt_s(&mut it, "page_after", &t.page_after);
        if let Some(r) = t
            .reply_to
            .as_ref()
            .and_then(|r| serde_json::to_string(r).ok())
        {
            it.insert("reply_to".into(), s(r));
        }
        if !t.recent_ids.is_empty() {
            // Inbox message ids hold no ','.
            it.insert("recent_ids".into(), s(t.recent_ids.join(",")));
        }
        if t.refreshed_at > 0 {
            it.insert("refreshed_at".into(), Attr::N(t.refreshed_at));
        }
        if let Some(card) = &t.card {
            // The visitor's first message is in it: encrypted like the tokens, so a table
            // dump shows no conversation text.
            let ctx = Self::card_context(&t.portal_id, &t.thread_id);
            it.insert(
                "card_enc".into(),
                s(self
                    .cipher
                    .encrypt(&Secret::new(card.clone()), &ctx)
                    .map_err(|e| StoreError::Cipher(e.to_string()))?),
            );
        }
        if t.card_shown_at > 0 {
            it.insert("card_shown_at".into(), Attr::N(t.card_shown_at));
        }
        if let Some(due) = t.card_due_at {
            it.insert("card_due_at".into(), Attr::N(due));
        }
        if let Some(w) = t.wait.as_ref().and_then(|w| serde_json::to_string(w).ok()) {
            it.insert("wait".into(), s(w));
        }
        if t.answered {
            it.insert("answered".into(), Attr::Bool(true));
        }
        if let Some(a) = t
            .inbox_alerts
            .as_ref()
            .and_then(|a| serde_json::to_string(a).ok())
        {
            it.insert("inbox_alerts".into(), s(a));
        }
        if let Some(due) = t.wait_due_at {
            it.insert("wait_due_at".into(), Attr::N(due));
        }
        if let Some((since, secs)) = t.first_response {
            it.insert("first_in_at".into(), Attr::N(since));
            it.insert("first_response_secs".into(), Attr::N(secs));
        }
        if let Some(due) = t.due_at() {
            // The sparse index of what is due: only items with a pending timer are in it.
            it.insert(DUEPK.into(), s(keys::TIMERS));
            it.insert(DUEAT.into(), Attr::N(due));
        }
        Ok(it)
    }

    fn card_context(portal: &str, thread: &str) -> String {
        format!("{}|card", keys::conv_pk(portal, thread))
    }

    fn thread_from(&self, it: &Item) -> R<ThreadMap> {
        let portal_id = get_s(it, "portal_id")?;
        let thread_id = get_s(it, "thread_id")?;
        // A card that cannot be read (a rotated key) is rebuilt from the inbox.
        let card = opt_s(it, "card_enc").and_then(|c| {
            self.cipher
                .decrypt(&c, &Self::card_context(&portal_id, &thread_id))
                .ok()
                .map(|s| s.expose().to_string())
        });
        Ok(ThreadMap {
            page_after: opt_s(it, "page_after"),
            // Unreadable: the reply reads the conversation's messages instead.
            reply_to: opt_s(it, "reply_to").and_then(|r| serde_json::from_str(&r).ok()),
            recent_ids: opt_s(it, "recent_ids")
                .map(|r| r.split(',').map(str::to_string).collect())
                .unwrap_or_default(),
            refreshed_at: opt_n(it, "refreshed_at").unwrap_or(0),
            card,
            card_shown_at: opt_n(it, "card_shown_at").unwrap_or(0),
            card_due_at: opt_n(it, "card_due_at"),
            wait: opt_s(it, "wait").and_then(|w| serde_json::from_str(&w).ok()),
            answered: matches!(it.get("answered"), Some(Attr::Bool(true))),
            wait_due_at: opt_n(it, "wait_due_at"),
            inbox_alerts: opt_s(it, "inbox_alerts").and_then(|a| serde_json::from_str(&a).ok()),
            first_response: opt_n(it, "first_in_at").zip(opt_n(it, "first_response_secs")),
            portal_id,
            thread_id,
            team_id: get_s(it, "team_id")?,
            channel_id: get_s(it, "channel_id")?,
            parent_ts: get_s(it, "parent_ts")?,
            first_message_id: opt_s(it, "first_message_id"),
            cursor_at: opt_n(it, "cursor_at").unwrap_or(0),
            cursor_id: opt_s(it, "cursor_id").unwrap_or_default(),
            status: opt_s(it, "status").unwrap_or_default(),
            assignee: opt_s(it, "assignee"),
            version: get_n(it, "version")?,
            inbox_id: opt_s(it, "inbox_id"),
            earlier: opt_s(it, "earlier")
                .map(|e| {
                    e.split(',')
                        .filter_map(|p| p.split_once(' '))
                        .map(|(c, ts)| (c.to_string(), ts.to_string()))
                        .collect()
                })
                .unwrap_or_default(),
            move_notice_pending: matches!(it.get("move_notice_pending"), Some(Attr::Bool(true))),
            not_a_contact: opt_s(it, "not_a_contact"),
        })
    }

    /// The pointer from the Slack thread (`t`'s current notification) to the conversation.
    fn reverse_item(t: &ThreadMap) -> Item {
        let (rpk, rsk) = keys::slack_thread(&t.team_id, &t.channel_id, &t.parent_ts);
        let mut reverse = item(rpk, rsk);
        reverse.insert(GSI1PK.into(), s(keys::portal_index(&t.portal_id)));
        reverse.insert("portal_id".into(), s(t.portal_id.clone()));
        reverse.insert("thread_id".into(), s(t.thread_id.clone()));
        reverse
    }

    /// Creates the mapping (both directions) when none exists: first writer wins.
    /// Returns false, writing nothing, when the conversation already has a thread.
    pub async fn create_thread(&self, t: &ThreadMap) -> R<bool> {
        let reverse = Self::reverse_item(t);
        let res = self
            .store
            .transact(vec![
                Write::Put {
                    item: self.thread_item(t, 1)?,
                    cond: Cond::NotExists,
                },
                Write::Put {
                    item: reverse,
                    cond: Cond::None,
                },
            ])
            .await;
        match res {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub async fn get_thread(&self, portal: &str, thread: &str) -> R<Option<ThreadMap>> {
        let it = self
            .store
            .get(&keys::conv_pk(portal, thread), keys::CONV_SK)
            .await?;
        it.as_ref().map(|i| self.thread_from(i)).transpose()
    }

    /// Several conversations' mappings in one read (at most 100), in the order asked.
    pub async fn threads(&self, portal: &str, threads: &[&str]) -> R<Vec<Option<ThreadMap>>> {
        let keys: Vec<(String, String)> = threads
            .iter()
            .map(|t| (keys::conv_pk(portal, t), keys::CONV_SK.to_string()))
            .collect();
        self.store
            .get_many(&keys)
            .await?
            .iter()
            .map(|it| it.as_ref().map(|i| self.thread_from(i)).transpose())
            .collect()
    }

    /// Every conversation mapping of a portal (the digest's once-a-day read, by the portal
    /// index).
    pub async fn portal_threads(&self, portal: &str) -> R<Vec<ThreadMap>> {
        let items = self
            .store
            .query_portal_index(&keys::portal_index(portal))
            .await?;
        items
            .iter()
            .filter(|it| {
                it.get(crate::store::SK).and_then(Attr::as_str) == Some(keys::CONV_SK)
                    && it
                        .get(crate::store::PK)
                        .and_then(Attr::as_str)
                        .is_some_and(|pk| pk.starts_with("CONV#"))
            })
            .map(|it| self.thread_from(it))
            .collect()
    }

    /// The conversation whose notification is the Slack message `ts` in `channel`.
    pub async fn thread_for_slack(
        &self,
        team: &str,
        channel: &str,
        ts: &str,
    ) -> R<Option<ThreadMap>> {
        let Some(p) = self.get_item(keys::slack_thread(team, channel, ts)).await? else {
            return Ok(None);
        };
        self.get_thread(&get_s(&p, "portal_id")?, &get_s(&p, "thread_id")?)
            .await
    }

    /// Saves `t` when the stored version is still `t.version` (optimistic concurrency).
    /// Returns the saved mapping (version + 1), or None when another writer got there first.
    pub async fn save_thread(&self, t: &ThreadMap) -> R<Option<ThreadMap>> {
        let next = t.version + 1;
        match self
            .store
            .put(
                self.thread_item(t, next)?,
                Cond::Equals("version".into(), Attr::N(t.version)),
            )
            .await
        {
            Ok(()) => Ok(Some(ThreadMap {
                version: next,
                ..t.clone()
            })),
            Err(StoreError::ConditionFailed) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The end of a sync, in one transaction (one store call): the messages it mirrored
    /// (inbox message id, Slack ts), the mapping saved when its version is still
    /// `t.version`, and the lease `(name, owner)` released. None when the mapping changed
    /// meanwhile (nothing written). A lease lost meanwhile does not undo the sync: the
    /// mapping and the records are then written without it.
    pub async fn finish_sync(
        &self,
        t: &ThreadMap,
        mirrored: &[(String, String)],
        lease: (&str, &str),
    ) -> R<Option<ThreadMap>> {
        // DynamoDB takes 100 writes a transaction: a long catch-up records its first
        // messages on their own (the lease keeps other syncs out meanwhile).
        const IN_TRANSACTION: usize = 90;
        let split = mirrored.len().saturating_sub(IN_TRANSACTION);
        for (id, ts) in &mirrored[..split] {
            self.put_message(&t.portal_id, &t.thread_id, id, ts, "inbox", None)
                .await?;
        }
        let message_put = |id: &str, ts: &str| {
            let mut it = item(
                keys::conv_pk(&t.portal_id, &t.thread_id),
                keys::message_sk(id),
            );
            it.insert(GSI1PK.into(), s(keys::portal_index(&t.portal_id)));
            it.insert("slack_ts".into(), s(ts));
            it.insert("origin".into(), s("inbox"));
            Write::Put {
                item: it,
                cond: Cond::None,
            }
        };
        let next = t.version + 1;
        let mut writes: Vec<Write> = mirrored[split..]
            .iter()
            .map(|(id, ts)| message_put(id, ts))
            .collect();
        writes.push(Write::Put {
            item: self.thread_item(t, next)?,
            cond: Cond::Equals("version".into(), Attr::N(t.version)),
        });
        let (lpk, lsk) = keys::lease(lease.0);
        writes.push(Write::Delete {
            pk: lpk,
            sk: lsk,
            cond: Cond::Equals("owner".into(), s(lease.1)),
        });
        match self.store.transact(writes).await {
            Ok(()) => {
                return Ok(Some(ThreadMap {
                    version: next,
                    ..t.clone()
                }))
            }
            Err(StoreError::ConditionFailed) => {}
            Err(e) => return Err(e),
        }
        // Which condition failed: the lease (it expired and was taken) or the version.
        for (id, ts) in &mirrored[split..] {
            self.put_message(&t.portal_id, &t.thread_id, id, ts, "inbox", None)
                .await?;
        }
        self.save_thread(t).await
    }

    /// What is due by `until`, soonest first, from the one timer index: conversations
    /// (a card update or a wait's alert) and installs (a digest or a reconciliation).
    pub async fn due(&self, until: i64, limit: usize) -> R<Vec<Due>> {
        let items = self.store.query_due(keys::TIMERS, until, limit).await?;
        let mut out = Vec::with_capacity(items.len());
        for it in &items {
            let at = opt_n(it, DUEAT).unwrap_or(0);
            let pk = get_s(it, crate::store::PK)?;
            if pk.starts_with("INSTALL#") {
                out.push(Due::Install {
                    portal: get_s(it, "portal_id")?,
                    at,
                });
            } else {
                out.push(Due::Conversation {
                    portal: get_s(it, "portal_id")?,
                    thread: get_s(it, "thread_id")?,
                    at,
                });
            }
        }
        Ok(out)
    }

    /// Moves the conversation's notification to `t.channel_id`/`t.parent_ts` (its previous
    /// one already pushed onto `t.earlier`) when the stored version is still `t.version`,
    /// and links the new Slack thread to it. The earlier threads stay linked.
    pub async fn move_thread(&self, t: &ThreadMap) -> R<Option<ThreadMap>> {
        let next = t.version + 1;
        let reverse = Self::reverse_item(t);
        let res = self
            .store
            .transact(vec![
                Write::Put {
                    item: self.thread_item(t, next)?,
                    cond: Cond::Equals("version".into(), Attr::N(t.version)),
                },
                Write::Put {
                    item: reverse,
                    cond: Cond::None,
                },
            ])
            .await;
        match res {
            Ok(()) => Ok(Some(ThreadMap {
                version: next,
                ..t.clone()
            })),
            Err(StoreError::ConditionFailed) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
