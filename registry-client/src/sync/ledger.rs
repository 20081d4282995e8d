//! Which blobs each target registry has got in this run, so each is uploaded once and mounted after.
//!
//! The ledger maps (target host, blob digest) to "in flight" (an image is pushing it) or "present in repository
//! R". The first image needing a blob on a host claims it and pushes it; any other image needing it on that host
//! waits while it is in flight, then pushes with `mount_from = R`: a cross-repository mount, no bytes. When the
//! pushing image fails (or is dropped), a waiting image takes the claim over.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};

use registry_core::{Digest, Repository};
use tokio::sync::watch;

/// How many times one claim waits for a blob in flight before pushing it itself (each wait ends when the image
/// pushing it finishes; only a chain of failing pushes reaches this).
const MAX_WAITS: usize = 64;

/// What a claim got.
#[derive(Debug)]
pub(crate) enum Claimed {
    /// Push it; the sender is dropped when done (after [`Ledger::done`]), which wakes the waiters.
    Owner(watch::Sender<()>),
    /// It is in this repository of the host.
    Present(Repository),
}

/// The state of one blob on one host.
#[derive(Debug)]
enum Entry {
    InFlight(watch::Receiver<()>),
    Present(Repository),
}

/// Blobs per target host, shared by every image of a run.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    blobs: Mutex<HashMap<(String, Digest), Entry>>,
    /// Blobs this run pushed, mounted or found in a repository (not those only the journal names: a registry may
    /// have collected them since).
    confirmed: Mutex<HashSet<(Repository, Digest)>>,
}

impl Ledger {
    fn lock(&self) -> MutexGuard<'_, HashMap<(String, Digest), Entry>> {
        self.blobs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Claim `digest` on `host`: the owner's ticket when nobody has it, the repository holding it when it is
    /// there, after waiting while another image pushes it.
    pub(crate) async fn claim(&self, host: &str, digest: &Digest) -> Claimed {
        let key = (host.to_string(), digest.clone());
        for _ in 0..MAX_WAITS {
            let mut waiting = {
                let mut blobs = self.lock();
                match blobs.get(&key) {
                    Some(Entry::Present(repository)) => return Claimed::Present(repository.clone()),
                    Some(Entry::InFlight(rx)) if rx.has_changed().is_ok() => rx.clone(),
                    // Nobody has it, or its pusher went away without saying: take it.
                    _ => {
                        let (tx, rx) = watch::channel(());
                        blobs.insert(key, Entry::InFlight(rx));
                        return Claimed::Owner(tx);
                    }
                }
            };
            // The sender never sends: this returns when the owner drops it.
            let _ = waiting.changed().await;
        }
        let (tx, _) = watch::channel(());
        Claimed::Owner(tx)
    }

    /// The owner of `digest` on `host` is done: it is in `present_in` now, or (`None`) the push failed and the
    /// claim is open again.
    pub(crate) fn done(&self, host: &str, digest: &Digest, present_in: Option<Repository>) {
        let key = (host.to_string(), digest.clone());
        let mut blobs = self.lock();
        match present_in {
            Some(repository) => {
                blobs.insert(key, Entry::Present(repository));
            }
            None => {
                if matches!(blobs.get(&key), Some(Entry::InFlight(_))) {
                    blobs.remove(&key);
                }
            }
        }
    }

    /// `digest` is in `repository` now: this run pushed, mounted or found it there.
    pub(crate) fn confirm(&self, repository: &Repository, digest: &Digest) {
        self.confirmed.lock().unwrap_or_else(PoisonError::into_inner).insert((repository.clone(), digest.clone()));
    }

    /// Whether this run confirmed `digest` in `repository` ([`Ledger::confirm`]).
    pub(crate) fn confirmed(&self, repository: &Repository, digest: &Digest) -> bool {
        self.confirmed.lock().unwrap_or_else(PoisonError::into_inner).contains(&(repository.clone(), digest.clone()))
    }

    /// Record that `digest` is in `repository` of `host` (known from the journal of an earlier run).
    pub(crate) fn know(&self, host: &str, digest: &Digest, repository: Repository) {
        self.lock().entry((host.to_string(), digest.clone())).or_insert(Entry::Present(repository));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    fn repo(path: &str) -> Repository {
        Repository::parse(&format!("127.0.0.1:5000/{path}")).unwrap()
    }

    #[tokio::test]
    async fn the_second_claim_waits_for_the_first_then_mounts_from_its_repository() {
        let ledger = Arc::new(Ledger::default());
        let d = Digest::sha256(b"layer");
        let Claimed::Owner(ticket) = ledger.claim("h", &d).await else { panic!("first claim must own") };
        let l2 = ledger.clone();
        let d2 = d.clone();
        let waiter = tokio::spawn(async move { l2.claim("h", &d2).await });
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(!waiter.is_finished(), "the second claim did not wait for the blob in flight");
        ledger.done("h", &d, Some(repo("a")));
        drop(ticket);
        match waiter.await.unwrap() {
            Claimed::Present(r) => assert_eq!(r, repo("a")),
            Claimed::Owner(_) => panic!("the waiter should mount, not push"),
        }
        // Another host is another registry.
        assert!(matches!(ledger.claim("other", &d).await, Claimed::Owner(_)));
    }

    #[tokio::test]
    async fn a_failed_or_dropped_owner_hands_the_claim_over() {
        let ledger = Arc::new(Ledger::default());
        let d = Digest::sha256(b"layer");
        let Claimed::Owner(ticket) = ledger.claim("h", &d).await else { panic!() };
        let l2 = ledger.clone();
        let d2 = d.clone();
        let waiter = tokio::spawn(async move { l2.claim("h", &d2).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(ticket); // dropped without done: as an aborted image
        assert!(matches!(waiter.await.unwrap(), Claimed::Owner(_)));
        ledger.done("h", &d, None);
        assert!(matches!(ledger.claim("h", &d).await, Claimed::Owner(_)));
    }

    #[test]
    fn confirmed_is_per_repository_and_not_from_the_journal() {
        let ledger = Ledger::default();
        let d = Digest::sha256(b"x");
        ledger.know("h", &d, repo("b"));
        assert!(!ledger.confirmed(&repo("b"), &d), "a journal record is not a confirmation in this run");
        ledger.confirm(&repo("a"), &d);
        assert!(ledger.confirmed(&repo("a"), &d));
        assert!(!ledger.confirmed(&repo("c"), &d));
    }

    #[tokio::test]
    async fn known_blobs_are_present() {
        let ledger = Ledger::default();
        let d = Digest::sha256(b"x");
        ledger.know("h", &d, repo("b"));
        assert!(matches!(ledger.claim("h", &d).await, Claimed::Present(r) if r == repo("b")));
    }
}
