//! The HubSpot app as code (hubspot-app/, HubSpot's 2026 project format,
//! contracts/hubspot-platform-2026.md): the scopes there are exactly the ones the code asks
//! for, the webhook target and redirect are routes the template declares, every subscribed
//! event is one the code acts on, and scripts/hubspot-project.sh fills the URLs from the
//! stack's outputs. HubSpot's own parsing library reads the same files in scripts/test.sh.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use shared::edge::inbound::{parse_hubspot_batch, HubSpotAction};
use shared::flows::connect::{HUBSPOT_OPTIONAL_SCOPES, HUBSPOT_SCOPES};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const BASE: &str = "https://abc123.execute-api.eu-west-1.amazonaws.com";

fn read(path: &str) -> Value {
    let text =
        std::fs::read_to_string(format!("{ROOT}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().expect("a string").to_string())
        .collect()
}

fn path_of(url: &Value) -> String {
    let u = url.as_str().expect("a URL");
    let rest = u.strip_prefix("https://").expect("an https URL");
    rest[rest.find('/').expect("a path")..].to_string()
}

fn route_declared(path: &str, method: &str) -> bool {
    let served = shared::edge::routes::routes()
        .iter()
        .any(|r| r.path == path && r.method.as_str() == method);
    let template = std::fs::read_to_string(format!("{ROOT}/template.yaml")).unwrap();
    served && template.contains(&format!("Path: {path}"))
}

#[test]
fn both_projects_ask_for_exactly_the_scopes_the_code_asks_for() {
    let code: BTreeSet<String> = HUBSPOT_SCOPES.iter().map(|s| s.to_string()).collect();
    let optional: BTreeSet<String> = HUBSPOT_OPTIONAL_SCOPES
        .iter()
        .map(|s| s.to_string())
        .collect();
    for variant in ["oauth", "static"] {
        let app = read(&format!("hubspot-app/{variant}/src/app/app-hsmeta.json"));
        let auth = &app["config"]["auth"];
        assert_eq!(strings(&auth["requiredScopes"]), code, "{variant}");
        assert_eq!(strings(&auth["optionalScopes"]), optional, "{variant}");
    }
}

#[test]
fn the_projects_follow_the_platform_rules() {
    let uid_ok = |u: &str| {
        (1..=64).contains(&u.len())
            && u.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    };
    for variant in ["oauth", "static"] {
        let dir = format!("hubspot-app/{variant}");
        let project = read(&format!("{dir}/hsproject.json"));
        assert_eq!(project["platformVersion"], "2026.03");
        let src = project["srcDir"].as_str().unwrap();
        assert!(std::path::Path::new(&format!("{ROOT}/{dir}/{src}/app")).is_dir());
        let app = read(&format!("{dir}/src/app/app-hsmeta.json"));
        let hooks = read(&format!("{dir}/src/app/webhooks/webhooks-hsmeta.json"));
        assert_eq!(app["type"], "app");
        assert_eq!(hooks["type"], "webhooks");
        for c in [&app, &hooks] {
            assert!(uid_ok(c["uid"].as_str().unwrap()), "{}", c["uid"]);
        }
        assert_ne!(app["uid"], hooks["uid"]);
        let (auth, distribution) = (&app["config"]["auth"], &app["config"]["distribution"]);
        match variant {
            // Installs in many accounts: OAuth, listed on the marketplace.
            "oauth" => {
                assert_eq!(auth["type"], "oauth");
                assert_eq!(distribution, "marketplace");
                let redirects = auth["redirectUrls"].as_array().unwrap();
                assert_eq!(redirects.len(), 1);
                assert!(route_declared(&path_of(&redirects[0]), "GET"));
            }
            // One account: static auth needs private distribution, and has no redirect.
            _ => {
                assert_eq!(auth["type"], "static");
                assert_eq!(distribution, "private");
                assert!(auth.get("redirectUrls").is_none());
            }
        }
        let target = &hooks["config"]["settings"]["targetUrl"];
        assert!(route_declared(&path_of(target), "POST"), "{target}");
    }
}

#[test]
fn every_subscribed_event_is_one_the_code_acts_on() {
    let hooks = read("hubspot-app/oauth/src/app/webhooks/webhooks-hsmeta.json");
    assert_eq!(
        hooks,
        read("hubspot-app/static/src/app/webhooks/webhooks-hsmeta.json")
    );
    let subs = &hooks["config"]["subscriptions"];
    // Conversation events go under hubEvents (their classic names).
    assert_eq!(subs["crmObjects"], json!([]));
    assert_eq!(subs["legacyCrmObjects"], json!([]));
    let got: BTreeSet<(String, String)> = subs["hubEvents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(s["active"], true, "{s}");
            (
                s["subscriptionType"].as_str().unwrap().to_string(),
                s["propertyName"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String)> = [
        ("conversation.creation", ""),
        ("conversation.newMessage", ""),
        ("conversation.propertyChange", "status"),
        ("conversation.propertyChange", "assignedTo"),
        ("conversation.propertyChange", "isArchived"),
        ("conversation.deletion", ""),
        ("conversation.privacyDeletion", ""),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(got, want);
    for (kind, property) in &got {
        let mut e = json!({"portalId": 22761544, "objectId": 3624100517u64, "subscriptionType": kind,
            "eventId": 1, "occurredAt": 1, "attemptNumber": 0});
        if !property.is_empty() {
            e["propertyName"] = json!(property);
            e["propertyValue"] = json!("x");
        }
        let events = parse_hubspot_batch(json!([e]).to_string().as_bytes()).unwrap();
        assert!(
            !matches!(events[0].action(), HubSpotAction::Ignore { .. }),
            "{kind} {property} is subscribed but ignored"
        );
    }
}

fn fill(variant: &str, out: &str, from_stdin: bool) -> std::process::Output {
    let script = format!("{ROOT}/scripts/hubspot-project.sh");
    let sample = format!("{ROOT}/tests/fixtures/describe-stacks.json");
    let mut cmd = std::process::Command::new("bash");
    cmd.arg(&script).arg(variant).arg(out);
    if from_stdin {
        cmd.stdin(std::fs::File::open(&sample).unwrap());
    } else {
        cmd.arg(&sample);
    }
    cmd.output().unwrap()
}

#[test]
fn the_script_fills_the_urls_from_the_stack_outputs() {
    let tmp = std::env::temp_dir().join(format!("hs-project-{}", std::process::id()));
    let out = tmp.join("oauth");
    let o = fill("oauth", out.to_str().unwrap(), false);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let app: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("src/app/app-hsmeta.json")).unwrap(),
    )
    .unwrap();
    let hooks: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("src/app/webhooks/webhooks-hsmeta.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        app["config"]["auth"]["redirectUrls"],
        json!([format!("{BASE}/hubspot/oauth/callback")])
    );
    assert_eq!(
        hooks["config"]["settings"]["targetUrl"],
        format!("{BASE}/hubspot/webhook")
    );
    // The rest is the project unchanged.
    let mut original = read("hubspot-app/oauth/src/app/app-hsmeta.json");
    original["config"]["auth"]["redirectUrls"] = app["config"]["auth"]["redirectUrls"].clone();
    assert_eq!(app, original);
    assert!(out.join("hsproject.json").is_file());

    // The static one, from stdin: only the webhook target to fill.
    let out = tmp.join("static");
    let o = fill("static", out.to_str().unwrap(), true);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("hs project install-app"));
    let hooks: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("src/app/webhooks/webhooks-hsmeta.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        hooks["config"]["settings"]["targetUrl"],
        format!("{BASE}/hubspot/webhook")
    );

    // Outputs without the webhook URL: refused, with the output named.
    let bad = std::process::Command::new("bash")
        .arg(format!("{ROOT}/scripts/hubspot-project.sh"))
        .arg("oauth")
        .arg(tmp.join("bad"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(br#"{"Stacks":[{"Outputs":[]}]}"#)?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("HubSpotWebhookUrl"));
    let _ = std::fs::remove_dir_all(&tmp);
}
