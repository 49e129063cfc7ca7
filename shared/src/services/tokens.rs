//! The HubSpot token of an install, kept valid.
//!
//! Private-app tokens are used as they are. OAuth access tokens last 30 minutes
//! (contracts/hubspot.md, "OAuth"): `hubspot_token` refreshes one that expires within
//! `REFRESH_AHEAD_SECS`, and `call` refreshes after a 401 and runs the call once more.
//!
//! One refresh per portal at a time, across processes: the refresher holds the lease
//! `hstoken:{portal}` (a conditional write) and writes the new tokens only if the install's
//! `hs_expires_at` is still what it read; anyone else waits for the new token to appear
//! instead of spending the refresh token a second time. HubSpot answering the refresh with
//! `BAD_REFRESH_TOKEN` means the portal uninstalled the app: the install is disconnected.

use std::future::Future;
use std::time::Duration;

use crate::app::App;
use crate::domain::InboxError;
use crate::domain::{HubSpotAuth, Install};
use crate::queue::JobError;
use crate::store::StoreError;
use crate::support::secret::Secret;

/// Refresh an access token this long before it expires.
pub const REFRESH_AHEAD_SECS: i64 = 300;
/// How long the refresher holds the portal's lease (a refresh is one 5 s request).
const LEASE_SECS: i64 = 30;
/// How long a caller waits for someone else's refresh before giving up (retried later).
const WAIT_STEPS: u32 = 50;
const WAIT_STEP: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("hubspot token refresh failed: {0}")]
    HubSpot(InboxError),
    /// HubSpot refused the refresh token: the app was uninstalled from the portal.
    #[error("hubspot refused the refresh token; the portal was disconnected")]
    Revoked,
    /// A private-app token was rejected, or the install has no HubSpot credentials.
    #[error("the hubspot token cannot be refreshed (private-app token or no credentials)")]
    NotRefreshable,
    #[error("HUBSPOT_CLIENT_ID is not set: OAuth tokens cannot be refreshed")]
    NotConfigured,
    #[error("another process is refreshing this portal's token")]
    Busy,
}

impl RefreshError {
    pub fn into_job_error(self) -> JobError {
        match self {
            RefreshError::Store(_) | RefreshError::Busy => JobError::retry(self.to_string()),
            RefreshError::HubSpot(ref e) if e.is_retryable() => JobError::retry(self.to_string()),
            other => JobError::Fatal(other.to_string()),
        }
    }
}

fn usable(access: &Secret, expires_at: i64, now: i64, rejected: Option<&Secret>) -> bool {
    expires_at - now > REFRESH_AHEAD_SECS && rejected != Some(access)
}

/// The install's HubSpot token, refreshed first when it is an OAuth token about to expire
/// (then `install.hubspot` holds the new tokens, so a later write of `install` keeps them).
/// None when the install has no HubSpot credentials.
pub async fn hubspot_token(app: &App, install: &mut Install) -> Result<Option<Secret>, JobError> {
    let now = app.clock.now_secs();
    match &install.hubspot {
        None => Ok(None),
        Some(HubSpotAuth::PrivateApp { token }) => Ok(Some(token.clone())),
        Some(HubSpotAuth::OAuth {
            access_token,
            expires_at,
            ..
        }) if usable(access_token, *expires_at, now, None) => Ok(Some(access_token.clone())),
        Some(HubSpotAuth::OAuth { .. }) => {
            let auth = match refresh(app, &install.portal_id, None).await {
                Ok(a) => a,
                // The portal removed the app and the install is gone: no token any more.
                Err(RefreshError::Revoked) => {
                    install.hubspot = None;
                    return Ok(None);
                }
                Err(e) => return Err(e.into_job_error()),
            };
            let token = match &auth {
                HubSpotAuth::OAuth { access_token, .. } => access_token.clone(),
                HubSpotAuth::PrivateApp { token } => token.clone(),
            };
            install.hubspot = Some(auth);
            Ok(Some(token))
        }
    }
}

