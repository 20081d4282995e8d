//! Blocking writes of a layout's files that run to their end before the operation that started them is over, even
//! when its future is dropped half-way.
//!
//! A blocking task is never cancelled: dropping the future awaiting it (a copy whose other branch failed drops its
//! siblings) lets the write go on in the background while the operation returns its error. A process exiting then
//! (`regcli` does, at once) kills the write between its temp file and its rename, which left
//! `.oci-layout.tmp-XXXXXX` in a new layout directory without an `oci-layout`. [`finishing`] makes the dropped
//! future wait, in its drop, until the write returned (a bounded wait): the files are renamed into place, or the
//! temp file is removed by the write's own error path, before anything sees the operation end.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use registry_core::Result;

use crate::image::blocking::run_blocking;

/// The longest a dropped future waits for its write to end: 60 seconds (a layout file write is a few KiB and a
/// sync; a disk that takes longer is given up on, the write going on in the background as before).
const FINISH_WAIT: Duration = Duration::from_secs(60);

/// The write's end: whether it ended (returned, panicked, or was dropped unstarted) and what it returned, kept
/// here rather than in the task's output so that a dropped caller's drop owns it (a temp file it returned is
/// removed before that drop returns, not later by the pool).
struct Ended<T> {
    state: Mutex<(bool, Option<Result<T>>)>,
    changed: Condvar,
}

impl<T> Ended<T> {
    fn new() -> Ended<T> {
        Ended { state: Mutex::new((false, None)), changed: Condvar::new() }
    }

    fn set(&self, result: Option<Result<T>>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.0 = true;
        if result.is_some() {
            state.1 = result;
        }
        drop(state);
        self.changed.notify_all();
    }

    /// Wait until ended, at most `limit`, and take what it returned. `Err(())` when the wait timed out.
    fn wait(&self, limit: Duration) -> std::result::Result<Option<Result<T>>, ()> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (mut state, _) =
            self.changed.wait_timeout_while(state, limit, |s| !s.0).unwrap_or_else(PoisonError::into_inner);
        if state.0 {
            Ok(state.1.take())
        } else {
            Err(())
        }
    }
}

/// Sets [`Ended`] when dropped without a result: the closure panicked, or the pool dropped it unrun.
struct SetOnDrop<T>(Option<Arc<Ended<T>>>);

impl<T> Drop for SetOnDrop<T> {
    fn drop(&mut self) {
        if let Some(ended) = self.0.take() {
            ended.set(None);
        }
    }
}

/// Waits for [`Ended`] when dropped while still armed (the awaiting future was dropped before the write ended),
/// then drops what the write returned, here.
struct WaitOnDrop<T>(Option<Arc<Ended<T>>>);

impl<T> Drop for WaitOnDrop<T> {
    fn drop(&mut self) {
        if let Some(ended) = self.0.take() {
            match ended.wait(FINISH_WAIT) {
                Ok(result) => drop(result),
                Err(()) => tracing::warn!(
                    "a layout file write still runs {} s after its operation stopped",
                    FINISH_WAIT.as_secs()
                ),
            }
        }
    }
}

/// Run the blocking write `f` on the runtime's blocking pool and return what it returns (`Io` when the task
/// panicked); when this future is dropped before `f` ended, the drop blocks until it has (at most 60 seconds) and
/// drops what `f` returned (a temp file is removed) before it returns. For short writes only (a layout's
/// `oci-layout`, `index.json`, a blob's temp file and rename): a drop blocks its thread.
pub(crate) async fn finishing<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    let ended = Arc::new(Ended::new());
    let mut set = SetOnDrop(Some(ended.clone()));
    let mut armed = WaitOnDrop(Some(ended.clone()));
    run_blocking("layout file write failed", move || {
        let result = f();
        if let Some(ended) = set.0.take() {
            ended.set(Some(result));
        }
        Ok(())
    })
    .await?;
    armed.0 = None;
    let taken = ended.state.lock().unwrap_or_else(PoisonError::into_inner).1.take();
    taken.unwrap_or_else(|| {
        Err(registry_core::Error::new(registry_core::ErrorKind::Io, "layout file write lost its result"))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_write_has_ended_when_the_drop_returns() {
        let finished = Arc::new(AtomicBool::new(false));
        let seen = finished.clone();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let write = finishing(move || {
            let _ = started_tx.send(());
            std::thread::sleep(Duration::from_millis(300));
            seen.store(true, Ordering::SeqCst);
            Ok(())
        });
        // Run it until the write started, then drop it (as a failing join drops its other branches).
        let mut write = Box::pin(write);
        tokio::select! {
            _ = &mut write => panic!("the write ended before it was dropped"),
            _ = started_rx => {}
        }
        drop(write);
        assert!(finished.load(Ordering::SeqCst), "the drop returned before the write ended");
    }

    #[tokio::test]
    async fn a_write_returns_its_result() {
        assert_eq!(finishing(|| Ok(7)).await.unwrap(), 7);
        let e = finishing(|| Err::<(), _>(registry_core::Error::invalid_input("no"))).await.unwrap_err();
        assert_eq!(e.to_string(), registry_core::Error::invalid_input("no").to_string());
    }
}
