//! A cap on the bytes the tar reader takes between two entries: the headers of the next entry with its PAX
//! records and GNU long names, which the `tar` crate reads whole into memory. A hostile stream with a gigabyte of
//! "long name" then fails with an error after [`HEADER_BYTES`] instead of filling memory.

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

/// The most the headers of one entry may take, in bytes: far more than any real PAX record set (paths up to 4 KiB,
/// extended attributes up to 64 KiB each).
pub(crate) const HEADER_BYTES: u64 = 1 << 20;

/// Whether the reader is between entries (capped) or inside one's data (not capped: the data is streamed).
#[derive(Debug, Default)]
pub(crate) struct Gate {
    capped: Cell<bool>,
    used: Cell<u64>,
    failed: Cell<bool>,
}

impl Gate {
    /// Headers next: count from zero against [`HEADER_BYTES`].
    pub(crate) fn headers(&self) {
        self.capped.set(true);
        self.used.set(0);
    }

    /// An entry's data next: no cap.
    pub(crate) fn data(&self) {
        self.capped.set(false);
    }

    /// Whether the reader inside failed (else an error of the tar reader is about the stream's format).
    pub(crate) fn reader_failed(&self) -> bool {
        self.failed.get()
    }
}

/// `inner`, read under a [`Gate`].
pub(crate) struct Metered<'a> {
    inner: &'a mut dyn Read,
    gate: Rc<Gate>,
}

impl std::fmt::Debug for Metered<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metered").field("gate", &self.gate).finish_non_exhaustive()
    }
}

impl<'a> Metered<'a> {
    /// `inner` under `gate`.
    pub(crate) fn new(inner: &'a mut dyn Read, gate: Rc<Gate>) -> Metered<'a> {
        Metered { inner, gate }
    }

    /// The reader inside, to drain what follows the end of the archive.
    pub(crate) fn into_inner(self) -> &'a mut dyn Read {
        self.inner
    }
}

impl Read for Metered<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf).inspect_err(|_| self.gate.failed.set(true))?;
        if self.gate.capped.get() {
            let used = self.gate.used.get().saturating_add(n as u64);
            self.gate.used.set(used);
            if used > HEADER_BYTES {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the headers of one entry (PAX records, GNU long names) take more than 1 MiB",
                ));
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_capped_and_data_is_not() {
        let gate = Rc::new(Gate::default());
        let mut source = io::repeat(0).take(4 * HEADER_BYTES);
        let mut metered = Metered::new(&mut source, gate.clone());
        gate.data();
        let mut sink = vec![0u8; 64 * 1024];
        let mut taken = 0u64;
        while taken < 2 * HEADER_BYTES {
            taken += metered.read(&mut sink).unwrap() as u64;
        }
        gate.headers();
        let mut result = Ok(0);
        for _ in 0..100 {
            result = metered.read(&mut sink);
            if result.is_err() {
                break;
            }
        }
        let e = result.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("1 MiB"), "{e}");
    }
}
