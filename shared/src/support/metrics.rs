//! Metrics in CloudWatch Embedded Metric Format (EMF): one JSON object per line on stdout,
//! which Lambda ships to CloudWatch Logs, where the metrics are extracted. No SDK call, no
//! agent, nothing on the request path but a `println!`.
//!
//! What is emitted (namespace `HubSpotSlackBundle`):
//! - per job run (delivery worker, and the local runner's in-process queue), dimensions
//!   `Function`, `JobKind`: `Deliveries`, `Failures`, `Retries`, `DeadLetters` (counts, 0 or
//!   1 each) and `LatencyMs` (the job's run time);
//! - per HTTP request (the Lambda edge), dimensions `Function`, `Route`: `Requests`,
//!   `ServerErrors` (counts) and `LatencyMs` (the acknowledgement's time in the handler).
//!
//! Ids (conversation, attempt, status) ride along as properties: searchable in Logs
//! Insights, not dimensions (so they cost no metrics). Never a token, a secret or a body.
//!
//! On by default in Lambda (`AWS_LAMBDA_RUNTIME_API` set); elsewhere off unless
//! `METRICS=emf`; `METRICS=off` turns them off anywhere.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use serde_json::{json, Map, Value};

pub const NAMESPACE: &str = "HubSpotSlackBundle";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// One EMF document: a metric directive's dimensions and metrics, and extra properties.
#[derive(Debug, Clone, Default)]
pub struct Emf {
    dims: Vec<(&'static str, String)>,
    metrics: Vec<(&'static str, f64, Unit)>,
    props: Vec<(&'static str, Value)>,
}

impl Emf {
    pub fn new() -> Self {
        Emf::default()
    }

    /// A dimension (its value must be a short, bounded string: each value is a metric).
    pub fn dim(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.dims.push((name, value.into()));
        self
    }

    pub fn metric(mut self, name: &'static str, value: f64, unit: Unit) -> Self {
        self.metrics.push((name, value, unit));
        self
    }

    /// A property: logged with the metrics, not a metric or a dimension.
    pub fn prop(mut self, name: &'static str, value: impl Into<Value>) -> Self {
        self.props.push((name, value.into()));
        self
    }

    /// The document as one line of JSON, stamped `timestamp_ms` (ms since the epoch).
    pub fn to_line(&self, timestamp_ms: i64) -> String {
        let mut root = Map::new();
        // Properties first: dimension and metric members win a name clash.
        for (k, v) in &self.props {
            root.insert((*k).into(), v.clone());
        }
        for (k, v) in &self.dims {
            root.insert((*k).into(), Value::String(v.clone()));
        }
        for (k, v, _) in &self.metrics {
            let n = serde_json::Number::from_f64(*v).unwrap_or_else(|| 0.into());
            root.insert((*k).into(), Value::Number(n));
        }
        let dims: Vec<&str> = self.dims.iter().map(|(k, _)| *k).collect();
        let defs: Vec<Value> = self
            .metrics
            .iter()
            .map(|(k, _, u)| json!({"Name": k, "Unit": u.as_str()}))
            .collect();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [dims],
                    "Metrics": defs,
                }]
            }),
        );
        Value::Object(root).to_string()
    }

    /// Writes the document (one line) where metrics go.
    pub fn emit(&self) {
        let sink = sink();
        if matches!(sink, Sink::Off) && capture().lock().map(|c| c.is_none()).unwrap_or(true) {
            return;
        }
        let line = self.to_line(now_ms());
        if let Ok(mut c) = capture().lock() {
            if let Some(lines) = c.as_mut() {
                lines.push(line);
                return;
            }
        }
        if matches!(sink, Sink::Stdout) {
            println!("{line}");
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sink {
    Stdout,
    Off,
}

fn sink() -> Sink {
    static SINK: OnceLock<Sink> = OnceLock::new();
    *SINK.get_or_init(|| match std::env::var("METRICS").as_deref() {
        Ok("off") => Sink::Off,
        Ok("emf") => Sink::Stdout,
        _ if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() => Sink::Stdout,
        _ => Sink::Off,
    })
}

fn capture() -> &'static Mutex<Option<Vec<String>>> {
    static CAPTURE: Mutex<Option<Vec<String>>> = Mutex::new(None);
    &CAPTURE
}

/// For tests: from now on, metrics lines are kept in memory instead of printed.
#[doc(hidden)]
pub fn capture_start() {
    if let Ok(mut c) = capture().lock() {
        c.get_or_insert_with(Vec::new);
    }
}

/// For tests: the lines kept since `capture_start` (capturing goes on).
#[doc(hidden)]
pub fn captured() -> Vec<String> {
    capture()
        .lock()
        .ok()
        .and_then(|c| c.clone())
        .unwrap_or_default()
}

static FUNCTION: OnceLock<String> = OnceLock::new();

/// Names the function for the `Function` dimension (once per process; later calls are
/// ignored). Unset: `local`.
pub fn set_function(name: &str) {
    let _ = FUNCTION.set(name.to_string());
}

pub fn function() -> &'static str {
    FUNCTION.get().map(String::as_str).unwrap_or("local")
}

