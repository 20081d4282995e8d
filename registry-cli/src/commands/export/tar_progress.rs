//! A byte-count bar for the tar streams of `export` and `extract`: a spinner with the bytes of flattened tar
//! produced so far (the total is unknown until the last layer is read), fed by a reader that counts what passes.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::io::{AsyncRead, ReadBuf};

use crate::settings::Settings;

/// Bars redraw at most this often per second.
const REFRESH_HZ: u8 = 10;

/// A spinner on stderr counting tar bytes, or nothing when `settings` draw no bars.
pub(crate) fn bar(settings: &Settings, what: &str) -> Option<ProgressBar> {
    if !settings.bars() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(REFRESH_HZ));
    let style = ProgressStyle::with_template("{spinner} {msg}: {bytes} of tar ({bytes_per_sec})  {elapsed}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    bar.set_style(style);
    bar.set_message(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    Some(bar)
}

/// `inner`, counting each byte read into `bar` (when there is one).
#[derive(Debug)]
pub(crate) struct Counted<R> {
    inner: R,
    bar: Option<ProgressBar>,
}

impl<R> Counted<R> {
    /// Count what `inner` gives into `bar`.
    pub(crate) fn new(inner: R, bar: Option<ProgressBar>) -> Counted<R> {
        Counted { inner, bar }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Counted<R> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let (Poll::Ready(Ok(())), Some(bar)) = (&polled, &self.bar) {
            bar.inc(buf.filled().len().saturating_sub(before) as u64);
        }
        polled
    }
}
