//! Settings, read once at start. A local run takes everything from environment variables; a
//! Lambda takes the secrets from one Secrets Manager secret (a JSON object with the same key
//! names as the environment variables) read once per cold start, and the rest from its
//! environment. A missing or malformed setting fails the start with its name.

use std::collections::HashMap;

use crate::support::crypto::TokenCipher;
use crate::support::secret::Secret;

pub const DEFAULT_SLACK_API_URL: &str = "https://slack.com/api";
pub const DEFAULT_HUBSPOT_API_URL: &str = "https://api.hubapi.com";
pub const DEFAULT_HUBSPOT_APP_URL: &str = "https://app.hubspot.com";
/// Slack's OAuth v2 consent page (contracts/slack.md); a setting so tests can serve their own.
pub const DEFAULT_SLACK_OAUTH_URL: &str = "https://slack.com/oauth/v2/authorize";

/// Keys that may come from the secret (and, in a local run, from the environment).
pub const SECRET_KEYS: &[&str] = &[
    "SLACK_SIGNING_SECRET",
    "SLACK_CLIENT_ID",
    "SLACK_CLIENT_SECRET",
    "HUBSPOT_CLIENT_ID",
    "HUBSPOT_CLIENT_SECRET",
    "HUBSPOT_APP_ID",
    "HUBSPOT_ACCESS_TOKEN",
    "TOKEN_ENCRYPTION_KEY",
    "HUBSPOT_PORTAL_ID",
    "SLACK_TEAM_ID",
    "SLACK_BOT_TOKEN",
    "SLACK_CHANNEL_ID",
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("setting {0} is required but not set")]
    Missing(&'static str),
    #[error("setting {name} is malformed: {reason}")]
    Malformed { name: &'static str, reason: String },
    #[error("could not read the secret {arn}: {reason}")]
    Secret { arn: String, reason: String },
}

/// One portal and one Slack workspace defined by settings, with no OAuth.
#[derive(Debug, Clone)]
pub struct SingleWorkspace {
    pub portal_id: String,
    pub hubspot_access_token: Secret,
    pub team_id: String,
    pub bot_token: Secret,
    pub channel_id: String,
}

/// One portal reached with a private-app token (no HubSpot OAuth), connected to Slack by
/// Slack OAuth: `HUBSPOT_PORTAL_ID` and `HUBSPOT_ACCESS_TOKEN` with Slack OAuth configured and
/// none of the Slack single-workspace settings.
#[derive(Debug, Clone)]
pub struct PrivateAppPortal {
    pub portal_id: String,
    pub token: Secret,
}

/// Where the table lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSettings {
    /// In memory, optionally snapshotted to a file (`EMBEDDED_STORE_PATH`).
    Embedded { path: Option<String> },
    /// DynamoDB (`TABLE_NAME`), optionally at a local endpoint (`DYNAMODB_ENDPOINT`).
    Dynamo {
        table: String,
        endpoint: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub slack_signing_secret: Secret,
    pub slack_client_id: Option<String>,
    pub slack_client_secret: Option<Secret>,
    pub hubspot_client_id: Option<String>,
    /// The HubSpot app's client secret: the key of webhook v3 signatures.
    pub hubspot_client_secret: Secret,
    /// Our HubSpot app id: messages the inbox reports as sent by it came from Slack (no echo).
    pub hubspot_app_id: Option<String>,
    /// A private-app token for a single portal (used when no OAuth tokens exist).
    pub hubspot_access_token: Option<Secret>,
    pub token_cipher: TokenCipher,
    /// The public base URL (what HubSpot signs, where OAuth redirects); no trailing slash.
    pub public_base_url: String,
    pub slack_api_url: String,
    /// Where Slack serves shared files (`SLACK_FILES_URL`): the bot token goes with a file
    /// request only to URLs under it.
    pub slack_files_url: String,
    pub hubspot_api_url: String,
    pub hubspot_app_url: String,
    /// Slack's OAuth v2 authorize page (`SLACK_OAUTH_URL`).
    pub slack_oauth_url: String,
    pub single_workspace: Option<SingleWorkspace>,
    /// Private-app mode for the HubSpot side of an OAuth install (see `PrivateAppPortal`).
    pub private_app: Option<PrivateAppPortal>,
    /// Signs OAuth `state` values: HMAC-SHA256 of a fixed label keyed with the token key, so
    /// it changes with `TOKEN_ENCRYPTION_KEY` and is never the encryption key itself (hex).
    pub oauth_state_key: Secret,
    pub store: StoreSettings,
    /// The SQS FIFO queue for deliveries (Lambda); None means in-process (local runner).
    pub queue_url: Option<String>,
    /// How often the local runner sweeps for what is due (`SWEEP_EVERY_SECS`, default 60;
    /// 0: never). On AWS the scheduler's rate decides (template.yaml `SweepSchedule`).
    pub sweep_every_secs: u64,
    /// Slack's rates the client paces by (`SLACK_POSTS_PER_CHANNEL_PER_MIN`, default 60;
    /// `SLACK_TIER3_PER_MIN`, default 50; 0: unpaced), contracts/slack.md.
    pub slack_limits: crate::chat::slack::SlackLimits,
    /// HubSpot requests per ten seconds a process spreads a portal's calls over until an
    /// answer's `X-HubSpot-RateLimit-Max` says (`HUBSPOT_REQUESTS_PER_10S`, default 100;
    /// 0: by the headers only).
    pub hubspot_per_10s: u64,
    /// What waiting visitors get unless an admin set otherwise in the Home tab.
    pub alerts: crate::domain::AlertDefaults,
}

fn alert_defaults(get: Lookup) -> Result<crate::domain::AlertDefaults, ConfigError> {
    use crate::domain::AlertDefaults;
    let d = AlertDefaults::default();
    let n = |name: &'static str, default: u32| {
        whole(get, name, default, "must be a whole number of seconds")
    };
    let digest_hour_utc = match opt(get, "DIGEST_HOUR_UTC") {
        None => None,
        Some(v) => match v.parse::<u8>() {
            Ok(h) if h < 24 => Some(h),
            _ => {
                return Err(ConfigError::Malformed {
                    name: "DIGEST_HOUR_UTC",
                    reason: "must be an hour from 0 to 23".into(),
                })
            }
        },
    };
    Ok(AlertDefaults {
        first_response_secs: n("FIRST_RESPONSE_ALERT_SECS", d.first_response_secs)?,
        next_response_secs: n("NEXT_RESPONSE_ALERT_SECS", d.next_response_secs)?,
        escalate_secs: n("ESCALATE_AFTER_SECS", d.escalate_secs)?,
        digest_hour_utc,
        reconcile_every_secs: n("RECONCILE_EVERY_SECS", d.reconcile_every_secs)?,
    })
}

