//! An instant stand-in for DynamoDB and SQS, for the "own time" figures: the function talks
//! to it through the real AWS SDK (same requests, signing, serialization and HTTP client as
//! against moto or AWS), but every answer comes back at once, so what is measured is our
//! process's own work, without the store's or the queue's service time.
//!
//! It serves what the functions use: GetItem, PutItem, DeleteItem, TransactWriteItems
//! (conditions are not evaluated: the benchmark's writes are to fresh keys or, one at a
//! time, to versions just read, where the conditions hold), Query (the store's two forms:
//! by `pk` with an optional `sk` prefix, and by the portal index) and SQS SendMessage. Its table is a copy of the
//! moto table's items (the single-workspace install, the seeded thread), taken with a Scan.
//! Any other operation is answered with an error and counted, so the report can say so.
//!
//! It speaks HTTPS, with a certificate from a throw-away CA that the function trusts through
//! `SSL_CERT_FILE` (the system bundle plus that CA): a cold start pays for loading the root
//! certificates, the TLS handshake and aws-lc's first random numbers, as it does in AWS.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

type Key = (String, String);

#[derive(Default)]
struct State {
    items: Mutex<HashMap<Key, Value>>,
    ops: Mutex<BTreeMap<String, u64>>,
    seq: AtomicU64,
}

pub struct FakeAws {
    pub addr: SocketAddr,
    tls: bool,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeAws {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn key_of(item: &Value) -> Option<Key> {
    Some((
        item.get("pk")?.get("S")?.as_str()?.to_string(),
        item.get("sk")?.get("S")?.as_str()?.to_string(),
    ))
}

/// All items of a moto table, in DynamoDB's wire JSON (moto does not check signatures).
pub async fn scan_moto(moto: &str, table: &str) -> anyhow::Result<Vec<Value>> {
    let http = reqwest::Client::new();
    let mut items = vec![];
    let mut start: Option<Value> = None;
    loop {
        let mut body = json!({"TableName": table});
        if let Some(k) = start.take() {
            body["ExclusiveStartKey"] = k;
        }
        let v: Value = http
            .post(moto)
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", "DynamoDB_20120810.Scan")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(body.to_string())
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        items.extend(v["Items"].as_array().cloned().unwrap_or_default());
        match v.get("LastEvaluatedKey") {
            Some(k) if !k.is_null() => start = Some(k.clone()),
            _ => break,
        }
    }
    Ok(items)
}

/// A CA and a certificate for 127.0.0.1 (made with the openssl command line), the server
/// configuration, and a bundle (the system's roots and the CA) for `SSL_CERT_FILE`.
pub fn tls_setup(dir: &Path) -> anyhow::Result<(Arc<rustls::ServerConfig>, PathBuf)> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    std::fs::create_dir_all(dir)?;
    let run = |args: &[&str]| -> anyhow::Result<()> {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .map_err(|e| anyhow::anyhow!("openssl: {e}"))?;
        anyhow::ensure!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut a = vec!["req", "-x509"];
    a.extend(ec);
    a.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=lambda-bench CA",
    ]);
    run(&a)?;
    let mut a = vec!["req"];
    a.extend(ec);
    a.extend([
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    run(&a)?;
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )?;
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
    ])?;
    let system = [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
    ]
    .iter()
    .find_map(|p| std::fs::read(p).ok())
    .unwrap_or_default();
    let bundle = dir.join("bundle.pem");
    let mut all = system;
    all.extend(std::fs::read(dir.join("ca.pem"))?);
    std::fs::write(&bundle, all)?;
    let chain = vec![
        CertificateDer::from_pem_file(dir.join("leaf.pem"))?,
        CertificateDer::from_pem_file(dir.join("ca.pem"))?,
    ];
    let key = PrivateKeyDer::from_pem_file(dir.join("leaf.key"))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(chain, key)?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Arc::new(cfg), std::fs::canonicalize(bundle)?))
}

