//! The async side of a [`TarSink`]: each write runs on a blocking thread with the sink moved there and back; the
//! first failure ends the writer (its temporary file removed, the destination untouched) and every later call
//! says so.

use std::path::PathBuf;

use registry_core::{Error, ErrorKind, Result};

use crate::image::archive::tar_sink::TarSink;
use crate::image::blocking::run_blocking;

/// A [`TarSink`] driven from async code.
#[derive(Debug)]
pub(crate) struct SinkSlot {
    sink: Option<TarSink>,
    failed: Option<String>,
    label: String,
}

impl SinkSlot {
    /// Start the archive that [`SinkSlot::finish`] puts at `dest`, named `label` in errors (see
    /// [`TarSink::create`], run on a blocking thread).
    pub(crate) async fn create(dest: PathBuf, label: String) -> Result<SinkSlot> {
        let l = label.clone();
        let sink = run_blocking(&label, move || TarSink::create(&dest, &l)).await?;
        Ok(SinkSlot { sink: Some(sink), failed: None, label })
    }

    /// Write the archive straight into `file` (see [`TarSink::stream`]), named `label` in errors.
    pub(crate) fn stream(file: std::fs::File, label: String) -> SinkSlot {
        SinkSlot { sink: Some(TarSink::stream(file, &label)), failed: None, label }
    }

    /// How the archive is named in errors.
    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    fn take(&mut self) -> Result<TarSink> {
        match (self.sink.take(), &self.failed) {
            (Some(sink), _) => Ok(sink),
            (None, Some(why)) => Err(Error::invalid_input(format!(
                "{}: the writer stopped at an earlier failure ({why}); nothing was written at the destination",
                self.label
            ))),
            (None, None) => Err(Error::invalid_input(format!("{}: the writer is finished", self.label))),
        }
    }

    /// Run `op` on the sink on a blocking thread. An error ends the writer.
    pub(crate) async fn run<T: Send + 'static>(
        &mut self,
        op: impl FnOnce(&mut TarSink) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let mut sink = self.take()?;
        let joined = tokio::task::spawn_blocking(move || {
            let out = op(&mut sink);
            (sink, out)
        })
        .await;
        match joined {
            Ok((sink, Ok(value))) => {
                self.sink = Some(sink);
                Ok(value)
            }
            Ok((_dropped, Err(e))) => {
                self.failed = Some(e.to_string());
                Err(e)
            }
            Err(e) => {
                let e = Error::new(ErrorKind::Io, format!("{}: a write stopped: {e}", self.label));
                self.failed = Some(e.to_string());
                Err(e)
            }
        }
    }

    /// Finish the archive (see [`TarSink::finish`]).
    pub(crate) async fn finish(&mut self) -> Result<()> {
        let sink = self.take()?;
        let label = self.label.clone();
        run_blocking(&format!("{label}: finishing stopped"), move || sink.finish()).await
    }
}
