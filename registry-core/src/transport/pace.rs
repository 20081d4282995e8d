//! Pacing of the requests to one registry host: an optional rate limit (a token bucket) and the shared pause after
//! a `429 Too Many Requests`.
//!
//! Both live in the transport, so a client's clones and `with_segment` children (which share it) share them: every
//! request to the host (each attempt, each page, HEADs and chunk PATCHes alike) first waits for the pause to end,
//! then for a token. The token exchange with an authorization server is not paced: it is another host.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::error::{Error, Result};

/// The longest pause a registry's `Retry-After` may impose on the whole host: 60 s, the same cap as
/// [`MAX_RETRY_AFTER`](crate::api::MAX_RETRY_AFTER) puts on the wait between upload recoveries.
pub const MAX_PAUSE: Duration = Duration::from_secs(60);

/// The most times one request waits again because the pause was extended while it waited (each extension needs a
/// new 429, so this only bounds the loop).
const MAX_PAUSE_WAITS: u32 = 64;

/// A token bucket: `rate` tokens per second, at most `burst` stored, one at the first request (a new client sends
/// at the rate from its first request on; a burst builds up only while it is idle after that). A request takes one token; when none is left it reserves the
/// next one and waits for it (the count goes negative), so waiting requests are served in order at the rate.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    /// When `tokens` was counted; `None` before the first request.
    at: Option<Instant>,
}

impl Bucket {
    /// Take a token at `now`: how long to wait for it.
    fn take(&mut self, now: Instant) -> Duration {
        let elapsed = self.at.map_or(0.0, |at| now.saturating_duration_since(at).as_secs_f64());
        self.at = Some(now);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst) - 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            // `rate` is finite and positive (checked by `check_rate`), `tokens` is finite: so is the quotient.
            Duration::try_from_secs_f64(-self.tokens / self.rate).unwrap_or(MAX_PAUSE)
        }
    }
}

/// The pacing state of one registry host, shared by every handle on its transport.
#[derive(Debug)]
pub(crate) struct Pace {
    /// The host, for the log line of a pause.
    host: String,
    bucket: Option<Mutex<Bucket>>,
    /// When the pause after the last 429 ends.
    paused_until: Mutex<Option<Instant>>,
}

/// Check a rate limit in requests per second: finite and above zero, else an `InvalidInput` error naming it.
pub(crate) fn check_rate(rate: f64) -> Result<f64> {
    if rate.is_finite() && rate > 0.0 {
        Ok(rate)
    } else {
        Err(Error::invalid_input(format!(
            "rate limit {rate} requests per second is not valid: it must be a finite number above 0"
        )))
    }
}

impl Pace {
    /// Pacing for `host` at `rate` requests per second (burst: `max(1, rate)` requests after idling), or none. Fails with
    /// `InvalidInput` when `rate` is not finite and positive.
    pub(crate) fn new(host: &str, rate: Option<f64>) -> Result<Pace> {
        let bucket = match rate {
            Some(r) => {
                let rate = check_rate(r)?;
                let burst = rate.max(1.0);
                Some(Mutex::new(Bucket { rate, burst, tokens: 1.0, at: None }))
            }
            None => None,
        };
        Ok(Pace { host: host.to_string(), bucket, paused_until: Mutex::new(None) })
    }

