//! Flattening an image's layers into one tar stream (`Image::extract`): a producer on a blocking thread reads each
//! layer (streamed from the image's source, decompressed within the caps, its `diff_id` checked), applies the
//! whiteout rules (`merge`) and writes the visible entries (`tar_out`) into a pipe; the caller reads the other end
//! as an `AsyncRead`. Memory stays flat: a layer's data only passes through; per entry, only its metadata is kept.
//!
//! The reader ends cleanly only when the producer wrote the whole stream: an error of the producer (network,
//! digest, bad tar, a cap) is returned by the read that would otherwise have seen the end, as an `io::Error`
//! carrying our [`Error`]; so is a panic of the producer. Dropping the reader stops the producer at its next write.

mod entries;
mod guard;
mod merge;
mod path;
mod tar_out;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_errors;

use std::future::Future;
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use oci_spec::image::Descriptor;
use registry_core::manifest::descriptor_digest;
use registry_core::{Error, ErrorKind, Result};
use tokio::io::{AsyncRead, DuplexStream, ReadBuf};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tokio_util::io::SyncIoBridge;

use crate::image::blocking::{from_io, io_error, stream_reader};
use crate::image::compression::{sniff_reader, Compression, LayerReader, OutputBudget};
use crate::image::extract_options::ExtractOptions;
use crate::image::flatten::merge::Flattener;
use crate::image::flatten::tar_out::TarOut;
use crate::image::model::Image;

/// Bytes buffered in the pipe between the producer and the reader.
const PIPE_BYTES: usize = 256 << 10;
/// Bytes the producer gathers before each write into the pipe.
const WRITE_BUFFER: usize = 128 << 10;

/// The flattened filesystem of `image` as a tar stream (see `Image::extract` for the contract). The producer starts
/// on the first read, which must happen inside a tokio runtime (outside one, the read fails with an `io::Error`
/// carrying an `Unsupported` error).
pub(crate) fn flatten(image: Image, options: ExtractOptions) -> Box<dyn AsyncRead + Send + Unpin + 'static> {
    Box::new(FlattenReader { state: State::Pending(Some(Box::new((image, options)))) })
}

enum State {
    Pending(Option<Box<(Image, ExtractOptions)>>),
    Running { pipe: DuplexStream, task: JoinHandle<Result<()>> },
    Done,
    Failed,
}

struct FlattenReader {
    state: State,
}

impl AsyncRead for FlattenReader {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            match &mut self.state {
                State::Pending(args) => {
                    let Some(args) = args.take() else {
                        self.state = State::Failed;
                        continue;
                    };
                    let (image, options) = *args;
                    match Handle::try_current() {
                        Ok(handle) => {
                            let (pipe, writer) = tokio::io::duplex(PIPE_BYTES);
                            let task = tokio::task::spawn_blocking(move || {
                                produce(&image, options, handle.clone(), SyncIoBridge::new_with_handle(writer, handle))
                            });
                            self.state = State::Running { pipe, task };
                        }
                        Err(_) => {
                            self.state = State::Failed;
                            return Poll::Ready(Err(io_error(Error::unsupported(
                                "an image's filesystem must be read inside a tokio runtime (none is running)",
                            ))));
                        }
                    }
                }
                State::Running { pipe, task } => {
                    let before = buf.filled().len();
                    if let Err(e) = std::task::ready!(Pin::new(pipe).poll_read(cx, buf)) {
                        self.state = State::Failed;
                        return Poll::Ready(Err(e));
                    }
                    if buf.filled().len() > before {
                        return Poll::Ready(Ok(()));
                    }
                    // The producer closed its end: the stream is whole only if it says so.
                    let outcome = std::task::ready!(Pin::new(task).poll(cx));
                    let result = match outcome {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(e)) => Err(io_error(e)),
                        Err(e) => Err(io_error(Error::new(
                            ErrorKind::Io,
                            format!("flattening the image's layers failed: the task {}", join_failure(&e)),
                        ))),
                    };
                    self.state = if result.is_ok() { State::Done } else { State::Failed };
                    return Poll::Ready(result);
                }
                State::Done => return Poll::Ready(Ok(())),
                State::Failed => {
                    return Poll::Ready(Err(io_error(Error::new(
                        ErrorKind::Io,
                        "flattening the image's layers failed (the error was returned by an earlier read)",
                    ))))
                }
            }
        }
    }
}

