//! The client's `tracing` output, captured for tests to read.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use tracing_subscriber::util::SubscriberInitExt;

/// Everything written to it, shared by its clones: a `tracing_subscriber` writer.
#[derive(Debug, Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    /// The `tracing` events (INFO and up) of this thread while the guard lives. A `#[tokio::test]` runs on one
    /// thread by default, where the guard's subscriber applies.
    pub fn capture() -> (Logs, impl Drop) {
        let logs = Logs::default();
        let writer = logs.clone();
        let guard = tracing_subscriber::fmt()
            .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .set_default();
        (logs, guard)
    }

    /// All that was written.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }

    /// How often `needle` occurs.
    pub fn count(&self, needle: &str) -> usize {
        self.text().matches(needle).count()
    }

    /// The lines holding `needle`.
    pub fn lines_with(&self, needle: &str) -> Vec<String> {
        self.text().lines().filter(|l| l.contains(needle)).map(str::to_owned).collect()
    }
}
