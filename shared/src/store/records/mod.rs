//! Typed access patterns over the single table. The key design (documented in
//! docs/store.md) lives here and only here, written once over the `Store` trait, so the
//! DynamoDB and embedded stores hold the same items. Tokens are encrypted before they reach
//! the store: a dump of the table shows no token.

use std::sync::Arc;

use crate::domain::*;
use crate::store::{
    is_expired, item, Attr, Cond, Item, Store, StoreError, Write, GSI1PK, PK, SK, TTL,
};
use crate::support::crypto::TokenCipher;
use crate::support::secret::Secret;

mod ephemeral;
mod threads;
pub use threads::Due;

type R<T> = Result<T, StoreError>;

/// How long a deactivated install's data stays (README, "Data"): 30 days, within the
/// table's point-in-time recovery window of 35.
pub const INACTIVE_RETENTION_SECS: i64 = 30 * 86_400;

/// Key builders: the whole key design in one place.
pub mod keys {
    pub fn install(portal: &str) -> (String, String) {
        (format!("INSTALL#{portal}"), "INSTALL".into())
    }
    pub fn team(team: &str) -> (String, String) {
        (format!("TEAM#{team}"), "TEAM".into())
    }
    pub fn portal_index(portal: &str) -> String {
        format!("PORTAL#{portal}")
    }
    pub fn conv_pk(portal: &str, thread: &str) -> String {
        format!("CONV#{portal}#{thread}")
    }
    pub const CONV_SK: &str = "CONV";
    pub fn message_sk(message_id: &str) -> String {
        format!("MSG#{message_id}")
    }
    pub fn slack_thread(team: &str, channel: &str, ts: &str) -> (String, String) {
        (format!("SLACKTHREAD#{team}#{channel}#{ts}"), "CONV".into())
    }
    pub fn user(team: &str, slack_user: &str) -> (String, String) {
        (format!("USER#{team}#{slack_user}"), "USER".into())
    }
    pub fn inbox_user(portal: &str, inbox_user: &str) -> (String, String) {
        (format!("INBOXUSER#{portal}#{inbox_user}"), "USER".into())
    }
    pub fn availability(portal: &str, inbox_user: &str) -> (String, String) {
        (format!("AVAIL#{portal}"), format!("USER#{inbox_user}"))
    }
    pub fn idempotency(scope: &str, key: &str) -> (String, String) {
        (format!("IDEMP#{scope}#{key}"), "IDEMP".into())
    }
    pub fn oauth_state(nonce: &str) -> (String, String) {
        (format!("STATE#{nonce}"), "STATE".into())
    }
    pub fn lease(name: &str) -> (String, String) {
        (format!("LEASE#{name}"), "LEASE".into())
    }
    pub fn route(portal: &str, inbox: &str) -> (String, String) {
        (format!("ROUTE#{portal}"), format!("INBOX#{inbox}"))
    }
    /// The timer index's one partition: conversations with a card update or a wait alert
    /// pending, installs with a digest or a reconciliation due. (The value is from when
    /// only cards were timed; items already in the index keep it.)
    pub const TIMERS: &str = "CARD";
    pub fn dead_letter(portal: &str, at: i64, id: &str) -> (String, String) {
        (format!("DEAD#{portal}"), format!("{at:020}#{id}"))
    }
}

fn s(v: impl Into<String>) -> Attr {
    Attr::S(v.into())
}

fn malformed(it: &Item, reason: &str) -> StoreError {
    let get = |k: &str| it.get(k).and_then(Attr::as_str).unwrap_or("?").to_string();
    StoreError::Malformed {
        pk: get(PK),
        sk: get(SK),
        reason: reason.to_string(),
    }
}

fn get_s(it: &Item, k: &str) -> R<String> {
    it.get(k)
        .and_then(Attr::as_str)
        .map(str::to_string)
        .ok_or_else(|| malformed(it, &format!("missing string {k}")))
}

fn opt_s(it: &Item, k: &str) -> Option<String> {
    it.get(k).and_then(Attr::as_str).map(str::to_string)
}

fn get_n(it: &Item, k: &str) -> R<i64> {
    it.get(k)
        .and_then(Attr::as_i64)
        .ok_or_else(|| malformed(it, &format!("missing number {k}")))
}

