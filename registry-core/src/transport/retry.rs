//! Retry policy: the one decision of which failures are worth another attempt (`worth_retrying`), how long to
//! wait, and `Retry-After`.
//!
//! Three loops ask it: the request loop (the same request sent again, when it is idempotent and its body can be
//! sent again, or it surely never reached the registry: a refused connection, or a token exchange that failed
//! before the request went out), the upload recovery (a chunk resumed from the registry's offset, or the upload
//! started over), and the resumption of a transfer (a download resumed with `Range`, a source read again).

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::error::{Error, ErrorKind};

/// What would be done again after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Again {
    /// The same request, sent again as it was.
    Request {
        /// Sending it twice does no harm (GET, HEAD, PUT, DELETE, or marked so).
        idempotent: bool,
        /// Its body can be sent again (no body, or bytes in memory; not a stream).
        replayable: bool,
        /// It surely never reached the registry: the connection was refused, or the token exchange before it
        /// failed.
        unsent: bool,
    },
    /// An upload, from the offset the registry reports (after asking it), or from the start.
    Upload,
    /// The rest of a transfer: a download resumed with `Range`, a source read again, an upload's progress asked
    /// again.
    Rest,
}

/// Whether `error` is worth another attempt at what [`Again`] says.
///
/// - The same request: only when its body can be sent again; then a connection failure or timeout when it is
///   idempotent or never reached the registry, and the statuses 408, 429, 500, 502, 503, 504 when it is idempotent
///   (a failed token exchange counts as unsent: only its connection failures are retried, not its answers).
/// - An upload: anything temporary (connection failure, timeout, 5xx, 429), and what an interrupted chunk gets
///   answered: 401 (a token that expired mid-chunk: the transport could not send a streamed body again), 416 (a
///   chunk out of order) and 400 `BLOB_UPLOAD_INVALID` (a chunk cut short).
/// - The rest of a transfer: anything temporary ([`Error::is_temporary`]).
pub(crate) fn worth_retrying(error: &Error, again: Again) -> bool {
    let network = matches!(error.kind(), ErrorKind::Io | ErrorKind::Timeout);
    match again {
        Again::Request { idempotent, replayable, unsent } => {
            let transient_answer = error.status().is_some_and(is_retryable_status);
            replayable && if unsent { network } else { idempotent && (network || transient_answer) }
        }
        Again::Upload => {
            error.is_temporary()
                || error.kind() == ErrorKind::Unauthorized
                || error.status() == Some(416)
                || (error.status() == Some(400) && error.has_code("BLOB_UPLOAD_INVALID"))
        }
        Again::Rest => error.is_temporary(),
    }
}

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

    /// The wait before attempt number `attempt + 1` of a request after it failed with `error`, when `again` is
    /// worth it ([`worth_retrying`]), retries are left, and the wait (the registry's `Retry-After`, capped at
    /// [`max_backoff`](Self::max_backoff), else the backoff) fits in the time budget with `elapsed` spent.
    pub(crate) fn next_attempt(
        &self,
        error: &Error,
        again: Again,
        attempt: u32,
        elapsed: Duration,
    ) -> Option<Duration> {
        if attempt > self.max_retries || !worth_retrying(error, again) {
            return None;
        }
        let wait = error.retry_after().map(|d| d.min(self.max_backoff)).unwrap_or_else(|| self.backoff(attempt));
        elapsed.checked_add(wait).is_some_and(|t| t <= self.max_elapsed).then_some(wait)
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
    parse_retry_after(headers.get(RETRY_AFTER)?.to_str().ok()?, SystemTime::now())
}

