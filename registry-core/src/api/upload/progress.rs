//! Whether an upload gets anywhere: the registry's confirmed offset (the `Range: 0-<end>` of its answers) must
//! grow. A registry that keeps answering chunks with success but the same `Range` (distribution-like servers with a
//! broken storage driver, proxies that answer every `PATCH` from a cache) would otherwise have the same bytes sent
//! again forever.

use crate::error::{Error, Result};

/// How many answers in a row may leave the registry's confirmed offset where it was (or move it back) before the
/// upload is abandoned with an [`ErrorKind::Protocol`](crate::ErrorKind::Protocol) error naming the `Range`. Each
/// such answer costs one chunk sent again, so the bound is small; a registry that makes progress resets it.
pub(crate) const MAX_STALLED_CHUNKS: u32 = 3;

/// The registry's confirmed offset of one upload, and how many answers in a row did not advance it.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// The highest offset the registry confirmed, in bytes.
    confirmed: u64,
    /// Answers in a row that confirmed no more than `confirmed`.
    stalled: u32,
}

impl Progress {
    /// The registry confirmed `got` bytes, in an answer whose `Range` was `range` (`None`: it sent none). An
    /// [`ErrorKind::Protocol`](crate::ErrorKind::Protocol) error naming the `Range` once [`MAX_STALLED_CHUNKS`]
    /// answers in a row did not move it past the highest offset confirmed before.
    pub(crate) fn record(&mut self, got: u64, range: Option<&str>) -> Result<()> {
        if got > self.confirmed {
            self.confirmed = got;
            self.stalled = 0;
            return Ok(());
        }
        self.stalled += 1;
        if self.stalled < MAX_STALLED_CHUNKS {
            return Ok(());
        }
        let shown = match range {
            Some(r) => format!("the registry's Range stayed at {r}"),
            None => format!("the registry's offset stayed at {got}"),
        };
        let bytes = if self.confirmed == 1 { "1 byte".to_string() } else { format!("{} bytes", self.confirmed) };
        Err(Error::protocol(format!(
            "{shown} through {} chunk answers in a row that confirmed nothing new ({bytes} confirmed in all): \
             upload abandoned",
            self.stalled
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn a_stuck_range_ends_the_upload_after_the_bound() {
        let mut p = Progress::default();
        assert!(p.record(1, Some("0-0")).is_ok(), "the first answer confirms a byte");
        for _ in 1..MAX_STALLED_CHUNKS {
            assert!(p.record(1, Some("0-0")).is_ok());
        }
        let e = p.record(1, Some("0-0")).err().map(|e| (e.kind(), e.to_string()));
        let (kind, msg) = e.unwrap_or_else(|| panic!("no error after {MAX_STALLED_CHUNKS} stalled answers"));
        assert_eq!(kind, ErrorKind::Protocol);
        assert!(msg.contains("Range stayed at 0-0") && msg.contains("upload abandoned"), "{msg}");
    }

    #[test]
    fn progress_resets_the_count_and_going_back_is_no_progress() {
        let mut p = Progress::default();
        for got in [10, 10, 10, 20, 5, 20, 30] {
            assert!(p.record(got, None).is_ok(), "{got}");
        }
        assert!(p.record(30, None).is_ok());
        assert!(p.record(29, None).is_ok());
        assert!(p.record(30, None).is_err_and(|e| e.to_string().contains("offset stayed at 30")));
    }
}
