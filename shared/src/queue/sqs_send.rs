//! SQS `SendMessage` on the acknowledgement path, without the SDK's request pipeline: the
//! request is the SDK's own (SQS's JSON protocol, `AmazonSQS.SendMessage`, signed with
//! `aws-sigv4`, the SDK's signer), sent with the app's HTTP client. A Slack event is
//! acknowledged only after its job is queued, so this call is on every event's critical
//! path: measured, the SDK's orchestration (interceptors, config bag, endpoint and retry
//! layers) was about a quarter of the edge's CPU per event (docs/benchmarks.md). The worker
//! keeps the SDK for everything else.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use serde_json::json;

use super::QueueError;

/// Transport failures, 5xx and throttling are tried this many times in all (the SDK's
/// standard retry mode does 3).
const ATTEMPTS: u32 = 3;
/// Each try's limit: Slack wants its acknowledgement within 3 s (contracts/slack.md), so
/// three tries with their pauses stay under 2.6 s.
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(800);

pub struct SqsSender {
    http: reqwest::Client,
    /// The service endpoint the JSON protocol posts to (`https://sqs.{region}.amazonaws.com`
    /// or a configured endpoint URL), no trailing slash.
    endpoint: String,
    region: String,
    provider: SharedCredentialsProvider,
    cached: Mutex<Option<Credentials>>,
}

impl SqsSender {
    /// From the SDK's configuration (region, credentials, endpoint: `AWS_ENDPOINT_URL_SQS`,
    /// else the configured endpoint URL, else SQS's regional endpoint). None without a
    /// region or credentials.
    pub fn from_sdk(sdk: &aws_config::SdkConfig, http: reqwest::Client) -> Option<Self> {
        let region = sdk.region()?.to_string();
        let provider = sdk.credentials_provider()?;
        let endpoint = std::env::var("AWS_ENDPOINT_URL_SQS")
            .ok()
            .filter(|e| !e.is_empty())
            .or_else(|| sdk.endpoint_url().map(str::to_string))
            .unwrap_or_else(|| format!("https://sqs.{region}.amazonaws.com"));
        Some(SqsSender {
            http,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            region,
            provider,
            cached: Mutex::new(None),
        })
    }

    /// The credentials, read again five minutes before they expire (Lambda's, from the
    /// environment, do not).
    async fn credentials(&self) -> Result<Credentials, QueueError> {
        let fresh = |c: &Credentials| {
            c.expiry()
                .is_none_or(|e| e > SystemTime::now() + Duration::from_secs(300))
        };
        if let Some(c) = self
            .cached
            .lock()
            .ok()
            .and_then(|g| g.clone())
            .filter(|c| fresh(c))
        {
            return Ok(c);
        }
        let c = self
            .provider
            .provide_credentials()
            .await
            .map_err(|e| QueueError(format!("sqs credentials: {e}")))?;
        if let Ok(mut g) = self.cached.lock() {
            *g = Some(c.clone());
        }
        Ok(c)
    }

    /// `SendMessage` of `body` to the FIFO queue at `queue_url`.
    pub async fn send(
        &self,
        queue_url: &str,
        body: &str,
        group: &str,
        dedup: &str,
    ) -> Result<(), QueueError> {
        let payload = json!({
            "QueueUrl": queue_url,
            "MessageBody": body,
            "MessageGroupId": group,
            "MessageDeduplicationId": dedup,
        })
        .to_string();
        let mut last = QueueError("sqs SendMessage: not tried".into());
        for attempt in 1..=ATTEMPTS {
            match self.send_once(&payload).await {
                Ok(()) => return Ok(()),
                Err((e, retryable)) => {
                    if !retryable || attempt == ATTEMPTS {
                        return Err(e);
                    }
                    tracing::warn!(attempt, error = %e, "sqs SendMessage failed; trying again");
                    last = e;
                    tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
                }
            }
        }
        Err(last)
    }

