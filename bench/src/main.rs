//! `lambda-bench`: the benchmark behind docs/benchmarks.md (run by `scripts/bench.sh`, by
//! hand; not part of the tests).
//!
//! For each function binary: cold starts through a local Lambda Runtime API emulator (process
//! start to first poll, and to first response), a warm burst of signed requests (p50, p99),
//! peak RSS (VmHWM) under it; the same for a minimal Bolt for JavaScript app as the peer; and
//! store and API calls per kind of event, counted in process. The AWS side (DynamoDB table,
//! SQS FIFO queue) is moto, Slack and HubSpot are wiremock stubs in this process.
//!
//! lambda-bench [--bin-dir target/release] [--reps 10] [--burst 1000] [--burst-reps 3]
//!              [--moto http://127.0.0.1:5005] [--sizes FILE] [--bolt bench/bolt | --no-bolt]
//!              [--only fn,fn] [--no-counts] [--label TEXT] [--out docs/benchmarks.md]
//!              [--json target/bench/results.json]

mod awsfake;
mod counts;
mod emulator;
mod events;
mod report;
mod runner;
mod stubs;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use integration_tests::harness::{
    APP_ID, BOT_TOKEN, CHANNEL, HS_TOKEN, HUBSPOT_SECRET, PORTAL, SIGNING_SECRET, TEAM, TOKEN_KEY,
};
use shared::domain::ThreadMap;
use shared::queue::{Job, JobQueue, SqsQueue};
use shared::store::dynamo::DynamoStore;
use shared::store::records::Records;
use shared::store::Store;

use crate::events::{Samples, PARENT_TS, PUBLIC_BASE_URL, THREAD};
use crate::runner::{median, ms, percentile, Program};

pub struct Args {
    pub bin_dir: PathBuf,
    pub reps: usize,
    pub burst: usize,
    pub burst_reps: usize,
    pub moto: String,
    pub sizes: Option<PathBuf>,
    pub bolt: Option<PathBuf>,
    pub only: Option<Vec<String>>,
    pub counts: bool,
    pub label: String,
    pub out: PathBuf,
    pub json: PathBuf,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        bin_dir: "target/release".into(),
        reps: 10,
        burst: 1000,
        burst_reps: 3,
        moto: "http://127.0.0.1:5005".into(),
        sizes: None,
        bolt: Some("bench/bolt".into()),
        only: None,
        counts: true,
        label: String::new(),
        out: "docs/benchmarks.md".into(),
        json: "target/bench/results.json".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--bin-dir" => a.bin_dir = val()?.into(),
            "--reps" => a.reps = val()?.parse()?,
            "--burst" => a.burst = val()?.parse()?,
            "--burst-reps" => a.burst_reps = val()?.parse()?,
            "--moto" => a.moto = val()?,
            "--sizes" => a.sizes = Some(val()?.into()),
            "--bolt" => a.bolt = Some(val()?.into()),
            "--no-bolt" => a.bolt = None,
            "--only" => a.only = Some(val()?.split(',').map(str::to_string).collect()),
            "--no-counts" => a.counts = false,
            "--label" => a.label = val()?,
            "--out" => a.out = val()?.into(),
            "--json" => a.json = val()?.into(),
            "-h" | "--help" => {
                println!("see the comment at the top of bench/src/main.rs, or scripts/bench.sh");
                std::process::exit(0);
            }
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    Ok(a)
}

/// One function's figures against one AWS backend (each the median over repetitions).
#[derive(Debug, Clone, Default)]
pub struct Phase {
    pub cold_ms: f64,
    pub cold_min_ms: f64,
    pub cold_max_ms: f64,
    pub init_ms: f64,
    pub first_invoke_ms: f64,
    pub cold_rss_mib: f64,
    /// (label, p50, p99) per burst kind.
    pub warm: Vec<(String, f64, f64)>,
    pub peak_rss_mib: f64,
}

/// One function's figures: with the AWS SDK against moto (a DynamoDB/SQS-compatible
/// server), and against the instant stand-in (our own time: no service time).
#[derive(Debug, Clone, Default)]
pub struct FnResult {
    pub name: String,
    pub route: String,
    pub moto: Phase,
    pub own: Option<Phase>,
    /// Operations the stand-in could not serve (should be none).
    pub stub_unsupported: Vec<String>,
    pub reps: usize,
}