/// How one run of a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    /// Done.
    Delivered,
    /// Failed; another attempt will follow.
    Retry,
    /// Failed for good: kept as a dead letter.
    DeadLetter,
    /// Failed; left to the queue (e.g. a message that is not a job).
    Failed,
}

/// One job run: counts of its outcome and its latency.
pub fn job(
    kind: &str,
    conversation: Option<&str>,
    attempt: u32,
    outcome: JobOutcome,
    latency: Duration,
) {
    let one = |b: bool| if b { 1.0 } else { 0.0 };
    let mut m = Emf::new()
        .dim("Function", function())
        .dim("JobKind", kind)
        .metric(
            "Deliveries",
            one(outcome == JobOutcome::Delivered),
            Unit::Count,
        )
        .metric(
            "Failures",
            one(outcome != JobOutcome::Delivered),
            Unit::Count,
        )
        .metric("Retries", one(outcome == JobOutcome::Retry), Unit::Count)
        .metric(
            "DeadLetters",
            one(outcome == JobOutcome::DeadLetter),
            Unit::Count,
        )
        .metric("LatencyMs", ms(latency), Unit::Milliseconds)
        .prop("attempt", attempt);
    if let Some(c) = conversation {
        m = m.prop("conversation", c);
    }
    m.emit();
}