fn secs(get: Lookup, name: &'static str, default: u64) -> Result<u64, ConfigError> {
    whole(get, name, default, "must be a whole number of seconds")
}

fn whole<T: std::str::FromStr>(
    get: Lookup,
    name: &'static str,
    default: T,
    reason: &str,
) -> Result<T, ConfigError> {
    match opt(get, name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| ConfigError::Malformed {
            name,
            reason: reason.into(),
        }),
    }
}

type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

fn opt(get: Lookup, name: &str) -> Option<String> {
    get(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn req(get: Lookup, name: &'static str) -> Result<String, ConfigError> {
    opt(get, name).ok_or(ConfigError::Missing(name))
}

fn url(get: Lookup, name: &'static str, default: &str) -> Result<String, ConfigError> {
    let v = opt(get, name).unwrap_or_else(|| default.to_string());
    if !(v.starts_with("http://") || v.starts_with("https://")) {
        return Err(ConfigError::Malformed {
            name,
            reason: "must start with http:// or https://".into(),
        });
    }
    Ok(v.trim_end_matches('/').to_string())
}

impl Settings {
    /// Builds settings from a lookup (environment, or environment merged with the secret).
    /// `default_base_url` is used when `PUBLIC_BASE_URL` is unset (the local runner passes
    /// its own address; a Lambda passes None, making it required).
    pub fn from_lookup(get: Lookup, default_base_url: Option<&str>) -> Result<Self, ConfigError> {
        let token_key = req(get, "TOKEN_ENCRYPTION_KEY")?;
        let token_cipher =
            TokenCipher::from_base64(&token_key).map_err(|e| ConfigError::Malformed {
                name: "TOKEN_ENCRYPTION_KEY",
                reason: e.to_string(),
            })?;
        let oauth_state_key = derive_state_key(&token_key)?;
        let public_base_url = match (opt(get, "PUBLIC_BASE_URL"), default_base_url) {
            (Some(_), _) => url(get, "PUBLIC_BASE_URL", "")?,
            (None, Some(d)) => d.trim_end_matches('/').to_string(),
            (None, None) => return Err(ConfigError::Missing("PUBLIC_BASE_URL")),
        };
        let store = match (opt(get, "TABLE_NAME"), opt(get, "DYNAMODB_ENDPOINT")) {
            (Some(table), endpoint) => StoreSettings::Dynamo { table, endpoint },
            (None, Some(_)) => return Err(ConfigError::Missing("TABLE_NAME")),
            (None, None) => StoreSettings::Embedded {
                path: opt(get, "EMBEDDED_STORE_PATH"),
            },
        };
        let slack_client_id = opt(get, "SLACK_CLIENT_ID");
        let slack_client_secret = opt(get, "SLACK_CLIENT_SECRET").map(Secret::new);
        if slack_client_id.is_some() != slack_client_secret.is_some() {
            return Err(ConfigError::Missing(if slack_client_id.is_some() {
                "SLACK_CLIENT_SECRET"
            } else {
                "SLACK_CLIENT_ID"
            }));
        }
        if let Some(id) = opt(get, "HUBSPOT_APP_ID") {
            if !id.chars().all(|c| c.is_ascii_digit()) {
                return Err(ConfigError::Malformed {
                    name: "HUBSPOT_APP_ID",
                    reason: "must be the numeric app id".into(),
                });
            }
        }
        Ok(Settings {
            slack_signing_secret: Secret::new(req(get, "SLACK_SIGNING_SECRET")?),
            slack_client_id,
            slack_client_secret,
            hubspot_client_id: opt(get, "HUBSPOT_CLIENT_ID"),
            hubspot_client_secret: Secret::new(req(get, "HUBSPOT_CLIENT_SECRET")?),
            hubspot_app_id: opt(get, "HUBSPOT_APP_ID"),
            hubspot_access_token: opt(get, "HUBSPOT_ACCESS_TOKEN").map(Secret::new),
            token_cipher,
            public_base_url,
            slack_api_url: url(get, "SLACK_API_URL", DEFAULT_SLACK_API_URL)?,
            slack_files_url: url(
                get,
                "SLACK_FILES_URL",
                crate::chat::slack::DEFAULT_SLACK_FILES_URL,
            )?,
            hubspot_api_url: url(get, "HUBSPOT_API_URL", DEFAULT_HUBSPOT_API_URL)?,
            hubspot_app_url: url(get, "HUBSPOT_APP_URL", DEFAULT_HUBSPOT_APP_URL)?,
            slack_oauth_url: url(get, "SLACK_OAUTH_URL", DEFAULT_SLACK_OAUTH_URL)?,
            single_workspace: single_workspace(get)?,
            private_app: private_app(get)?,
            oauth_state_key,
            store,
            queue_url: opt(get, "QUEUE_URL"),
            sweep_every_secs: secs(get, "SWEEP_EVERY_SECS", 60)?,
            alerts: alert_defaults(get)?,
            hubspot_per_10s: whole(
                get,
                "HUBSPOT_REQUESTS_PER_10S",
                100,
                "must be a whole number of requests",
            )?,
            slack_limits: crate::chat::slack::SlackLimits {
                posts_per_channel_per_min: whole(
                    get,
                    "SLACK_POSTS_PER_CHANNEL_PER_MIN",
                    60,
                    "must be a whole number per minute",
                )?,
                tier3_per_min: whole(
                    get,
                    "SLACK_TIER3_PER_MIN",
                    50,
                    "must be a whole number per minute",
                )?,
            },
        })
    }

    /// From the process environment (local runs).
    pub fn from_env(default_base_url: Option<&str>) -> Result<Self, ConfigError> {
        Self::from_lookup(&|k| std::env::var(k).ok(), default_base_url)
    }

    /// In Lambda: the environment, with the keys of the secret at `SECRET_ARN` (a JSON object)
    /// taking precedence for the secret keys. Without `SECRET_ARN`, the environment alone.
    pub async fn from_lambda_env(sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let Some(arn) = std::env::var("SECRET_ARN").ok().filter(|v| !v.is_empty()) else {
            return Self::from_env(None);
        };
        let client = aws_sdk_secretsmanager::Client::new(sdk);
        let out = client
            .get_secret_value()
            .secret_id(&arn)
            .send()
            .await
            .map_err(|e| ConfigError::Secret {
                arn: arn.clone(),
                // The error's code and message only: the SDK never puts the value in an error.
                reason: aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string(),
            })?;
        let text = out.secret_string().ok_or_else(|| ConfigError::Secret {
            arn: arn.clone(),
            reason: "the secret has no SecretString".into(),
        })?;
        let secret = parse_secret_json(text).map_err(|reason| ConfigError::Secret {
            arn: arn.clone(),
            reason,
        })?;
        let lookup = merged_lookup(&secret);
        Self::from_lookup(&lookup, None)
    }

    /// The URL HubSpot calls for webhooks (what its v3 signature covers).
    pub fn webhook_url(&self) -> String {
        format!("{}/hubspot/webhook", self.public_base_url)
    }
}

/// The secret's JSON object as key -> string value (non-string values are refused).
pub fn parse_secret_json(text: &str) -> Result<HashMap<String, String>, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("the secret is not JSON: {e}"))?;
    let obj = value
        .as_object()
        .ok_or_else(|| "the secret must be a JSON object".to_string())?;
    let mut out = HashMap::new();
    for (k, v) in obj {
        match v {
            serde_json::Value::String(s) => {
                out.insert(k.clone(), s.clone());
            }
            serde_json::Value::Null => {}
            _ => return Err(format!("the secret's key {k} must be a string")),
        }
    }
    Ok(out)
}