/// Runs a HubSpot call with `token`; on a 401, refreshes the portal's token (unless someone
/// already did since `token` was read) and runs it once more with the new one, which is
/// left in `token` for the caller's later calls. Other errors, and a second 401, are the
/// call's own.
pub async fn call<T, F, Fut>(
    app: &App,
    portal: &str,
    token: &mut Secret,
    f: F,
) -> Result<T, InboxError>
where
    F: Fn(Secret) -> Fut,
    Fut: Future<Output = Result<T, InboxError>>,
{
    match f(token.clone()).await {
        Err(InboxError::Unauthorized) => {}
        other => return other,
    }
    tracing::info!(portal, "hubspot rejected the token (401); refreshing it");
    match refresh(app, portal, Some(token)).await {
        Ok(HubSpotAuth::OAuth { access_token, .. }) => {
            *token = access_token;
            f(token.clone()).await
        }
        Ok(HubSpotAuth::PrivateApp { token: t }) => {
            // The settings' token changed since this job read it.
            *token = t;
            f(token.clone()).await
        }
        Err(e) => {
            tracing::warn!(portal, error = %e, "hubspot token not refreshed after a 401");
            Err(InboxError::Unauthorized)
        }
    }
}

fn random_owner() -> String {
    let mut b = [0u8; 12];
    let _ = getrandom::fill(&mut b);
    hex::encode(b)
}

/// The portal's current, valid HubSpot credentials: someone else's fresh refresh if there
/// is one, else a refresh of our own under the portal's lease. `rejected` is a token
/// HubSpot just refused (a 401), which does not count as valid whatever its expiry says.
pub async fn refresh(
    app: &App,
    portal: &str,
    rejected: Option<&Secret>,
) -> Result<HubSpotAuth, RefreshError> {
    let owner = random_owner();
    let lease = format!("hstoken:{portal}");
    for _ in 0..WAIT_STEPS {
        let now = app.clock.now_secs();
        if let Some(auth) = valid(current(app, portal).await?, now, rejected)? {
            return Ok(auth);
        }
        if !app
            .records
            .acquire_lease(&lease, &owner, LEASE_SECS, now)
            .await?
        {
            // Someone else is refreshing: wait for their tokens rather than spend the
            // refresh token twice.
            tokio::time::sleep(WAIT_STEP).await;
            continue;
        }
        let res = refresh_locked(app, portal, rejected).await;
        if let Err(e) = app.records.release_lease(&lease, &owner).await {
            tracing::warn!(portal, error = %e, "token lease not released; it expires by itself");
        }
        match res {
            Ok(Some(auth)) => return Ok(auth),
            // Our conditional write lost to a concurrent one: read theirs.
            Ok(None) => continue,
            Err(RefreshError::Revoked) => {
                portal_uninstalled(app, portal).await;
                return Err(RefreshError::Revoked);
            }
            Err(e) => return Err(e),
        }
    }
    Err(RefreshError::Busy)
}

async fn current(app: &App, portal: &str) -> Result<HubSpotAuth, RefreshError> {
    app.records
        .get_install(portal)
        .await?
        .and_then(|i| i.hubspot)
        .ok_or(RefreshError::NotRefreshable)
}

/// The credentials when they can be used as they are; None when an OAuth token needs a
/// refresh; an error for a rejected private-app token.
fn valid(
    auth: HubSpotAuth,
    now: i64,
    rejected: Option<&Secret>,
) -> Result<Option<HubSpotAuth>, RefreshError> {
    match &auth {
        HubSpotAuth::PrivateApp { token } if rejected == Some(token) => {
            Err(RefreshError::NotRefreshable)
        }
        HubSpotAuth::PrivateApp { .. } => Ok(Some(auth)),
        HubSpotAuth::OAuth {
            access_token,
            expires_at,
            ..
        } if usable(access_token, *expires_at, now, rejected) => Ok(Some(auth)),
        HubSpotAuth::OAuth { .. } => Ok(None),
    }
}