/// A `Retry-After` value at `now`: delta-seconds (digits only; more seconds than `u64` holds saturate at
/// `u64::MAX` seconds), or an HTTP-date (a past date is no wait). Every user caps the wait it honours.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|c| c.is_ascii_digit()) {
        return Some(Duration::from_secs(v.parse::<u64>().unwrap_or(u64::MAX)));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
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
        // Numbers the server chose: past u64 saturates (then every user caps it), signs are not delta-seconds.
        let now = SystemTime::UNIX_EPOCH;
        assert_eq!(parse_retry_after("99999999999999999999999", now), Some(Duration::from_secs(u64::MAX)));
        assert_eq!(parse_retry_after("18446744073709551615", now), Some(Duration::from_secs(u64::MAX)));
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("+5", now), None);
        let config = RetryConfig::default().max_backoff(Duration::from_secs(5));
        let told = Error::new(ErrorKind::TooManyRequests, "429")
            .with_status(429)
            .with_retry_after(parse_retry_after("99999999999999999999999", now));
        assert_eq!(
            config.next_attempt(&told, request(true, true, false), 1, Duration::ZERO),
            Some(Duration::from_secs(5))
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(10_000))]

        #[test]
        fn retry_after_parses_any_text_without_panic(text in "\\PC*", now in 0u64..(1 << 40)) {
            let now = SystemTime::UNIX_EPOCH + Duration::from_secs(now);
            let _ = parse_retry_after(&text, now);
        }

        #[test]
        fn retry_after_reads_back_seconds_and_dates(secs in proptest::prelude::any::<u64>(), now in 0u64..(1 << 35)) {
            let now = SystemTime::UNIX_EPOCH + Duration::from_secs(now);
            proptest::prop_assert_eq!(parse_retry_after(&secs.to_string(), now), Some(Duration::from_secs(secs)));
            // An HTTP-date `secs % 2^34` seconds after now (within httpdate's years).
            let ahead = Duration::from_secs(secs % (1 << 34));
            let date = httpdate::fmt_http_date(now + ahead);
            proptest::prop_assert_eq!(parse_retry_after(&date, now), Some(ahead), "{}", date);
        }
    }

    fn request(idempotent: bool, replayable: bool, unsent: bool) -> Again {
        Again::Request { idempotent, replayable, unsent }
    }

    #[test]
    fn which_requests_are_sent_again() {
        let reset = Error::new(ErrorKind::Io, "reset");
        let answered_503 = Error::new(ErrorKind::Server, "503").with_status(503);
        let answered_501 = Error::new(ErrorKind::Unsupported, "501").with_status(501);
        assert!(worth_retrying(&reset, request(true, true, false)));
        assert!(!worth_retrying(&reset, request(false, true, false)), "a POST that may have arrived");
        assert!(worth_retrying(&reset, request(false, true, true)), "a POST that surely did not");
        assert!(!worth_retrying(&reset, request(true, false, true)), "a stream body cannot be sent again");
        assert!(worth_retrying(&answered_503, request(true, true, false)));
        assert!(!worth_retrying(&answered_503, request(false, true, false)));
        assert!(!worth_retrying(&answered_503, request(true, true, true)), "a token server's 503 is not retried");
        assert!(!worth_retrying(&answered_501, request(true, true, false)));
        assert!(!worth_retrying(&Error::new(ErrorKind::Denied, "403").with_status(403), request(true, true, false)));
    }

    #[test]
    fn which_upload_failures_are_recovered() {
        let recovered = |e: &Error| worth_retrying(e, Again::Upload);
        assert!(recovered(&Error::new(ErrorKind::Io, "reset")));
        assert!(recovered(&Error::new(ErrorKind::Server, "503").with_status(503)));
        assert!(recovered(&Error::new(ErrorKind::TooManyRequests, "429").with_status(429)));
        assert!(recovered(&Error::new(ErrorKind::InvalidInput, "416").with_status(416)));
        assert!(!recovered(&Error::new(ErrorKind::Denied, "403").with_status(403)));
        assert!(!recovered(&Error::new(ErrorKind::InvalidInput, "400").with_status(400)));
        assert!(!recovered(&Error::new(ErrorKind::DigestMismatch, "bad")));
        let cut = Error::new(ErrorKind::InvalidInput, "400").with_status(400).with_codes(vec![
            crate::error::RegistryErrorCode { code: "BLOB_UPLOAD_INVALID".into(), message: String::new() },
        ]);
        assert!(recovered(&cut));
        assert!(!worth_retrying(&cut, Again::Rest));
        assert!(worth_retrying(&Error::new(ErrorKind::Timeout, "slow"), Again::Rest));
    }

    #[test]
    fn next_attempt_honours_retries_budget_and_retry_after() {
        let config = RetryConfig::default().max_retries(2).max_backoff(Duration::from_secs(5));
        let again = request(true, true, false);
        let told = Error::new(ErrorKind::TooManyRequests, "429")
            .with_status(429)
            .with_retry_after(Some(Duration::from_secs(30)));
        assert_eq!(config.next_attempt(&told, again, 1, Duration::ZERO), Some(Duration::from_secs(5)));
        assert_eq!(config.next_attempt(&told, again, 3, Duration::ZERO), None, "no retries left");
        assert_eq!(config.next_attempt(&told, again, 1, Duration::from_secs(58)), None, "over the time budget");
        let denied = Error::new(ErrorKind::Denied, "403").with_status(403);
        assert_eq!(config.next_attempt(&denied, again, 1, Duration::ZERO), None);
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
