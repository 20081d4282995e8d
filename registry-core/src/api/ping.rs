//! `GET /v2/`: the version check, which is also how a registry is asked whether credentials are good (as `docker
//! login` does before storing them).

use reqwest::Method;

use super::registry_api::RegistryApi;
use crate::auth::scope::Scope;
use crate::error::Result;
use crate::transport::request::Request;

impl RegistryApi {
    /// `GET /v2/` through the request path with the handle's credentials: answered with the registry's challenge,
    /// they are sent (Basic) or exchanged at the token realm for a token without any repository scope (Bearer,
    /// the distribution GET token flow for a username and password), as `docker login` checks credentials.
    /// `Ok(())` when the registry answers 2xx: the credentials are good (or the registry asks for none).
    ///
    /// # Errors
    /// - [`ErrorKind::Unauthorized`](crate::ErrorKind::Unauthorized): the registry or its token server rejected
    ///   the credentials (or none were given and it wants some), with the registry's own words and status;
    /// - [`ErrorKind::NotFound`](crate::ErrorKind::NotFound): no `/v2/` there (not a distribution registry);
    /// - otherwise the kinds of any request: `Io`, `Tls`, `Timeout`, `Server`, `Protocol`...
    pub async fn ping(&self) -> Result<()> {
        let url = self.transport.url("/v2/")?;
        self.transport.send(Request::new(Method::GET, url, Scope::registry())).await.map(drop)
    }
}
