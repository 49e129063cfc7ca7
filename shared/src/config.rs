//! Settings, read once at start. A local run takes everything from environment variables; a
//! Lambda takes the secrets from one Secrets Manager secret (a JSON object with the same key
//! names as the environment variables) read once per cold start, and the rest from its
//! environment. A missing or malformed setting fails the start with its name.

use std::collections::HashMap;

use crate::crypto::TokenCipher;
use crate::secret::Secret;

pub const DEFAULT_SLACK_API_URL: &str = "https://slack.com/api";
pub const DEFAULT_HUBSPOT_API_URL: &str = "https://api.hubapi.com";
pub const DEFAULT_HUBSPOT_APP_URL: &str = "https://app.hubspot.com";

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
    pub hubspot_api_url: String,
    pub hubspot_app_url: String,
    pub single_workspace: Option<SingleWorkspace>,
    pub store: StoreSettings,
    /// The SQS FIFO queue for deliveries (Lambda); None means in-process (local runner).
    pub queue_url: Option<String>,
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
        let token_cipher =
            TokenCipher::from_base64(&req(get, "TOKEN_ENCRYPTION_KEY")?).map_err(|e| {
                ConfigError::Malformed {
                    name: "TOKEN_ENCRYPTION_KEY",
                    reason: e.to_string(),
                }
            })?;
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
            hubspot_api_url: url(get, "HUBSPOT_API_URL", DEFAULT_HUBSPOT_API_URL)?,
            hubspot_app_url: url(get, "HUBSPOT_APP_URL", DEFAULT_HUBSPOT_APP_URL)?,
            single_workspace: single_workspace(get)?,
            store,
            queue_url: opt(get, "QUEUE_URL"),
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

fn single_workspace(get: Lookup) -> Result<Option<SingleWorkspace>, ConfigError> {
    const KEYS: [&str; 4] = [
        "HUBSPOT_PORTAL_ID",
        "SLACK_TEAM_ID",
        "SLACK_BOT_TOKEN",
        "SLACK_CHANNEL_ID",
    ];
    let set: Vec<bool> = KEYS.iter().map(|k| opt(get, k).is_some()).collect();
    if set.iter().all(|s| !s) {
        return Ok(None);
    }
    // Partly configured is a mistake worth stopping for: name the first missing one.
    for (k, s) in KEYS.iter().zip(&set) {
        if !s {
            return Err(ConfigError::Missing(k));
        }
    }
    let portal_id = req(get, "HUBSPOT_PORTAL_ID")?;
    if !portal_id.chars().all(|c| c.is_ascii_digit()) {
        return Err(ConfigError::Malformed {
            name: "HUBSPOT_PORTAL_ID",
            reason: "must be the numeric portal (hub) id".into(),
        });
    }
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
