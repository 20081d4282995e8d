//! A cap on what a tar reader reads between two entries' data: the header blocks, and the PAX records and GNU long
//! names it collects into memory before it can say what the next entry is. The `tar` crate reads those whole into
//! a `Vec`, whatever size their header claims; through this guard, an extension header larger than the cap ends
//! the layer with an error instead of filling memory.

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

use registry_core::Error;

use crate::image::blocking::io_error;

/// At most this many bytes are read while looking for the next entry (headers, PAX records, GNU long names).
pub(crate) const HEADER_CAP: u64 = 2 << 20;

/// Reads `inner`, at most `allowance` bytes while the allowance is set (`u64::MAX`: no cap).
#[derive(Debug)]
pub(crate) struct HeaderGuard<R> {
    inner: R,
    allowance: Rc<Cell<u64>>,
    layer: String,
}

impl<R: Read> HeaderGuard<R> {
    /// `inner` (the layer called `layer` in errors), capped by the shared `allowance`.
    pub(crate) fn new(inner: R, allowance: Rc<Cell<u64>>, layer: &str) -> HeaderGuard<R> {
        HeaderGuard { inner, allowance, layer: layer.to_string() }
    }
}

impl<R: Read> Read for HeaderGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.allowance.get();
        if left == u64::MAX {
            return self.inner.read(buf);
        }
        if left == 0 && !buf.is_empty() {
            return Err(io_error(Error::invalid_input(format!(
                "layer {}: a tar header with its extensions (PAX records, GNU long names) runs past {HEADER_CAP} \
                 bytes",
                self.layer
            ))));
        }
        let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        let got = self.inner.read(&mut buf[..n])?;
        self.allowance.set(left.saturating_sub(got as u64));
        Ok(got)
    }
}

impl<R> HeaderGuard<R> {
    /// The reader inside.
    pub(crate) fn into_inner(self) -> R {
        self.inner
    }
}
