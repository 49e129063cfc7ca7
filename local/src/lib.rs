//! The local runner as a library: the binary serves with it, and the integration tests
//! start it on a free port and talk to it over real HTTP.

pub mod sample;
pub mod sandbox;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use shared::app::App;
use shared::config::Settings;
use shared::edge::worker::AppRunner;
use shared::queue::{LocalQueue, RetryPolicy};
use shared::support::http::{Request, Response, MAX_BODY_BYTES};

/// A running local runner.
pub struct Running {
    pub addr: SocketAddr,
    pub app: Arc<App>,
    pub queue: LocalQueue,
    task: tokio::task::JoinHandle<()>,
    sweeper: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections, and sweeping.
    pub fn stop(&self) {
        self.task.abort();
        if let Some(s) = &self.sweeper {
            s.abort();
        }
    }
}

/// The `install-link` command: a one-time install link for the deployment's own portal
/// (private-app mode), written to the store the settings name. With `SECRET_ARN` set (the
/// stack's, as scripts/install-link.sh sets it) the settings are the stack's, read as its
/// Lambdas read them; otherwise the environment's, as `serve` reads them.
pub async fn install_link(ttl_secs: i64, default_base_url: &str) -> anyhow::Result<String> {
    let app = if std::env::var("SECRET_ARN").is_ok_and(|v| !v.is_empty()) {
        App::from_lambda().await?
    } else {
        let settings = Settings::from_env(Some(default_base_url))?;
        App::local(settings, RetryPolicy::default()).await?.0
    };
    Ok(shared::flows::connect::make_install_link(&app, ttl_secs).await?)
}

/// Builds the app from `settings` and serves every route on 127.0.0.1:`port` (0: any free
/// port), with the in-process queue running jobs.
pub async fn start(settings: Settings, policy: RetryPolicy, port: u16) -> anyhow::Result<Running> {
    start_with(settings, policy, port, None, None).await
}

/// `start`, with another inbox than the settings' HubSpot and another clock than the
/// system's when they are given.
pub async fn start_with(
    settings: Settings,
    policy: RetryPolicy,
    port: u16,
    inbox: Option<Arc<dyn shared::inbox::Inbox>>,
    clock: Option<Arc<dyn shared::support::clock::Clock>>,
) -> anyhow::Result<Running> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (set PORT to another port)"))?;
    let (app, queue) = App::local_with(settings, policy, inbox, clock).await?;
    serve_on(listener, app, queue, None)
}

/// `local-runner serve --sandbox`: the bundle with the sandbox's Slack and HubSpot
/// stand-ins and its page under `/sandbox` (see `sandbox`), on 127.0.0.1:`port`.
pub async fn start_sandbox(port: u16) -> anyhow::Result<Running> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (set PORT to another port)"))?;
    let base = format!("http://{}", listener.local_addr()?);
    let settings = sandbox::settings(&base)?;
    let clock: Arc<dyn shared::support::clock::Clock> =
        Arc::new(shared::support::clock::SystemClock);
    let sb = sandbox::Sandbox::new(&settings, clock.clone());
    let (app, queue) = App::local_with(settings, RetryPolicy::default(), None, Some(clock)).await?;
    serve_on(listener, app, queue, Some(sb))
}

fn serve_on(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    queue: LocalQueue,
    sandbox: Option<Arc<sandbox::Sandbox>>,
) -> anyhow::Result<Running> {
    queue.set_runner(Arc::new(AppRunner(app.clone())));
    // What the scheduler does on AWS: the sweep, in process.
    let every = app.settings.sweep_every_secs;
    let sweeper = (every > 0).then(|| {
        let app = app.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(every));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await; // the first tick is at once: nothing is due yet
            loop {
                tick.tick().await;
                if let Err(e) = shared::flows::timers::sweep(&app).await {
                    tracing::warn!(error = %e, "sweep failed; the next one takes what is due");
                }
            }
        })
    });
    let addr = listener.local_addr()?;
    let served = app.clone();
    let task = tokio::spawn(async move {
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            };
            let app = served.clone();
            let sb = sandbox.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let app = app.clone();
                    let sb = sb.clone();
                    async move { Ok::<_, Infallible>(serve_one(app, sb, req).await) }
                });
                if let Err(e) = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await
                {
                    tracing::debug!(error = %e, "connection ended");
                }
            });
        }
    });
    Ok(Running {
        addr,
        app,
        queue,
        task,
        sweeper,
    })
}

async fn serve_one(
    app: Arc<App>,
    sandbox: Option<Arc<sandbox::Sandbox>>,
    req: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    // Read at most one byte past the limit, so an oversized body is refused without
    // buffering all of it.
    let body = match Limited::new(body, MAX_BODY_BYTES + 1).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return to_hyper(Response::error(
                http::StatusCode::PAYLOAD_TOO_LARGE,
                &format!("body larger than {MAX_BODY_BYTES} bytes"),
            ))
        }
    };
    let req = Request {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers,
        body,
    };
    // A sandbox file is bytes, not the text a `Response` carries.
    if let Some(sb) = &sandbox {
        if let Some((head, bytes)) = sb.file(&req.path) {
            let body = if head.status.is_success() {
                Bytes::from(bytes)
            } else {
                Bytes::from(head.body.clone())
            };
            return head.into_http::<String>().map(|_| Full::new(body));
        }
    }
    // As in Lambda, a request runs to completion even when the caller hangs up (hyper drops
    // a connection's future then): a handler stopped between recording an event as seen and
    // queueing its job would lose it, since the sender's retry is then a duplicate.
    let handled = tokio::spawn(async move {
        if let Some(sb) = &sandbox {
            if let Some(resp) = sb.handle(&req).await {
                return resp;
            }
        }
        shared::edge::routes::handle(&app, req).await
    });
    match handled.await {
        Ok(resp) => to_hyper(resp),
        Err(e) => {
            tracing::error!(error = %e, "request handler failed");
            to_hyper(Response::error(
                http::StatusCode::INTERNAL_SERVER_ERROR,
                "internal error",
            ))
        }
    }
}

fn to_hyper(r: Response) -> hyper::Response<Full<Bytes>> {
    r.into_http::<String>().map(|s| Full::new(Bytes::from(s)))
}
