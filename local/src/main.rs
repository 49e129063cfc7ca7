//! The local runner: every Lambda's routes on one localhost port, through the same handler
//! code (`shared::edge::routes::handle`), with the in-process queue standing in for SQS.
//!
//! Commands:
//!   local-runner                     serve (PORT, default 3000)
//!   local-runner serve --sandbox     the sandbox: a Slack channel and a HubSpot inbox of its
//!                                    own, served by the runner, on one page (also --sandbox)
//!   local-runner replay FILE [URL]   sign a sample from events/raw with the configured secrets
//!                                    and a fresh timestamp, send it, print status and body
//!   local-runner apigw FILE          print that sample, signed, as an API Gateway HTTP API
//!                                    (v2) event for `cargo lambda invoke --data-file`
//!   local-runner install-link [SECS]  private-app mode: print a one-time install link, valid
//!                                    SECS seconds (default 3600), written to the configured
//!                                    store (the stack's with SECRET_ARN set)

use anyhow::Context;
use shared::config::Settings;
use shared::queue::RetryPolicy;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        _ if args.iter().any(|a| a == "--sandbox") => sandbox().await,
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
        Some("install-link") => {
            let ttl = match args.get(1) {
                Some(t) => t
                    .parse()
                    .with_context(|| format!("{t:?} is not a number of seconds"))?,
                None => shared::flows::connect::INSTALL_LINK_TTL_SECS,
            };
            let base = format!("http://127.0.0.1:{}", port()?);
            println!("{}", local_runner::install_link(ttl, &base).await?);
            Ok(())
        }
        Some(other) => {
            anyhow::bail!("unknown command {other}: use serve, replay, apigw or install-link")
        }
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

async fn sandbox() -> anyhow::Result<()> {
    shared::support::telemetry::init_local();
    let running = local_runner::start_sandbox(port()?).await?;
    // The one URL to open (on the terminal, not only in the logs).
    println!(
        "Sandbox ready: open {}/sandbox (a Slack channel and a HubSpot inbox, side by side)",
        running.url()
    );
    shutdown_signal().await;
    running.stop();
    Ok(())
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
    // Private-app mode: the install starts only from a one-time link; make the first one.
    if app.settings.hubspot_client_id.is_none() && app.settings.slack_client_id.is_some() {
        if let Some(p) = &app.settings.private_app {
            let installed = app.records.get_install(&p.portal_id).await.ok().flatten();
            if installed.is_none_or(|i| i.status == shared::domain::InstallStatus::Inactive) {
                match shared::flows::connect::make_install_link(
                    app,
                    shared::flows::connect::INSTALL_LINK_TTL_SECS,
                )
                .await
                {
                    // On the terminal, not in the logs: the link is a credential.
                    Ok(url) => println!("Private-app mode: open this one-time link to connect Slack (valid for an hour):\n  {url}"),
                    Err(e) => tracing::warn!(error = %e, "no install link made"),
                }
            }
        }
    }
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
