//! Runs a function binary (or the Bolt peer) against the Runtime API emulator: cold starts,
//! a warm burst, peak RSS.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::emulator::Emulator;

/// What to start: a program, its arguments, working directory and environment.
#[derive(Clone)]
pub struct Program {
    pub name: String,
    pub exe: PathBuf,
    pub args: Vec<String>,
    pub cwd: Option<PathBuf>,
    pub env: Vec<(String, String)>,
}

pub struct Started {
    pub child: Child,
    pub emu: Emulator,
}

impl Drop for Started {
    fn drop(&mut self) {
        if std::env::var_os("BENCH_WRAP").is_some() {
            // A wrapper (valgrind) writes its report when the program ends: ask politely.
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            for _ in 0..200 {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Peak resident set size (VmHWM) of a process, in KiB.
pub fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// One cold start: the figures of one process's first invocation.
#[derive(Debug, Clone, Copy)]
pub struct Cold {
    /// Process start to its first `next` poll (Lambda's init phase).
    pub init: Duration,
    /// Process start to the first response.
    pub first_response: Duration,
    /// The first invocation alone (hand-over to response).
    pub first_invoke: Duration,
    pub rss_kib: u64,
}

/// Starts `p` against a fresh emulator, with `first` already queued so the first poll is
/// answered at once.
pub async fn start(p: &Program, first: Vec<u8>, log: &Path) -> anyhow::Result<(Started, Cold)> {
    let emu = Emulator::start(&p.name).await?;
    let pending = emu.push(first);
    let out = File::options().create(true).append(true).open(log)?;
    let err = out.try_clone()?;
    // BENCH_WRAP runs the program under another (e.g. `valgrind --tool=callgrind`).
    let wrap: Vec<String> = std::env::var("BENCH_WRAP")
        .map(|w| w.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let mut cmd = match wrap.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(&p.exe);
            c
        }
        None => Command::new(&p.exe),
    };
    let limit = Duration::from_secs(if wrap.is_empty() { 30 } else { 600 });
    cmd.args(&p.args)
        .env_clear()
        .envs(p.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", emu.runtime_api())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    if let Some(d) = &p.cwd {
        cmd.current_dir(d);
    }
    let spawned_at = Instant::now();
    let child = cmd.spawn()?;
    let mut started = Started { child, emu };
    let outcome = match tokio::time::timeout(limit, pending).await {
        Ok(Ok(o)) => o,
        _ => {
            let exited = started.child.try_wait().ok().flatten();
            anyhow::bail!(
                "{}: no first response in {limit:?} (exited: {exited:?}, init error: {:?}); see {}",
                p.name,
                started.emu.init_error(),
                log.display()
            );
        }
    };
    if !outcome.ok {
        anyhow::bail!(
            "{}: the first invocation failed: {}",
            p.name,
            String::from_utf8_lossy(&outcome.body)
        );
    }
    let first_poll = started.emu.first_poll().unwrap_or(outcome.handed_at);
    let cold = Cold {
        init: first_poll.saturating_duration_since(spawned_at),
        first_response: outcome.done_at.saturating_duration_since(spawned_at),
        first_invoke: outcome.latency(),
        rss_kib: vm_hwm_kib(started.child.id()).unwrap_or(0),
    };
    check(&p.name, &outcome.body)?;
    Ok((started, cold))
}

/// The response is what a healthy function answers: an HTTP 200, or an SQS batch with no
/// failed item.
pub fn check(name: &str, body: &[u8]) -> anyhow::Result<()> {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    if let Some(code) = v.get("statusCode") {
        if code.as_u64() != Some(200) {
            anyhow::bail!("{name}: answered {v}");
        }
        return Ok(());
    }
    if let Some(f) = v.get("batchItemFailures") {
        if f.as_array().is_some_and(|a| !a.is_empty()) {
            anyhow::bail!("{name}: failed items {v}");
        }
        return Ok(());
    }
    anyhow::bail!("{name}: unexpected response {v}")
}

/// Warm latencies (hand-over to response) of `n` invocations, one at a time as one Lambda
/// instance serves them.
pub async fn burst(
    s: &Started,
    name: &str,
    n: usize,
    mut make: impl FnMut() -> anyhow::Result<Vec<u8>>,
) -> anyhow::Result<Vec<Duration>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let o = tokio::time::timeout(Duration::from_secs(30), s.emu.push(make()?))
            .await
            .map_err(|_| anyhow::anyhow!("{name}: no response in 30 s"))??;
        if !o.ok {
            anyhow::bail!(
                "{name}: invocation error {}",
                String::from_utf8_lossy(&o.body)
            );
        }
        check(name, &o.body)?;
        out.push(o.latency());
    }
    Ok(out)
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Nearest-rank percentile of unsorted values.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    v[rank.min(v.len()) - 1]
}

pub fn median(values: &[f64]) -> f64 {
    percentile(values, 50.0)
}
