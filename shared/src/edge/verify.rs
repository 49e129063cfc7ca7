//! Request signature checks for Slack and HubSpot webhooks.
//!
//! Both checks take the current time as a parameter so fixed vectors can be
//! tested, look at the timestamp window before the HMAC, and compare in
//! constant time (`Mac::verify_slice`). Nothing here logs, and no error
//! carries the expected signature.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::digest::Key;
use hmac::{Hmac, KeyInit, Mac};
use http::HeaderMap;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Largest accepted distance between the request timestamp and now, either side.
pub const MAX_SKEW_SECS: i64 = 300;
const MAX_SKEW_MS: i64 = MAX_SKEW_SECS * 1000;

// HeaderMap names are lowercase; lookups are case-insensitive.
const SLACK_SIGNATURE: &str = "x-slack-signature";
const SLACK_TIMESTAMP: &str = "x-slack-request-timestamp";
const HUBSPOT_SIGNATURE_V3: &str = "x-hubspot-signature-v3";
const HUBSPOT_TIMESTAMP: &str = "x-hubspot-request-timestamp";

const SHA256_LEN: usize = 32;
const SHA256_BLOCK_LEN: usize = 64;

#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
pub enum VerifyError {
    #[error("missing signature header")]
    MissingSignature,
    #[error("missing request timestamp header")]
    MissingTimestamp,
    #[error("request timestamp is not a number")]
    BadTimestamp,
    #[error("request timestamp is too old")]
    Stale,
    #[error("request timestamp is in the future")]
    Future,
    #[error("malformed signature header")]
    BadSignatureFormat,
    #[error("signature mismatch")]
    Mismatch,
}

impl VerifyError {
    /// Short text for a 401 body. The enum serves both providers, so the
    /// header names of both are given; never the expected signature.
    pub fn reason(&self) -> &'static str {
        match self {
            VerifyError::MissingSignature => {
                "missing X-Slack-Signature / X-HubSpot-Signature-v3 header"
            }
            VerifyError::MissingTimestamp => {
                "missing X-Slack-Request-Timestamp / X-HubSpot-Request-Timestamp header"
            }
            VerifyError::BadTimestamp => "request timestamp header is not a valid number",
            VerifyError::Stale => "timestamp outside the 5-minute window (too old)",
            VerifyError::Future => "timestamp outside the 5-minute window (in the future)",
            VerifyError::BadSignatureFormat => "signature header is malformed",
            VerifyError::Mismatch => "signature does not match",
        }
    }
}

// ---------------------------------------------------------------- Slack ----

/// Checks a Slack request. `now_secs` is the current Unix time in seconds.
// contracts/slack.md: base string `v0:{ts}:{raw body}`, |now - ts| > 300 s rejected.
pub fn verify_slack(
    signing_secret: &[u8],
    headers: &HeaderMap,
    body: &[u8],
    now_secs: i64,
) -> Result<(), VerifyError> {
    let signature = header_text(headers, SLACK_SIGNATURE).ok_or(VerifyError::MissingSignature)?;
    let ts_text = header_text(headers, SLACK_TIMESTAMP).ok_or(VerifyError::MissingTimestamp)?;
    let ts = parse_timestamp(ts_text)?;
    check_window(ts, now_secs, MAX_SKEW_SECS)?;

    let tag = signature
        .strip_prefix("v0=")
        .filter(|hex_part| hex_part.len() == SHA256_LEN * 2)
        .and_then(|hex_part| hex::decode(hex_part).ok())
        .ok_or(VerifyError::BadSignatureFormat)?;

    // Sign the timestamp exactly as the header spelled it: that is what Slack signed.
    slack_mac(signing_secret, ts_text.as_bytes(), body)
        .verify_slice(&tag)
        .map_err(|_| VerifyError::Mismatch)
}

/// `v0=<hex>` for a body sent at `timestamp` (seconds); for tests and the replay tool.
pub fn sign_slack(signing_secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let ts = timestamp.to_string();
    let tag = slack_mac(signing_secret, ts.as_bytes(), body)
        .finalize()
        .into_bytes();
    format!("v0={}", hex::encode(tag))
}

