//! The table's short-lived items: idempotency keys, install links' states and leases. Each
//! expires by the table's TTL; the reads treat an expired item as absent, since DynamoDB
//! deletes expired items only within a few days.

use super::*;

impl Records {
    // ---- idempotency ----

    /// True the first time `key` is seen in `scope` within `ttl_secs`; false afterwards.
    /// One conditional write, so two concurrent deliveries cannot both see "first".
    pub async fn first_time(&self, scope: &str, key: &str, ttl_secs: i64, now: i64) -> R<bool> {
        let (pk, sk) = keys::idempotency(scope, key);
        let mut it = item(pk, sk);
        it.insert(TTL.into(), Attr::N(now + ttl_secs));
        match self.store.put(it, Cond::NotExistsOrExpired { now }).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(e) => Err(e),
        }
    }

    // ---- OAuth state ----

    pub async fn put_oauth_state(&self, st: &OAuthState) -> R<()> {
        self.put_oauth_state_with_auth(st, None).await
    }

    /// Writes the state with the HubSpot credentials of an install in progress (between the
    /// HubSpot and the Slack consent), encrypted like an install's; they leave the table
    /// when the state is consumed or expires.
    pub async fn put_oauth_state_with_auth(
        &self,
        st: &OAuthState,
        auth: Option<&HubSpotAuth>,
    ) -> R<()> {
        let (pk, sk) = keys::oauth_state(&st.nonce);
        let mut it = item(pk.clone(), sk);
        it.insert(TTL.into(), Attr::N(st.expires_at));
        put_opt_s(&mut it, "portal_id", &st.portal_id);
        it.insert("provider".into(), s(st.provider.clone()));
        if let Some(auth) = auth {
            self.put_hs_auth(&mut it, &pk, auth)?;
        }
        self.store.put(it, Cond::NotExists).await
    }

    /// Reads a state without spending it (None when unknown or expired).
    pub async fn peek_oauth_state(&self, nonce: &str, now: i64) -> R<Option<OAuthState>> {
        let (pk, sk) = keys::oauth_state(nonce);
        let Some(it) = self
            .store
            .get(&pk, &sk)
            .await?
            .filter(|it| !is_expired(it, now))
        else {
            return Ok(None);
        };
        Ok(Some(OAuthState {
            nonce: nonce.to_string(),
            portal_id: opt_s(&it, "portal_id"),
            provider: get_s(&it, "provider")?,
            expires_at: get_n(&it, TTL)?,
        }))
    }

    /// Consumes the state: a conditional delete, so it can be used once even under races.
    /// None when unknown, already used, or expired.
    pub async fn take_oauth_state(&self, nonce: &str, now: i64) -> R<Option<OAuthState>> {
        Ok(self
            .take_oauth_state_with_auth(nonce, now)
            .await?
            .map(|(st, _)| st))
    }

    /// `take_oauth_state`, with the pending HubSpot credentials stored with it.
    pub async fn take_oauth_state_with_auth(
        &self,
        nonce: &str,
        now: i64,
    ) -> R<Option<(OAuthState, Option<HubSpotAuth>)>> {
        let (pk, sk) = keys::oauth_state(nonce);
        let old = match self.store.delete(&pk, &sk, Cond::Exists).await {
            Ok(old) => old,
            Err(StoreError::ConditionFailed) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(it) = old.filter(|it| !is_expired(it, now)) else {
            return Ok(None);
        };
        let auth = self.hs_auth_from(&it, &pk)?;
        Ok(Some((
            OAuthState {
                nonce: nonce.to_string(),
                portal_id: opt_s(&it, "portal_id"),
                provider: get_s(&it, "provider")?,
                expires_at: get_n(&it, TTL)?,
            },
            auth,
        )))
    }

    // ---- leases ----

    /// Takes the named lease for `ttl_secs` when nobody holds a live one.
    pub async fn acquire_lease(&self, name: &str, owner: &str, ttl_secs: i64, now: i64) -> R<bool> {
        let (pk, sk) = keys::lease(name);
        let mut it = item(pk, sk);
        it.insert("owner".into(), s(owner));
        it.insert(TTL.into(), Attr::N(now + ttl_secs));
        match self.store.put(it, Cond::NotExistsOrExpired { now }).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Releases the lease if `owner` still holds it.
    pub async fn release_lease(&self, name: &str, owner: &str) -> R<()> {
        let (pk, sk) = keys::lease(name);
        match self
            .store
            .delete(&pk, &sk, Cond::Equals("owner".into(), s(owner)))
            .await
        {
            Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
