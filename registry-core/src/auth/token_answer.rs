//! The token server's answer: the token and how long it lives (`expires_in`, `issued_at`), read defensively: the
//! numbers are the server's choice, so none of them can overflow a clock.

use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde_json::Value;

/// The lifetime assumed when a token answer has no usable `expires_in` (the distribution token spec's default).
pub(crate) const DEFAULT_LIFETIME: Duration = Duration::from_secs(60);
/// The longest lifetime believed, whatever `expires_in` says: a token is fetched again at least once a day.
pub(crate) const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// A token answer's fields; the numbers are kept as any JSON so that an odd one (negative, fractional, a string,
/// beyond `u64`) falls back to the default instead of refusing the token.
#[derive(Deserialize)]
struct TokenResponse {
    token: Option<String>,
    access_token: Option<String>,
    expires_in: Option<Value>,
    issued_at: Option<Value>,
}

/// Why a token answer holds no token.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NotAToken {
    /// The body is not JSON (`html`: it looks like an HTML page); the parser's message.
    NotJson { html: bool, detail: String },
    /// The JSON has no non-empty `token` or `access_token`.
    NoToken,
}

/// The token and its remaining lifetime (at most [`MAX_LIFETIME`]) from a token answer's `body`, `now` being the
/// time it arrived.
pub(crate) fn parse_answer(body: &[u8], now: SystemTime) -> Result<(String, Duration), NotAToken> {
    let parsed: TokenResponse = serde_json::from_slice(body)
        .map_err(|e| NotAToken::NotJson { html: body.trim_ascii_start().starts_with(b"<"), detail: e.to_string() })?;
    let value = parsed
        .token
        .filter(|t| !t.is_empty())
        .or(parsed.access_token.filter(|t| !t.is_empty()))
        .ok_or(NotAToken::NoToken)?;
    let expires_in = parsed.expires_in.as_ref().and_then(seconds);
    let issued_at = parsed.issued_at.as_ref().and_then(Value::as_str);
    Ok((value, remaining_lifetime(expires_in, issued_at, now)))
}

/// `expires_in` as whole seconds: a non-negative integer (or a string of one); a fraction is rounded down, a number
/// beyond `u64` saturates. Anything else is no lifetime.
fn seconds(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            // Negative integers give `None` here; `as` saturates a finite float at `u64::MAX`.
            n.as_f64().filter(|f| f.is_finite() && *f >= 0.0).map(|f| f as u64)
        }),
        Value::String(s) if !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) => {
            Some(s.parse().unwrap_or(u64::MAX))
        }
        _ => None,
    }
}

/// How long a token answered with `expires_in` and `issued_at` still has to live, at most [`MAX_LIFETIME`].
/// `issued_at` shortens the lifetime by the token's age when the two clocks plausibly agree; when it lies in the
/// future, or the token would already be expired (clock skew), `expires_in` counts from now.
pub(crate) fn remaining_lifetime(expires_in: Option<u64>, issued_at: Option<&str>, now: SystemTime) -> Duration {
    let lifetime = expires_in.filter(|s| *s > 0).map(Duration::from_secs).unwrap_or(DEFAULT_LIFETIME).min(MAX_LIFETIME);
    let age = issued_at.and_then(parse_rfc3339).and_then(|issued| now.duration_since(issued).ok());
    match age {
        Some(age) if age < lifetime => lifetime - age,
        _ => lifetime,
    }
}