/// One HTTP request at the edge: `route` is the matched route's path (or `unmatched`).
pub fn request(route: &str, status: u16, latency: Duration) {
    Emf::new()
        .dim("Function", function())
        .dim("Route", route)
        .metric("Requests", 1.0, Unit::Count)
        .metric(
            "ServerErrors",
            if status >= 500 { 1.0 } else { 0.0 },
            Unit::Count,
        )
        .metric("LatencyMs", ms(latency), Unit::Milliseconds)
        .prop("status", status)
        .emit();
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The units CloudWatch accepts (EMF MetricDefinition `Unit`).
    const UNITS: &[&str] = &[
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    ];

    fn only_keys(o: &Map<String, Value>, allowed: &[&str], what: &str) {
        for k in o.keys() {
            assert!(
                allowed.contains(&k.as_str()),
                "{what} has a member {k} the spec does not define"
            );
        }
    }

    /// Checks a line against the EMF specification: the root is a JSON object with `_aws`
    /// holding `Timestamp` (ms) and `CloudWatchMetrics` (MetricDirectives); each directive
    /// has a `Namespace`, `Dimensions` (arrays of at most 30 names, each naming a root
    /// member with a string value) and `Metrics` (at most 100 definitions, each `Name`
    /// naming a root member with a number or an array of at most 100 numbers, `Unit` one of
    /// CloudWatch's, `StorageResolution` 1 or 60); objects the spec defines carry no other
    /// member. Returns the root.
    fn check_emf(line: &str) -> Map<String, Value> {
        assert!(!line.contains('\n'), "one line");
        assert!(line.len() < 256 * 1024, "under the log event size limit");
        let root: Value = serde_json::from_str(line).expect("valid JSON");
        let root = root.as_object().expect("a JSON object").clone();
        let aws = root["_aws"].as_object().expect("_aws is an object");
        only_keys(
            aws,
            &["Timestamp", "CloudWatchMetrics", "LogGroupName"],
            "_aws",
        );
        let ts = aws["Timestamp"]
            .as_i64()
            .expect("Timestamp is an integer (ms)");
        assert!(
            ts > 1_500_000_000_000,
            "Timestamp is in milliseconds since the epoch"
        );
        let directives = aws["CloudWatchMetrics"]
            .as_array()
            .expect("CloudWatchMetrics is an array");
        assert!(!directives.is_empty());
        for d in directives {
            let d = d.as_object().expect("MetricDirective is an object");
            only_keys(
                d,
                &["Namespace", "Dimensions", "Metrics"],
                "MetricDirective",
            );
            let ns = d["Namespace"].as_str().expect("Namespace is a string");
            assert!(!ns.is_empty() && ns.len() <= 255 && !ns.starts_with(':'));
            for set in d["Dimensions"].as_array().expect("Dimensions is an array") {
                let set = set.as_array().expect("a DimensionSet is an array");
                assert!(set.len() <= 30, "at most 30 dimensions per set");
                for k in set {
                    let k = k.as_str().expect("dimension names are strings");
                    let v = root
                        .get(k)
                        .unwrap_or_else(|| panic!("dimension {k} has no root member"));
                    let v = v
                        .as_str()
                        .unwrap_or_else(|| panic!("dimension {k}'s value is not a string"));
                    assert!(
                        !v.is_empty() && v.len() <= 1024 && v.is_ascii(),
                        "dimension value {v:?}"
                    );
                }
            }
            let metrics = d["Metrics"].as_array().expect("Metrics is an array");
            assert!(metrics.len() <= 100, "at most 100 metrics per directive");
            for m in metrics {
                let m = m.as_object().expect("MetricDefinition is an object");
                only_keys(
                    m,
                    &["Name", "Unit", "StorageResolution"],
                    "MetricDefinition",
                );
                let name = m["Name"].as_str().expect("Name is a string");
                match root
                    .get(name)
                    .unwrap_or_else(|| panic!("metric {name} has no root member"))
                {
                    Value::Number(_) => {}
                    Value::Array(a) => {
                        assert!(
                            a.len() <= 100 && a.iter().all(Value::is_number),
                            "metric {name}"
                        )
                    }
                    other => panic!("metric {name} is {other}, not a number"),
                }
                if let Some(u) = m.get("Unit") {
                    assert!(
                        UNITS.contains(&u.as_str().expect("Unit is a string")),
                        "unit {u}"
                    );
                }
                if let Some(r) = m.get("StorageResolution") {
                    assert!(r == 1 || r == 60, "StorageResolution {r}");
                }
            }
        }
        root
    }

    #[test]
    fn a_document_follows_the_emf_spec() {
        let line = Emf::new()
            .dim("Function", "delivery-worker")
            .dim("JobKind", "sync_conversation")
            .metric("Deliveries", 1.0, Unit::Count)
            .metric("LatencyMs", 12.5, Unit::Milliseconds)
            .prop("conversation", "3624100517")
            .to_line(1_795_000_000_000);
        let root = check_emf(&line);
        assert_eq!(root["Function"], "delivery-worker");
        assert_eq!(root["JobKind"], "sync_conversation");
        assert_eq!(root["Deliveries"], 1.0);
        assert_eq!(root["LatencyMs"], 12.5);
        assert_eq!(root["conversation"], "3624100517");
        let d = &root["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(d["Namespace"], NAMESPACE);
        assert_eq!(d["Dimensions"], json!([["Function", "JobKind"]]));
        assert_eq!(
            d["Metrics"],
            json!([{"Name": "Deliveries", "Unit": "Count"}, {"Name": "LatencyMs", "Unit": "Milliseconds"}])
        );
        assert_eq!(root["_aws"]["Timestamp"], 1_795_000_000_000i64);
    }

    #[test]
    fn a_property_cannot_shadow_a_metric_or_a_dimension() {
        let line = Emf::new()
            .dim("Function", "f")
            .metric("LatencyMs", 3.0, Unit::Milliseconds)
            .prop("Function", "other")
            .prop("LatencyMs", "slow")
            .to_line(1_795_000_000_000);
        let root = check_emf(&line);
        assert_eq!(root["Function"], "f");
        assert_eq!(root["LatencyMs"], 3.0);
    }

    #[test]
    fn job_and_request_lines_follow_the_spec_and_carry_no_secret() {
        capture_start();
        job(
            "metrics_test_kind",
            Some("3624100599"),
            2,
            JobOutcome::Retry,
            Duration::from_micros(1500),
        );
        request("/metrics-test-route", 503, Duration::from_millis(4));
        let lines = captured();
        let j = lines
            .iter()
            .find(|l| l.contains("metrics_test_kind"))
            .expect("the job line");
        let root = check_emf(j);
        assert_eq!(root["Deliveries"], 0.0);
        assert_eq!(root["Failures"], 1.0);
        assert_eq!(root["Retries"], 1.0);
        assert_eq!(root["DeadLetters"], 0.0);
        assert_eq!(root["LatencyMs"], 1.5);
        assert_eq!(root["attempt"], 2);
        assert_eq!(root["conversation"], "3624100599");
        assert_eq!(
            root["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function", "JobKind"]])
        );
        let r = lines
            .iter()
            .find(|l| l.contains("/metrics-test-route"))
            .expect("the request line");
        let root = check_emf(r);
        assert_eq!(root["Route"], "/metrics-test-route");
        assert_eq!(root["Requests"], 1.0);
        assert_eq!(root["ServerErrors"], 1.0);
        assert_eq!(root["status"], 503);
        assert_eq!(
            root["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function", "Route"]])
        );
    }
}
