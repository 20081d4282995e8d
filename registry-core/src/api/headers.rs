//! Header names the distribution API uses, and reading them.

/// The digest of the content the registry served or stored.
pub(crate) const DOCKER_CONTENT_DIGEST: &str = "docker-content-digest";

/// The `Content-Length` header's value. (For HEAD answers `reqwest::Response::content_length` reports the empty
/// body's length, not the header.)
pub(crate) fn header_length(resp: &reqwest::Response) -> Option<u64> {
    resp.headers().get(reqwest::header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}