fn merged_lookup(secret: &HashMap<String, String>) -> impl Fn(&str) -> Option<String> + '_ {
    move |k: &str| {
        let from_secret = SECRET_KEYS
            .contains(&k)
            .then(|| secret.get(k).cloned())
            .flatten()
            .filter(|v| !v.is_empty());
        from_secret.or_else(|| std::env::var(k).ok())
    }
}

/// The state-signing key: HMAC-SHA256(token key bytes, "oauth-state-v1"), hex.
fn derive_state_key(token_key_b64: &str) -> Result<Secret, ConfigError> {
    use base64::Engine;
    use hmac::{Hmac, KeyInit, Mac};
    let malformed = |reason: &str| ConfigError::Malformed {
        name: "TOKEN_ENCRYPTION_KEY",
        reason: reason.to_string(),
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(token_key_b64.trim())
        .map_err(|_| malformed("not base64"))?;
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&raw)
        .map_err(|_| malformed("unusable as a key"))?;
    mac.update(b"oauth-state-v1");
    Ok(Secret::new(hex::encode(mac.finalize().into_bytes())))
}

/// Slack's single-workspace settings (the HubSpot portal id and token are shared with
/// private-app mode).
const SLACK_SINGLE_KEYS: [&str; 3] = ["SLACK_TEAM_ID", "SLACK_BOT_TOKEN", "SLACK_CHANNEL_ID"];