fn opt_n(it: &Item, k: &str) -> Option<i64> {
    it.get(k).and_then(Attr::as_i64)
}

fn put_opt_s(it: &mut Item, k: &str, v: &Option<String>) {
    if let Some(v) = v {
        it.insert(k.into(), s(v.clone()));
    }
}

/// The typed layer over a `Store`.
#[derive(Clone)]
pub struct Records {
    store: Arc<dyn Store>,
    cipher: TokenCipher,
}

impl Records {
    pub fn new(store: Arc<dyn Store>, cipher: TokenCipher) -> Self {
        Records { store, cipher }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// A live item (expired ones count as absent: DynamoDB sweeps TTL lazily).
    async fn live(&self, (pk, sk): (String, String), now: i64) -> R<Option<Item>> {
        Ok(self
            .store
            .get(&pk, &sk)
            .await?
            .filter(|it| !is_expired(it, now)))
    }

    async fn get_item(&self, (pk, sk): (String, String)) -> R<Option<Item>> {
        self.store.get(&pk, &sk).await
    }

    fn enc(&self, v: &Secret, ctx: &str) -> R<Attr> {
        self.cipher
            .encrypt(v, ctx)
            .map(Attr::S)
            .map_err(|e| StoreError::Cipher(e.to_string()))
    }

    fn dec(&self, it: &Item, k: &str, ctx: &str) -> R<Option<Secret>> {
        match opt_s(it, k) {
            None => Ok(None),
            Some(v) => self
                .cipher
                .decrypt(&v, ctx)
                .map(Some)
                .map_err(|e| StoreError::Cipher(format!("{k}: {e}"))),
        }
    }

    // ---- installs ----

    fn install_item(&self, i: &Install) -> R<Item> {
        let (pk, sk) = keys::install(&i.portal_id);
        let mut it = item(pk.clone(), sk);
        it.insert(GSI1PK.into(), s(keys::portal_index(&i.portal_id)));
        it.insert("portal_id".into(), s(i.portal_id.clone()));
        it.insert("team_id".into(), s(i.team_id.clone()));
        put_opt_s(&mut it, "channel_id", &i.channel_id);
        put_opt_s(&mut it, "pending_channel_id", &i.pending_channel_id);
        it.insert("notifications_on".into(), Attr::Bool(i.notifications_on));
        it.insert("reactions_on".into(), Attr::Bool(i.reactions_on));
        if let Some(t) = &i.bot_token {
            it.insert("bot_token".into(), self.enc(t, &format!("{pk}/bot_token"))?);
        }
        if let Some(r) = &i.bot_rotation {
            it.insert(
                "bot_refresh_token".into(),
                self.enc(&r.refresh_token, &format!("{pk}/bot_refresh_token"))?,
            );
            it.insert("bot_expires_at".into(), Attr::N(r.expires_at));
        }
        put_opt_s(&mut it, "bot_user_id", &i.bot_user_id);
        if let Some(auth) = &i.hubspot {
            self.put_hs_auth(&mut it, &pk, auth)?;
        }
        it.insert("status".into(), s(i.status.as_str()));
        if let InstallStatus::NeedsAttention { reason } = &i.status {
            it.insert("status_reason".into(), s(reason.clone()));
        }
        it.insert(
            "source".into(),
            s(match i.source {
                InstallSource::Settings => "settings",
                InstallSource::OAuth => "oauth",
            }),
        );
        put_opt_s(&mut it, "installer_user_id", &i.installer_user_id);
        if let Some(t) = i.last_delivery_at {
            it.insert("last_delivery_at".into(), Attr::N(t));
        }
        put_opt_s(&mut it, "last_error", &i.last_error);
        it.insert("created_at".into(), Attr::N(i.created_at));
        it.insert("version".into(), Attr::N(i.version));
        if !i.alerts.is_empty() {
            if let Ok(a) = serde_json::to_string(&i.alerts) {
                it.insert("alerts".into(), s(a));
            }
        }
        let t = &i.timers;
        it.insert("reconcile_at".into(), Attr::N(t.reconcile_at));
        it.insert("reconciled_to_ms".into(), Attr::N(t.reconciled_to_ms));
        if let Some(d) = t.digest_at {
            it.insert("digest_at".into(), Attr::N(d));
        }
        // On the timer index while it is connected (crate::flows::timers).
        if i.status != InstallStatus::Inactive {
            it.insert(crate::store::DUEPK.into(), s(keys::TIMERS));
            it.insert(crate::store::DUEAT.into(), Attr::N(t.due_at()));
        }
        Ok(it)
    }

    /// The HubSpot credentials as attributes `hs_auth`, `hs_access` (enc), `hs_refresh` (enc),
    /// `hs_expires_at` of the item whose partition key is `pk` (an install or a pending state).
    fn put_hs_auth(&self, it: &mut Item, pk: &str, auth: &HubSpotAuth) -> R<()> {
        match auth {
            HubSpotAuth::PrivateApp { token } => {
                it.insert("hs_auth".into(), s("private_app"));
                it.insert(
                    "hs_access".into(),
                    self.enc(token, &format!("{pk}/hs_access"))?,
                );
            }
            HubSpotAuth::OAuth {
                access_token,
                refresh_token,
                expires_at,
            } => {
                it.insert("hs_auth".into(), s("oauth"));
                it.insert(
                    "hs_access".into(),
                    self.enc(access_token, &format!("{pk}/hs_access"))?,
                );
                it.insert(
                    "hs_refresh".into(),
                    self.enc(refresh_token, &format!("{pk}/hs_refresh"))?,
                );
                it.insert("hs_expires_at".into(), Attr::N(*expires_at));
            }
        }
        Ok(())
    }

    fn hs_auth_from(&self, it: &Item, pk: &str) -> R<Option<HubSpotAuth>> {
        Ok(match opt_s(it, "hs_auth").as_deref() {
            Some("private_app") => self
                .dec(it, "hs_access", &format!("{pk}/hs_access"))?
                .map(|token| HubSpotAuth::PrivateApp { token }),
            Some("oauth") => {
                let access = self.dec(it, "hs_access", &format!("{pk}/hs_access"))?;
                let refresh = self.dec(it, "hs_refresh", &format!("{pk}/hs_refresh"))?;
                match (access, refresh) {
                    (Some(access_token), Some(refresh_token)) => Some(HubSpotAuth::OAuth {
                        access_token,
                        refresh_token,
                        expires_at: opt_n(it, "hs_expires_at").unwrap_or(0),
                    }),
                    _ => None,
                }
            }
            _ => None,
        })
    }

    fn install_from(&self, it: &Item) -> R<Install> {
        let pk = get_s(it, PK)?;
        let hubspot = self.hs_auth_from(it, &pk)?;
        let status = match opt_s(it, "status").as_deref() {
            Some("needs_attention") => InstallStatus::NeedsAttention {
                reason: opt_s(it, "status_reason").unwrap_or_default(),
            },
            Some("inactive") => InstallStatus::Inactive,
            _ => InstallStatus::Active,
        };
        Ok(Install {
            portal_id: get_s(it, "portal_id")?,
            team_id: get_s(it, "team_id")?,
            channel_id: opt_s(it, "channel_id"),
            pending_channel_id: opt_s(it, "pending_channel_id"),
            notifications_on: it
                .get("notifications_on")
                .and_then(Attr::as_bool)
                .unwrap_or(true),
            reactions_on: it
                .get("reactions_on")
                .and_then(Attr::as_bool)
                .unwrap_or(true),
            bot_token: self.dec(it, "bot_token", &format!("{pk}/bot_token"))?,
            bot_rotation: match (
                self.dec(it, "bot_refresh_token", &format!("{pk}/bot_refresh_token"))?,
                opt_n(it, "bot_expires_at"),
            ) {
                (Some(refresh_token), Some(expires_at)) => Some(SlackRotation {
                    refresh_token,
                    expires_at,
                }),
                _ => None,
            },
            bot_user_id: opt_s(it, "bot_user_id"),
            hubspot,
            status,
            source: match opt_s(it, "source").as_deref() {
                Some("settings") => InstallSource::Settings,
                _ => InstallSource::OAuth,
            },
            installer_user_id: opt_s(it, "installer_user_id"),
            last_delivery_at: opt_n(it, "last_delivery_at"),
            last_error: opt_s(it, "last_error"),
            created_at: opt_n(it, "created_at").unwrap_or(0),
            version: opt_n(it, "version").unwrap_or(0),
            // Unreadable settings are the defaults, not a failure to read the install.
            alerts: opt_s(it, "alerts")
                .and_then(|a| serde_json::from_str(&a).ok())
                .unwrap_or_default(),
            timers: InstallTimers {
                reconcile_at: opt_n(it, "reconcile_at").unwrap_or(0),
                reconciled_to_ms: opt_n(it, "reconciled_to_ms").unwrap_or(0),
                digest_at: opt_n(it, "digest_at"),
            },
        })
    }

    /// The item that finds a team's install.
    fn team_pointer(&self, i: &Install) -> Item {
        let (tpk, tsk) = keys::team(&i.team_id);
        let mut pointer = item(tpk, tsk);
        pointer.insert("portal_id".into(), s(i.portal_id.clone()));
        pointer.insert(GSI1PK.into(), s(keys::portal_index(&i.portal_id)));
        pointer
    }

    /// Writes the install and its team pointer together, whatever is stored (a new install,
    /// or settings that are the source of truth). Any change made from an install read
    /// earlier goes through `update_install` instead.
    pub async fn put_install(&self, i: &Install) -> R<()> {
        let pointer = self.team_pointer(i);
        // A new version, so any writer still holding what was stored before loses its write.
        let next = Install {
            version: i.version + 1,
            ..i.clone()
        };
        self.store
            .transact(vec![
                Write::Put {
                    item: self.install_item(&next)?,
                    cond: Cond::None,
                },
                Write::Put {
                    item: pointer,
                    cond: Cond::None,
                },
            ])
            .await
    }

    pub async fn get_install(&self, portal: &str) -> R<Option<Install>> {
        match self.get_item(keys::install(portal)).await? {
            Some(it) => self.install_from(&it).map(Some),
            None => Ok(None),
        }
    }

    /// The portal's install, and whether inbox message `message_id` of conversation
    /// `thread` is recorded (mirrored, or sent from Slack): one read.
    pub async fn install_and_message(
        &self,
        portal: &str,
        thread: &str,
        message_id: &str,
    ) -> R<(Option<Install>, bool)> {
        let keys = [
            keys::install(portal),
            (keys::conv_pk(portal, thread), keys::message_sk(message_id)),
        ];
        let mut found = self.store.get_many(&keys).await?.into_iter();
        let install = match found.next().flatten() {
            Some(it) => Some(self.install_from(&it)?),
            None => None,
        };
        Ok((install, found.next().flatten().is_some()))
    }

    pub async fn install_for_team(&self, team: &str) -> R<Option<Install>> {
        let Some(p) = self.get_item(keys::team(team)).await? else {
            return Ok(None);
        };
        let portal = get_s(&p, "portal_id")?;
        self.get_install(&portal).await
    }

    /// Saves `i` (changed from an install read from the store) only when the stored version
    /// is still `i.version`: false when another writer got there first, or the install is
    /// gone (a disconnect is never undone by a late write).
    pub async fn save_install(&self, i: &Install) -> R<bool> {
        self.save_install_as(i, false).await
    }

    /// `save_install`, writing the team pointer too when the install moved to another team.
    async fn save_install_as(&self, i: &Install, new_team: bool) -> R<bool> {
        // Installs written before versions existed have none: exists is all that is known.
        let cond = match i.version {
            0 => Cond::Exists,
            v => Cond::Equals("version".into(), Attr::N(v)),
        };
        let next = Install {
            version: i.version + 1,
            ..i.clone()
        };
        let item = self.install_item(&next)?;
        let written = if new_team {
            self.store
                .transact(vec![
                    Write::Put { item, cond },
                    Write::Put {
                        item: self.team_pointer(i),
                        cond: Cond::None,
                    },
                ])
                .await
        } else {
            self.store.put(item, cond).await
        };
        match written {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Reads the install, applies `change` and saves it over the version read; when another
    /// writer got there first, reads it again and re-applies `change` (a few times). `change`
    /// returns false to leave the install as it is. The install as saved (or as read, when
    /// unchanged); None when there is none.
    pub async fn update_install<F>(&self, portal: &str, mut change: F) -> R<Option<Install>>
    where
        F: FnMut(&mut Install) -> bool,
    {
        const ATTEMPTS: usize = 5;
        for _ in 0..ATTEMPTS {
            let Some(mut i) = self.get_install(portal).await? else {
                return Ok(None);
            };
            let team = i.team_id.clone();
            if !change(&mut i) {
                return Ok(Some(i));
            }
            if self.save_install_as(&i, i.team_id != team).await? {
                i.version += 1;
                return Ok(Some(i));
            }
        }
        Err(StoreError::ConditionFailed)
    }

    /// Replaces the install's HubSpot credentials after a token refresh, only if the stored
    /// credentials still expire at `expected_expires_at` (what the refresher read): a
    /// concurrent refresh that got there first wins, and this write changes nothing (false).
    pub async fn update_hubspot_auth(
        &self,
        portal: &str,
        auth: &HubSpotAuth,
        expected_expires_at: i64,
    ) -> R<bool> {
        let mut current = false;
        self.update_install(portal, |i| {
            current = matches!(
                i.hubspot,
                Some(HubSpotAuth::OAuth { expires_at, .. }) if expires_at == expected_expires_at
            );
            if current {
                i.hubspot = Some(auth.clone());
            }
            current
        })
        .await?;
        Ok(current)
    }

    /// Replaces the install's Slack bot token after a renewal (token rotation), only if the
    /// stored one still expires at `expected_expires_at`: a concurrent renewal that got there
    /// first wins, and this write changes nothing (false).
    pub async fn update_slack_token(
        &self,
        portal: &str,
        access: &Secret,
        rotation: &SlackRotation,
        expected_expires_at: i64,
    ) -> R<bool> {
        let mut current = false;
        self.update_install(portal, |i| {
            current = i.bot_rotation.as_ref().map(|r| r.expires_at) == Some(expected_expires_at);
            if current {
                i.bot_token = Some(access.clone());
                i.bot_rotation = Some(rotation.clone());
            }
            current
        })
        .await?;
        Ok(current)
    }

    /// Removes the install's tokens and marks it inactive (uninstall, token revocation).
    /// Deactivates an install (its tokens gone) and lets what the portal carried expire
    /// `INACTIVE_RETENTION_SECS` from `now` (the table's TTL): a deactivated install's user
    /// links, conversation mappings, availability and dead letters do not outlive it. A reinstall before
    /// then starts clean anyway (`delete_portal_data`).
    pub async fn deactivate_install(&self, portal: &str, now: i64) -> R<Option<Install>> {
        let done = self
            .update_install(portal, |i| {
                i.bot_token = None;
                i.bot_rotation = None;
                i.hubspot = None;
                i.status = InstallStatus::Inactive;
                true
            })
            .await?;
        if done.is_some() {
            self.expire_portal_data(portal, now + INACTIVE_RETENTION_SECS)
                .await?;
        }
        Ok(done)
    }

    /// Marks the portal's items but its install record and team pointer to expire at `at`
    /// (epoch seconds), each only while it still exists. Returns how many.
    pub async fn expire_portal_data(&self, portal: &str, at: i64) -> R<usize> {
        let items = self
            .store
            .query_portal_index(&keys::portal_index(portal))
            .await?;
        let mut n = 0;
        for mut it in items {
            // The install record (no tokens left) and its team pointer stay: they say the
            // portal was connected and is no more; everything it carried expires.
            let pk = crate::store::key_of(&it)?.0;
            if pk.starts_with("INSTALL#") || pk.starts_with("TEAM#") {
                continue;
            }
            it.insert(TTL.into(), Attr::N(at));
            match self.store.put(it, Cond::Exists).await {
                Ok(()) => n += 1,
                // Deleted meanwhile: nothing left to expire.
                Err(StoreError::ConditionFailed) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }

    /// Deletes every item that belongs to the portal (disconnect): install, pointers,
    /// thread and message mappings, users, availability, dead letters. Returns the count.
    pub async fn delete_portal_data(&self, portal: &str) -> R<usize> {
        let items = self
            .store
            .query_portal_index(&keys::portal_index(portal))
            .await?;
        let mut n = 0;
        for it in &items {
            let (pk, sk) = crate::store::key_of(it)?;
            self.store.delete(&pk, &sk, Cond::None).await?;
            n += 1;
        }
        Ok(n)
    }

    // ---- routing by inbox ----

    pub async fn set_route(&self, r: &InboxRoute) -> R<()> {
        let (pk, sk) = keys::route(&r.portal_id, &r.inbox_id);
        let mut it = item(pk, sk);
        it.insert(GSI1PK.into(), s(keys::portal_index(&r.portal_id)));
        it.insert("portal_id".into(), s(r.portal_id.clone()));
        it.insert("inbox_id".into(), s(r.inbox_id.clone()));
        it.insert("channel_id".into(), s(r.channel_id.clone()));
        it.insert("set_by".into(), s(r.set_by.clone()));
        if !r.alerts.is_empty() {
            if let Ok(a) = serde_json::to_string(&r.alerts) {
                it.insert("alerts".into(), s(a));
            }
        }
        it.insert("set_at".into(), Attr::N(r.set_at));
        self.store.put(it, Cond::None).await
    }

    pub async fn delete_route(&self, portal: &str, inbox: &str) -> R<()> {
        let (pk, sk) = keys::route(portal, inbox);
        self.store.delete(&pk, &sk, Cond::None).await.map(|_| ())
    }

    fn route_from(it: &Item) -> R<InboxRoute> {
        Ok(InboxRoute {
            portal_id: get_s(it, "portal_id")?,
            inbox_id: get_s(it, "inbox_id")?,
            channel_id: get_s(it, "channel_id")?,
            set_by: opt_s(it, "set_by").unwrap_or_default(),
            set_at: opt_n(it, "set_at").unwrap_or(0),
            alerts: opt_s(it, "alerts")
                .and_then(|a| serde_json::from_str(&a).ok())
                .unwrap_or_default(),
        })
    }

    /// The channel an inbox is routed to, if it has its own.
    pub async fn route_for(&self, portal: &str, inbox: &str) -> R<Option<InboxRoute>> {
        let (pk, sk) = keys::route(portal, inbox);
        let it = self.store.get(&pk, &sk).await?;
        it.as_ref().map(Self::route_from).transpose()
    }

    pub async fn list_routes(&self, portal: &str) -> R<Vec<InboxRoute>> {
        let (pk, _) = keys::route(portal, "");
        self.store
            .query(&pk, "INBOX#")
            .await?
            .iter()
            .map(Self::route_from)
            .collect()
    }

    /// Records that inbox message `message_id` is Slack message `slack_ts` in the thread.
    /// `origin` says who wrote it first ("inbox" or "slack"); false when already recorded.
    pub async fn record_message(
        &self,
        portal: &str,
        thread: &str,
        message_id: &str,
        slack_ts: &str,
        origin: &str,
    ) -> R<bool> {
        self.put_message(portal, thread, message_id, slack_ts, origin, None)
            .await
    }

    async fn put_message(
        &self,
        portal: &str,
        thread: &str,
        message_id: &str,
        slack_ts: &str,
        origin: &str,
        author: Option<&str>,
    ) -> R<bool> {
        let mut it = item(keys::conv_pk(portal, thread), keys::message_sk(message_id));
        it.insert(GSI1PK.into(), s(keys::portal_index(portal)));
        it.insert("slack_ts".into(), s(slack_ts));
        it.insert("origin".into(), s(origin));
        if let Some(a) = author {
            it.insert("author".into(), s(a));
        }
        match self.store.put(it, Cond::NotExists).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Records an agent's reply from Slack (origin "slack"), with the agent's Slack user: the
    /// bot cannot delete it, so a deletion tells its author instead.
    pub async fn record_reply(
        &self,
        portal: &str,
        thread: &str,
        message_id: &str,
        slack_ts: &str,
        slack_user: &str,
    ) -> R<bool> {
        self.put_message(
            portal,
            thread,
            message_id,
            slack_ts,
            "slack",
            Some(slack_user),
        )
        .await
    }

    /// The agents' own replies in the conversation's thread: (slack_ts, slack_user).
    pub async fn replies_by_agents(&self, portal: &str, thread: &str) -> R<Vec<(String, String)>> {
        let items = self
            .store
            .query(&keys::conv_pk(portal, thread), "MSG#")
            .await?;
        Ok(items
            .iter()
            .filter(|it| opt_s(it, "origin").as_deref() == Some("slack"))
            .filter_map(|it| Some((opt_s(it, "slack_ts")?, opt_s(it, "author")?)))
            .collect())
    }

    /// (slack_ts, origin) of a mirrored message.
    pub async fn message(
        &self,
        portal: &str,
        thread: &str,
        message_id: &str,
    ) -> R<Option<(String, String)>> {
        let it = self
            .store
            .get(
                &keys::conv_pk(portal, thread),
                &keys::message_sk(message_id),
            )
            .await?;
        Ok(it.map(|it| {
            (
                opt_s(&it, "slack_ts").unwrap_or_default(),
                opt_s(&it, "origin").unwrap_or_default(),
            )
        }))
    }

    /// Every mirrored message of the conversation: (message_id, slack_ts, origin).
    pub async fn list_messages(
        &self,
        portal: &str,
        thread: &str,
    ) -> R<Vec<(String, String, String)>> {
        let items = self
            .store
            .query(&keys::conv_pk(portal, thread), "MSG#")
            .await?;
        items
            .iter()
            .map(|it| {
                let sk = get_s(it, SK)?;
                Ok((
                    sk.trim_start_matches("MSG#").to_string(),
                    opt_s(it, "slack_ts").unwrap_or_default(),
                    opt_s(it, "origin").unwrap_or_default(),
                ))
            })
            .collect()
    }

    /// Removes the conversation's mappings (thread, reverse pointer, messages).
    pub async fn delete_thread(&self, portal: &str, thread: &str) -> R<()> {
        let pk = keys::conv_pk(portal, thread);
        if let Some(t) = self.get_thread(portal, thread).await? {
            let parents = t.earlier.iter().map(|(c, ts)| (c.as_str(), ts.as_str()));
            for (c, ts) in parents.chain([(t.channel_id.as_str(), t.parent_ts.as_str())]) {
                let (rpk, rsk) = keys::slack_thread(&t.team_id, c, ts);
                self.store.delete(&rpk, &rsk, Cond::None).await?;
            }
        }
        for it in self.store.query(&pk, "").await? {
            let (ipk, isk) = crate::store::key_of(&it)?;
            self.store.delete(&ipk, &isk, Cond::None).await?;
        }
        Ok(())
    }

    // ---- users ----

    /// Maps a Slack user to an inbox user (both directions, together).
    pub async fn put_user_map(&self, m: &UserMap) -> R<()> {
        let fill = |mut it: Item| {
            it.insert(GSI1PK.into(), s(keys::portal_index(&m.portal_id)));
            it.insert("team_id".into(), s(m.team_id.clone()));
            it.insert("slack_user_id".into(), s(m.slack_user_id.clone()));
            it.insert("portal_id".into(), s(m.portal_id.clone()));
            it.insert("inbox_user_id".into(), s(m.inbox_user_id.clone()));
            it.insert("email".into(), s(m.email.clone()));
            it.insert("mapped_at".into(), Attr::N(m.mapped_at));
            it
        };
        let (a, b) = keys::user(&m.team_id, &m.slack_user_id);
        let (c, d) = keys::inbox_user(&m.portal_id, &m.inbox_user_id);
        self.store
            .transact(vec![
                Write::Put {
                    item: fill(item(a, b)),
                    cond: Cond::None,
                },
                Write::Put {
                    item: fill(item(c, d)),
                    cond: Cond::None,
                },
            ])
            .await
    }

    fn user_from(it: &Item) -> R<UserMap> {
        Ok(UserMap {
            team_id: get_s(it, "team_id")?,
            slack_user_id: get_s(it, "slack_user_id")?,
            portal_id: get_s(it, "portal_id")?,
            inbox_user_id: get_s(it, "inbox_user_id")?,
            email: get_s(it, "email")?,
            mapped_at: opt_n(it, "mapped_at").unwrap_or(0),
        })
    }

    pub async fn user_for_slack(&self, team: &str, slack_user: &str) -> R<Option<UserMap>> {
        let it = self.get_item(keys::user(team, slack_user)).await?;
        it.as_ref().map(Self::user_from).transpose()
    }

    pub async fn user_for_inbox(&self, portal: &str, inbox_user: &str) -> R<Option<UserMap>> {
        let it = self.get_item(keys::inbox_user(portal, inbox_user)).await?;
        it.as_ref().map(Self::user_from).transpose()
    }

    // ---- availability ----

    pub async fn put_availability(&self, a: &Availability) -> R<()> {
        let (pk, sk) = keys::availability(&a.portal_id, &a.inbox_user_id);
        let mut it = item(pk, sk);
        it.insert(GSI1PK.into(), s(keys::portal_index(&a.portal_id)));
        it.insert("portal_id".into(), s(a.portal_id.clone()));
        it.insert("inbox_user_id".into(), s(a.inbox_user_id.clone()));
        it.insert("available".into(), Attr::Bool(a.available));
        it.insert("updated_at".into(), Attr::N(a.updated_at));
        put_opt_s(&mut it, "slack_user_id", &a.slack_user_id);
        self.store.put(it, Cond::None).await
    }

    pub async fn list_availability(&self, portal: &str) -> R<Vec<Availability>> {
        let (pk, _) = keys::availability(portal, "");
        self.store
            .query(&pk, "USER#")
            .await?
            .iter()
            .map(|it| {
                Ok(Availability {
                    portal_id: get_s(it, "portal_id")?,
                    inbox_user_id: get_s(it, "inbox_user_id")?,
                    available: it
                        .get("available")
                        .and_then(Attr::as_bool)
                        .ok_or_else(|| malformed(it, "missing available"))?,
                    updated_at: opt_n(it, "updated_at").unwrap_or(0),
                    slack_user_id: opt_s(it, "slack_user_id"),
                })
            })
            .collect()
    }

    // ---- dead letters ----

    pub async fn put_dead_letter(&self, d: &DeadLetter) -> R<()> {
        let (pk, sk) = keys::dead_letter(&d.portal_id, d.at, &d.id);
        let mut it = item(pk, sk);
        it.insert(GSI1PK.into(), s(keys::portal_index(&d.portal_id)));
        it.insert("portal_id".into(), s(d.portal_id.clone()));
        it.insert("id".into(), s(d.id.clone()));
        put_opt_s(&mut it, "conversation_id", &d.conversation_id);
        it.insert("job".into(), s(d.job.clone()));
        it.insert("error".into(), s(d.error.clone()));
        it.insert("at".into(), Attr::N(d.at));
        // A deactivated install's dead letters expire with the rest of its data.
        let inactive = matches!(
            self.get_install(&d.portal_id).await.ok().flatten(),
            Some(i) if i.status == InstallStatus::Inactive
        );
        if inactive {
            it.insert(
                TTL.into(),
                Attr::N(d.at.div_euclid(1000) + INACTIVE_RETENTION_SECS),
            );
        }
        self.store.put(it, Cond::None).await
    }

    pub async fn list_dead_letters(&self, portal: &str) -> R<Vec<DeadLetter>> {
        let (pk, _) = keys::dead_letter(portal, 0, "");
        self.store
            .query(&pk, "")
            .await?
            .iter()
            .map(|it| {
                Ok(DeadLetter {
                    portal_id: get_s(it, "portal_id")?,
                    id: get_s(it, "id")?,
                    conversation_id: opt_s(it, "conversation_id"),
                    job: get_s(it, "job")?,
                    error: get_s(it, "error")?,
                    at: get_n(it, "at")?,
                })
            })
            .collect()
    }

    /// For tests and the benchmark: whether a live item exists at a key.
    pub async fn exists(&self, pk: &str, sk: &str, now: i64) -> R<bool> {
        Ok(self.live((pk.into(), sk.into()), now).await?.is_some())
    }
}
