//! `--shard K/N`: which planned images one of N copies of a job takes.

use registry_core::{Error, Result};
use sha2::{Digest as _, Sha256};

/// Shard `index` of `count` (`K/N`, K from 0, like Kubernetes' `JOB_COMPLETION_INDEX`): it takes the images whose
/// target reference's SHA-256, read as a big-endian 256-bit number, is `index` modulo `count`. The shards of one
/// plan are disjoint and together are the whole plan, and an image's shard depends on its target alone, so every
/// copy of a job computes the same split without talking to the others.
///
/// The same number in Python: `int(hashlib.sha256(target.encode()).hexdigest(), 16) % count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// K, from 0.
    pub index: u32,
    /// N, at least 1.
    pub count: u32,
}

impl Shard {
    /// Parse `"K/N"` (decimal, K from 0).
    ///
    /// Errors: `InvalidInput` naming the text unless both are numbers, `N >= 1` and `K < N`.
    pub fn parse(text: &str) -> Result<Shard> {
        let invalid = |reason: &str| Error::invalid_input(format!("shard {text:?}: {reason}"));
        let (index, count) = text.split_once('/').ok_or_else(|| invalid("expected K/N, e.g. 0/3"))?;
        let number = |part: &str, what: &str| -> Result<u32> {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid(&format!("{what} {part:?} is not a number (expected K/N, e.g. 0/3)")));
            }
            part.parse::<u32>().map_err(|_| invalid(&format!("{what} {part:?} is too large")))
        };
        let index = number(index, "K")?;
        let count = number(count, "N")?;
        if count == 0 {
            return Err(invalid("N must be at least 1"));
        }
        if index >= count {
            return Err(invalid(&format!("K must be below N (K counts from 0: 0 to {})", count - 1)));
        }
        Ok(Shard { index, count })
    }

    /// Whether this shard takes the image whose target reference is `target` (the [`ImageRef`](super::ImageRef)'s
    /// display form, `host/repo:tag`).
    pub fn takes(&self, target: &str) -> bool {
        shard_of(target, self.count) == self.index
    }
}

/// SHA-256 of `target` as a big-endian number, modulo `count` (at least 1), computed a byte at a time: with
/// `r < count <= u32::MAX`, `r * 256 + 255` fits in a `u64`.
fn shard_of(target: &str, count: u32) -> u32 {
    let count = u64::from(count.max(1));
    let remainder = Sha256::digest(target.as_bytes()).iter().fold(0u64, |r, &b| ((r << 8) | u64::from(b)) % count);
    // The remainder is below `count`, itself a u32.
    u32::try_from(remainder).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_k_of_n_and_names_bad_text() {
        assert_eq!(Shard::parse("0/1").ok(), Some(Shard { index: 0, count: 1 }));
        assert_eq!(Shard::parse("2/3").ok(), Some(Shard { index: 2, count: 3 }));
        for bad in ["", "3", "3/3", "4/3", "0/0", "a/3", "1/b", "-1/3", "1/ 3", "1/3/4", "99999999999/3"] {
            let e = Shard::parse(bad).err().map(|e| (e.kind(), e.message().to_string()));
            let (kind, message) = e.unwrap_or_else(|| panic!("{bad:?} parsed"));
            assert_eq!(kind, registry_core::ErrorKind::InvalidInput, "{bad}");
            assert!(message.contains(&format!("{bad:?}")), "{message}");
        }
    }

    #[test]
    fn every_ref_in_exactly_one_shard() {
        let refs: Vec<String> = (0..1000).map(|i| format!("registry.example.com/team/app{}:v{i}", i % 17)).collect();
        for count in 1..=7u32 {
            let mut sizes = vec![0usize; count as usize];
            for r in &refs {
                let takers: Vec<u32> = (0..count).filter(|&index| Shard { index, count }.takes(r)).collect();
                assert_eq!(takers.len(), 1, "{r} with N={count}: {takers:?}");
                sizes[takers[0] as usize] += 1;
            }
            // A hash spreads 1000 refs: no shard is empty or takes more than twice its share.
            let share = 1000 / count as usize;
            assert!(sizes.iter().all(|&s| s > 0 && s <= 2 * share), "N={count}: {sizes:?}");
        }
    }

    /// Values computed once with Python, independently of this code:
    /// `int(hashlib.sha256(b"...").hexdigest(), 16) % n`.
    #[test]
    fn known_refs_land_where_python_says() {
        for (target, n, expected) in KNOWN {
            assert_eq!(shard_of(target, *n), *expected, "{target} % {n}");
            assert!(Shard { index: *expected, count: *n }.takes(target));
        }
    }

    const KNOWN: &[(&str, u32, u32)] = &[
        ("127.0.0.1:5002/mirror/org/app:v1.2.3", 2, 1),
        ("127.0.0.1:5002/mirror/org/app:v1.2.3", 3, 2),
        ("127.0.0.1:5002/mirror/org/app:v1.2.3", 7, 6),
        ("127.0.0.1:5002/mirror/org/app:v1.2.3", 4294967295, 1315826213),
        ("registry.example.com/team/app:latest", 2, 1),
        ("registry.example.com/team/app:latest", 3, 1),
        ("registry.example.com/team/app:latest", 7, 3),
        ("registry.example.com/team/app:latest", 4294967295, 1743276577),
        ("oci:/srv/airgap/base/os:12", 2, 0),
        ("oci:/srv/airgap/base/os:12", 3, 2),
        ("oci:/srv/airgap/base/os:12", 7, 2),
        ("oci:/srv/airgap/base/os:12", 4294967295, 3936181205),
        ("", 2, 1),
        ("", 3, 1),
        ("", 7, 1),
        ("", 4294967295, 1514845414),
    ];
}
