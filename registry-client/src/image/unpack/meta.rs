//! An entry's metadata (mode, owner, modification time) as read from its tar header and PAX records, what of it
//! is applied ([`Policy`]), and applying it to what was written, by descriptor where there is one.
//!
//! The policy: the permission bits (0o777) and the sticky bit are kept as the archive gives them (no umask).
//! Set-user-ID and set-group-ID (0o6000) are kept only when ownership is applied too: they mean "run as this
//! owner", and without the archive's owner they would mean "run as whoever extracted", a set-uid binary of the
//! extracting user (or of root) that the image never had. Ownership is applied only when asked and running as
//! root (effective uid 0); otherwise files belong to the extracting user. Times: the modification time (PAX
//! `mtime` with its fraction when present, else the header's seconds), the access time set to the same; symlinks
//! get theirs without following them.

use std::fs::File;
use std::io::Read;

use registry_core::{Error, Result};
use rustix::fs::{AtFlags, Gid, Mode, Timespec, Timestamps, Uid};

use crate::image::extract_options::ExtractOptions;
use crate::image::unpack::confine::shown;
use crate::image::unpack::tree::{io_error, Dir};

/// Permission bits and the sticky bit: always kept.
const PERMISSIONS: u32 = 0o1777;
/// Set-user-ID and set-group-ID: kept with ownership only.
const SET_ID: u32 = 0o6000;

/// What of an entry's metadata is applied, decided once per extraction.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    ownership: bool,
    devices: bool,
}

impl Policy {
    /// The policy for `options` in this process (ownership needs root).
    pub(crate) fn new(options: &ExtractOptions) -> Policy {
        Policy {
            ownership: options.preserves_ownership() && rustix::process::geteuid().is_root(),
            devices: options.creates_devices(),
        }
    }

    /// Whether device nodes and FIFOs are created.
    pub(crate) fn devices(&self) -> bool {
        self.devices
    }

    /// The mode bits kept of the archive's `mode`.
    fn mode(&self, mode: u32) -> u32 {
        if self.ownership {
            mode & (PERMISSIONS | SET_ID)
        } else {
            mode & PERMISSIONS
        }
    }
}

/// One entry's metadata, with the policy applied.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Meta {
    mode: u32,
    owner: Option<(Uid, Gid)>,
    mtime: Option<Timespec>,
}

impl Meta {
    /// The metadata of `entry` under `policy`. Errors: `InvalidInput` naming the entry for a header field that
    /// does not parse (mode, uid, gid) or an owner past 32 bits when ownership is applied.
    pub(crate) fn read<R: Read>(entry: &mut tar::Entry<'_, R>, name: &[u8], policy: &Policy) -> Result<Meta> {
        let bad = |field: &str, e: std::io::Error| {
            Error::invalid_input(format!("tar entry {}: its {field} does not parse: {e}", shown(name)))
        };
        let header = entry.header();
        let mode = policy.mode(header.mode().map_err(|e| bad("mode", e))?);
        let owner = if policy.ownership {
            let uid = header.uid().map_err(|e| bad("uid", e))?;
            let gid = header.gid().map_err(|e| bad("gid", e))?;
            let (Ok(uid), Ok(gid)) = (u32::try_from(uid), u32::try_from(gid)) else {
                return Err(Error::invalid_input(format!(
                    "tar entry {}: owner {uid}:{gid} is past 32 bits",
                    shown(name)
                )));
            };
            Some((Uid::from_raw(uid), Gid::from_raw(gid)))
        } else {
            None
        };
        let header_mtime = header.mtime().ok().and_then(|s| i64::try_from(s).ok());
        let pax_mtime = match entry.pax_extensions() {
            Ok(Some(records)) => records
                .filter_map(|r| r.ok())
                .filter(|r| r.key_bytes() == b"mtime")
                .last()
                .and_then(|r| pax_time(r.value_bytes())),
            _ => None,
        };
        let mtime = pax_mtime.or(header_mtime.map(|tv_sec| Timespec { tv_sec, tv_nsec: 0 }));
        Ok(Meta { mode, owner, mtime })
    }

    /// Apply owner, mode and times to the open `file` (a regular file or a directory), owner first (a `chown`
    /// clears set-uid bits). Errors: `Io` naming the entry.
    pub(crate) fn apply_to(&self, file: &File, name: &[u8]) -> Result<()> {
        let fail = |what: &str, e| io_error(format!("extracting {}: setting its {what}", shown(name)), e);
        if let Some((uid, gid)) = self.owner {
            rustix::fs::fchown(file, Some(uid), Some(gid)).map_err(|e| fail("owner", e))?;
        }
        rustix::fs::fchmod(file, Mode::from_raw_mode(self.mode)).map_err(|e| fail("mode", e))?;
        if let Some(times) = self.times() {
            rustix::fs::futimens(file, &times).map_err(|e| fail("modification time", e))?;
        }
        Ok(())
    }