/// Parse an RFC 3339 timestamp (`2026-11-22T10:00:00Z`, `...T10:00:00.123+01:00`).
pub(crate) fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    // Every field is ASCII digits, so no slice below splits a character.
    let digits = |s: &str| -> Option<i64> { s.bytes().all(|c| c.is_ascii_digit()).then(|| s.parse().ok())? };
    let num = |from: usize, len: usize| -> Option<i64> { digits(text.get(from..from + len)?) };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if b[16] != b':' || !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    let mut rest = text.get(19..)?;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        rest = frac.get(n..)?;
    }
    let r = rest.as_bytes();
    let offset = match rest {
        "Z" | "z" => 0,
        _ if r.len() == 6 && matches!(r[0], b'+' | b'-') && r[3] == b':' => {
            let sign = if r[0] == b'-' { -1 } else { 1 };
            let (h, m) = (digits(rest.get(1..3)?)?, digits(rest.get(4..6)?)?);
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). Four-digit years keep
    // every product far inside i64.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second.min(60) - offset;
    u64::try_from(secs).ok().and_then(|s| SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(s)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(s: &str) -> Option<Duration> {
        parse_rfc3339(s).and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
    }

    #[test]
    fn rfc3339_timestamps() {
        assert_eq!(at("1970-01-01T00:00:00Z"), Some(Duration::ZERO));
        assert_eq!(at("2026-11-22T10:00:00Z"), Some(Duration::from_secs(1_795_341_600)));
        assert_eq!(at("2026-11-22T10:00:00.123456789Z"), Some(Duration::from_secs(1_795_341_600)));
        assert_eq!(at("2026-11-22T11:30:00+01:30"), Some(Duration::from_secs(1_795_341_600)));
        assert_eq!(at("2000-02-29T23:59:59-00:00"), Some(Duration::from_secs(951_868_799)));
        for bad in ["", "2026-11-22", "2026-13-01T00:00:00Z", "2026-11-22T10:00:00", "2026-11-22T10:00:00+0100", "x"] {
            assert_eq!(at(bad), None, "{bad}");
        }
        // A multi-byte character where the offset's digits would be: no panic, no timestamp.
        assert_eq!(at("2026-11-22T10:00:00+\u{e9}\u{e9}0"), None);
        assert_eq!(at("2026-11-22T10:00:00+-1:00"), None, "a sign is not a digit");
        assert_eq!(at("2026-11-22T10:00:00+99:00"), None);
    }

    #[test]
    fn lifetime_counts_from_issued_at_when_clocks_agree() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_341_600);
        let life = |e, i| remaining_lifetime(e, i, now);
        assert_eq!(life(Some(300), None), Duration::from_secs(300));
        assert_eq!(life(None, None), DEFAULT_LIFETIME);
        assert_eq!(life(Some(0), None), DEFAULT_LIFETIME);
        assert_eq!(life(Some(300), Some("2026-11-22T09:59:00Z")), Duration::from_secs(240));
        // Issued in the future or already expired by our clock: skew, count from now.
        assert_eq!(life(Some(300), Some("2026-11-22T10:05:00Z")), Duration::from_secs(300));
        assert_eq!(life(Some(300), Some("2026-11-22T09:00:00Z")), Duration::from_secs(300));
        assert_eq!(life(Some(300), Some("yesterday")), Duration::from_secs(300));
    }

    #[test]
    fn numbers_the_server_chose_are_clamped() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_341_600);
        let life = |body: &str| parse_answer(body.as_bytes(), now).map(|(_, l)| l);
        assert_eq!(life(r#"{"token":"t","expires_in":18446744073709551615}"#), Ok(MAX_LIFETIME));
        assert_eq!(life(r#"{"token":"t","expires_in":1e300}"#), Ok(MAX_LIFETIME));
        assert_eq!(life(r#"{"token":"t","expires_in":99999999999999999999999999}"#), Ok(MAX_LIFETIME));
        assert_eq!(life(r#"{"token":"t","expires_in":"99999999999999999999999"}"#), Ok(MAX_LIFETIME));
        assert_eq!(life(r#"{"token":"t","expires_in":-5}"#), Ok(DEFAULT_LIFETIME));
        assert_eq!(life(r#"{"token":"t","expires_in":"soon"}"#), Ok(DEFAULT_LIFETIME));
        assert_eq!(life(r#"{"token":"t","expires_in":300.9}"#), Ok(Duration::from_secs(300)));
        assert_eq!(life(r#"{"token":"t","expires_in":"300"}"#), Ok(Duration::from_secs(300)));
        assert_eq!(life(r#"{"token":"t","expires_in":300,"issued_at":12}"#), Ok(Duration::from_secs(300)));
        assert_eq!(
            life(r#"{"token":"t","expires_in":300,"issued_at":"0001-01-01T00:00:00Z"}"#),
            Ok(Duration::from_secs(300))
        );
        assert_eq!(
            life(r#"{"token":"t","expires_in":300,"issued_at":"9999-12-31T23:59:59Z"}"#),
            Ok(Duration::from_secs(300))
        );
        assert_eq!(life(r#"{"access_token":"a"}"#), Ok(DEFAULT_LIFETIME));
        assert_eq!(life(r#"{"token":""}"#), Err(NotAToken::NoToken));
        assert!(matches!(life("<html></html>"), Err(NotAToken::NotJson { html: true, .. })));
        // And the token built from it: no overflow of the clock.
        let answer = parse_answer(br#"{"token":"t","expires_in":18446744073709551615}"#, now);
        let token = answer.map(|(value, lifetime)| crate::auth::token_cache::Token::new(value, lifetime));
        assert!(token.is_ok_and(|t| t.refresh_at > std::time::Instant::now()));
    }

    /// Any JSON number or string as `expires_in` / `issued_at`.
    fn json_value() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<u64>().prop_map(|n| n.to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| format!("{f:e}")),
            "[0-9]{1,40}",
            any::<String>().prop_map(|s| serde_json::Value::String(s).to_string()),
            "\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,12})?([Zz]|[+-][0-9]{2}:[0-9]{2})\"",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        #[test]
        fn any_token_answer_parses_without_panic(
            body in prop_oneof![any::<Vec<u8>>(), any::<String>().prop_map(String::into_bytes)],
            now in any::<u64>(),
        ) {
            let now = SystemTime::UNIX_EPOCH + Duration::from_secs(now % (1 << 40));
            if let Ok((_, lifetime)) = parse_answer(&body, now) {
                prop_assert!(lifetime <= MAX_LIFETIME);
            }
        }

        #[test]
        fn any_numbers_in_a_token_answer_give_a_bounded_lifetime(
            expires in json_value(),
            issued in json_value(),
            now in 0u64..(1 << 40),
        ) {
            let now = SystemTime::UNIX_EPOCH + Duration::from_secs(now);
            let body = format!(r#"{{"token":"t","expires_in":{expires},"issued_at":{issued}}}"#);
            if let Ok((value, lifetime)) = parse_answer(body.as_bytes(), now) {
                prop_assert_eq!(value, "t");
                prop_assert!(lifetime > Duration::ZERO && lifetime <= MAX_LIFETIME, "{:?}", lifetime);
                let token = crate::auth::token_cache::Token::new("t".into(), lifetime);
                prop_assert!(token.refresh_at > std::time::Instant::now() - Duration::from_secs(1));
            }
        }

        #[test]
        fn rfc3339_parses_any_text_without_panic(text in any::<String>()) {
            let _ = parse_rfc3339(&text);
        }

        #[test]
        fn rfc3339_round_trips_valid_timestamps(secs in 0u64..253_402_300_800) {
            // Format `secs` (up to 9999-12-31T23:59:59Z) and read it back.
            let days = (secs / 86_400) as i64;
            let z = days + 719_468;
            let era = z.div_euclid(146_097);
            let doe = z.rem_euclid(146_097);
            let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
            let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
            let mp = (5 * doy + 2) / 153;
            let day = doy - (153 * mp + 2) / 5 + 1;
            let month = if mp < 10 { mp + 3 } else { mp - 9 };
            let year = yoe + era * 400 + i64::from(month <= 2);
            let s = secs % 86_400;
            let text = format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60);
            prop_assert_eq!(at(&text), Some(Duration::from_secs(secs)), "{}", text);
        }
    }
}