/// The AWS side in moto: a table and a FIFO queue of this run's own (others may be using the
/// same server: nothing is reset).
struct Aws {
    table: String,
    queue_url: String,
    ddb: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
}

impl Aws {
    async fn create(moto: &str, nonce: &str) -> anyhow::Result<Aws> {
        let sdk = shared::app::sdk_config(Some(moto)).await;
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let table = format!("bench-{nonce}");
        DynamoStore::new(ddb.clone(), table.clone())
            .create_table_if_missing()
            .await
            .with_context(|| format!("creating table {table} in moto at {moto}"))?;
        let queue_url = sqs
            .create_queue()
            .queue_name(format!("bench-{nonce}.fifo"))
            .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
            .send()
            .await
            .context("creating the FIFO queue in moto")?
            .queue_url()
            .unwrap_or_default()
            .to_string();
        Ok(Aws {
            table,
            queue_url,
            ddb,
            sqs,
        })
    }

    /// The Slack thread the thread-reply sample answers in, mapped to the sample conversation.
    async fn seed(&self) -> anyhow::Result<()> {
        let store: Arc<dyn Store> =
            Arc::new(DynamoStore::new(self.ddb.clone(), self.table.clone()));
        let records = Records::new(
            store,
            shared::support::crypto::TokenCipher::from_base64(TOKEN_KEY)?,
        );
        records
            .create_thread(&ThreadMap {
                portal_id: PORTAL.into(),
                thread_id: THREAD.into(),
                team_id: TEAM.into(),
                channel_id: CHANNEL.into(),
                parent_ts: PARENT_TS.into(),
                first_message_id: None,
                cursor_at: 0,
                cursor_id: String::new(),
                status: "OPEN".into(),
                assignee: None,
                version: 0,
                inbox_id: None,
                earlier: vec![],
                move_notice_pending: false,
                not_a_contact: None,
                ..Default::default()
            })
            .await?;
        Ok(())
    }

    /// Round trips to moto itself, to read the warm figures against (p50, p99 in ms).
    async fn call_latency(&self) -> anyhow::Result<((f64, f64), (f64, f64))> {
        let store = DynamoStore::new(self.ddb.clone(), self.table.clone());
        let q = SqsQueue::new(self.sqs.clone(), self.queue_url.clone());
        let (mut get, mut send) = (vec![], vec![]);
        for i in 0..200 {
            let t = Instant::now();
            store.get("bench#probe", "x").await?;
            get.push(ms(t.elapsed()));
            let t = Instant::now();
            q.enqueue(
                Job::PublishHome {
                    team_id: TEAM.into(),
                    user_id: format!("U{i}"),
                },
                &format!("probe-{i}"),
            )
            .await?;
            send.push(ms(t.elapsed()));
        }
        Ok((
            (median(&get), percentile(&get, 99.0)),
            (median(&send), percentile(&send, 99.0)),
        ))
    }

    /// Empties the queue (moto's FIFO send slows down with each message held).
    async fn purge(&self) {
        let _ = self
            .sqs
            .purge_queue()
            .queue_url(&self.queue_url)
            .send()
            .await;
    }

    async fn remove(&self) {
        let _ = self.ddb.delete_table().table_name(&self.table).send().await;
        let _ = self
            .sqs
            .delete_queue()
            .queue_url(&self.queue_url)
            .send()
            .await;
    }
}

type MakeEvent = fn(&Samples) -> anyhow::Result<Vec<u8>>;

struct FnSpec {
    name: &'static str,
    route: &'static str,
    event: MakeEvent,
}

const FUNCTIONS: &[FnSpec] = &[
    FnSpec {
        name: "oauth",
        route: "GET /health",
        event: Samples::health,
    },
    FnSpec {
        name: "chat-webhook",
        route: "POST /hubspot/webhook (new message)",
        event: Samples::webhook_new_message,
    },
    FnSpec {
        name: "slack-events",
        route: "POST /slack/events (thread reply)",
        event: Samples::slack_thread_reply,
    },
    FnSpec {
        name: "slash-commands",
        route: "POST /slack/commands (/hs-chat-away)",
        event: Samples::slash_away,
    },
    FnSpec {
        name: "interactivity",
        route: "POST /slack/interactions (Claim)",
        event: Samples::claim,
    },
    FnSpec {
        name: "delivery-worker",
        route: "SQS: conversation sync job",
        event: Samples::sqs_sync,
    },
];

