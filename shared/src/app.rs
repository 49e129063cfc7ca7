//! The application state, built once per cold start (Lambda) or once per process (local
//! runner), and passed by reference to every handler.

use std::sync::Arc;
use std::time::Duration;

use crate::chat::slack::SlackApi;
use crate::config::{ConfigError, Settings, StoreSettings};
use crate::domain::{HubSpotAuth, Install, InstallSource, InstallStatus};
use crate::inbox::hubspot::HubSpotApi;
use crate::inbox::Inbox;
use crate::queue::{JobQueue, LocalQueue, RetryPolicy, SqsQueue};
use crate::store::dynamo::DynamoStore;
use crate::store::embedded::EmbeddedStore;
use crate::store::records::Records;
use crate::store::{Store, StoreError};
use crate::support::clock::{Clock, SystemClock};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("http client: {0}")]
    Http(String),
}

pub struct App {
    pub settings: Settings,
    pub records: Records,
    pub slack: SlackApi,
    /// The inbox (HubSpot in production; `with_inbox` swaps it, as the flow tests do).
    pub inbox: Arc<dyn Inbox>,
    pub queue: Arc<dyn JobQueue>,
    pub clock: Arc<dyn Clock>,
    /// What a warm process keeps of HubSpot between deliveries (services::lookups).
    pub lookups: Lookups,
}

/// HubSpot owners and contacts as last read, per portal, for `LOOKUP_TTL_MS`: a card is
/// redrawn on most events, and its assignee, contact and contact owner rarely change.
pub struct Lookups {
    pub owners: crate::support::ttl_cache::TtlCache<Option<crate::domain::Agent>>,
    pub contacts: crate::support::ttl_cache::TtlCache<Option<crate::domain::Contact>>,
}

/// How long an owner or contact read from HubSpot is used again (10 minutes).
pub const LOOKUP_TTL_MS: i64 = 10 * 60 * 1000;

impl Default for Lookups {
    fn default() -> Self {
        Lookups {
            owners: crate::support::ttl_cache::TtlCache::new(LOOKUP_TTL_MS, 10_000),
            contacts: crate::support::ttl_cache::TtlCache::new(LOOKUP_TTL_MS, 10_000),
        }
    }
}

/// One HTTP client per process (Slack and HubSpot): connection pools and TLS set-up are
/// shared. Its certificate verifier loads the system's root certificates when the first
/// HTTPS connection needs them, not when the client is built: reqwest's own verifier reads
/// and decodes every root at `build()`, which was most of a cold start's own work
/// (docs/benchmarks.md), and the HTTP functions' acknowledgements never call Slack or
/// HubSpot.
pub fn http_client() -> Result<reqwest::Client, StartError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| StartError::Http(e.to_string()))?
        .dangerous() // a verifier of our own: the platform's, created on first use
        .with_custom_certificate_verifier(Arc::new(LazyRoots::new(provider)))
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| StartError::Http(e.to_string()))
}

/// The platform's certificate verifier (the system's roots, as reqwest would use), created
/// when the first certificate is to be verified.
#[derive(Debug)]
struct LazyRoots {
    provider: Arc<rustls::crypto::CryptoProvider>,
    verifier: std::sync::OnceLock<Result<rustls_platform_verifier::Verifier, String>>,
}

impl LazyRoots {
    fn new(provider: Arc<rustls::crypto::CryptoProvider>) -> Self {
        LazyRoots {
            provider,
            verifier: std::sync::OnceLock::new(),
        }
    }

    fn get(&self) -> Result<&rustls_platform_verifier::Verifier, rustls::Error> {
        self.verifier
            .get_or_init(|| {
                rustls_platform_verifier::Verifier::new(self.provider.clone())
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| rustls::Error::General(format!("no root certificates: {e}")))
    }
}

impl rustls::client::danger::ServerCertVerifier for LazyRoots {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        self.get()?
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The AWS SDK configuration. Outside AWS (a local endpoint), static dummy credentials and
/// no instance-metadata probing, which would only time out.
pub async fn sdk_config(local_endpoint: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(ep) = local_endpoint {
        loader = loader
            .endpoint_url(ep)
            .region(aws_config::Region::new(
                std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
            ))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "local", "local", None, None, "static",
            ));
    }
    loader.load().await
}

