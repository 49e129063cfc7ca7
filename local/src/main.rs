//! The local runner: every Lambda's routes on one localhost port, through the same handler
//! code (`shared::edge::routes::handle`), with the in-process queue standing in for SQS.
//!
//! Commands:
//!   local-runner                     serve (PORT, default 3000)
//!   local-runner replay FILE [URL]   sign a sample from events/raw with the configured secrets
//!                                    and a fresh timestamp, send it, print status and body
//!   local-runner apigw FILE          print that sample, signed, as an API Gateway HTTP API
//!                                    (v2) event for `cargo lambda invoke --data-file`

use anyhow::Context;
use shared::config::Settings;
use shared::queue::RetryPolicy;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("serve") => serve().await,
        Some("replay") => {
            let file = args
                .get(1)
                .context("usage: local-runner replay FILE [BASE_URL]")?;
            local_runner::sample::replay(file, args.get(2).map(String::as_str)).await
        }
        Some("apigw") => {
            let file = args.get(1).context("usage: local-runner apigw FILE")?;
            local_runner::sample::print_apigw(file)
        }
        Some(other) => anyhow::bail!("unknown command {other}: use serve, replay or apigw"),
    }
}

fn port() -> anyhow::Result<u16> {
    match std::env::var("PORT") {
        Ok(p) => p
            .parse()
            .with_context(|| format!("setting PORT is malformed: {p:?} is not a port number")),
        Err(_) => Ok(3000),
    }
}

async fn serve() -> anyhow::Result<()> {
    shared::support::telemetry::init_local();
    let port = port()?;
    let settings = Settings::from_env(Some(&format!("http://127.0.0.1:{port}")))?;
    let policy = RetryPolicy {
        max_attempts: std::env::var("DELIVERY_MAX_ATTEMPTS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5),
        ..RetryPolicy::default()
    };
    let running = local_runner::start(settings, policy, port).await?;
    let routes: Vec<String> = shared::edge::routes::routes()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let app = &running.app;
    tracing::info!(
        address = %format!("http://{}", running.addr),
        store = app.records.store().kind(),
        store_settings = ?app.settings.store,
        public_base_url = %app.settings.public_base_url,
        slack_api_url = %app.settings.slack_api_url,
        hubspot_api_url = %app.settings.hubspot_api_url,
        single_workspace = app.settings.single_workspace.as_ref().map(|s| s.portal_id.as_str()).unwrap_or("off"),
        routes = %routes.join(", "),
        "local runner listening"
    );
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.stop();
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
