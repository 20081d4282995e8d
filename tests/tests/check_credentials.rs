//! `RemoteClient::check_credentials` (`GET /v2/`, as `docker login` checks credentials before storing them): Basic
//! on the real docker-registry with htpasswd and on the in-process server, Bearer tokens without repository scope
//! from the in-process server's token endpoint; wrong or missing credentials are `Unauthorized` with the registry's
//! words and never the password.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mocks::server::RegistryServer;
use registry_client::{ErrorKind, RemoteClient};
use registry_tests::{AuthMode, DockerRegistry};

async fn check(host: &str, login: Option<(&str, &str)>) -> registry_client::Result<()> {
    let builder = RemoteClient::builder(host).insecure(true);
    let builder = match login {
        Some((u, p)) => builder.basic_auth(u, p),
        None => builder,
    };
    builder.build().unwrap().check_credentials().await
}

async fn right_wrong_and_none(host: &str, user: &str, password: &str) {
    check(host, Some((user, password))).await.unwrap_or_else(|e| panic!("{host}: {e}"));
    let e = check(host, Some((user, "wrong-pw-7"))).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e}");
    assert_eq!(e.status(), Some(401), "{e}");
    assert!(e.to_string().contains(user), "names the user: {e}");
    assert!(!format!("{e} {e:?}").contains("wrong-pw-7"), "{e:?}");
    let e = check(host, None).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_on_docker_registry_with_htpasswd() {
    let registry = DockerRegistry::start(AuthMode::htpasswd(&[("alice", "s3cret")]));
    right_wrong_and_none(&registry.host(), "alice", "s3cret").await;
    let anonymous = DockerRegistry::start(AuthMode::Anonymous);
    check(&anonymous.host(), None).await.unwrap();
    check(&anonymous.host(), Some(("any", "thing"))).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_and_bearer_on_the_in_process_server() {
    let basic = RegistryServer::builder().basic_auth("alice", "s3cret").build_and_start().await.unwrap();
    right_wrong_and_none(&basic.host(), "alice", "s3cret").await;
    let bearer = RegistryServer::builder().bearer_auth("bob", "tok-pw").build_and_start().await.unwrap();
    right_wrong_and_none(&bearer.host(), "bob", "tok-pw").await;
    let e = check(&bearer.host(), Some(("bob", "nope"))).await.unwrap_err();
    assert!(e.to_string().contains("token server rejected"), "{e}");
}
