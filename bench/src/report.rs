//! The benchmark's table: markdown for docs/benchmarks.md (written between the
//! `<!-- bench:begin -->` and `<!-- bench:end -->` markers, so the analysis around it stays)
//! and JSON for comparing runs.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::counts::{Ops, Row};
use crate::{FnResult, Phase};

pub const BEGIN: &str = "<!-- bench:begin -->";
pub const END: &str = "<!-- bench:end -->";

/// Targets the design aims at.
pub const COLD_MS: f64 = 50.0;
pub const WARM_P99_MS: f64 = 10.0;
pub const RSS_MB: f64 = 40.0;
pub const ZIP_MB: f64 = 6.0;

/// One artifact: `name<TAB>arch<TAB>binary bytes<TAB>zip bytes` per line of the sizes file.
pub struct Size {
    pub name: String,
    pub arch: String,
    pub binary: u64,
    pub zip: u64,
}

pub fn read_sizes(p: &Path) -> anyhow::Result<Vec<Size>> {
    let text = std::fs::read_to_string(p)?;
    let mut out = vec![];
    for line in text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let f: Vec<&str> = line.split('\t').collect();
        anyhow::ensure!(f.len() == 4, "{}: bad line {line:?}", p.display());
        out.push(Size {
            name: f[0].into(),
            arch: f[1].into(),
            binary: f[2].parse()?,
            zip: f[3].parse()?,
        });
    }
    Ok(out)
}

pub struct Report {
    pub label: String,
    pub reps: usize,
    pub burst: usize,
    pub burst_reps: usize,
    pub fns: Vec<FnResult>,
    pub bolt: Option<FnResult>,
    pub moto_lat: ((f64, f64), (f64, f64)),
    pub calls: Option<Vec<Row>>,
    pub sizes: Vec<Size>,
    pub elapsed: Duration,
    /// /proc/loadavg at the start and at the end (the machine may be shared).
    pub load: (String, String),
}

/// The 1-, 5- and 15-minute load averages.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}

fn mb_from_mib(mib: f64) -> f64 {
    mib * 1024.0 * 1024.0 / 1e6
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "yes"
    } else {
        "**no**"
    }
}

fn ops(o: &Ops) -> String {
    let names = ["get", "put", "delete", "query", "index query", "transact"];
    let parts: Vec<String> = o
        .iter()
        .zip(names)
        .filter(|(n, _)| **n > 0)
        .map(|(n, name)| format!("{n} {name}"))
        .collect();
    if parts.is_empty() {
        "0".into()
    } else {
        format!("{} ({})", o.iter().sum::<u64>(), parts.join(", "))
    }
}

fn calls(m: &std::collections::BTreeMap<String, u64>) -> String {
    if m.is_empty() {
        return "0".into();
    }
    let total: u64 = m.values().sum();
    let parts: Vec<String> = m.iter().map(|(k, v)| format!("{v}× `{k}`")).collect();
    format!("{total}: {}", parts.join(", "))
}

fn cmd(prog: &str, arg: &str) -> String {
    std::process::Command::new(prog)
        .arg(arg)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "?".into())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_else(|| "?".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map(|kib| format!("{:.0} GiB", kib / 1024.0 / 1024.0))
        .unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!(
        "{cores} cores ({cpu}), {mem}, {} (x86_64 binaries run here), node {}",
        cmd("rustc", "--version"),
        cmd("node", "--version")
    )
}

impl Report {
    fn size(&self, name: &str) -> Option<&Size> {
        self.sizes.iter().find(|s| s.name == name)
    }

