//! Pacing by HubSpot's own rate-limit headers: every answer says how many requests are left
//! in the token's window (`X-HubSpot-RateLimit-Remaining`) and how long the window is
//! (`-Interval-Milliseconds`), contracts/hubspot.md. When a token's window is nearly spent,
//! the next request waits for it to roll instead of drawing a 429: a busy portal slows down
//! rather than fails. Kept per token (a token is one portal), per process; the queue's
//! retries remain the answer to a 429 that still comes.
//!
//! Besides what the headers say, the process counts its own requests per token in the last
//! ten seconds and keeps them under the window's size (`X-HubSpot-RateLimit-Max`, 100 until
//! an answer says: the lowest of HubSpot's limits for apps), so that calls held back by a
//! spent window do not all go at once when it rolls and spend the next one at its start.

use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A window this close to spent makes the next request wait (others of the same process
/// may be on their way).
const FLOOR: u64 = 2;
/// Never wait longer than HubSpot's longest window of this kind (ten seconds).
const MAX_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub remaining: u64,
    pub rolls_at: Instant,
}

/// How long a request must wait, given what is known of its token's window.
pub(crate) fn wait_for(w: Option<Window>, now: Instant) -> Option<Duration> {
    let w = w?;
    (w.remaining <= FLOOR && w.rolls_at > now).then(|| (w.rolls_at - now).min(MAX_WAIT))
}

/// The window an answer's headers describe.
pub(crate) fn window_of(headers: &reqwest::header::HeaderMap, now: Instant) -> Option<Window> {
    let num = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let remaining = num("x-hubspot-ratelimit-remaining")?;
    let interval = num("x-hubspot-ratelimit-interval-milliseconds")?;
    Some(Window {
        remaining,
        rolls_at: now + Duration::from_millis(interval.min(MAX_WAIT.as_millis() as u64)),
    })
}

/// The longest a request waits for its place among this process's own: a window, and
/// the time a slow answer of the last one still counts (`Sent::settle`).
const MAX_SPREAD: Duration = Duration::from_secs(20);

/// HubSpot's window for the per-app limits (contracts/hubspot.md: 110 per 10 s for a
/// public app; private apps 100 to 190).
const WINDOW: Duration = Duration::from_secs(10);
pub const DEFAULT_MAX: u64 = 100;

/// This process's own requests of one token in the last `WINDOW`, and the window's size.
#[derive(Debug, Default)]
pub(crate) struct Sent {
    at: VecDeque<Instant>,
    max: Option<u64>,
    /// Until an answer says: 0, not counted.
    default_max: u64,
}

impl Sent {
    /// How long a request at `now` waits for its place, which it takes.
    #[cfg(test)]
    fn reserve(&mut self, now: Instant) -> Duration {
        (self.place(now) - now).min(MAX_SPREAD)
    }

    /// The place a request at `now` takes: when it may go.
    fn place(&mut self, now: Instant) -> Instant {
        while self
            .at
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            self.at.pop_front();
        }
        let max = self.max.unwrap_or(self.default_max);
        if max == 0 {
            return now;
        }
        let room = max.saturating_sub(FLOOR).max(1) as usize;
        let starts = if self.at.len() < room {
            now
        } else {
            // After the request `room` places back leaves the window (places already
            // reserved in the future count as sent then).
            let idx = self.at.len() - room;
            (self.at[idx] + WINDOW).max(now)
        };
        let at = self.at.partition_point(|t| *t <= starts);
        self.at.insert(at, starts);
        starts
    }

    /// The request that took the place `reserved` has its answer at `done`: HubSpot counted
    /// it somewhere in between, so it counts until `done` leaves the window. Counting from
    /// the reservation alone let the next window's first requests arrive while HubSpot still
    /// counted a slow request of the last one (a 429 on a loaded machine).
    pub(crate) fn settle(&mut self, reserved: Instant, done: Instant) {
        let Some(i) = self.at.iter().position(|t| *t == reserved) else {
            return; // left the window already
        };
        self.at.remove(i);
        let at = self.at.partition_point(|t| *t <= done);
        self.at.insert(at, done);
    }
}

/// A request's place in its token's count, settled when its answer comes.
pub(crate) struct Slot {
    key: u64,
    reserved: Instant,
}

pub(crate) struct Pacer {
    /// By a hash of the request's Authorization header (the token itself is not kept).
    windows: Mutex<HashMap<u64, Window>>,
    sent: Mutex<HashMap<u64, Sent>>,
    budget: u64,
    waited_ms: AtomicU64,
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer::with_budget(DEFAULT_MAX)
    }
}

impl Pacer {
    pub(crate) fn with_budget(budget: u64) -> Pacer {
        Pacer {
            windows: Mutex::default(),
            sent: Mutex::default(),
            budget,
            waited_ms: AtomicU64::new(0),
        }
    }

    fn key(auth: Option<&reqwest::header::HeaderValue>) -> Option<u64> {
        let mut h = DefaultHasher::new();
        auth?.as_bytes().hash(&mut h);
        Some(h.finish())
    }

