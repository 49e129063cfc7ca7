//! Install links: the signed `state` of each OAuth step, the cookie that binds it to the
//! browser that started it, and the operator's one-time links of private-app mode.

use http::StatusCode;

use super::pages::{redirect_to, Page};
use super::{store_failed, PROVIDER_HUBSPOT, PROVIDER_SLACK, STATE_TTL_SECS};
use crate::app::App;
use crate::domain::{HubSpotAuth, OAuthState};
use crate::support::http::{Request, Response};
use crate::support::secret::Secret;

/// Why a `state` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateProblem {
    /// Not ours, altered, or for another step.
    Forged,
    Expired,
    /// Already used (or never issued with a valid signature, which `Forged` catches first).
    Used,
    /// Opened in another browser than the one that started the install (its cookie is
    /// missing or not this link's).
    OtherBrowser,
}

/// The cookies that bind an install's links to the browser that started it are named
/// this, then `_` and the start of the link's nonce: installs begun side by side in one
/// browser each keep theirs.
pub const BROWSER_COOKIE: &str = "hs_slack_install";

/// The name of the cookie for the link `state_text`.
pub fn browser_cookie_name(state_text: &str) -> Option<String> {
    let nonce = state_text.split('.').nth(2).filter(|n| n.len() >= 16)?;
    nonce
        .bytes()
        .take(16)
        .all(|b| b.is_ascii_hexdigit())
        .then(|| format!("{BROWSER_COOKIE}_{}", &nonce[..16]))
}

/// The cookie's value for a state: a MAC of its nonce, so only the server can make it, and
/// only the browser it was given to holds it (a leaked link alone finishes nothing).
pub fn browser_binding(key: &Secret, state_text: &str) -> Option<String> {
    let nonce = state_text.split('.').nth(2).filter(|n| !n.is_empty())?;
    let mac = state_mac(key, &format!("browser.{nonce}"));
    (!mac.is_empty()).then_some(mac)
}

/// The `Set-Cookie` value for the link `state_text`: 10 minutes like the link, not sent
/// cross-site except on the top-level redirect back (`SameSite=Lax`), no script access.
fn browser_cookie(app: &App, state_text: &str) -> Option<String> {
    let value = browser_binding(&app.settings.oauth_state_key, state_text)?;
    let name = browser_cookie_name(state_text)?;
    let secure = if app.settings.public_base_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    Some(format!(
        "{name}={value}; Max-Age={STATE_TTL_SECS}; Path=/; HttpOnly; SameSite=Lax{secure}"
    ))
}

