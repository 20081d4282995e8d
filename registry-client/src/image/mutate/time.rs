//! Timestamps of a mutation: a `SystemTime` as whole Unix seconds (tar `mtime`) and as RFC 3339 in UTC (the
//! config's and history's `created`), without a date-time crate.

use std::time::{SystemTime, UNIX_EPOCH};

use registry_core::{Error, Result};

/// Whole seconds since the Unix epoch; `InvalidInput` for a time before it (a tar header cannot hold one).
pub(crate) fn unix_seconds(t: SystemTime) -> Result<u64> {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| Error::invalid_input("a created time before 1970-01-01T00:00:00Z cannot be set"))
}

/// `secs` after the epoch as RFC 3339 UTC with whole seconds, e.g. `2024-02-29T13:05:09Z`.
pub(crate) fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rest = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// The proleptic Gregorian date `days` after 1970-01-01 (the "days from civil" inverse, in 400-year eras).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days.saturating_add(719_468);
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn formats_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_709_211_909), "2024-02-29T13:05:09Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
        assert_eq!(unix_seconds(UNIX_EPOCH + Duration::from_millis(1500)).ok(), Some(1));
        assert!(unix_seconds(UNIX_EPOCH - Duration::from_secs(1)).is_err());
    }
}