impl App {
    pub fn new(
        settings: Settings,
        store: Arc<dyn Store>,
        queue: Arc<dyn JobQueue>,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Self {
        App {
            records: Records::new(store, settings.token_cipher.clone()),
            slack: SlackApi::new(http.clone(), &settings.slack_api_url)
                .with_files_url(&settings.slack_files_url)
                .with_limits(settings.slack_limits),
            inbox: Arc::new(
                HubSpotApi::new(http, &settings.hubspot_api_url)
                    .with_budget(settings.hubspot_per_10s),
            ),
            queue,
            clock,
            settings,
            lookups: Lookups::default(),
        }
    }

    /// The same app on another inbox.
    pub fn with_inbox(mut self, inbox: Arc<dyn Inbox>) -> Self {
        self.inbox = inbox;
        self
    }

    /// Builds the store the settings name.
    pub async fn open_store(settings: &Settings) -> Result<Arc<dyn Store>, StartError> {
        Self::open_store_with(settings, None).await
    }

    /// Builds the store the settings name, on `shared` (the process's one SDK
    /// configuration) when it already points where the store's endpoint setting does.
    async fn open_store_with(
        settings: &Settings,
        shared: Option<(&aws_config::SdkConfig, Option<&str>)>,
    ) -> Result<Arc<dyn Store>, StartError> {
        Ok(match &settings.store {
            StoreSettings::Embedded { path: None } => Arc::new(EmbeddedStore::in_memory()),
            StoreSettings::Embedded { path: Some(p) } => Arc::new(EmbeddedStore::open(p)?),
            StoreSettings::Dynamo { table, endpoint } => {
                let own;
                let sdk = match shared {
                    // No DYNAMODB_ENDPOINT, or the same as the SDK's: one configuration, one
                    // HTTP client and one TLS set-up for DynamoDB, SQS and Secrets Manager.
                    Some((sdk, at)) if endpoint.is_none() || endpoint.as_deref() == at => sdk,
                    _ => {
                        own = sdk_config(endpoint.as_deref()).await;
                        &own
                    }
                };
                let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), table.clone());
                if endpoint.is_some() {
                    // A local DynamoDB-compatible server starts empty; in AWS the stack owns the table.
                    store.create_table_if_missing().await?;
                }
                Arc::new(store)
            }
        })
    }

    /// In Lambda: settings from the environment and the secret, DynamoDB, SQS.
    pub async fn from_lambda() -> Result<Arc<App>, StartError> {
        let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
        let sdk = sdk_config(endpoint.as_deref()).await;
        let settings = Settings::from_lambda_env(&sdk).await?;
        let store = Self::open_store_with(&settings, Some((&sdk, endpoint.as_deref()))).await?;
        let http = http_client()?;
        let queue: Arc<dyn JobQueue> = match &settings.queue_url {
            Some(url) => Arc::new(
                SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), url.clone()).with_sender(
                    crate::queue::sqs_send::SqsSender::from_sdk(&sdk, http.clone()),
                ),
            ),
            None => {
                return Err(StartError::Config(ConfigError::Missing("QUEUE_URL")));
            }
        };
        let app = Arc::new(App::new(
            settings,
            store,
            queue,
            http,
            Arc::new(SystemClock),
        ));
        app.ensure_single_workspace().await?;
        Ok(app)
    }

    /// For the local runner: settings from the environment, the in-process queue (whose
    /// runner the caller sets to the app), the store the settings name.
    pub async fn local(
        settings: Settings,
        policy: RetryPolicy,
    ) -> Result<(Arc<App>, LocalQueue), StartError> {
        Self::local_with(settings, policy, None, None).await
    }

    /// `local`, on another inbox than HubSpot when one is given (the flow tests' in-memory
    /// inbox).
    pub async fn local_with(
        settings: Settings,
        policy: RetryPolicy,
        inbox: Option<Arc<dyn Inbox>>,
        clock: Option<Arc<dyn Clock>>,
    ) -> Result<(Arc<App>, LocalQueue), StartError> {
        let store = Self::open_store(&settings).await?;
        let queue = LocalQueue::new(policy);
        let mut app = App::new(
            settings,
            store,
            Arc::new(queue.clone()),
            http_client()?,
            clock.unwrap_or_else(|| Arc::new(SystemClock)),
        );
        if let Some(inbox) = inbox {
            app = app.with_inbox(inbox);
        }
        let app = Arc::new(app);
        app.ensure_single_workspace().await?;
        Ok((app, queue))
    }

    /// Single-workspace mode: the install the settings define exists and carries the
    /// settings' tokens and channel. What admins change in Slack (notifications on/off) and
    /// the health fields are kept.
    pub async fn ensure_single_workspace(&self) -> Result<(), StartError> {
        let Some(sw) = &self.settings.single_workspace else {
            return Ok(());
        };
        // Settings are the source of truth for tokens and channel; the rest is kept.
        let apply = |install: &mut Install| {
            let before = install.clone();
            install.team_id = sw.team_id.clone();
            install.channel_id = Some(sw.channel_id.clone());
            install.bot_token = Some(sw.bot_token.clone());
            install.bot_rotation = None;
            install.hubspot = Some(HubSpotAuth::PrivateApp {
                token: sw.hubspot_access_token.clone(),
            });
            install.source = InstallSource::Settings;
            if install.status == InstallStatus::Inactive {
                // A fresh start with tokens reactivates.
                install.status = InstallStatus::Active;
            }
            // An install from before the timer index: written again, which puts it there.
            *install != before || install.timers == crate::domain::InstallTimers::default()
        };
        let mut changed = false;
        let existing = self
            .records
            .update_install(&sw.portal_id, |i| {
                changed = apply(i);
                changed
            })
            .await?;
        if existing.is_none() {
            let mut install = Install {
                portal_id: sw.portal_id.clone(),
                team_id: sw.team_id.clone(),
                channel_id: None,
                pending_channel_id: None,
                notifications_on: true,
                reactions_on: true,
                bot_token: None,
                bot_rotation: None,
                bot_user_id: None,
                hubspot: None,
                status: InstallStatus::Active,
                source: InstallSource::Settings,
                installer_user_id: None,
                last_delivery_at: None,
                last_error: None,
                created_at: self.clock.now_secs(),
                version: 0,
                alerts: Default::default(),
                timers: Default::default(),
            };
            apply(&mut install);
            self.records.put_install(&install).await?;
            changed = true;
        }
        if changed {
            tracing::info!(portal = %sw.portal_id, team = %sw.team_id, channel = %sw.channel_id, "single-workspace install written from settings");
        }
        Ok(())
    }
}
