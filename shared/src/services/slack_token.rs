//! The Slack bot token of an install, kept valid under token rotation.
//!
//! With the Slack app's `token_rotation_enabled`, `oauth.v2.access` answers an access token
//! that lasts 12 hours (`expires_in`, 43200) and a refresh token (contracts/slack.md,
//! "OAuth"). `fresh` renews one that expires within `REFRESH_AHEAD_SECS`, once per install
//! however many deliveries need it at once: the renewer holds the lease `sltoken:{portal}`
//! and writes the new tokens only if the stored expiry is still what it read (each refresh
//! token works once); the others wait for the new token. Without rotation, the install
//! has no `bot_rotation` and its token is used as it is.

use std::time::Duration;

use crate::app::App;
use crate::domain::{Install, SlackRotation};
use crate::queue::JobError;

/// Renew this long before the token expires.
pub const REFRESH_AHEAD_SECS: i64 = 300;
const LEASE_SECS: i64 = 30;
const WAIT_STEPS: u32 = 50;
const WAIT_STEP: Duration = Duration::from_millis(200);

fn due(rotation: &SlackRotation, now: i64) -> bool {
    rotation.expires_at - now <= REFRESH_AHEAD_SECS
}

/// Makes `install.bot_token` valid for the next few minutes: as it is without rotation or
/// while it is fresh, else someone else's renewal or our own (then `install` holds the new
/// tokens, so a later write of it keeps them). A refresh token Slack refuses deactivates
/// the install (as a revoked token does): only a reinstall helps.
pub async fn fresh(app: &App, install: &mut Install) -> Result<(), JobError> {
    let now = app.clock.now_secs();
    match &install.bot_rotation {
        Some(r) if install.bot_token.is_some() && due(r, now) => {}
        _ => return Ok(()),
    }
    let portal = install.portal_id.clone();
    let store_err = |e: crate::store::StoreError| JobError::retry(e.to_string());
    let lease = format!("sltoken:{portal}");
    let owner = {
        let mut b = [0u8; 12];
        let _ = getrandom::fill(&mut b);
        hex::encode(b)
    };
    for _ in 0..WAIT_STEPS {
        let now = app.clock.now_secs();
        let Some(stored) = app.records.get_install(&portal).await.map_err(store_err)? else {
            return Ok(());
        };
        match &stored.bot_rotation {
            Some(r) if stored.bot_token.is_some() && due(r, now) => {}
            // Renewed by someone else meanwhile (or rotation ended with a reinstall).
            _ => {
                install.bot_token = stored.bot_token;
                install.bot_rotation = stored.bot_rotation;
                return Ok(());
            }
        }
        if !app
            .records
            .acquire_lease(&lease, &owner, LEASE_SECS, now)
            .await
            .map_err(store_err)?
        {
            tokio::time::sleep(WAIT_STEP).await;
            continue;
        }
        let res = renew(app, &stored).await;
        if let Err(e) = app.records.release_lease(&lease, &owner).await {
            tracing::warn!(portal = %portal, error = %e, "slack token lease not released; it expires by itself");
        }
        match res? {
            Some((token, rotation)) => {
                install.bot_token = Some(token);
                install.bot_rotation = Some(rotation);
                return Ok(());
            }
            // Our conditional write lost to a concurrent renewal: read theirs.
            None => continue,
        }
    }
    Err(JobError::retry(
        "another process is renewing this install's slack token",
    ))
}

/// Under the lease: one `oauth.v2.access` refresh and the conditional write of its tokens.
async fn renew(
    app: &App,
    stored: &Install,
) -> Result<Option<(crate::support::secret::Secret, SlackRotation)>, JobError> {
    let portal = &stored.portal_id;
    let Some(read) = &stored.bot_rotation else {
        return Ok(None);
    };
    let (Some(client_id), Some(client_secret)) = (
        app.settings.slack_client_id.as_deref(),
        app.settings.slack_client_secret.as_ref(),
    ) else {
        return Err(JobError::Fatal(
            "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are needed to renew a rotating slack token"
                .into(),
        ));
    };
    let renewed = match app
        .slack
        .oauth_v2_refresh(client_id, client_secret, &read.refresh_token)
        .await
    {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(portal = %portal, team = %stored.team_id, error = %e, "slack token not renewed");
            return Err(crate::services::failures::slack_failure(app, stored, e).await);
        }
    };
    let rotation = SlackRotation {
        refresh_token: renewed.refresh_token,
        expires_at: app.clock.now_secs() + renewed.expires_in,
    };
    let written = app
        .records
        .update_slack_token(portal, &renewed.access_token, &rotation, read.expires_at)
        .await
        .map_err(|e| JobError::retry(e.to_string()))?;
    if !written {
        return Ok(None);
    }
    tracing::info!(portal = %portal, team = %stored.team_id, expires_at = rotation.expires_at, "slack bot token renewed");
    Ok(Some((renewed.access_token, rotation)))
}

/// The workspace's install, its Slack token renewed first when due: what every flow that
/// calls Slack for an install reads it with.
pub async fn install_for_team(app: &App, team: &str) -> Result<Option<Install>, JobError> {
    let found = app
        .records
        .install_for_team(team)
        .await
        .map_err(|e| JobError::retry(e.to_string()))?;
    with_fresh_token(app, found).await
}

/// The portal's install, its Slack token renewed first when due.
pub async fn install_for_portal(app: &App, portal: &str) -> Result<Option<Install>, JobError> {
    let found = app
        .records
        .get_install(portal)
        .await
        .map_err(|e| JobError::retry(e.to_string()))?;
    with_fresh_token(app, found).await
}

/// `found` (an install just read) with a Slack bot token that is not about to expire.
pub async fn with_fresh_token(
    app: &App,
    found: Option<Install>,
) -> Result<Option<Install>, JobError> {
    let Some(mut install) = found else {
        return Ok(None);
    };
    fresh(app, &mut install).await?;
    Ok(Some(install))
}