    /// Apply owner and times to the symlink `link` in `parent`, not following it (a symlink has no mode of its
    /// own on Linux). Errors: `Io` naming the entry.
    pub(crate) fn apply_to_symlink(&self, parent: &Dir<'_>, link: &[u8], name: &[u8]) -> Result<()> {
        let fail = |what: &str, e| io_error(format!("extracting {}: setting its {what}", shown(name)), e);
        if let Some((uid, gid)) = self.owner {
            rustix::fs::chownat(parent, link, Some(uid), Some(gid), AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| fail("owner", e))?;
        }
        if let Some(times) = self.times() {
            rustix::fs::utimensat(parent, link, &times, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| fail("modification time", e))?;
        }
        Ok(())
    }

    /// Apply owner, mode and times to the device node or FIFO `node` in `parent`. The owner and times are set
    /// without following a symlink; the mode by name (Linux `fchmodat` cannot refuse a symlink before 6.6): a
    /// process racing the extraction inside the directory could swap `node` for a symlink in that instant. The
    /// kernel's `AT_SYMLINK_NOFOLLOW` is tried first. Errors: `Io` naming the entry.
    pub(crate) fn apply_to_node(&self, parent: &Dir<'_>, node: &[u8], name: &[u8]) -> Result<()> {
        let fail = |what: &str, e| io_error(format!("extracting {}: setting its {what}", shown(name)), e);
        if let Some((uid, gid)) = self.owner {
            rustix::fs::chownat(parent, node, Some(uid), Some(gid), AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| fail("owner", e))?;
        }
        let mode = Mode::from_raw_mode(self.mode);
        match rustix::fs::chmodat(parent, node, mode, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(()) => {}
            Err(rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::NOSYS | rustix::io::Errno::INVAL) => {
                rustix::fs::chmodat(parent, node, mode, AtFlags::empty()).map_err(|e| fail("mode", e))?
            }
            Err(e) => return Err(fail("mode", e)),
        }
        if let Some(times) = self.times() {
            rustix::fs::utimensat(parent, node, &times, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| fail("modification time", e))?;
        }
        Ok(())
    }

    /// The mode bits kept (after the policy).
    pub(crate) fn mode(&self) -> u32 {
        self.mode
    }

    fn times(&self) -> Option<Timestamps> {
        self.mtime.map(|t| Timestamps { last_access: t, last_modification: t })
    }
}

/// A PAX time (`1700000000`, `1700000000.5`, `-1.25`): seconds and a fraction of up to nanoseconds. `None` when it
/// does not parse or does not fit.
fn pax_time(value: &[u8]) -> Option<Timespec> {
    let text = std::str::from_utf8(value).ok()?;
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seconds: i64 = whole.parse().ok()?;
    let digits = fraction.get(..fraction.len().min(9)).unwrap_or("");
    let mut nanos: i64 = if digits.is_empty() { 0 } else { digits.parse().ok()? };
    for _ in digits.len()..9 {
        nanos = nanos.checked_mul(10)?;
    }
    if !negative {
        return Some(Timespec { tv_sec: seconds, tv_nsec: nanos });
    }
    // -1.25 is 1.25 seconds before the epoch: tv_sec -2, tv_nsec 0.75 s.
    if nanos == 0 {
        Some(Timespec { tv_sec: seconds.checked_neg()?, tv_nsec: 0 })
    } else {
        Some(Timespec { tv_sec: seconds.checked_neg()?.checked_sub(1)?, tv_nsec: 1_000_000_000 - nanos })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_times_parse() {
        let t = |s: &str| pax_time(s.as_bytes()).map(|t| (t.tv_sec, t.tv_nsec));
        assert_eq!(t("1700000000"), Some((1_700_000_000, 0)));
        assert_eq!(t("1700000000.5"), Some((1_700_000_000, 500_000_000)));
        assert_eq!(t("1.123456789123"), Some((1, 123_456_789)));
        assert_eq!(t("-1.25"), Some((-2, 750_000_000)));
        assert_eq!(t("-3"), Some((-3, 0)));
        for bad in ["", ".5", "1e9", "abc", "1.2.3", "99999999999999999999", "+1", "1.-5"] {
            assert_eq!(t(bad), None, "{bad}");
        }
    }

    #[test]
    fn set_id_bits_need_ownership() {
        let without = Policy { ownership: false, devices: false };
        let with = Policy { ownership: true, devices: false };
        assert_eq!(without.mode(0o104755), 0o755);
        assert_eq!(without.mode(0o1777), 0o1777);
        assert_eq!(without.mode(0o2755), 0o755);
        assert_eq!(with.mode(0o104755), 0o4755);
        assert_eq!(with.mode(0o6755), 0o6755);
    }
}