fn slack_mac(secret: &[u8], ts: &[u8], body: &[u8]) -> HmacSha256 {
    let mut mac = hmac_sha256(secret);
    mac.update(b"v0:");
    mac.update(ts);
    mac.update(b":");
    mac.update(body);
    mac
}

// -------------------------------------------------------------- HubSpot ----

/// Checks a HubSpot v3 webhook. `uri` is the full public URL HubSpot called
/// (scheme, host, path, query in original order); `now_ms` is Unix time in ms.
// contracts/hubspot.md: v3 signature, 5-minute window (300 000 ms; we also reject
// the future side, as for Slack).
pub fn verify_hubspot_v3(
    client_secret: &[u8],
    method: &str,
    uri: &str,
    headers: &HeaderMap,
    body: &[u8],
    now_ms: i64,
) -> Result<(), VerifyError> {
    let signature =
        header_text(headers, HUBSPOT_SIGNATURE_V3).ok_or(VerifyError::MissingSignature)?;
    let ts_text = header_text(headers, HUBSPOT_TIMESTAMP).ok_or(VerifyError::MissingTimestamp)?;
    let ts = parse_timestamp(ts_text)?;
    check_window(ts, now_ms, MAX_SKEW_MS)?;

    let tag = BASE64
        .decode(signature)
        .ok()
        .filter(|tag| tag.len() == SHA256_LEN)
        .ok_or(VerifyError::BadSignatureFormat)?;

    let matches = |u: &str| {
        hubspot_v3_mac(client_secret, method, u, body, ts_text.as_bytes())
            .verify_slice(&tag)
            .is_ok()
    };
    // contracts/hubspot.md: the docs decode some escapes in the URI first, the
    // official SDKs do not; accept either reading.
    let decoded = hubspot_v3_uri(uri);
    if matches(uri) || (decoded != uri && matches(&decoded)) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// base64 v3 signature for `uri` exactly as given (no decoding); for tests and
/// the replay tool.
pub fn sign_hubspot_v3(
    client_secret: &[u8],
    method: &str,
    uri: &str,
    body: &[u8],
    timestamp_ms: i64,
) -> String {
    let ts = timestamp_ms.to_string();
    let tag = hubspot_v3_mac(client_secret, method, uri, body, ts.as_bytes())
        .finalize()
        .into_bytes();
    BASE64.encode(tag)
}

// contracts/hubspot.md: v3 source string = method + uri + body + timestamp, no separators.
fn hubspot_v3_mac(secret: &[u8], method: &str, uri: &str, body: &[u8], ts: &[u8]) -> HmacSha256 {
    let mut mac = hmac_sha256(secret);
    mac.update(method.as_bytes());
    mac.update(uri.as_bytes());
    mac.update(body);
    mac.update(ts);
    mac
}

/// Decodes only the percent-escapes HubSpot's docs list for the v3 source
/// string (`%3A : %2F / %3F ? %40 @ %21 ! %24 $ %27 ' %28 ( %29 ) %2A * %2C , %3B ;`,
/// either hex case). Everything else, `%20` and `%25` included, is left as is,
/// and decoded output is never decoded again.
pub fn hubspot_v3_uri(uri: &str) -> String {
    let bytes = uri.as_bytes();
    let mut out = String::with_capacity(uri.len());
    let mut copied = 0; // start of the not-yet-copied slice of `uri`
    let mut i = 0;
    while i + 2 < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(c) = listed_escape(bytes[i + 1], bytes[i + 2]) {
                // '%' is ASCII, so `copied..i` and `i + 3..` are char boundaries.
                out.push_str(&uri[copied..i]);
                out.push(c);
                i += 3;
                copied = i;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&uri[copied..]);
    out
}

fn listed_escape(hi: u8, lo: u8) -> Option<char> {
    let value = (hex_digit(hi)? << 4) | hex_digit(lo)?;
    let c = char::from(value);
    // contracts/hubspot.md: the list of escapes decoded before signing.
    matches!(
        c,
        ':' | '/' | '?' | '@' | '!' | '$' | '\'' | '(' | ')' | '*' | ',' | ';'
    )
    .then_some(c)
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Legacy v1 signature: hex(SHA-256(secret + body)). Compare it with
/// [`constant_time_eq`], not `==`.
// contracts/hubspot.md: v1/v2 are still sent by older app types.
pub fn hubspot_v1_signature(client_secret: &[u8], body: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(client_secret);
    hash.update(body);
    hex::encode(hash.finalize())
}

/// Legacy v2 signature: hex(SHA-256(secret + method + uri + body)). Compare it
/// with [`constant_time_eq`], not `==`.
pub fn hubspot_v2_signature(client_secret: &[u8], method: &str, uri: &str, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(client_secret);
    hash.update(method.as_bytes());
    hash.update(uri.as_bytes());
    hash.update(body);
    hex::encode(hash.finalize())
}

/// Equality whose time depends only on the lengths, for the legacy hex signatures.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

// --------------------------------------------------------------- common ----

/// A header's text, `None` when absent or blank. A value that is not visible
/// ASCII cannot be a valid signature or timestamp, so it counts as absent too.
fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.trim().is_empty())
}