fn base_env(name: &str, aws: &Aws, args: &Args, stubs: &stubs::Stubs) -> Vec<(String, String)> {
    let v = |k: &str, v: &str| (k.to_string(), v.to_string());
    vec![
        v("AWS_LAMBDA_FUNCTION_NAME", name),
        v("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        v("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        v("AWS_LAMBDA_LOG_GROUP_NAME", &format!("/aws/lambda/{name}")),
        v("AWS_LAMBDA_LOG_STREAM_NAME", "bench"),
        v("AWS_REGION", "us-east-1"),
        v("AWS_DEFAULT_REGION", "us-east-1"),
        v("AWS_ACCESS_KEY_ID", "bench"),
        v("AWS_SECRET_ACCESS_KEY", "bench"),
        v("AWS_SESSION_TOKEN", "bench"),
        v("AWS_ENDPOINT_URL", &args.moto),
        v("AWS_EC2_METADATA_DISABLED", "true"),
        v("LAMBDA_TASK_ROOT", "/var/task"),
        v("TZ", ":UTC"),
        v("LANG", "en_US.UTF-8"),
        v("TABLE_NAME", &aws.table),
        v("QUEUE_URL", &aws.queue_url),
        v("PUBLIC_BASE_URL", PUBLIC_BASE_URL),
        v("SLACK_API_URL", &stubs.slack.uri()),
        v("HUBSPOT_API_URL", &stubs.hubspot.uri()),
        v("RUST_LOG", "info"),
        v("SLACK_SIGNING_SECRET", SIGNING_SECRET),
        v("HUBSPOT_CLIENT_SECRET", HUBSPOT_SECRET),
        v("TOKEN_ENCRYPTION_KEY", TOKEN_KEY),
        v("HUBSPOT_APP_ID", APP_ID),
        v("HUBSPOT_PORTAL_ID", PORTAL),
        v("HUBSPOT_ACCESS_TOKEN", HS_TOKEN),
        v("SLACK_TEAM_ID", TEAM),
        v("SLACK_BOT_TOKEN", BOT_TOKEN),
        v("SLACK_CHANNEL_ID", CHANNEL),
        // Our own time is measured, not Slack's or HubSpot's rates: a burst of 1000 posts
        // into one channel would otherwise be paced to one a second.
        v("SLACK_POSTS_PER_CHANNEL_PER_MIN", "0"),
        v("SLACK_TIER3_PER_MIN", "0"),
        v("HUBSPOT_REQUESTS_PER_10S", "0"),
    ]
}

async fn measure(
    p: &Program,
    samples: &Samples,
    first: MakeEvent,
    bursts: &[(&str, MakeEvent)],
    args: &Args,
    log: &Path,
    purge: Option<&Aws>,
) -> anyhow::Result<Phase> {
    let (mut cold, mut init, mut inv, mut crss) = (vec![], vec![], vec![], vec![]);
    for _ in 0..args.reps {
        let (started, c) = runner::start(p, first(samples)?, log).await?;
        drop(started);
        cold.push(ms(c.first_response));
        init.push(ms(c.init));
        inv.push(ms(c.first_invoke));
        crss.push(c.rss_kib as f64 / 1024.0);
    }
    let mut per_kind: Vec<(Vec<f64>, Vec<f64>)> = vec![(vec![], vec![]); bursts.len()];
    let mut peak = vec![];
    for _ in 0..args.burst_reps {
        let (started, _) = runner::start(p, first(samples)?, log).await?;
        for (i, (label, make)) in bursts.iter().enumerate() {
            // In chunks, emptying the queue in between: moto's FIFO send slows down with
            // every message the queue holds (nothing consumes them here), which is moto's
            // cost, not ours. The pauses fall between invocations, outside the figures.
            let mut lat = Vec::with_capacity(args.burst);
            while lat.len() < args.burst {
                if let Some(aws) = purge {
                    aws.purge().await;
                }
                let n = (args.burst - lat.len()).min(100);
                let chunk = runner::burst(&started, &format!("{} {label}", p.name), n, || {
                    make(samples)
                })
                .await?;
                lat.extend(chunk.into_iter().map(ms));
            }
            per_kind[i].0.push(percentile(&lat, 50.0));
            per_kind[i].1.push(percentile(&lat, 99.0));
        }
        peak.push(runner::vm_hwm_kib(started.child.id()).unwrap_or(0) as f64 / 1024.0);
    }
    let r = Phase {
        cold_ms: median(&cold),
        cold_min_ms: cold.iter().cloned().fold(f64::INFINITY, f64::min),
        cold_max_ms: cold.iter().cloned().fold(0.0, f64::max),
        init_ms: median(&init),
        first_invoke_ms: median(&inv),
        cold_rss_mib: median(&crss),
        warm: bursts
            .iter()
            .zip(&per_kind)
            .map(|((l, _), (p50, p99))| (l.to_string(), median(p50), median(p99)))
            .collect(),
        peak_rss_mib: median(&peak),
    };
    eprintln!(
        "  {:<16} cold {:>7.1} ms (init {:>6.1}, first invoke {:>6.1})  warm {}  peak RSS {:.1} MiB",
        p.name,
        r.cold_ms,
        r.init_ms,
        r.first_invoke_ms,
        r.warm
            .iter()
            .map(|(l, a, b)| format!("{l}: p50 {a:.2} p99 {b:.2} ms"))
            .collect::<Vec<_>>()
            .join("; "),
        r.peak_rss_mib
    );
    Ok(r)
}

fn which(prog: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(prog))
            .find(|p| p.is_file())
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("tls-check") {
        return tls_check().await;
    }
    let args = parse_args()?;
    let nonce = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis()
            % 0xffff_ffff
    );
    let logs = PathBuf::from("target/bench/logs");
    std::fs::create_dir_all(&logs)?;
    let samples = Samples::new(Path::new("."), &nonce);
    let started = Instant::now();
    let load_start = report::loadavg();

    let stubs = stubs::Stubs::start().await;
    let aws = Aws::create(&args.moto, &nonce).await?;
    let result = run_all(&args, &aws, &stubs, &samples, &logs).await;
    aws.remove().await;
    let (fns, bolt, moto_lat) = result?;

    let calls = if args.counts {
        eprintln!("==> store and API calls per event (in process, counting store, wiremock)");
        Some(counts::run().await?)
    } else {
        None
    };
    let sizes = match &args.sizes {
        Some(p) => report::read_sizes(p)?,
        None => vec![],
    };
    let r = report::Report {
        label: args.label.clone(),
        reps: args.reps,
        burst: args.burst,
        burst_reps: args.burst_reps,
        fns,
        bolt,
        moto_lat,
        calls,
        sizes,
        elapsed: started.elapsed(),
        load: (load_start, report::loadavg()),
    };
    let md = r.markdown();
    println!("{md}");
    report::write_into(&args.out, &md)?;
    if let Some(dir) = args.json.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.json, serde_json::to_string_pretty(&r.json())?)?;
    eprintln!(
        "==> wrote {} (between the bench markers) and {}",
        args.out.display(),
        args.json.display()
    );
    Ok(())
}

