//! Retry policy: which failures are retried, how long to wait, and `Retry-After`.

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};

/// How requests are retried. Only idempotent requests whose body can be sent again are retried, and only on
/// connection failures, timeouts and the statuses 408, 429, 500, 502, 503, 504.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryConfig {
    /// Retries after the first attempt (0 disables retrying).
    pub max_retries: u32,
    /// The first backoff; each retry doubles it.
    pub initial_backoff: Duration,
    /// The longest single wait, also the cap on a server's `Retry-After`.
    pub max_backoff: Duration,
    /// Give up when this much time has passed since the first attempt.
    pub max_elapsed: Duration,
}

impl Default for RetryConfig {
    fn default() -> RetryConfig {
        RetryConfig {
            max_retries: 4,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(60),
        }
    }
}

impl RetryConfig {
    /// No retries.
    pub fn none() -> RetryConfig {
        RetryConfig { max_retries: 0, ..RetryConfig::default() }
    }

    /// Set the number of retries.
    #[must_use]
    pub fn max_retries(mut self, n: u32) -> RetryConfig {
        self.max_retries = n;
        self
    }

    /// Set the first backoff.
    #[must_use]
    pub fn initial_backoff(mut self, d: Duration) -> RetryConfig {
        self.initial_backoff = d;
        self
    }

    /// Set the longest wait (and `Retry-After` cap).
    #[must_use]
    pub fn max_backoff(mut self, d: Duration) -> RetryConfig {
        self.max_backoff = d;
        self
    }

    /// Set the total time budget.
    #[must_use]
    pub fn max_elapsed(mut self, d: Duration) -> RetryConfig {
        self.max_elapsed = d;
        self
    }

    /// The wait before retry number `retry` (1-based): exponential, capped, with "full jitter" in its upper half.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = self.initial_backoff.saturating_mul(1u32 << retry.saturating_sub(1).min(20));
        let capped = exp.min(self.max_backoff);
        let half = capped / 2;
        half + half.mul_f64(jitter())
    }
}

/// Whether a status is worth retrying.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// The server's `Retry-After` (delta-seconds or HTTP-date), if present and parseable.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
}

/// A random number in [0, 1) without a dependency on a random number crate.
fn jitter() -> f64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn backoff_grows_and_caps() {
        let c = RetryConfig::default().initial_backoff(Duration::from_millis(100)).max_backoff(Duration::from_secs(1));
        for retry in 1..10 {
            let d = c.backoff(retry);
            let full = (Duration::from_millis(100) * (1 << (retry - 1))).min(Duration::from_secs(1));
            assert!(d >= full / 2 && d <= full, "retry {retry}: {d:?} not in [{:?}, {full:?}]", full / 2);
        }
    }

    #[test]
    fn retry_after_seconds_and_date() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let future = SystemTime::now() + Duration::from_secs(30);
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_str(&httpdate::fmt_http_date(future)).unwrap_or(HeaderValue::from_static("x")),
        );
        let d = retry_after(&h);
        assert!(matches!(d, Some(d) if d <= Duration::from_secs(30) && d >= Duration::from_secs(28)), "{d:?}");
        h.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn retryable_statuses() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(is_retryable_status(s));
        }
        for s in [400, 401, 403, 404, 405, 409, 501] {
            assert!(!is_retryable_status(s));
        }
    }
}