impl FakeAws {
    pub async fn start(
        seed: Vec<Value>,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> anyhow::Result<FakeAws> {
        let state = Arc::new(State::default());
        {
            let mut items = state.items.lock().unwrap();
            for it in seed {
                if let Some(k) = key_of(&it) {
                    items.insert(k, it);
                }
            }
        }
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let st = state.clone();
        let acceptor = tls.clone().map(tokio_rustls::TlsAcceptor::from);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let st = st.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let st = st.clone();
                        async move { Ok::<_, Infallible>(serve(&st, req).await) }
                    });
                    match acceptor {
                        Some(a) => {
                            if let Ok(tls) = a.accept(stream).await {
                                let _ = http1::Builder::new()
                                    .serve_connection(TokioIo::new(tls), svc)
                                    .await;
                            }
                        }
                        None => {
                            let _ = http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), svc)
                                .await;
                        }
                    }
                });
            }
        });
        Ok(FakeAws {
            addr,
            tls: tls.is_some(),
            state,
            task,
        })
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Operations answered so far, by name (unsupported ones prefixed `unsupported:`).
    pub fn ops(&self) -> BTreeMap<String, u64> {
        self.state.ops.lock().unwrap().clone()
    }
}

fn answer(status: u16, body: Value) -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amzn-requestid", "00000000-0000-4000-8000-000000000000")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

async fn serve(
    st: &State,
    req: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let op = target.rsplit('.').next().unwrap_or("").to_string();
    let supported = matches!(
        op.as_str(),
        "GetItem" | "PutItem" | "DeleteItem" | "TransactWriteItems" | "Query" | "SendMessage"
    );
    *st.ops
        .lock()
        .unwrap()
        .entry(if supported {
            op.clone()
        } else {
            format!("unsupported:{target}")
        })
        .or_insert(0) += 1;
    let mut items = st.items.lock().unwrap();
    match op.as_str() {
        "GetItem" => match key_of(&v["Key"]).and_then(|k| items.get(&k)) {
            Some(it) => answer(200, json!({ "Item": it })),
            None => answer(200, json!({})),
        },
        "PutItem" => {
            if let Some(k) = key_of(&v["Item"]) {
                items.insert(k, v["Item"].clone());
            }
            answer(200, json!({}))
        }
        "DeleteItem" => {
            if let Some(k) = key_of(&v["Key"]) {
                items.remove(&k);
            }
            answer(200, json!({}))
        }
        "TransactWriteItems" => {
            for w in v["TransactItems"].as_array().cloned().unwrap_or_default() {
                if let Some(k) = key_of(&w["Put"]["Item"]) {
                    items.insert(k, w["Put"]["Item"].clone());
                } else if let Some(k) = key_of(&w["Delete"]["Key"]) {
                    items.remove(&k);
                }
            }
            answer(200, json!({}))
        }
        "Query" => {
            let vals = &v["ExpressionAttributeValues"];
            let s = |k: &str| vals[k]["S"].as_str().map(str::to_string);
            let mut found: Vec<(String, Value)> = match (s(":g"), s(":pk")) {
                (Some(g), _) => items
                    .values()
                    .filter(|it| it["gsi1pk"]["S"].as_str() == Some(g.as_str()))
                    .map(|it| (it["sk"]["S"].as_str().unwrap_or("").to_string(), it.clone()))
                    .collect(),
                (None, Some(pk)) => {
                    let prefix = s(":p").unwrap_or_default();
                    items
                        .iter()
                        .filter(|((p, sk), _)| *p == pk && sk.starts_with(&prefix))
                        .map(|((_, sk), it)| (sk.clone(), it.clone()))
                        .collect()
                }
                _ => vec![],
            };
            found.sort_by(|a, b| a.0.cmp(&b.0));
            let n = found.len();
            let list: Vec<Value> = found.into_iter().map(|(_, it)| it).collect();
            answer(200, json!({"Items": list, "Count": n, "ScannedCount": n}))
        }
        "SendMessage" => {
            let n = st.seq.fetch_add(1, Ordering::SeqCst);
            answer(
                200,
                json!({
                    "MessageId": format!("00000000-0000-4000-a000-{n:012x}"),
                    "MD5OfMessageBody": "00000000000000000000000000000000",
                    "SequenceNumber": format!("{n:020}")
                }),
            )
        }
        _ => answer(
            400,
            json!({"__type": "com.amazon.coral.service#UnknownOperationException", "message": format!("the benchmark's stand-in does not serve {target}")}),
        ),
    }
}