/// Private-app mode: the portal and its token set, Slack OAuth configured, and none of the
/// Slack single-workspace settings (those make it single-workspace mode instead).
fn is_private_app_mode(get: Lookup) -> bool {
    opt(get, "HUBSPOT_PORTAL_ID").is_some()
        && opt(get, "HUBSPOT_ACCESS_TOKEN").is_some()
        && opt(get, "SLACK_CLIENT_ID").is_some()
        && SLACK_SINGLE_KEYS.iter().all(|k| opt(get, k).is_none())
}

fn private_app(get: Lookup) -> Result<Option<PrivateAppPortal>, ConfigError> {
    if !is_private_app_mode(get) {
        return Ok(None);
    }
    Ok(Some(PrivateAppPortal {
        portal_id: portal_id(get)?,
        token: Secret::new(req(get, "HUBSPOT_ACCESS_TOKEN")?),
    }))
}

fn portal_id(get: Lookup) -> Result<String, ConfigError> {
    let portal_id = req(get, "HUBSPOT_PORTAL_ID")?;
    if !portal_id.chars().all(|c| c.is_ascii_digit()) {
        return Err(ConfigError::Malformed {
            name: "HUBSPOT_PORTAL_ID",
            reason: "must be the numeric portal (hub) id".into(),
        });
    }
    Ok(portal_id)
}

