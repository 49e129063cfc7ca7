//! A local Lambda Runtime API (the part a custom runtime talks to): `GET
//! /2018-06-01/runtime/invocation/next`, `POST .../invocation/{id}/response`,
//! `POST .../invocation/{id}/error` and `POST .../init/error`. One emulator serves one
//! function process; it timestamps the first poll (the end of init, as Lambda counts it) and
//! each invocation's hand-over and answer.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::{mpsc, oneshot};

const PREFIX: &str = "/2018-06-01/runtime";

/// How one invocation went.
#[derive(Debug)]
pub struct Outcome {
    /// When the emulator answered the function's `next` poll with this event.
    pub handed_at: Instant,
    /// When the function posted its response (or error).
    pub done_at: Instant,
    pub ok: bool,
    pub body: Bytes,
}

impl Outcome {
    pub fn latency(&self) -> Duration {
        self.done_at.saturating_duration_since(self.handed_at)
    }
}

struct Invocation {
    id: String,
    payload: Bytes,
    done: oneshot::Sender<Outcome>,
}

struct State {
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>,
    first_poll: Mutex<Option<Instant>>,
    inflight: Mutex<HashMap<String, (Instant, oneshot::Sender<Outcome>)>>,
    init_error: Mutex<Option<String>>,
    function_name: String,
}

pub struct Emulator {
    pub addr: SocketAddr,
    tx: mpsc::UnboundedSender<Invocation>,
    state: Arc<State>,
    seq: AtomicU64,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Emulator {
    pub async fn start(function_name: &str) -> anyhow::Result<Emulator> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let state = Arc::new(State {
            queue: tokio::sync::Mutex::new(rx),
            first_poll: Mutex::new(None),
            inflight: Mutex::new(HashMap::new()),
            init_error: Mutex::new(None),
            function_name: function_name.to_string(),
        });
        let st = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let st = st.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let st = st.clone();
                        async move { Ok::<_, Infallible>(serve(&st, req).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Ok(Emulator {
            addr,
            tx,
            state,
            seq: AtomicU64::new(1),
            task,
        })
    }

    /// `AWS_LAMBDA_RUNTIME_API` as Lambda sets it (host:port, no scheme).
    pub fn runtime_api(&self) -> String {
        self.addr.to_string()
    }

    /// Queues an event; the receiver completes when the function has answered it.
    pub fn push(&self, payload: impl Into<Bytes>) -> oneshot::Receiver<Outcome> {
        let (done, rx) = oneshot::channel();
        let id = format!(
            "00000000-0000-4000-8000-{:012x}",
            self.seq.fetch_add(1, Ordering::SeqCst)
        );
        let _ = self.tx.send(Invocation {
            id,
            payload: payload.into(),
            done,
        });
        rx
    }

    /// When the function first asked for an event (init done).
    pub fn first_poll(&self) -> Option<Instant> {
        *self.state.first_poll.lock().unwrap()
    }

    pub fn init_error(&self) -> Option<String> {
        self.state.init_error.lock().unwrap().clone()
    }
}

fn reply(status: u16, body: impl Into<Bytes>) -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(body.into()))
        .unwrap()
}

async fn serve(
    st: &State,
    req: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return reply(404, r#"{"errorMessage":"not found"}"#);
    };
    if method == hyper::Method::GET && rest == "/invocation/next" {
        let now = Instant::now();
        st.first_poll.lock().unwrap().get_or_insert(now);
        let Some(inv) = st.queue.lock().await.recv().await else {
            return reply(500, r#"{"errorMessage":"emulator stopped"}"#);
        };
        let handed_at = Instant::now();
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64 + 30_000)
            .unwrap_or(0);
        st.inflight
            .lock()
            .unwrap()
            .insert(inv.id.clone(), (handed_at, inv.done));
        return hyper::Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .header("lambda-runtime-aws-request-id", &inv.id)
            .header("lambda-runtime-deadline-ms", deadline.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                format!(
                    "arn:aws:lambda:us-east-1:123456789012:function:{}",
                    st.function_name
                ),
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0",
            )
            .body(Full::new(inv.payload))
            .unwrap();
    }
    if method == hyper::Method::POST && rest == "/init/error" {
        *st.init_error.lock().unwrap() = Some(String::from_utf8_lossy(&body).into_owned());
        return reply(202, r#"{"status":"OK"}"#);
    }
    if method == hyper::Method::POST {
        if let Some(tail) = rest.strip_prefix("/invocation/") {
            let (id, kind) = tail.split_once('/').unwrap_or((tail, ""));
            let ok = match kind {
                "response" => true,
                "error" => false,
                _ => return reply(404, r#"{"errorMessage":"not found"}"#),
            };
            let done_at = Instant::now();
            if let Some((handed_at, done)) = st.inflight.lock().unwrap().remove(id) {
                let _ = done.send(Outcome {
                    handed_at,
                    done_at,
                    ok,
                    body,
                });
                return reply(202, r#"{"status":"OK"}"#);
            }
            return reply(400, r#"{"errorMessage":"unknown request id"}"#);
        }
    }
    reply(404, r#"{"errorMessage":"not found"}"#)
}