/// Under the lease. None when the install's tokens changed before our write.
async fn refresh_locked(
    app: &App,
    portal: &str,
    rejected: Option<&Secret>,
) -> Result<Option<HubSpotAuth>, RefreshError> {
    // Read again under the lease: a refresher that just finished has released it.
    let stored = current(app, portal).await?;
    let HubSpotAuth::OAuth {
        refresh_token,
        expires_at: read_expires_at,
        ..
    } = &stored
    else {
        return valid(stored, app.clock.now_secs(), rejected);
    };
    let (refresh_token, read_expires_at) = (refresh_token.clone(), *read_expires_at);
    if let Some(auth) = valid(stored, app.clock.now_secs(), rejected)? {
        return Ok(Some(auth));
    }
    let client_id = app
        .settings
        .hubspot_client_id
        .as_deref()
        .ok_or(RefreshError::NotConfigured)?;
    let tokens = match app
        .inbox
        .refresh(
            client_id,
            &app.settings.hubspot_client_secret,
            &refresh_token,
        )
        .await
    {
        Ok(t) => t,
        // HubSpot's answer to a refresh token that was revoked (the app uninstalled from
        // the portal): HTTP 400, RFC 6749's `invalid_grant` on OAuth 2026-03, status
        // BAD_REFRESH_TOKEN on v1 (both classified into `category`).
        Err(InboxError::Api { category, .. })
            if category == "invalid_grant" || category == "BAD_REFRESH_TOKEN" =>
        {
            return Err(RefreshError::Revoked)
        }
        Err(e) => return Err(RefreshError::HubSpot(e)),
    };
    let auth = HubSpotAuth::OAuth {
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        expires_at: app.clock.now_secs() + tokens.expires_in,
    };
    if app
        .records
        .update_hubspot_auth(portal, &auth, read_expires_at)
        .await?
    {
        tracing::info!(portal, "hubspot access token refreshed");
        Ok(Some(auth))
    } else {
        Ok(None)
    }
}

/// The inbox uninstalled the app: tell the installer, then disconnect.
async fn portal_uninstalled(app: &App, portal: &str) {
    let mut install = match app.records.get_install(portal).await {
        Ok(Some(i)) => i,
        Ok(None) => return,
        Err(e) => {
            tracing::error!(portal, error = %e, "could not read the install to disconnect it");
            return;
        }
    };
    // To tell the installer: the Slack token renewed first if it rotates and is due.
    if let Err(e) = crate::services::slack_token::fresh(app, &mut install).await {
        tracing::warn!(portal, error = %e, "slack token not renewed before telling the installer");
    }
    tracing::warn!(
        portal,
        team = %install.team_id,
        "hubspot refused the refresh token: the app was uninstalled from the portal; disconnecting"
    );
    if let (Some(user), Some(bot)) = (&install.installer_user_id, &install.bot_token) {
        let text = format!(
            ":electric_plug: HubSpot portal {portal} removed the app, so this workspace is disconnected from it and nothing more is posted. To connect again, install from {}/slack/install.",
            app.settings.public_base_url
        );
        if let Err(e) = app.slack.post_message(bot, user, None, &text, None).await {
            tracing::warn!(portal, error = %e, "could not tell the installer");
        }
    }
    if let Err(e) =
        crate::services::install::disconnect(app, &install, "hubspot app uninstalled", None).await
    {
        tracing::error!(portal, error = %e, "disconnect after the hubspot uninstall failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usable_means_not_about_to_expire_and_not_rejected() {
        let t = Secret::new("a");
        assert!(usable(&t, 1000 + REFRESH_AHEAD_SECS + 1, 1000, None));
        assert!(!usable(&t, 1000 + REFRESH_AHEAD_SECS, 1000, None));
        assert!(!usable(&t, 900, 1000, None));
        assert!(!usable(&t, 99_999, 1000, Some(&Secret::new("a"))));
        assert!(usable(&t, 99_999, 1000, Some(&Secret::new("b"))));
    }

    #[test]
    fn refresh_errors_map_to_retry_or_fatal() {
        assert!(matches!(
            RefreshError::Busy.into_job_error(),
            JobError::Retry { .. }
        ));
        assert!(matches!(
            RefreshError::HubSpot(InboxError::Server { status: 502 }).into_job_error(),
            JobError::Retry { .. }
        ));
        assert!(matches!(
            RefreshError::Revoked.into_job_error(),
            JobError::Fatal(_)
        ));
        assert!(matches!(
            RefreshError::NotConfigured.into_job_error(),
            JobError::Fatal(_)
        ));
    }
}
