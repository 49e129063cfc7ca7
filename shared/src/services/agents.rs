//! Who an agent is: the inbox user behind a Slack user, and the live install of a team.

use crate::app::App;
use crate::domain::{Install, InstallStatus, UserMap};
use crate::queue::JobError;
use crate::services::failures::{hubspot_failure, slack_failure};
use crate::support::secret::Secret;

fn store_err(e: crate::store::StoreError) -> JobError {
    JobError::retry(e.to_string())
}

/// The inbox user behind a Slack user: the stored mapping, else a match of the Slack profile
/// email with an inbox owner's email (then stored). None when there is no such user.
pub async fn inbox_user_for(
    app: &App,
    install: &Install,
    bot: &Secret,
    hs_token: &Secret,
    slack_user: &str,
) -> Result<Option<UserMap>, JobError> {
    if let Some(m) = app
        .records
        .user_for_slack(&install.team_id, slack_user)
        .await
        .map_err(store_err)?
    {
        if m.portal_id == install.portal_id {
            return Ok(Some(m));
        }
    }
    let profile = match app.slack.user_info(bot, slack_user).await {
        Ok(p) => p,
        Err(e) => return Err(slack_failure(app, install, e).await),
    };
    let Some(email) = profile.email.filter(|e| e.contains('@')) else {
        return Ok(None);
    };
    let mut hs = hs_token.clone();
    let addr = email.as_str();
    let Some(owner) =
        crate::services::tokens::call(app, &install.portal_id, &mut hs, move |t| async move {
            app.inbox.agent_by_email(&t, addr).await
        })
        .await
        .map_err(hubspot_failure)?
    else {
        return Ok(None);
    };
    let (Some(user_id), Some(owner_email)) = (owner.user_id.clone(), owner.email.clone()) else {
        return Ok(None);
    };
    if !owner_email.eq_ignore_ascii_case(&email) {
        return Ok(None);
    }
    let m = UserMap {
        team_id: install.team_id.clone(),
        slack_user_id: slack_user.to_string(),
        portal_id: install.portal_id.clone(),
        inbox_user_id: user_id,
        email: owner_email,
        mapped_at: app.clock.now_secs(),
    };
    app.records.put_user_map(&m).await.map_err(store_err)?;
    tracing::info!(portal = %install.portal_id, team = %install.team_id, slack_user, inbox_user = %m.inbox_user_id, "agent matched by email");
    Ok(Some(m))
}

/// The live install for a Slack team with both tokens, or None (logged).
pub async fn live_install(
    app: &App,
    team: &str,
) -> Result<Option<(Install, Secret, Secret)>, JobError> {
    let Some(mut install) = crate::services::slack_token::install_for_team(app, team).await? else {
        tracing::info!(team, "no install for this Slack team");
        return Ok(None);
    };
    if install.status == InstallStatus::Inactive {
        tracing::info!(team, portal = %install.portal_id, "install is inactive");
        return Ok(None);
    }
    let Some(bot) = install.bot_token.clone() else {
        return Ok(None);
    };
    // OAuth tokens about to expire are refreshed here (crate::services::tokens).
    match crate::services::tokens::hubspot_token(app, &mut install).await? {
        Some(h) => Ok(Some((install, bot, h))),
        None => Ok(None),
    }
}

/// `A-123` or `123` -> `123`.
pub fn user_id_of_actor(actor: &str) -> Option<String> {
    let id = actor.strip_prefix("A-").unwrap_or(actor);
    (!id.is_empty() && id.chars().all(|c| c.is_ascii_digit())).then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actor_ids_give_user_ids() {
        assert_eq!(user_id_of_actor("A-123").as_deref(), Some("123"));
        assert_eq!(user_id_of_actor("123").as_deref(), Some("123"));
        assert_eq!(user_id_of_actor("V-1"), None);
    }
}