fn single_workspace(get: Lookup) -> Result<Option<SingleWorkspace>, ConfigError> {
    const KEYS: [&str; 4] = [
        "HUBSPOT_PORTAL_ID",
        "SLACK_TEAM_ID",
        "SLACK_BOT_TOKEN",
        "SLACK_CHANNEL_ID",
    ];
    let set: Vec<bool> = KEYS.iter().map(|k| opt(get, k).is_some()).collect();
    if set.iter().all(|s| !s) || is_private_app_mode(get) {
        return Ok(None);
    }
    // Partly configured is a mistake worth stopping for: name the first missing one.
    for (k, s) in KEYS.iter().zip(&set) {
        if !s {
            return Err(ConfigError::Missing(k));
        }
    }
    let portal_id = portal_id(get)?;
    let bot_token = req(get, "SLACK_BOT_TOKEN")?;
    if !bot_token.starts_with("xoxb-") {
        return Err(ConfigError::Malformed {
            name: "SLACK_BOT_TOKEN",
            reason: "must be a bot token (xoxb-...)".into(),
        });
    }
    Ok(Some(SingleWorkspace {
        portal_id,
        hubspot_access_token: Secret::new(req(get, "HUBSPOT_ACCESS_TOKEN")?),
        team_id: req(get, "SLACK_TEAM_ID")?,
        bot_token: Secret::new(bot_token),
        channel_id: req(get, "SLACK_CHANNEL_ID")?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

    fn base() -> HashMap<String, String> {
        [
            ("SLACK_SIGNING_SECRET", "s"),
            ("HUBSPOT_CLIENT_SECRET", "h"),
            ("TOKEN_ENCRYPTION_KEY", KEY),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn load(m: &HashMap<String, String>) -> Result<Settings, ConfigError> {
        Settings::from_lookup(&|k| m.get(k).cloned(), Some("http://127.0.0.1:3000"))
    }

    #[test]
    fn minimal_local_settings() {
        let s = load(&base()).unwrap();
        assert_eq!(s.slack_api_url, DEFAULT_SLACK_API_URL);
        assert_eq!(s.hubspot_api_url, DEFAULT_HUBSPOT_API_URL);
        assert_eq!(s.public_base_url, "http://127.0.0.1:3000");
        assert_eq!(s.store, StoreSettings::Embedded { path: None });
        assert!(s.single_workspace.is_none());
        assert_eq!(s.webhook_url(), "http://127.0.0.1:3000/hubspot/webhook");
    }

    #[test]
    fn each_required_setting_is_named() {
        for k in [
            "SLACK_SIGNING_SECRET",
            "HUBSPOT_CLIENT_SECRET",
            "TOKEN_ENCRYPTION_KEY",
        ] {
            let mut m = base();
            m.remove(k);
            assert_eq!(load(&m).unwrap_err(), ConfigError::Missing(k));
        }
        let m = base();
        let err = Settings::from_lookup(&|k| m.get(k).cloned(), None).unwrap_err();
        assert_eq!(err, ConfigError::Missing("PUBLIC_BASE_URL"));
    }

    #[test]
    fn malformed_settings_are_named() {
        let mut m = base();
        m.insert("TOKEN_ENCRYPTION_KEY".into(), "abc".into());
        assert!(matches!(
            load(&m),
            Err(ConfigError::Malformed {
                name: "TOKEN_ENCRYPTION_KEY",
                ..
            })
        ));
        let mut m = base();
        m.insert("SLACK_API_URL".into(), "slack.com".into());
        assert!(matches!(
            load(&m),
            Err(ConfigError::Malformed {
                name: "SLACK_API_URL",
                ..
            })
        ));
        let mut m = base();
        m.insert("DYNAMODB_ENDPOINT".into(), "http://127.0.0.1:5005".into());
        assert_eq!(load(&m).unwrap_err(), ConfigError::Missing("TABLE_NAME"));
        let mut m = base();
        m.insert("SLACK_CLIENT_ID".into(), "1.2".into());
        assert_eq!(
            load(&m).unwrap_err(),
            ConfigError::Missing("SLACK_CLIENT_SECRET")
        );
    }

    #[test]
    fn single_workspace_all_or_nothing() {
        let mut m = base();
        m.insert("HUBSPOT_PORTAL_ID".into(), "22761544".into());
        assert_eq!(load(&m).unwrap_err(), ConfigError::Missing("SLACK_TEAM_ID"));
        m.insert("SLACK_TEAM_ID".into(), "T1".into());
        m.insert("SLACK_BOT_TOKEN".into(), "xoxb-1".into());
        m.insert("SLACK_CHANNEL_ID".into(), "C1".into());
        assert_eq!(
            load(&m).unwrap_err(),
            ConfigError::Missing("HUBSPOT_ACCESS_TOKEN")
        );
        m.insert("HUBSPOT_ACCESS_TOKEN".into(), "pat-1".into());
        let s = load(&m).unwrap();
        let sw = s.single_workspace.unwrap();
        assert_eq!(sw.portal_id, "22761544");
        assert_eq!(sw.bot_token.expose(), "xoxb-1");
        m.insert("SLACK_BOT_TOKEN".into(), "xoxp-user".into());
        assert!(matches!(
            load(&m),
            Err(ConfigError::Malformed {
                name: "SLACK_BOT_TOKEN",
                ..
            })
        ));
    }

    #[test]
    fn slack_oauth_url_has_a_default_and_can_be_set() {
        let s = load(&base()).unwrap();
        assert_eq!(s.slack_oauth_url, DEFAULT_SLACK_OAUTH_URL);
        let mut m = base();
        m.insert(
            "SLACK_OAUTH_URL".into(),
            "http://127.0.0.1:9/authorize/".into(),
        );
        assert_eq!(
            load(&m).unwrap().slack_oauth_url,
            "http://127.0.0.1:9/authorize"
        );
        m.insert("SLACK_OAUTH_URL".into(), "slack.com".into());
        assert!(matches!(
            load(&m),
            Err(ConfigError::Malformed {
                name: "SLACK_OAUTH_URL",
                ..
            })
        ));
    }

    #[test]
    fn private_app_mode_needs_slack_oauth_and_no_slack_single_workspace_keys() {
        let mut m = base();
        m.insert("HUBSPOT_PORTAL_ID".into(), "22761544".into());
        m.insert("HUBSPOT_ACCESS_TOKEN".into(), "pat-1".into());
        // Without Slack OAuth this is a half-filled single-workspace mode.
        assert_eq!(load(&m).unwrap_err(), ConfigError::Missing("SLACK_TEAM_ID"));
        m.insert("SLACK_CLIENT_ID".into(), "1.2".into());
        m.insert("SLACK_CLIENT_SECRET".into(), "cs".into());
        let s = load(&m).unwrap();
        assert!(s.single_workspace.is_none());
        let p = s.private_app.unwrap();
        assert_eq!(p.portal_id, "22761544");
        assert_eq!(p.token.expose(), "pat-1");
        // Any Slack single-workspace key makes it single-workspace mode (and complete or not).
        m.insert("SLACK_TEAM_ID".into(), "T1".into());
        assert_eq!(
            load(&m).unwrap_err(),
            ConfigError::Missing("SLACK_BOT_TOKEN")
        );
        m.remove("SLACK_TEAM_ID");
        m.insert("HUBSPOT_PORTAL_ID".into(), "portal".into());
        assert!(matches!(
            load(&m),
            Err(ConfigError::Malformed {
                name: "HUBSPOT_PORTAL_ID",
                ..
            })
        ));
    }

    #[test]
    fn state_key_is_derived_from_the_token_key_and_redacted() {
        let a = load(&base()).unwrap().oauth_state_key;
        assert_eq!(a.expose().len(), 64);
        assert_ne!(a.expose(), KEY);
        let mut m = base();
        m.insert(
            "TOKEN_ENCRYPTION_KEY".into(),
            "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVoxMjM0NTY=".into(),
        );
        assert_ne!(load(&m).unwrap().oauth_state_key.expose(), a.expose());
        let dbg = format!("{:?}", load(&base()).unwrap());
        assert!(!dbg.contains(a.expose()));
    }

    #[test]
    fn secret_json_is_parsed_strictly() {
        let m = parse_secret_json(r#"{"SLACK_SIGNING_SECRET":"a","X":null}"#).unwrap();
        assert_eq!(m.get("SLACK_SIGNING_SECRET").map(String::as_str), Some("a"));
        assert!(parse_secret_json("[]").is_err());
        assert!(parse_secret_json(r#"{"A":1}"#).is_err());
        assert!(parse_secret_json("not json").is_err());
    }

    #[test]
    fn settings_debug_has_no_secrets() {
        let mut m = base();
        m.insert("SLACK_SIGNING_SECRET".into(), "topsecret-signing".into());
        let s = load(&m).unwrap();
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("topsecret-signing"));
        assert!(!dbg.contains(KEY));
    }
}