/// Whether the request carries the browser cookie made for `state_text` (compared in
/// constant time).
fn from_the_starting_browser(app: &App, req: &Request, state_text: &str) -> bool {
    let (Some(nonce), Some(cookie)) = (
        state_text.split('.').nth(2),
        browser_cookie_name(state_text),
    ) else {
        return false;
    };
    let payload = format!("browser.{nonce}");
    req.header("cookie")
        .into_iter()
        .flat_map(|h| h.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .any(|(name, value)| {
            name == cookie && state_mac_matches(&app.settings.oauth_state_key, &payload, value)
        })
}

/// A redirect that carries the link's browser cookie.
pub(super) fn redirect_bound(app: &App, url: &str, state_text: &str) -> Response {
    let r = redirect_to(url);
    match browser_cookie(app, state_text) {
        Some(c) => r.with_header("set-cookie", c),
        None => r,
    }
}

fn state_mac(key: &Secret, payload: &str) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    // HMAC takes keys of any length: new_from_slice cannot fail here.
    match <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key.expose().as_bytes()) {
        Ok(mut mac) => {
            mac.update(payload.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// Whether `mac_hex` is the state's MAC, compared in constant time (`Mac::verify_slice`).
fn state_mac_matches(key: &Secret, payload: &str, mac_hex: &str) -> bool {
    use hmac::{Hmac, KeyInit, Mac};
    // Only the lowercase form we issue.
    if mac_hex.bytes().any(|b| b.is_ascii_uppercase()) {
        return false;
    }
    let Ok(given) = hex::decode(mac_hex) else {
        return false;
    };
    match <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key.expose().as_bytes()) {
        Ok(mut mac) => {
            mac.update(payload.as_bytes());
            mac.verify_slice(&given).is_ok()
        }
        Err(_) => false,
    }
}

/// The signed `state` text. `portal` is None before the portal is known (HubSpot step).
pub fn encode_state(
    key: &Secret,
    provider: &str,
    nonce: &str,
    portal: Option<&str>,
    expires_at: i64,
) -> String {
    let payload = format!(
        "v1.{provider}.{nonce}.{}.{expires_at}",
        portal.unwrap_or("-")
    );
    let mac = state_mac(key, &payload);
    format!("{payload}.{mac}")
}

/// Checks the signature, the step and the expiry (no store access): (nonce, portal).
pub fn decode_state(
    key: &Secret,
    text: &str,
    provider: &str,
    now: i64,
) -> Result<(String, Option<String>), StateProblem> {
    let parts: Vec<&str> = text.split('.').collect();
    let [v, prov, nonce, portal, exp, mac] = parts.as_slice() else {
        return Err(StateProblem::Forged);
    };
    let payload = format!("{v}.{prov}.{nonce}.{portal}.{exp}");
    if !state_mac_matches(key, &payload, mac) {
        return Err(StateProblem::Forged);
    }
    if *v != "v1" || *prov != provider {
        return Err(StateProblem::Forged);
    }
    let expires_at: i64 = exp.parse().map_err(|_| StateProblem::Forged)?;
    if expires_at < now {
        return Err(StateProblem::Expired);
    }
    let portal = (*portal != "-").then(|| portal.to_string());
    Ok((nonce.to_string(), portal))
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    let _ = getrandom::fill(&mut b);
    hex::encode(b)
}

/// The HubSpot step's state: signed, nothing stored. Anyone may open `/hubspot/install`, so
/// it must cost no table write (a flood would otherwise fill the table); single use is
/// claimed at the callback instead, by one conditional write after the signature and the
/// browser cookie were checked.
pub(super) fn new_hubspot_state(app: &App) -> String {
    let expires_at = app.clock.now_secs() + STATE_TTL_SECS;
    encode_state(
        &app.settings.oauth_state_key,
        PROVIDER_HUBSPOT,
        &random_hex(16),
        None,
        expires_at,
    )
}

/// Checks the HubSpot step's state and spends it: the nonce is claimed once (a conditional
/// write that expires with the state), so a second use is refused.
pub(super) async fn claim_hubspot_state(
    app: &App,
    req: &Request,
    text: &str,
) -> Result<(), Response> {
    let now = app.clock.now_secs();
    let (nonce, _) = decode_state(&app.settings.oauth_state_key, text, PROVIDER_HUBSPOT, now)
        .map_err(|p| state_refused(app, PROVIDER_HUBSPOT, p))?;
    if !from_the_starting_browser(app, req, text) {
        return Err(state_refused(
            app,
            PROVIDER_HUBSPOT,
            StateProblem::OtherBrowser,
        ));
    }
    let first = app
        .records
        .first_time(STATE_CLAIM_SCOPE, &nonce, STATE_TTL_SECS, now)
        .await
        .map_err(|e| store_failed(app, e))?;
    if !first {
        return Err(state_refused(app, PROVIDER_HUBSPOT, StateProblem::Used));
    }
    Ok(())
}

/// Where spent HubSpot-step nonces are remembered (until their state would expire).
const STATE_CLAIM_SCOPE: &str = "oauth-state";

/// The Slack step's state after a HubSpot consent: its single-use item carries the HubSpot
/// tokens (encrypted) to the Slack callback. Written only after a code exchange succeeded,
/// so never by an anonymous request.
pub(super) async fn new_slack_state(
    app: &App,
    portal: &str,
    auth: &HubSpotAuth,
) -> Result<String, crate::store::StoreError> {
    let nonce = random_hex(16);
    let expires_at = app.clock.now_secs() + STATE_TTL_SECS;
    app.records
        .put_oauth_state_with_auth(
            &OAuthState {
                nonce: nonce.clone(),
                portal_id: Some(portal.to_string()),
                provider: PROVIDER_SLACK.to_string(),
                expires_at,
            },
            Some(auth),
        )
        .await?;
    Ok(encode_state(
        &app.settings.oauth_state_key,
        PROVIDER_SLACK,
        &nonce,
        Some(portal),
        expires_at,
    ))
}

/// Consumes a state: (portal, pending HubSpot credentials), or the page saying why not.
pub(super) async fn consume_state(
    app: &App,
    req: &Request,
    provider: &str,
    text: &str,
) -> Result<(Option<String>, Option<HubSpotAuth>), Response> {
    let now = app.clock.now_secs();
    let (nonce, portal) = decode_state(&app.settings.oauth_state_key, text, provider, now)
        .map_err(|p| state_refused(app, provider, p))?;
    // Before the state is spent: a link opened elsewhere must not cancel the real install.
    if !from_the_starting_browser(app, req, text) {
        return Err(state_refused(app, provider, StateProblem::OtherBrowser));
    }
    let taken = app
        .records
        .take_oauth_state_with_auth(&nonce, now)
        .await
        .map_err(|e| store_failed(app, e))?;
    let Some((st, auth)) = taken else {
        return Err(state_refused(app, provider, StateProblem::Used));
    };
    if st.provider != provider || st.portal_id != portal {
        return Err(state_refused(app, provider, StateProblem::Forged));
    }
    Ok((portal, auth))
}

// ------------------------------------------------------------ operator install links ----

/// How long an operator's install link stays valid unless told otherwise.
pub const INSTALL_LINK_TTL_SECS: i64 = 3600;
/// The provider name of an operator link's item (a `STATE#` item keyed by the link's hash).
const PROVIDER_LINK: &str = "install-link";

/// What the table keeps of an operator link: its SHA-256, so a table dump holds no usable
/// link.
fn link_digest(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// A link's token as given: 64 lowercase hex characters (anything else is not ours, and
/// costs no store read).
fn well_formed_link(token: &str) -> bool {
    token.len() == 64
        && token
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Makes a one-time install link for the deployment's own portal (private-app mode): a
/// single-use item that expires after `ttl_secs`. The operator runs this (the local runner's
/// `install-link` command, against the local store or the stack's table) and hands the link
/// to whoever installs; `/hubspot/install` without one starts nothing.
pub async fn make_install_link(app: &App, ttl_secs: i64) -> Result<String, InstallLinkError> {
    let portal = match (&app.settings.hubspot_client_id, &app.settings.private_app) {
        (None, Some(p)) => p.portal_id.as_str(),
        _ => return Err(InstallLinkError::NotPrivateApp),
    };
    let token = random_hex(32);
    let expires_at = app.clock.now_secs() + ttl_secs.clamp(1, 7 * 24 * 3600);
    app.records
        .put_oauth_state(&OAuthState {
            nonce: link_digest(&token),
            portal_id: Some(portal.to_string()),
            provider: PROVIDER_LINK.to_string(),
            expires_at,
        })
        .await?;
    tracing::info!(portal, expires_at, "one-time install link made");
    Ok(format!(
        "{}/hubspot/install?link={token}",
        app.settings.public_base_url
    ))
}

#[derive(Debug, thiserror::Error)]
pub enum InstallLinkError {
    #[error("install links are for private-app mode (HUBSPOT_PORTAL_ID and HUBSPOT_ACCESS_TOKEN set, no HUBSPOT_CLIENT_ID)")]
    NotPrivateApp,
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Why an operator link was not taken.
pub(super) enum LinkProblem {
    Missing,
    UnknownOrUsed,
}

/// The Slack step's state for an operator link (private-app mode): its nonce is the link's
/// digest, so the Slack callback spends the link itself; nothing is written here (the
/// static token is the deployment's own, read from the settings at the callback).
pub(super) async fn link_slack_state(
    app: &App,
    portal: &str,
    token: Option<&String>,
) -> Result<String, Result<LinkProblem, crate::store::StoreError>> {
    let token = token.ok_or(Ok(LinkProblem::Missing))?;
    if !well_formed_link(token) {
        return Err(Ok(LinkProblem::UnknownOrUsed));
    }
    let now = app.clock.now_secs();
    let digest = link_digest(token);
    let link = app
        .records
        .peek_oauth_state(&digest, now)
        .await
        .map_err(Err)?;
    let Some(link) =
        link.filter(|l| l.provider == PROVIDER_LINK && l.portal_id.as_deref() == Some(portal))
    else {
        return Err(Ok(LinkProblem::UnknownOrUsed));
    };
    // The state lives no longer than the link.
    let expires_at = link.expires_at.min(now + STATE_TTL_SECS);
    Ok(encode_state(
        &app.settings.oauth_state_key,
        PROVIDER_SLACK,
        &digest,
        Some(portal),
        expires_at,
    ))
}

/// Spends the operator link behind a Slack-step state (private-app mode): the portal, or
/// the page saying why not.
pub(super) async fn consume_link_state(
    app: &App,
    req: &Request,
    text: &str,
) -> Result<String, Response> {
    let now = app.clock.now_secs();
    let (digest, portal) = decode_state(&app.settings.oauth_state_key, text, PROVIDER_SLACK, now)
        .map_err(|p| state_refused(app, PROVIDER_SLACK, p))?;
    if !from_the_starting_browser(app, req, text) {
        return Err(state_refused(
            app,
            PROVIDER_SLACK,
            StateProblem::OtherBrowser,
        ));
    }
    let taken = app
        .records
        .take_oauth_state(&digest, now)
        .await
        .map_err(|e| store_failed(app, e))?;
    match (taken, portal) {
        (Some(link), Some(p))
            if link.provider == PROVIDER_LINK && link.portal_id.as_deref() == Some(p.as_str()) =>
        {
            Ok(p)
        }
        (Some(_), _) => Err(state_refused(app, PROVIDER_SLACK, StateProblem::Forged)),
        (None, _) => Err(state_refused(app, PROVIDER_SLACK, StateProblem::Used)),
    }
}

pub(super) fn state_refused(app: &App, provider: &str, problem: StateProblem) -> Response {
    tracing::warn!(provider, problem = ?problem, "OAuth callback refused: bad state");
    let (title, text) = match problem {
        StateProblem::Forged => (
            "This install link is not valid",
            "The link you followed was not issued by this app, or it was changed on the way. Nothing was connected.",
        ),
        StateProblem::Expired => (
            "This install link has expired",
            "Install links are valid for 10 minutes. Nothing was connected.",
        ),
        StateProblem::Used => (
            "This install link was already used",
            "Each install link works once. If the install did not finish, nothing was connected.",
        ),
        StateProblem::OtherBrowser => (
            "This install link belongs to another browser",
            "An install must be finished in the browser that started it, so that a link someone else sees cannot connect a workspace. Nothing was connected. Start again in this browser (with cookies allowed for this site).",
        ),
    };
    Page::new(StatusCode::BAD_REQUEST, title)
        .text(text)
        .start_again(app)
        .render()
}