type MotoLat = ((f64, f64), (f64, f64));

async fn run_all(
    args: &Args,
    aws: &Aws,
    stubs: &stubs::Stubs,
    samples: &Samples,
    logs: &Path,
) -> anyhow::Result<(Vec<FnResult>, Option<FnResult>, MotoLat)> {
    aws.seed().await?;
    let moto_lat = aws.call_latency().await?;
    eprintln!(
        "==> moto round trips from this process: GetItem p50 {:.2} ms, SendMessage p50 {:.2} ms",
        moto_lat.0 .0, moto_lat.1 .0
    );
    let tls = awsfake::tls_setup(Path::new("target/bench/tls"))?;
    let mut fns = vec![];
    for f in FUNCTIONS {
        if args
            .only
            .as_ref()
            .is_some_and(|o| !o.iter().any(|n| n == f.name))
        {
            continue;
        }
        let exe = args.bin_dir.join(f.name);
        anyhow::ensure!(
            exe.is_file(),
            "{} not found: build the functions first (scripts/bench.sh does)",
            exe.display()
        );
        let p = Program {
            name: f.name.to_string(),
            exe: std::fs::canonicalize(&exe)?,
            args: vec![],
            cwd: None,
            env: {
                let mut e = base_env(f.name, aws, args, stubs);
                e.push(("_HANDLER".into(), "bootstrap".into()));
                // One bundle of roots (the system's and the stand-in's CA), as Lambda's
                // images have one bundle file.
                e.push(("SSL_CERT_FILE".into(), tls.1.display().to_string()));
                e
            },
        };
        eprintln!("==> {} ({}), AWS SDK against moto", f.name, f.route);
        let log = logs.join(format!("{}.log", f.name));
        let _ = std::fs::remove_file(&log);
        let bursts = [("ack", f.event)];
        let moto = measure(&p, samples, f.event, &bursts, args, &log, Some(aws)).await?;
        eprintln!(
            "==> {}, AWS SDK against the instant stand-in (own time)",
            f.name
        );
        let fake = awsfake::FakeAws::start(
            awsfake::scan_moto(&args.moto, &aws.table).await?,
            Some(tls.0.clone()),
        )
        .await?;
        let mut own_p = p.clone();
        for (k, v) in own_p.env.iter_mut() {
            if k == "AWS_ENDPOINT_URL" {
                *v = fake.url();
            }
        }
        let own = measure(&own_p, samples, f.event, &bursts, args, &log, None).await?;
        let stub_unsupported: Vec<String> = fake
            .ops()
            .into_iter()
            .filter(|(k, _)| k.starts_with("unsupported:"))
            .map(|(k, n)| format!("{k} x{n}"))
            .collect();
        if !stub_unsupported.is_empty() {
            eprintln!("  the stand-in was asked for {stub_unsupported:?}");
        }
        fns.push(FnResult {
            name: f.name.into(),
            route: f.route.into(),
            moto,
            own: Some(own),
            stub_unsupported,
            reps: args.reps,
        });
    }
    let bolt = match &args.bolt {
        Some(dir) if dir.join("node_modules/@slack/bolt").is_dir() => {
            let node = which("node").context("node not found on PATH (the Bolt peer needs it)")?;
            let p = Program {
                name: "bolt-peer".into(),
                exe: node,
                args: vec!["runtime.js".into()],
                cwd: Some(std::fs::canonicalize(dir)?),
                env: {
                    let mut e = base_env("bolt-peer", aws, args, stubs);
                    e.push(("_HANDLER".into(), "app.handler".into()));
                    e.push(("NODE_ENV".into(), "production".into()));
                    e
                },
            };
            eprintln!("==> Bolt for JavaScript peer (AwsLambdaReceiver, node runtime loop)");
            let log = logs.join("bolt-peer.log");
            let _ = std::fs::remove_file(&log);
            let phase = measure(
                &p,
                samples,
                Samples::slash_away,
                &[
                    ("slash command", Samples::slash_away),
                    ("event", Samples::slack_thread_reply),
                    ("action", Samples::claim),
                ],
                args,
                &log,
                None,
            )
            .await?;
            Some(FnResult {
                name: "bolt-peer".into(),
                route: "/slack/commands, /slack/events and /slack/interactions".into(),
                moto: phase,
                own: None,
                stub_unsupported: vec![],
                reps: args.reps,
            })
        }
        Some(dir) => {
            eprintln!(
                "==> Bolt peer skipped: {} has no node_modules (cd {} && npm ci)",
                dir.display(),
                dir.display()
            );
            None
        }
        None => None,
    };
    Ok((fns, bolt, moto_lat))
}

