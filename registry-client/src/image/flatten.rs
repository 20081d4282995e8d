//! Flattening an image's layers into one tar stream. (Being written: see `Image::extract`.)

use registry_core::Error;
use tokio::io::AsyncRead;

use crate::image::extract_options::ExtractOptions;
use crate::image::model::Image;

/// The flattened filesystem of `image` as a tar stream (see `Image::extract` for the contract).
pub(crate) fn flatten(image: Image, options: ExtractOptions) -> Box<dyn AsyncRead + Send + Unpin + 'static> {
    let _ = (image, options);
    let e = crate::image::blocking::io_error(Error::unsupported("flattening is not built yet"));
    Box::new(ErrReader(Some(e)))
}

struct ErrReader(Option<std::io::Error>);

impl AsyncRead for ErrReader {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        _: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(self.0.take().map_or(Ok(()), Err))
    }
}