    /// Wait until a request may go out: the pause (if any) over, and a token of the rate limit (if any) taken.
    pub(crate) async fn wait_turn(&self) {
        self.wait_pause().await;
        if let Some(bucket) = &self.bucket {
            let wait = bucket.lock().unwrap_or_else(PoisonError::into_inner).take(Instant::now());
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
                // A 429 may have come while this request waited for its token.
                self.wait_pause().await;
            }
        }
    }

    /// Wait while the host is paused, again when the pause was extended meanwhile.
    async fn wait_pause(&self) {
        for _ in 0..MAX_PAUSE_WAITS {
            let until = *self.paused_until.lock().unwrap_or_else(PoisonError::into_inner);
            match until {
                Some(at) if at > Instant::now() => tokio::time::sleep_until(at).await,
                _ => return,
            }
        }
    }

    /// The host answered 429: pause every request to it for `wait` (capped at [`MAX_PAUSE`]) from now, unless a
    /// pause already runs longer. Logs a new pause at WARN (host and duration), an extension at DEBUG.
    pub(crate) fn pause(&self, wait: Duration) {
        let wait = wait.min(MAX_PAUSE);
        let now = Instant::now();
        let end = now + wait;
        let mut until = self.paused_until.lock().unwrap_or_else(PoisonError::into_inner);
        let extends = match *until {
            Some(at) => end > at,
            None => true,
        };
        if extends {
            let running = until.is_some_and(|at| at > now);
            *until = Some(end);
            drop(until);
            let pause_ms = wait.as_millis() as u64;
            if running {
                tracing::debug!(host = %self.host, pause_ms, "another 429: the pause of every request is extended");
            } else {
                tracing::warn!(
                    host = %self.host,
                    pause_ms,
                    "registry answered 429 Too Many Requests: pausing every request to it"
                );
            }
        }
    }

    /// Whether requests to the host are rate limited.
    #[cfg(test)]
    fn limited(&self) -> bool {
        self.bucket.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_rates_are_refused_naming_the_value() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let e = Pace::new("r.example:5000", Some(bad)).err().map(|e| (e.kind(), e.to_string()));
            let Some((kind, message)) = e else { panic!("rate {bad} accepted") };
            assert_eq!(kind, crate::ErrorKind::InvalidInput);
            assert!(message.contains(&bad.to_string()), "{message}");
        }
        assert!(!Pace::new("h", None).is_ok_and(|p| p.limited()));
        assert!(Pace::new("h", Some(0.5)).is_ok_and(|p| p.limited()));
    }

    #[tokio::test(start_paused = true)]
    async fn the_bucket_serves_a_burst_then_the_rate() {
        let pace = Pace::new("h", Some(4.0)).unwrap_or_else(|e| panic!("{e}"));
        let start = Instant::now();
        for _ in 0..9 {
            pace.wait_turn().await;
        }
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(1990) && took <= Duration::from_millis(2010), "at the rate: {took:?}");
        tokio::time::sleep(Duration::from_secs(10)).await;
        let idle = Instant::now();
        for _ in 0..4 {
            pace.wait_turn().await;
        }
        assert_eq!(idle.elapsed(), Duration::ZERO, "after idling, a burst of max(1, rate) tokens");
        pace.wait_turn().await;
        assert!(idle.elapsed() >= Duration::from_millis(240), "then the rate again: {:?}", idle.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_rate_still_bursts_one() {
        let pace = Pace::new("h", Some(0.5)).unwrap_or_else(|e| panic!("{e}"));
        let start = Instant::now();
        pace.wait_turn().await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        pace.wait_turn().await;
        assert!(start.elapsed() >= Duration::from_millis(1990), "{:?}", start.elapsed());
    }

    #[test]
    fn the_pause_cap_is_the_retry_after_cap() {
        assert_eq!(MAX_PAUSE, crate::api::MAX_RETRY_AFTER);
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_every_request_and_a_later_429_extends_it() {
        let pace = Pace::new("h", None).unwrap_or_else(|e| panic!("{e}"));
        let start = Instant::now();
        pace.wait_turn().await;
        assert_eq!(start.elapsed(), Duration::ZERO, "no pacing without a limit or a pause");
        pace.pause(Duration::from_secs(2));
        pace.pause(Duration::from_secs(1));
        pace.wait_turn().await;
        assert_eq!(start.elapsed(), Duration::from_secs(2), "a shorter pause does not shorten it");
        pace.pause(Duration::from_secs(3600));
        pace.wait_turn().await;
        assert_eq!(start.elapsed(), Duration::from_secs(2) + MAX_PAUSE, "capped");
    }
}
