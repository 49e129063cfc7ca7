//! Pacing by Slack's published limits (contracts/slack.md), so that a burst is delivered
//! late rather than drawing 429s: `chat.postMessage` about one message a second per channel
//! with short bursts; `chat.update` and `chat.delete` tier 3, about 50 a minute per
//! workspace. A token bucket per (token, channel) for posts and per (token, method) for the
//! tier-3 methods; a 429's `Retry-After` closes its bucket for that long. Per process, like
//! HubSpot's pacing: the queue's retries remain the answer to a 429 that still comes.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What a call may wait here before it is handed back as rate limited instead (the queue
/// then retries it later, in its conversation's order).
pub const MAX_WAIT: Duration = Duration::from_secs(3);

/// Rates, per minute; 0: not paced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlackLimits {
    /// `chat.postMessage` to one channel.
    pub posts_per_channel_per_min: u32,
    /// Each tier-3 method (`chat.update`, `chat.delete`) of one workspace.
    pub tier3_per_min: u32,
}

impl Default for SlackLimits {
    fn default() -> Self {
        SlackLimits {
            posts_per_channel_per_min: 60,
            tier3_per_min: 50,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// May go below zero: calls that wait have reserved their place.
    tokens: f64,
    at: Instant,
    closed_until: Option<Instant>,
}

pub(crate) struct Pacer {
    limits: SlackLimits,
    buckets: Mutex<HashMap<(u64, String), Bucket>>,
}

/// The bucket a call draws on, with its rate (per second) and burst.
fn bucket_of(limits: &SlackLimits, method: &str, channel: Option<&str>) -> Option<(String, f64)> {
    let (key, per_min) = match method {
        "chat.postMessage" => (
            format!("post:{}", channel?),
            limits.posts_per_channel_per_min,
        ),
        "chat.update" | "chat.delete" => (method.to_string(), limits.tier3_per_min),
        _ => return None,
    };
    (per_min > 0).then(|| (key, f64::from(per_min) / 60.0))
}

/// Short bursts: ten seconds' worth at once less one, at least one. The one kept back is
/// for the time between sending and Slack's counting: a call sent the moment its place
/// comes may reach Slack sooner after the last than it was sent (that one was slow on the
/// way), and Slack counts arrivals.
fn burst(rate_per_sec: f64) -> f64 {
    (rate_per_sec * 10.0 - 1.0).max(1.0)
}

impl Pacer {
    pub(crate) fn new(limits: SlackLimits) -> Pacer {
        Pacer {
            limits,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn token_key(token: &str) -> u64 {
        // The token itself is not kept.
        let mut h = DefaultHasher::new();
        token.hash(&mut h);
        h.finish()
    }

    /// How long the call must wait for its turn (its place reserved), or Err with the
    /// seconds after which to try again when that is longer than `MAX_WAIT`.
    pub(crate) fn reserve(
        &self,
        token: &str,
        method: &str,
        channel: Option<&str>,
        now: Instant,
    ) -> Result<Duration, u64> {
        let Some((key, rate)) = bucket_of(&self.limits, method, channel) else {
            return Ok(Duration::ZERO);
        };
        let cap = burst(rate);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let b = buckets
            .entry((Self::token_key(token), key))
            .or_insert(Bucket {
                tokens: cap,
                at: now,
                closed_until: None,
            });
        let refill = now.saturating_duration_since(b.at).as_secs_f64() * rate;
        b.tokens = (b.tokens + refill).min(cap);
        b.at = now;
        let closed = b
            .closed_until
            .filter(|u| *u > now)
            .map_or(Duration::ZERO, |u| u - now);
        let short = if b.tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - b.tokens) / rate)
        };
        let wait = closed.max(short);
        if wait > MAX_WAIT {
            return Err(wait.as_secs().max(1));
        }
        b.tokens -= 1.0;
        Ok(wait)
    }

    /// Slack answered 429: nothing more on this bucket before `retry_after_secs`.
    pub(crate) fn closed(
        &self,
        token: &str,
        method: &str,
        channel: Option<&str>,
        retry_after_secs: u64,
        now: Instant,
    ) {
        let Some((key, _)) = bucket_of(&self.limits, method, channel) else {
            return;
        };
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let b = buckets
            .entry((Self::token_key(token), key))
            .or_insert(Bucket {
                tokens: 0.0,
                at: now,
                closed_until: None,
            });
        b.tokens = b.tokens.min(0.0);
        b.closed_until = Some(now + Duration::from_secs(retry_after_secs));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posts_burst_then_go_one_a_second_per_channel() {
        let p = Pacer::new(SlackLimits::default());
        let t0 = Instant::now();
        for _ in 0..9 {
            assert_eq!(
                p.reserve("x", "chat.postMessage", Some("C1"), t0),
                Ok(Duration::ZERO)
            );
        }
        // The tenth waits a second, the eleventh two; another channel does not.
        assert_eq!(
            p.reserve("x", "chat.postMessage", Some("C1"), t0),
            Ok(Duration::from_secs(1))
        );
        assert_eq!(
            p.reserve("x", "chat.postMessage", Some("C1"), t0),
            Ok(Duration::from_secs(2))
        );
        assert_eq!(
            p.reserve("x", "chat.postMessage", Some("C2"), t0),
            Ok(Duration::ZERO)
        );
        assert_eq!(
            p.reserve("y", "chat.postMessage", Some("C1"), t0),
            Ok(Duration::ZERO)
        );
        // Too far off: handed back to the queue, nothing reserved.
        assert_eq!(
            p.reserve("x", "chat.postMessage", Some("C1"), t0),
            Ok(Duration::from_secs(3))
        );
        assert_eq!(p.reserve("x", "chat.postMessage", Some("C1"), t0), Err(4));
        // Unpaced methods never wait.
        assert_eq!(p.reserve("x", "users.info", None, t0), Ok(Duration::ZERO));
    }

    #[test]
    fn a_429_closes_the_bucket_for_its_retry_after() {
        let p = Pacer::new(SlackLimits::default());
        let t0 = Instant::now();
        p.closed("x", "chat.update", None, 2, t0);
        assert_eq!(
            p.reserve("x", "chat.update", None, t0),
            Ok(Duration::from_secs(2))
        );
        p.closed("x", "chat.update", None, 30, t0);
        assert_eq!(p.reserve("x", "chat.update", None, t0), Err(30));
        let later = t0 + Duration::from_secs(31);
        assert_eq!(
            p.reserve("x", "chat.update", None, later),
            Ok(Duration::ZERO)
        );
    }

    #[test]
    fn zero_means_unpaced() {
        let p = Pacer::new(SlackLimits {
            posts_per_channel_per_min: 0,
            tier3_per_min: 0,
        });
        let t0 = Instant::now();
        for _ in 0..1000 {
            assert_eq!(
                p.reserve("x", "chat.postMessage", Some("C1"), t0),
                Ok(Duration::ZERO)
            );
        }
    }
}