/// Digits only (no sign, no spaces): the signed text must be what was sent.
fn parse_timestamp(text: &str) -> Result<i64, VerifyError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::BadTimestamp);
    }
    text.parse::<i64>().map_err(|_| VerifyError::BadTimestamp)
}

/// Rejects `|now - ts| > max_skew`; exactly `max_skew` either side is accepted.
fn check_window(ts: i64, now: i64, max_skew: i64) -> Result<(), VerifyError> {
    let age = now.saturating_sub(ts);
    if age > max_skew {
        Err(VerifyError::Stale)
    } else if age < -max_skew {
        Err(VerifyError::Future)
    } else {
        Ok(())
    }
}

/// HMAC-SHA256 keyed with `key`. HMAC accepts keys of any length, but
/// `new_from_slice` still returns a `Result`; deriving the block-sized key as
/// RFC 2104 does (hash if longer than a block, then zero-pad) gives the same
/// MAC without a panic path.
fn hmac_sha256(key: &[u8]) -> HmacSha256 {
    let mut block = [0u8; SHA256_BLOCK_LEN];
    if key.len() <= SHA256_BLOCK_LEN {
        block[..key.len()].copy_from_slice(key);
    } else {
        block[..SHA256_LEN].copy_from_slice(&Sha256::digest(key));
    }
    let key: Key<HmacSha256> = block.into();
    <HmacSha256 as KeyInit>::new(&key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{HeaderName, HeaderValue};
    use serde_json::Value;

    const SLACK_VECTORS: &str =
        include_str!("../../../../shared/contracts/slack-signature-vectors.json");
    const HUBSPOT_VECTORS: &str =
        include_str!("../../../../shared/contracts/hubspot-signature-vectors.json");

    fn vectors(text: &str) -> Vec<Value> {
        serde_json::from_str::<Value>(text)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    fn field<'a>(v: &'a Value, name: &str) -> &'a str {
        v[name]
            .as_str()
            .unwrap_or_else(|| panic!("vector field {name}"))
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            // from_bytes lowercases, as hyper does for incoming requests.
            map.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    // ------------------------------------------------------------ Slack --

    struct SlackCase {
        secret: Vec<u8>,
        ts: i64,
        ts_text: String,
        body: Vec<u8>,
        sig: String,
    }

    fn slack_case() -> SlackCase {
        let v = &vectors(SLACK_VECTORS)[0];
        SlackCase {
            secret: field(v, "signing_secret").as_bytes().to_vec(),
            ts: field(v, "timestamp").parse().unwrap(),
            ts_text: field(v, "timestamp").to_string(),
            body: field(v, "body").as_bytes().to_vec(),
            sig: field(v, "expected").to_string(),
        }
    }

    fn slack_headers(sig: &str, ts: &str) -> HeaderMap {
        headers(&[
            ("X-Slack-Signature", sig),
            ("X-Slack-Request-Timestamp", ts),
        ])
    }

    #[test]
    fn slack_vectors_verify_at_their_timestamp() {
        let all = vectors(SLACK_VECTORS);
        assert!(!all.is_empty());
        for v in &all {
            let ts_text = field(v, "timestamp");
            let ts: i64 = ts_text.parse().unwrap();
            let secret = field(v, "signing_secret").as_bytes();
            let body = field(v, "body").as_bytes();
            let expected = field(v, "expected");
            let h = slack_headers(expected, ts_text);
            assert_eq!(verify_slack(secret, &h, body, ts), Ok(()), "{}", v["id"]);
            assert_eq!(sign_slack(secret, ts, body), expected, "{}", v["id"]);
        }
    }

    #[test]
    fn slack_tampering_is_a_mismatch() {
        let c = slack_case();
        let h = slack_headers(&c.sig, &c.ts_text);

        let mut body = c.body.clone();
        body[0] ^= 1;
        assert_eq!(
            verify_slack(&c.secret, &h, &body, c.ts),
            Err(VerifyError::Mismatch)
        );

        let moved = slack_headers(&c.sig, &(c.ts + 1).to_string());
        assert_eq!(
            verify_slack(&c.secret, &moved, &c.body, c.ts),
            Err(VerifyError::Mismatch)
        );

        assert_eq!(
            verify_slack(b"wrong-secret", &h, &c.body, c.ts),
            Err(VerifyError::Mismatch)
        );

        // Same length, last hex digit changed.
        let mut sig = c.sig.clone();
        let last = if sig.ends_with('0') { "1" } else { "0" };
        sig.replace_range(sig.len() - 1.., last);
        let h = slack_headers(&sig, &c.ts_text);
        assert_eq!(
            verify_slack(&c.secret, &h, &c.body, c.ts),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn slack_window() {
        let c = slack_case();
        let h = slack_headers(&c.sig, &c.ts_text);
        let at = |now| verify_slack(&c.secret, &h, &c.body, now);
        assert_eq!(at(c.ts + 300), Ok(()));
        assert_eq!(at(c.ts - 300), Ok(()));
        assert_eq!(at(c.ts + 301), Err(VerifyError::Stale));
        assert_eq!(at(c.ts - 301), Err(VerifyError::Future));
        // No overflow at the extremes.
        assert_eq!(at(i64::MAX), Err(VerifyError::Stale));
        assert_eq!(at(i64::MIN), Err(VerifyError::Future));
    }

    #[test]
    fn slack_window_is_checked_before_the_signature() {
        let c = slack_case();
        let h = slack_headers("v0=zz", &c.ts_text);
        assert_eq!(
            verify_slack(&c.secret, &h, &c.body, c.ts + 301),
            Err(VerifyError::Stale)
        );
    }

    #[test]
    fn slack_missing_headers() {
        let c = slack_case();
        let only_ts = headers(&[("X-Slack-Request-Timestamp", &c.ts_text)]);
        assert_eq!(
            verify_slack(&c.secret, &only_ts, &c.body, c.ts),
            Err(VerifyError::MissingSignature)
        );
        let only_sig = headers(&[("X-Slack-Signature", &c.sig)]);
        assert_eq!(
            verify_slack(&c.secret, &only_sig, &c.body, c.ts),
            Err(VerifyError::MissingTimestamp)
        );
        let blank = slack_headers("", &c.ts_text);
        assert_eq!(
            verify_slack(&c.secret, &blank, &c.body, c.ts),
            Err(VerifyError::MissingSignature)
        );
        assert_eq!(
            verify_slack(&c.secret, &HeaderMap::new(), &c.body, c.ts),
            Err(VerifyError::MissingSignature)
        );
    }

    #[test]
    fn slack_bad_timestamps() {
        let c = slack_case();
        for ts in [
            "abc",
            "-1531420618",
            "+1531420618",
            " 1531420618",
            "1.5",
            "99999999999999999999",
        ] {
            let h = slack_headers(&c.sig, ts);
            assert_eq!(
                verify_slack(&c.secret, &h, &c.body, c.ts),
                Err(VerifyError::BadTimestamp),
                "{ts:?}"
            );
        }
    }

    #[test]
    fn slack_malformed_signatures() {
        let c = slack_case();
        let hex_part = c.sig.strip_prefix("v0=").unwrap();
        let not_hex = format!("v0={}", "g".repeat(64));
        let wrong_prefix = format!("v1={hex_part}");
        let no_prefix = hex_part.to_string();
        let short = format!("v0={}", &hex_part[..62]);
        let long = format!("{}00", c.sig);
        for sig in [
            not_hex,
            wrong_prefix,
            no_prefix,
            short,
            long,
            "v0=".to_string(),
        ] {
            let h = slack_headers(&sig, &c.ts_text);
            assert_eq!(
                verify_slack(&c.secret, &h, &c.body, c.ts),
                Err(VerifyError::BadSignatureFormat),
                "{sig:?}"
            );
        }
    }

    #[test]
    fn slack_header_names_and_hex_case_do_not_matter() {
        let c = slack_case();
        let upper = headers(&[
            ("X-SLACK-SIGNATURE", &c.sig),
            ("X-SLACK-REQUEST-TIMESTAMP", &c.ts_text),
        ]);
        assert_eq!(verify_slack(&c.secret, &upper, &c.body, c.ts), Ok(()));
        let lower = headers(&[
            ("x-slack-signature", &c.sig),
            ("x-slack-request-timestamp", &c.ts_text),
        ]);
        assert_eq!(verify_slack(&c.secret, &lower, &c.body, c.ts), Ok(()));
        let upper_hex = format!("v0={}", c.sig[3..].to_uppercase());
        let h = slack_headers(&upper_hex, &c.ts_text);
        assert_eq!(verify_slack(&c.secret, &h, &c.body, c.ts), Ok(()));
    }

    #[test]
    fn slack_sign_round_trips_on_binary_bodies() {
        // Not UTF-8: the body must be signed as bytes.
        let body = [0xff_u8, 0xfe, b'a', 0x00, 0xc3];
        let ts = 1_700_000_000;
        let sig = sign_slack(b"secret", ts, &body);
        let h = slack_headers(&sig, &ts.to_string());
        assert_eq!(verify_slack(b"secret", &h, &body, ts), Ok(()));
        let lossy = String::from_utf8_lossy(&body).into_owned().into_bytes();
        assert_eq!(
            verify_slack(b"secret", &h, &lossy, ts),
            Err(VerifyError::Mismatch)
        );
    }

    // ---------------------------------------------------------- HubSpot --

    struct HubSpotCase {
        secret: Vec<u8>,
        method: String,
        uri: String,
        body: Vec<u8>,
        ts: i64,
        ts_text: String,
        sig: String,
    }

    fn hubspot_v3_case() -> HubSpotCase {
        let all = vectors(HUBSPOT_VECTORS);
        let v = all.iter().find(|v| v["version"] == "v3").unwrap();
        HubSpotCase {
            secret: field(v, "secret").as_bytes().to_vec(),
            method: field(v, "method").to_string(),
            uri: field(v, "uri").to_string(),
            body: field(v, "body").as_bytes().to_vec(),
            ts: field(v, "timestamp").parse().unwrap(),
            ts_text: field(v, "timestamp").to_string(),
            sig: field(v, "expected").to_string(),
        }
    }

    fn hubspot_headers(sig: &str, ts: &str) -> HeaderMap {
        headers(&[
            ("X-HubSpot-Signature-v3", sig),
            ("X-HubSpot-Request-Timestamp", ts),
        ])
    }

    impl HubSpotCase {
        fn verify(
            &self,
            uri: &str,
            h: &HeaderMap,
            body: &[u8],
            now: i64,
        ) -> Result<(), VerifyError> {
            verify_hubspot_v3(&self.secret, &self.method, uri, h, body, now)
        }
    }

    #[test]
    fn hubspot_vectors() {
        let all = vectors(HUBSPOT_VECTORS);
        let mut seen = [0; 3];
        for v in &all {
            let secret = field(v, "secret").as_bytes();
            let body = field(v, "body").as_bytes();
            let expected = field(v, "expected");
            match field(v, "version") {
                "v1" => {
                    assert_eq!(hubspot_v1_signature(secret, body), expected, "{}", v["id"]);
                    seen[0] += 1;
                }
                "v2" => {
                    let got =
                        hubspot_v2_signature(secret, field(v, "method"), field(v, "uri"), body);
                    assert!(
                        constant_time_eq(got.as_bytes(), expected.as_bytes()),
                        "{}",
                        v["id"]
                    );
                    seen[1] += 1;
                }
                "v3" => {
                    let ts_text = field(v, "timestamp");
                    let ts: i64 = ts_text.parse().unwrap();
                    let (method, uri) = (field(v, "method"), field(v, "uri"));
                    let h = hubspot_headers(expected, ts_text);
                    assert_eq!(
                        verify_hubspot_v3(secret, method, uri, &h, body, ts),
                        Ok(()),
                        "{}",
                        v["id"]
                    );
                    assert_eq!(sign_hubspot_v3(secret, method, uri, body, ts), expected);
                    seen[2] += 1;
                }
                other => panic!("unknown version {other}"),
            }
        }
        assert!(seen.iter().all(|n| *n > 0), "{seen:?}");
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn hubspot_tampering_is_a_mismatch() {
        let c = hubspot_v3_case();
        let h = hubspot_headers(&c.sig, &c.ts_text);

        let mut body = c.body.clone();
        body[1] ^= 1;
        assert_eq!(
            c.verify(&c.uri, &h, &body, c.ts),
            Err(VerifyError::Mismatch)
        );

        let moved = hubspot_headers(&c.sig, &(c.ts + 1).to_string());
        assert_eq!(
            c.verify(&c.uri, &moved, &c.body, c.ts),
            Err(VerifyError::Mismatch)
        );

        let wrong = verify_hubspot_v3(b"wrong", &c.method, &c.uri, &h, &c.body, c.ts);
        assert_eq!(wrong, Err(VerifyError::Mismatch));

        let get = verify_hubspot_v3(&c.secret, "GET", &c.uri, &h, &c.body, c.ts);
        assert_eq!(get, Err(VerifyError::Mismatch));

        let other_uri = format!("{}?x=1", c.uri);
        assert_eq!(
            c.verify(&other_uri, &h, &c.body, c.ts),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn hubspot_window() {
        let c = hubspot_v3_case();
        let h = hubspot_headers(&c.sig, &c.ts_text);
        let at = |now| c.verify(&c.uri, &h, &c.body, now);
        assert_eq!(at(c.ts + 300_000), Ok(()));
        assert_eq!(at(c.ts - 300_000), Ok(()));
        assert_eq!(at(c.ts + 300_001), Err(VerifyError::Stale));
        assert_eq!(at(c.ts - 300_001), Err(VerifyError::Future));
        // Seconds passed by mistake put the request far in the future.
        assert_eq!(at(c.ts / 1000), Err(VerifyError::Future));
    }

    #[test]
    fn hubspot_missing_and_malformed_headers() {
        let c = hubspot_v3_case();
        let only_ts = headers(&[("X-HubSpot-Request-Timestamp", &c.ts_text)]);
        assert_eq!(
            c.verify(&c.uri, &only_ts, &c.body, c.ts),
            Err(VerifyError::MissingSignature)
        );
        let only_sig = headers(&[("X-HubSpot-Signature-v3", &c.sig)]);
        assert_eq!(
            c.verify(&c.uri, &only_sig, &c.body, c.ts),
            Err(VerifyError::MissingTimestamp)
        );
        let bad_ts = hubspot_headers(&c.sig, "soon");
        assert_eq!(
            c.verify(&c.uri, &bad_ts, &c.body, c.ts),
            Err(VerifyError::BadTimestamp)
        );

        let unpadded = c.sig.trim_end_matches('=').to_string();
        let truncated = c.sig[..20].to_string();
        let hex_sig = hex::encode(BASE64.decode(&c.sig).unwrap());
        for sig in ["not base64!".to_string(), unpadded, truncated, hex_sig] {
            let h = hubspot_headers(&sig, &c.ts_text);
            assert_eq!(
                c.verify(&c.uri, &h, &c.body, c.ts),
                Err(VerifyError::BadSignatureFormat),
                "{sig:?}"
            );
        }
    }

    #[test]
    fn hubspot_header_names_do_not_matter() {
        let c = hubspot_v3_case();
        for (sig_name, ts_name) in [
            ("X-HUBSPOT-SIGNATURE-V3", "X-HUBSPOT-REQUEST-TIMESTAMP"),
            ("X-HubSpot-Signature-V3", "x-hubspot-request-timestamp"),
        ] {
            let h = headers(&[(sig_name, &c.sig), (ts_name, &c.ts_text)]);
            assert_eq!(c.verify(&c.uri, &h, &c.body, c.ts), Ok(()), "{sig_name}");
        }
    }

    #[test]
    fn hubspot_accepts_docs_decoded_and_sdk_raw_uris() {
        let secret = b"client-secret";
        let raw = "https://example.com/hooks/hubspot?x=a%3Ab%2fc&y=%20z";
        let decoded = hubspot_v3_uri(raw);
        assert_eq!(decoded, "https://example.com/hooks/hubspot?x=a:b/c&y=%20z");
        let body = br#"[{"eventId":1}]"#;
        let ts = 1_693_657_560_000;

        // HubSpot signed the docs' decoded form; we are handed the raw URI.
        let sig = sign_hubspot_v3(secret, "POST", &decoded, body, ts);
        let h = hubspot_headers(&sig, &ts.to_string());
        assert_eq!(verify_hubspot_v3(secret, "POST", raw, &h, body, ts), Ok(()));

        // HubSpot signed the raw form, as the SDKs compute it.
        let sig = sign_hubspot_v3(secret, "POST", raw, body, ts);
        let h = hubspot_headers(&sig, &ts.to_string());
        assert_eq!(verify_hubspot_v3(secret, "POST", raw, &h, body, ts), Ok(()));

        // A fully decoded %20 is not one of the listed readings.
        let over = "https://example.com/hooks/hubspot?x=a:b/c&y= z";
        let sig = sign_hubspot_v3(secret, "POST", over, body, ts);
        let h = hubspot_headers(&sig, &ts.to_string());
        assert_eq!(
            verify_hubspot_v3(secret, "POST", raw, &h, body, ts),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn hubspot_v3_uri_decodes_only_the_listed_escapes() {
        let all = "%3A%2F%3F%40%21%24%27%28%29%2A%2C%3B";
        assert_eq!(hubspot_v3_uri(all), ":/?@!$'()*,;");
        assert_eq!(hubspot_v3_uri(&all.to_lowercase()), ":/?@!$'()*,;");
        assert_eq!(hubspot_v3_uri("a%20b%25c%2Bd%3a"), "a%20b%25c%2Bd:");
        // No double decoding: %253A is "%3A" encoded once.
        assert_eq!(hubspot_v3_uri("%253A"), "%253A");
        // Truncated and invalid escapes, multibyte text around them.
        assert_eq!(hubspot_v3_uri("%"), "%");
        assert_eq!(hubspot_v3_uri("%3"), "%3");
        assert_eq!(hubspot_v3_uri("%%3A"), "%:");
        assert_eq!(hubspot_v3_uri("%zz%3A"), "%zz:");
        assert_eq!(hubspot_v3_uri("é%3Aé%2"), "é:é%2");
        assert_eq!(hubspot_v3_uri(""), "");
    }

    #[test]
    fn hubspot_sign_round_trips() {
        let ts = 1_700_000_000_123;
        let body = [0u8, 0xff, 0x80];
        let uri = "https://example.com/h?a=1&b=2";
        let sig = sign_hubspot_v3(b"s", "POST", uri, &body, ts);
        let h = hubspot_headers(&sig, &ts.to_string());
        assert_eq!(verify_hubspot_v3(b"s", "POST", uri, &h, &body, ts), Ok(()));
    }

    // ----------------------------------------------------------- shared --

    #[test]
    fn hmac_key_derivation_matches_the_crate() {
        for len in [0, 1, 32, 63, 64, 65, 200] {
            let key: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut ours = hmac_sha256(&key);
            ours.update(b"message");
            let mut theirs = HmacSha256::new_from_slice(&key).unwrap();
            theirs.update(b"message");
            assert_eq!(
                ours.finalize().into_bytes(),
                theirs.finalize().into_bytes(),
                "{len}"
            );
        }
    }

    #[test]
    fn reasons_never_echo_signatures() {
        let all = [
            VerifyError::MissingSignature,
            VerifyError::MissingTimestamp,
            VerifyError::BadTimestamp,
            VerifyError::Stale,
            VerifyError::Future,
            VerifyError::BadSignatureFormat,
            VerifyError::Mismatch,
        ];
        for e in all {
            assert!(!e.reason().is_empty());
            assert!(!e.reason().contains("v0="));
        }
        assert!(VerifyError::Stale.reason().contains("5-minute window"));
        assert!(VerifyError::MissingSignature
            .reason()
            .contains("X-Slack-Signature"));
    }
}