    fn windows(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Window>> {
        self.windows.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sent(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Sent>> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits, if the token's window is nearly spent; counts the request against it (its
    /// place, to `settle` when the answer comes).
    pub(crate) async fn before(&self, auth: Option<&reqwest::header::HeaderValue>) -> Option<Slot> {
        let key = Self::key(auth)?;
        let now = Instant::now();
        let (spread, reserved) = {
            let mut sent = self.sent();
            let s = sent.entry(key).or_insert_with(|| Sent {
                default_max: self.budget,
                ..Sent::default()
            });
            let starts = s.place(now);
            ((starts - now).min(MAX_SPREAD), starts)
        };
        let wait = {
            let mut windows = self.windows();
            let wait = wait_for(windows.get(&key).copied(), now)
                .into_iter()
                .chain((!spread.is_zero()).then_some(spread))
                .max();
            if let Some(w) = windows.get_mut(&key) {
                if w.rolls_at <= now {
                    windows.remove(&key);
                } else {
                    w.remaining = w.remaining.saturating_sub(1);
                }
            }
            wait
        };
        if let Some(d) = wait {
            tracing::info!(
                wait_ms = d.as_millis() as u64,
                "hubspot rate-limit window nearly spent; pacing"
            );
            self.waited_ms
                .fetch_add(d.as_millis() as u64, Ordering::Relaxed);
            tokio::time::sleep(d).await;
        }
        Some(Slot { key, reserved })
    }

    /// The request of `slot` has its answer (or failed) now.
    pub(crate) fn settle(&self, slot: Option<Slot>) {
        let Some(slot) = slot else { return };
        if let Some(s) = self.sent().get_mut(&slot.key) {
            s.settle(slot.reserved, Instant::now());
        }
    }

    /// Records what an answer said of the window.
    pub(crate) fn after(
        &self,
        auth: Option<&reqwest::header::HeaderValue>,
        headers: &reqwest::header::HeaderMap,
    ) {
        let Some(key) = Self::key(auth) else {
            return;
        };
        let max = headers
            .get("x-hubspot-ratelimit-max")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(max) = max {
            self.sent()
                .entry(key)
                .or_insert_with(|| Sent {
                    default_max: self.budget,
                    ..Sent::default()
                })
                .max = Some(max);
        }
        let Some(w) = window_of(headers, Instant::now()) else {
            return;
        };
        self.windows().insert(key, w);
    }

    /// Milliseconds spent waiting so far (for tests and logs).
    pub(crate) fn waited_ms(&self) -> u64 {
        self.waited_ms.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nearly_spent_window_waits_until_it_rolls_and_no_longer() {
        let now = Instant::now();
        let w = |remaining, ms| Window {
            remaining,
            rolls_at: now + Duration::from_millis(ms),
        };
        assert_eq!(wait_for(None, now), None);
        assert_eq!(wait_for(Some(w(50, 9000)), now), None);
        assert_eq!(
            wait_for(Some(w(2, 4000)), now),
            Some(Duration::from_millis(4000))
        );
        assert_eq!(wait_for(Some(w(0, 60_000)), now), Some(MAX_WAIT));
        let rolled = Window {
            remaining: 0,
            rolls_at: now,
        };
        assert_eq!(wait_for(Some(rolled), now + Duration::from_millis(1)), None);
    }

    #[test]
    fn own_requests_are_spread_over_the_window_not_sent_at_once() {
        let t0 = Instant::now();
        let mut sent = Sent {
            at: VecDeque::new(),
            max: Some(12),
            default_max: DEFAULT_MAX,
        };
        // Ten go at once (the window's 12 less the floor of 2), the eleventh waits for the
        // first to leave the window, the twelfth for the second.
        for _ in 0..10 {
            assert_eq!(sent.reserve(t0), Duration::ZERO);
        }
        assert_eq!(sent.reserve(t0), WINDOW);
        let t1 = t0 + Duration::from_secs(3);
        assert_eq!(sent.reserve(t1), Duration::from_secs(7));
        // Once the window has passed, requests go at once again.
        let later = t0 + Duration::from_secs(25);
        assert_eq!(sent.reserve(later), Duration::ZERO);
    }

    #[test]
    fn a_place_counts_until_its_answer_has_left_the_window() {
        let t0 = Instant::now();
        let mut sent = Sent {
            at: VecDeque::new(),
            max: Some(4),
            default_max: DEFAULT_MAX,
        };
        // Two places (4 less the floor); the first answer is slow (1.5 s), the second not.
        assert_eq!(sent.reserve(t0), Duration::ZERO);
        assert_eq!(sent.reserve(t0), Duration::ZERO);
        sent.settle(t0, t0 + Duration::from_millis(1500));
        sent.settle(t0, t0 + Duration::from_millis(10));
        // The third waits for the quick answer to leave the window, the fourth for the slow.
        assert_eq!(
            sent.reserve(t0),
            WINDOW + Duration::from_millis(10) - Duration::ZERO
        );
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(sent.reserve(t1), Duration::from_millis(10_500));
        // A place that left the window already is not looked for.
        sent.settle(t0 - Duration::from_secs(60), t0);
        assert_eq!(sent.at.len(), 4);
    }

    #[test]
    fn headers_give_the_window() {
        let mut h = reqwest::header::HeaderMap::new();
        let now = Instant::now();
        assert_eq!(window_of(&h, now), None);
        h.insert("X-HubSpot-RateLimit-Remaining", "7".parse().unwrap());
        h.insert(
            "X-HubSpot-RateLimit-Interval-Milliseconds",
            "10000".parse().unwrap(),
        );
        assert_eq!(
            window_of(&h, now),
            Some(Window {
                remaining: 7,
                rolls_at: now + Duration::from_secs(10)
            })
        );
    }
}