/// `lambda-bench tls-check`: the Slack/HubSpot client (`shared::app::http_client`, whose
/// verifier loads the roots on first use) trusts what `SSL_CERT_FILE` names and refuses a
/// certificate from elsewhere.
async fn tls_check() -> anyhow::Result<()> {
    let dir = Path::new("target/bench/tls");
    let (cfg, bundle) = awsfake::tls_setup(dir)?;
    let fake = awsfake::FakeAws::start(vec![], Some(cfg)).await?;
    // Trusted when SSL_CERT_FILE names a bundle holding this run's CA.
    let ca = std::fs::read_to_string(dir.join("ca.pem"))?;
    let trusted = std::env::var("SSL_CERT_FILE")
        .ok()
        .and_then(|f| std::fs::read_to_string(f).ok())
        .is_some_and(|b| b.contains(ca.trim()));
    let client = shared::app::http_client()?;
    let res = client.post(fake.url()).body("{}").send().await;
    match (trusted, res) {
        (true, Ok(r)) => {
            println!("trusted CA: HTTPS answered {}", r.status());
            Ok(())
        }
        (false, Err(e)) => {
            println!("CA not trusted: refused as it should be ({e:?})");
            Ok(())
        }
        (true, Err(e)) => anyhow::bail!("with SSL_CERT_FILE={}: {e:?}", bundle.display()),
        (false, Ok(r)) => anyhow::bail!("an untrusted certificate was accepted ({})", r.status()),
    }
}