    /// One signed POST; the error says whether another try may succeed.
    async fn send_once(&self, payload: &str) -> Result<(), (QueueError, bool)> {
        let creds = self.credentials().await.map_err(|e| (e, true))?;
        let identity = creds.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("sqs")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| (QueueError(format!("sqs signing: {e}")), false))?
            .into();
        let url = format!("{}/", self.endpoint);
        let host = reqwest::Url::parse(&url)
            .ok()
            .and_then(|u| {
                u.host_str()
                    .map(|h| u.port().map_or(h.to_string(), |p| format!("{h}:{p}")))
            })
            .ok_or_else(|| (QueueError(format!("sqs endpoint {url} has no host")), false))?;
        let headers = [
            ("host", host.as_str()),
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amz-target", "AmazonSQS.SendMessage"),
        ];
        let signable = SignableRequest::new(
            "POST",
            &url,
            headers.iter().copied(),
            SignableBody::Bytes(payload.as_bytes()),
        )
        .map_err(|e| (QueueError(format!("sqs signing: {e}")), false))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| (QueueError(format!("sqs signing: {e}")), false))?
            .into_parts();
        let mut req = self
            .http
            .post(&url)
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", "AmazonSQS.SendMessage");
        for (name, value) in instructions.headers() {
            req = req.header(name, value);
        }
        let resp = req
            .timeout(ATTEMPT_TIMEOUT)
            .body(payload.to_string())
            .send()
            .await
            .map_err(|e| (QueueError(format!("sqs SendMessage: {e}")), true))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let text = resp.text().await.unwrap_or_default();
        // JSON protocol errors: {"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message"}.
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let kind = v["__type"]
            .as_str()
            .map(|t| t.rsplit('#').next().unwrap_or(t).to_string())
            .unwrap_or_default();
        let message = v["message"].as_str().unwrap_or("").to_string();
        let retryable = status.is_server_error()
            || status.as_u16() == 429
            || kind.contains("Throttl")
            || kind == "RequestThrottled";
        Err((
            QueueError(format!(
                "sqs SendMessage: HTTP {} {kind}: {message}",
                status.as_u16()
            )),
            retryable,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::{header, header_regex, method, path};
    use wiremock::{Mock, MockServer, Request, ResponseTemplate};

    fn sender(endpoint: &str) -> SqsSender {
        let creds = Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            Some("session".into()),
            None,
            "test",
        );
        SqsSender {
            http: reqwest::Client::new(),
            endpoint: endpoint.to_string(),
            region: "eu-west-1".into(),
            provider: SharedCredentialsProvider::new(creds),
            cached: Mutex::new(None),
        }
    }

    #[tokio::test]
    async fn send_message_is_the_json_protocol_request_signed_for_sqs() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/"))
            .and(header("content-type", "application/x-amz-json-1.0"))
            .and(header("x-amz-target", "AmazonSQS.SendMessage"))
            .and(header("x-amz-security-token", "session"))
            .and(header_regex(
                "authorization",
                r"^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/\d{8}/eu-west-1/sqs/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature=[0-9a-f]{64}$",
            ))
            .respond_with(|r: &Request| {
                let b: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
                if b["QueueUrl"] == "https://sqs.eu-west-1.amazonaws.com/1/q.fifo"
                    && b["MessageBody"] == "{\"kind\":\"x\"}"
                    && b["MessageGroupId"] == "conv:1:2"
                    && b["MessageDeduplicationId"] == "abc"
                {
                    ResponseTemplate::new(200).set_body_json(json!({
                        "MD5OfMessageBody": "0", "MessageId": "m-1", "SequenceNumber": "1"
                    }))
                } else {
                    ResponseTemplate::new(400).set_body_json(json!({"__type": "com.amazonaws.sqs#InvalidParameterValue", "message": "bad"}))
                }
            })
            .expect(1)
            .mount(&server)
            .await;
        sender(&server.uri())
            .send(
                "https://sqs.eu-west-1.amazonaws.com/1/q.fifo",
                "{\"kind\":\"x\"}",
                "conv:1:2",
                "abc",
            )
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn throttling_is_tried_again_and_a_refusal_is_not() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(400).set_body_json(
                json!({"__type": "com.amazonaws.sqs#RequestThrottled", "message": "slow down"}),
            ))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"MessageId": "m"})))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        let s = sender(&server.uri());
        s.send("q", "b", "g", "d").await.unwrap();
        let refused = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(400).set_body_json(
                json!({"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "no queue"}),
            ))
            .expect(1)
            .mount(&refused)
            .await;
        let e = sender(&refused.uri())
            .send("q", "b", "g", "d")
            .await
            .unwrap_err();
        assert!(e.0.contains("QueueDoesNotExist: no queue"), "{}", e.0);
    }
}
