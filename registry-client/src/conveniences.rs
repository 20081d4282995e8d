//! Names the provided methods of `Client` share in messages (a leaf: it imports none of
//! its users).

/// `reference` of a client scoped to `registry` as one name for messages: `host/org/app:v1`, `host/org/app@sha256:..`.
pub(crate) fn scoped_name(registry: &str, reference: &str) -> String {
    if reference.starts_with('@') {
        format!("{registry}{reference}")
    } else {
        format!("{registry}:{reference}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(scoped_name("r.example.com/app", "v1"), "r.example.com/app:v1");
        assert_eq!(scoped_name("r.example.com/app", "@sha256:ab"), "r.example.com/app@sha256:ab");
    }
}