    fn warm(p: &Phase, label: &str) -> Option<(f64, f64)> {
        p.warm
            .iter()
            .find(|(l, _, _)| l == label)
            .map(|(_, a, b)| (*a, *b))
    }

    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let _ = writeln!(s, "{BEGIN}");
        let _ = writeln!(
            s,
            "### Measured (run at unix time {now}, took {:.0} s){}\n",
            self.elapsed.as_secs_f64(),
            if self.label.is_empty() {
                String::new()
            } else {
                format!(": {}", self.label)
            }
        );
        let _ = writeln!(
            s,
            "Machine: {}; load average {} at the start, {} at the end{}.  ",
            machine(),
            self.load.0,
            self.load.1,
            match std::env::var("BENCH_NICE") {
                Ok(n) if !n.is_empty() => format!("; benchmark processes at nice {n}"),
                _ => String::new(),
            }
        );
        let _ = writeln!(
            s,
            "Cold start: median of {} process starts (min–max in brackets), process start to first response; init: to the first poll of the Runtime API. Warm: bursts of {} signed requests, one at a time as one Lambda instance serves them, {} bursts; each figure the median of the bursts' p50 or p99. Peak RSS: VmHWM after a burst (median). MB = 10^6 bytes.  ",
            self.reps, self.burst, self.burst_reps
        );
        let _ = writeln!(
            s,
            "Each function ran twice: with the AWS SDK against **moto** (DynamoDB and SQS in Python, one request at a time; this run's round trips from the benchmark process: GetItem p50 {:.2} ms, p99 {:.2}; SendMessage p50 {:.2} ms, p99 {:.2}), and against an **instant stand-in** answering the same SDK requests at once, over HTTPS as in AWS (**own**: our process's time, TLS set-up included, without any service time). Every function's roots come from one bundle file (`SSL_CERT_FILE`: the system roots and the stand-in's CA). Slack and HubSpot are local stubs (only the delivery worker calls them).\n",
            self.moto_lat.0 .0, self.moto_lat.0 .1, self.moto_lat.1 .0, self.moto_lat.1 .1
        );
        let _ = writeln!(
            s,
            "| function | request | cold start, own (ms) | init, own (ms) | cold start, moto (ms) | warm p50 / p99, own (ms) | warm p50 / p99, moto (ms) | peak RSS (MB) | zipped artifact (MB) |"
        );
        let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|---:|");
        for f in &self.fns {
            let size = self
                .size(&f.name)
                .map(|z| format!("{:.2} ({}; binary {:.2})", mb(z.zip), z.arch, mb(z.binary)))
                .unwrap_or_else(|| "–".into());
            let own = f.own.as_ref();
            let w = |p: Option<&Phase>| {
                p.and_then(|p| Self::warm(p, "ack"))
                    .map(|(a, b)| format!("{a:.2} / {b:.2}"))
                    .unwrap_or_else(|| "–".into())
            };
            let rss = own
                .map(|o| o.peak_rss_mib.max(f.moto.peak_rss_mib))
                .unwrap_or(f.moto.peak_rss_mib);
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {:.1} ({:.1}–{:.1}) | {} | {} | {:.1} | {} |",
                f.name,
                f.route,
                own.map(|o| format!(
                    "{:.1} ({:.1}–{:.1})",
                    o.cold_ms, o.cold_min_ms, o.cold_max_ms
                ))
                .unwrap_or_else(|| "–".into()),
                own.map(|o| format!("{:.1}", o.init_ms))
                    .unwrap_or_else(|| "–".into()),
                f.moto.cold_ms,
                f.moto.cold_min_ms,
                f.moto.cold_max_ms,
                w(own),
                w(Some(&f.moto)),
                mb_from_mib(rss),
                size
            );
        }
        if let Some(b) = &self.bolt {
            let size = self
                .size("bolt-peer")
                .map(|z| {
                    format!(
                        "{:.2} (app + node_modules; unzipped {:.2})",
                        mb(z.zip),
                        mb(z.binary)
                    )
                })
                .unwrap_or_else(|| "–".into());
            for (i, (label, p50, p99)) in b.moto.warm.iter().enumerate() {
                let first = i == 0;
                let _ = writeln!(
                    s,
                    "| {} | {label} | {} | {} | (no AWS calls) | {p50:.2} / {p99:.2} | (no AWS calls) | {} | {} |",
                    if first { "Bolt peer" } else { "" },
                    if first {
                        format!("{:.1} ({:.1}–{:.1})", b.moto.cold_ms, b.moto.cold_min_ms, b.moto.cold_max_ms)
                    } else {
                        String::new()
                    },
                    if first { format!("{:.1}", b.moto.init_ms) } else { String::new() },
                    if first { format!("{:.1}", mb_from_mib(b.moto.peak_rss_mib)) } else { String::new() },
                    if first { size.clone() } else { String::new() },
                );
            }
        }
        let unsupported: Vec<String> = self
            .fns
            .iter()
            .filter(|f| !f.stub_unsupported.is_empty())
            .map(|f| format!("{}: {}", f.name, f.stub_unsupported.join(", ")))
            .collect();
        if !unsupported.is_empty() {
            let _ = writeln!(
                s,
                "\nThe stand-in refused some calls (those figures take an error path): {}",
                unsupported.join("; ")
            );
        }
        if let Some(b) = &self.bolt {
            let _ = writeln!(
                s,
                "\n**Side by side with the Bolt peer** (ours ÷ Bolt; below 1 means ours is smaller or faster; Bolt's acknowledgement writes nothing and queues nothing, ours checks the store and queues the work):\n"
            );
            let _ = writeln!(
                s,
                "| figure | ours, own | ours, moto | Bolt | ratio own | ratio moto |"
            );
            let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|");
            let mut row = |name: &str,
                           own: Option<f64>,
                           moto: Option<f64>,
                           theirs: Option<f64>,
                           unit: &str| {
                let Some(t) = theirs else { return };
                let f = |v: Option<f64>| {
                    v.map(|v| format!("{v:.2} {unit}"))
                        .unwrap_or_else(|| "–".into())
                };
                let r = |v: Option<f64>| {
                    v.map(|v| format!("{:.3}", v / t))
                        .unwrap_or_else(|| "–".into())
                };
                let _ = writeln!(
                    s,
                    "| {name} | {} | {} | {t:.2} {unit} | {} | {} |",
                    f(own),
                    f(moto),
                    r(own),
                    r(moto)
                );
            };
            let cmdf = self.fns.iter().find(|f| f.name == "slash-commands");
            let evf = self.fns.iter().find(|f| f.name == "slack-events");
            let actf = self.fns.iter().find(|f| f.name == "interactivity");
            let own = |f: Option<&FnResult>| f.and_then(|f| f.own.clone());
            row(
                "cold start, slash command (slash-commands)",
                own(cmdf).map(|o| o.cold_ms),
                cmdf.map(|f| f.moto.cold_ms),
                Some(b.moto.cold_ms),
                "ms",
            );
            row(
                "init (process start to first poll)",
                own(cmdf).map(|o| o.init_ms),
                cmdf.map(|f| f.moto.init_ms),
                Some(b.moto.init_ms),
                "ms",
            );
            for (name, which, fnr, label) in [
                ("warm p50, slash command", 0, cmdf, "slash command"),
                ("warm p99, slash command", 1, cmdf, "slash command"),
                ("warm p50, message event (slack-events)", 0, evf, "event"),
                ("warm p99, message event (slack-events)", 1, evf, "event"),
                ("warm p50, Claim button (interactivity)", 0, actf, "action"),
                ("warm p99, Claim button (interactivity)", 1, actf, "action"),
            ] {
                let pick = |w: Option<(f64, f64)>| w.map(|w| if which == 0 { w.0 } else { w.1 });
                row(
                    name,
                    pick(own(fnr).as_ref().and_then(|o| Self::warm(o, "ack"))),
                    pick(fnr.and_then(|f| Self::warm(&f.moto, "ack"))),
                    pick(Self::warm(&b.moto, label)),
                    "ms",
                );
            }
            row(
                "peak RSS (slash-commands)",
                own(cmdf).map(|o| mb_from_mib(o.peak_rss_mib)),
                cmdf.map(|f| mb_from_mib(f.moto.peak_rss_mib)),
                Some(mb_from_mib(b.moto.peak_rss_mib)),
                "MB",
            );
            row(
                "zipped artifact (slash-commands; Bolt: app + node_modules)",
                self.size("slash-commands").map(|z| mb(z.zip)),
                None,
                self.size("bolt-peer").map(|z| mb(z.zip)),
                "MB",
            );
        }
        // Targets.
        let _ = writeln!(
            s,
            "\n**Against the targets** (the worst of our functions):\n"
        );
        let _ = writeln!(s, "| target | own | with moto | met (own) |");
        let _ = writeln!(s, "|---|---|---|---|");
        let worst = |v: Vec<(String, f64)>| {
            v.into_iter()
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap_or(("–".into(), f64::NAN))
        };
        let pair = |own: (String, f64), moto: (String, f64), unit: &str, limit: f64| {
            format!(
                "{}: {:.2} {unit} | {}: {:.2} {unit} | {} |",
                own.0,
                own.1,
                moto.0,
                moto.1,
                mark(own.1 < limit)
            )
        };
        let cold_own = worst(
            self.fns
                .iter()
                .filter_map(|f| f.own.as_ref().map(|o| (f.name.clone(), o.cold_ms)))
                .collect(),
        );
        let cold_moto = worst(
            self.fns
                .iter()
                .map(|f| (f.name.clone(), f.moto.cold_ms))
                .collect(),
        );
        let _ = writeln!(
            s,
            "| cold start < {COLD_MS} ms | {}",
            pair(cold_own, cold_moto, "ms", COLD_MS)
        );
        let http = || self.fns.iter().filter(|f| f.name != "delivery-worker");
        let p99_own = worst(
            http()
                .filter_map(|f| {
                    f.own
                        .as_ref()
                        .and_then(|o| Self::warm(o, "ack"))
                        .map(|w| (f.name.clone(), w.1))
                })
                .collect(),
        );
        let p99_moto = worst(
            http()
                .filter_map(|f| Self::warm(&f.moto, "ack").map(|w| (f.name.clone(), w.1)))
                .collect(),
        );
        let _ = writeln!(
            s,
            "| warm ack p99 < {WARM_P99_MS} ms (HTTP functions) | {}",
            pair(p99_own, p99_moto, "ms", WARM_P99_MS)
        );
        let rss_own = worst(
            self.fns
                .iter()
                .filter_map(|f| {
                    f.own
                        .as_ref()
                        .map(|o| (f.name.clone(), mb_from_mib(o.peak_rss_mib)))
                })
                .collect(),
        );
        let rss_moto = worst(
            self.fns
                .iter()
                .map(|f| (f.name.clone(), mb_from_mib(f.moto.peak_rss_mib)))
                .collect(),
        );
        let _ = writeln!(
            s,
            "| peak RSS < {RSS_MB} MB | {}",
            pair(rss_own, rss_moto, "MB", RSS_MB)
        );
        let zips: Vec<(String, f64)> = self
            .fns
            .iter()
            .filter_map(|f| {
                self.size(&f.name)
                    .map(|z| (format!("{} ({})", f.name, z.arch), mb(z.zip)))
            })
            .collect();
        if !zips.is_empty() {
            let (n, v) = worst(zips);
            let _ = writeln!(
                s,
                "| zipped artifact < {ZIP_MB} MB | {n}: {v:.2} MB | (same) | {} |",
                mark(v < ZIP_MB)
            );
        }
        if let Some(rows) = &self.calls {
            let _ = writeln!(
                s,
                "\n**Store and API calls per event** (counted: the edge handler, then each job it queued, in process against a counting store and wiremock Slack/HubSpot; single-workspace install):\n"
            );
            let _ = writeln!(
                s,
                "| event | edge: status, store calls | queued | worker: store calls | Slack API calls | HubSpot API calls |"
            );
            let _ = writeln!(s, "|---|---|---|---|---|---|");
            for r in rows {
                let _ = writeln!(
                    s,
                    "| {} | {}, {} | {} | {} | {} | {} |",
                    r.event,
                    r.edge_status,
                    ops(&r.edge_store),
                    if r.queued.is_empty() {
                        "–".to_string()
                    } else {
                        r.queued.join(", ")
                    },
                    ops(&r.worker_store),
                    calls(&r.slack),
                    calls(&r.hubspot),
                );
                if !r.worker_errors.is_empty() {
                    let _ = writeln!(
                        s,
                        "| ↳ job errors | {} | | | | |",
                        r.worker_errors.join("; ")
                    );
                }
            }
        }
        let _ = writeln!(s, "{END}");
        s
    }

    pub fn json(&self) -> Value {
        let phase = |p: &Phase| {
            json!({
                "cold_ms": p.cold_ms, "cold_min_ms": p.cold_min_ms, "cold_max_ms": p.cold_max_ms,
                "init_ms": p.init_ms, "first_invoke_ms": p.first_invoke_ms,
                "cold_rss_mib": p.cold_rss_mib, "peak_rss_mib": p.peak_rss_mib,
                "warm": p.warm.iter().map(|(l, a, b)| json!({"label": l, "p50_ms": a, "p99_ms": b})).collect::<Vec<_>>(),
            })
        };
        let f = |f: &FnResult| {
            json!({
                "name": f.name, "route": f.route, "reps": f.reps,
                "moto": phase(&f.moto), "own": f.own.as_ref().map(phase),
                "stub_unsupported": f.stub_unsupported,
            })
        };
        json!({
            "label": self.label,
            "burst": self.burst,
            "burst_reps": self.burst_reps,
            "functions": self.fns.iter().map(f).collect::<Vec<_>>(),
            "bolt": self.bolt.as_ref().map(f),
            "moto": {"get_p50_ms": self.moto_lat.0 .0, "get_p99_ms": self.moto_lat.0 .1,
                     "send_p50_ms": self.moto_lat.1 .0, "send_p99_ms": self.moto_lat.1 .1},
            "sizes": self.sizes.iter().map(|z| json!({"name": z.name, "arch": z.arch, "binary": z.binary, "zip": z.zip})).collect::<Vec<_>>(),
            "calls": self.calls.as_ref().map(|rows| rows.iter().map(|r| json!({
                "event": r.event, "edge_status": r.edge_status, "edge_store": r.edge_store,
                "queued": r.queued, "worker_store": r.worker_store, "slack": r.slack, "hubspot": r.hubspot,
                "worker_errors": r.worker_errors,
            })).collect::<Vec<_>>()),
        })
    }
}

/// Replaces the text between the markers in `path` (or appends it; or creates the file).
pub fn write_into(path: &Path, section: &str) -> anyhow::Result<()> {
    let section = section.trim_end();
    let new = match std::fs::read_to_string(path) {
        Ok(old) => match (old.find(BEGIN), old.find(END)) {
            (Some(b), Some(e)) if e > b => {
                format!("{}{}{}", &old[..b], section, &old[e + END.len()..])
            }
            _ => format!("{}\n\n{section}\n", old.trim_end()),
        },
        Err(_) => format!("# Benchmarks\n\nWritten by `scripts/bench.sh`.\n\n{section}\n"),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, new)?;
    Ok(())
}