fn join_failure(e: &tokio::task::JoinError) -> &'static str {
    if e.is_panic() {
        "panicked"
    } else {
        "was cancelled"
    }
}

/// Write the flattened tar of `image` into `out`. Runs on a blocking thread of the runtime `handle`.
fn produce(image: &Image, options: ExtractOptions, handle: Handle, out: impl Write) -> Result<()> {
    let layers = image.layers();
    let diff_ids = if options.verifies_diff_ids() { Some(image.diff_ids()?) } else { None };
    let budget = OutputBudget::new();
    let mut tar = TarOut::new(io::BufWriter::with_capacity(WRITE_BUFFER, out));
    let mut state = Flattener::new();
    for (index, layer) in layers.iter().enumerate().rev() {
        let digest = descriptor_digest(layer)?;
        let name = format!("{digest} ({} of {})", index + 1, layers.len());
        let expected = diff_ids.as_ref().and_then(|d| d.get(index).cloned());
        let one = || -> Result<()> {
            let stream = handle.block_on(image.open_blob(layer))?;
            let (compression, input) = compression_of(layer, stream_reader(stream)?, &name)?;
            let reader = LayerReader::new(
                compression,
                input,
                name.clone(),
                expected,
                options.decompression_limits(),
                budget.clone(),
            );
            state.layer(index, &name, reader, &mut tar)
        };
        one().map_err(|e| in_layer(e, &name, image))?;
    }
    let mut reopen = |index: usize| -> Result<(String, Box<dyn Read + Send>)> {
        let layer = layers.get(index).ok_or_else(|| Error::invalid_input(format!("no layer {index}")))?;
        let name =
            format!("{} ({} of {}, read again for a hard link)", descriptor_digest(layer)?, index + 1, layers.len());
        let opened = || -> Result<Box<dyn Read + Send>> {
            let stream = handle.block_on(image.open_blob(layer))?;
            let (compression, input) = compression_of(layer, stream_reader(stream)?, &name)?;
            let limits = options.decompression_limits();
            Ok(Box::new(LayerReader::new(compression, input, name.clone(), None, limits, budget.clone())))
        };
        let reader = opened().map_err(|e| in_layer(e, &name, image))?;
        Ok((name, reader))
    };
    let left_out = state.finish(&mut tar, &mut reopen)?;
    if left_out > 0 {
        tracing::warn!(image = %image.digest(), left_out, "hard links left out of the flattened image");
    }
    let mut out = tar.finish().map_err(|e| from_io(e, "writing the flattened tar"))?;
    out.flush().map_err(|e| from_io(e, "writing the flattened tar"))?;
    Ok(())
}

/// `e`, met while reading the layer called `name` (its digest and position) from `image`'s blob source, with that
/// said in front (`layer sha256:… (1 of 2) from registry.example.com/org/app: …`, the repository when the source
/// has one) unless its message names the layer already (the tar and decompression errors do): an error of the
/// blob source (a digest mismatch, a network failure) says which layer it was reading. Kind, status and registry
/// codes are kept.
fn in_layer(e: Error, name: &str, image: &Image) -> Error {
    if e.message().contains(name) {
        return e;
    }
    match image.source().repository() {
        Some(repository) => e.context(format!("layer {name} from {repository}")),
        None => e.context(format!("layer {name}")),
    }
}

/// The layer's compression: from its media type, or, when that says nothing, from its first bytes (which are
/// then read again, before the rest).
fn compression_of<R: Read + Send + 'static>(
    layer: &Descriptor,
    input: R,
    name: &str,
) -> Result<(Compression, Box<dyn Read + Send>)> {
    if let Some(c) = Compression::from_media_type(layer.media_type().as_ref()) {
        return Ok((c, Box::new(input)));
    }
    let (compression, input) = sniff_reader(input).map_err(|e| from_io(e, &format!("layer {name}: reading")))?;
    Ok((compression, Box::new(input)))
}
