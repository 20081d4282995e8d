//! SIGTERM and Ctrl-C during a run: the first cancels the run's token (no new image starts, uploads in flight
//! finish, the report is printed, the exit status is non-zero); a second exits at once.

use tokio::signal::unix::{signal, SignalKind};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Exit status after a second SIGTERM (128 + 15, as a shell reports a process killed by it).
const EXIT_SIGTERM: i32 = 143;
/// Exit status after a second SIGINT (128 + 2).
const EXIT_SIGINT: i32 = 130;

/// Watch for SIGTERM and SIGINT until the returned task is aborted: the first cancels `cancel`, the second ends
/// the process.
pub(crate) fn watch(cancel: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut term = match signal(SignalKind::terminate()) {
            Ok(term) => term,
            Err(e) => {
                tracing::warn!("cannot watch SIGTERM: {e}");
                return;
            }
        };
        let mut int = match signal(SignalKind::interrupt()) {
            Ok(int) => int,
            Err(e) => {
                tracing::warn!("cannot watch SIGINT: {e}");
                return;
            }
        };
        let mut seen = 0u8;
        loop {
            let (name, code) = tokio::select! {
                _ = term.recv() => ("SIGTERM", EXIT_SIGTERM),
                _ = int.recv() => ("SIGINT", EXIT_SIGINT),
            };
            seen = seen.saturating_add(1);
            if seen == 1 {
                eprintln!(
                    "regcli: {name}: stopping: no new image starts, uploads in flight finish (again to exit at once)"
                );
                cancel.cancel();
            } else {
                eprintln!("regcli: {name} again: exiting at once");
                std::process::exit(code);
            }
        }
    })
}
