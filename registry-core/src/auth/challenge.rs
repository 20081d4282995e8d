//! `WWW-Authenticate` challenge parsing (RFC 7235), as registries send it:
//! `Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a:pull"`.

use std::collections::BTreeMap;

/// The authentication scheme of a challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum Scheme {
    /// HTTP Basic: send the username and password to the registry.
    Basic,
    /// Bearer: get a token from the realm.
    Bearer,
    /// Something else (e.g. `Negotiate`); not supported.
    Other(String),
}

/// One parsed challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    /// The scheme.
    pub(crate) scheme: Scheme,
    /// The auth-params, names lowercased.
    pub(crate) params: BTreeMap<String, String>,
}

impl Challenge {
    /// A parameter by (lowercase) name.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// The `realm` parameter.
    pub(crate) fn realm(&self) -> Option<&str> {
        self.param("realm")
    }

    /// The `service` parameter.
    pub(crate) fn service(&self) -> Option<&str> {
        self.param("service")
    }

    /// The `scope` parameter, split on spaces.
    pub(crate) fn scopes(&self) -> Vec<String> {
        self.param("scope")
            .map(|s| s.split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// The `error` parameter (e.g. `insufficient_scope`, `invalid_token`).
    pub(crate) fn error(&self) -> Option<&str> {
        self.param("error")
    }
}

/// Parse every challenge in one `WWW-Authenticate` header value. Malformed parts are skipped, never a panic.
pub(crate) fn parse(header: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let mut p = Parser { s: header.as_bytes(), i: 0 };
    loop {
        p.skip_ws_and_commas();
        let Some(token) = p.token() else { break };
        p.skip_ws();
        // `name=` after a scheme means this token is a parameter of the current challenge.
        if p.peek() == Some(b'=') {
            p.i += 1;
            p.skip_ws();
            let value = p.value().unwrap_or_default();
            if let Some(c) = out.last_mut() {
                c.params.insert(token.to_ascii_lowercase(), value);
            }
            continue;
        }
        let scheme = match token.to_ascii_lowercase().as_str() {
            "basic" => Scheme::Basic,
            "bearer" => Scheme::Bearer,
            _ => Scheme::Other(token),
        };
        out.push(Challenge { scheme, params: BTreeMap::new() });
    }
    out
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn skip_ws_and_commas(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.i += 1;
        }
    }

    fn token(&mut self) -> Option<String> {
        let is_token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        // Skip unexpected bytes so the loop always progresses (a loop, not recursion: a long run of them in a
        // server's header must not exhaust the stack).
        while self.peek().is_some_and(|b| !is_token(b)) {
            self.i += 1;
        }
        let start = self.i;
        while self.peek().is_some_and(is_token) {
            self.i += 1;
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    fn value(&mut self) -> Option<String> {
        if self.peek() == Some(b'"') {
            self.i += 1;
            let mut out = Vec::new();
            while let Some(b) = self.peek() {
                self.i += 1;
                match b {
                    b'"' => break,
                    b'\\' => {
                        if let Some(n) = self.peek() {
                            out.push(n);
                            self.i += 1;
                        }
                    }
                    _ => out.push(b),
                }
            }
            Some(String::from_utf8_lossy(&out).into_owned())
        } else {
            let start = self.i;
            while let Some(b) = self.peek() {
                if b == b',' || b == b' ' {
                    break;
                }
                self.i += 1;
            }
            Some(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_with_params() {
        let c = parse(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, Scheme::Bearer);
        assert_eq!(c[0].realm(), Some("https://auth.docker.io/token"));
        assert_eq!(c[0].service(), Some("registry.docker.io"));
        assert_eq!(c[0].scopes(), vec!["repository:library/alpine:pull".to_string()]);
    }

    #[test]
    fn insufficient_scope_and_escapes() {
        let c = parse(
            r#"bearer realm="http://127.0.0.1:1/token",service="svc",scope="repository:a:pull,push repository:b:pull",error="insufficient_scope",x="q\"uote""#,
        );
        assert_eq!(c[0].scheme, Scheme::Bearer);
        assert_eq!(c[0].error(), Some("insufficient_scope"));
        assert_eq!(c[0].scopes().len(), 2);
        assert_eq!(c[0].param("x"), Some("q\"uote"));
    }

    #[test]
    fn basic_and_multiple() {
        let c = parse(r#"Basic realm="Registry Realm""#);
        assert_eq!(c[0].scheme, Scheme::Basic);
        assert_eq!(c[0].realm(), Some("Registry Realm"));
        let c = parse(r#"Negotiate, Basic realm=x, Bearer realm="r", service=s"#);
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].scheme, Scheme::Other("Negotiate".into()));
        assert_eq!(c[1].realm(), Some("x"));
        assert_eq!(c[2].service(), Some("s"));
    }

    #[test]
    fn garbage_does_not_panic() {
        for s in ["", "=", "\"", "Bearer realm=\"unterminated", "Bearer ,,,=,", "\u{1F600} realm=x", "Bearer realm"] {
            let _ = parse(s);
        }
        assert!(parse("").is_empty());
        // A long run of bytes that start no token: no deep recursion.
        let long = format!("{}Bearer realm=\"r\"", "\"".repeat(1 << 20));
        assert_eq!(parse(&long).first().and_then(Challenge::realm), Some("r"));
    }

    /// A quoted-string holding `s`.
    fn quoted(s: &str) -> String {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(10_000))]

        #[test]
        fn any_header_parses_without_panic(text in "\\PC*|[a-zA-Z =,\"\\\\]{0,60}") {
            let _ = parse(&text);
        }

        #[test]
        fn bearer_params_round_trip(realm in "\\PC{0,40}", service in "\\PC{0,40}", scope in "[a-z/:,]{1,30}") {
            let header = format!("Bearer realm={}, service={},scope={}", quoted(&realm), quoted(&service), quoted(&scope));
            let c = parse(&header);
            proptest::prop_assert_eq!(c.len(), 1);
            proptest::prop_assert_eq!(&c[0].scheme, &Scheme::Bearer);
            proptest::prop_assert_eq!(c[0].realm(), Some(realm.as_str()));
            proptest::prop_assert_eq!(c[0].service(), Some(service.as_str()));
            proptest::prop_assert_eq!(c[0].param("scope"), Some(scope.as_str()));
        }
    }
}
