//! The one way a command fails: a message printed once as `regcli: <message>` and an exit status.

use std::fmt;

use registry_client::{Error, ErrorKind};

/// Exit status of a failed run: something failed (an image, a copy, a request).
pub(crate) const EXIT_FAILED: u8 = 1;
/// Exit status of a usage error: bad flags, a bad reference, a spec that does not parse.
pub(crate) const EXIT_USAGE: u8 = 2;

/// Why a command failed, and the exit status that says so.
#[derive(Debug)]
pub(crate) struct Failure {
    /// 1 ([`EXIT_FAILED`]) or 2 ([`EXIT_USAGE`]).
    pub(crate) code: u8,
    /// What went wrong, for `regcli: <message>` on stderr.
    pub(crate) message: String,
}

impl Failure {
    /// A failed run (exit 1).
    pub(crate) fn failed(message: impl Into<String>) -> Failure {
        Failure { code: EXIT_FAILED, message: message.into() }
    }

    /// A usage or spec error (exit 2).
    pub(crate) fn usage(message: impl Into<String>) -> Failure {
        Failure { code: EXIT_USAGE, message: message.into() }
    }

    /// A library error: exit 2 when it is about what the user gave (`InvalidInput`), else 1.
    pub(crate) fn from_input(error: Error) -> Failure {
        if error.kind() == ErrorKind::InvalidInput {
            Failure::usage(error.to_string())
        } else {
            Failure::failed(error.to_string())
        }
    }
}

impl From<Error> for Failure {
    /// A library error met while working: exit 1.
    fn from(error: Error) -> Failure {
        Failure::failed(error.to_string())
    }
}

/// The longest message printed, in characters: a hostile server's or file's words are cut there.
const MAX_SHOWN: usize = 2000;

/// `message` as one terminal-safe line in the CLI's words: the library's builder setting `insecure(true)` is
/// regcli's `--insecure`; control characters (a hostile tar header, an escape sequence in a registry's error) and
/// undecodable bytes are shown as `?`, newlines as spaces. A message longer than [`MAX_SHOWN`] characters (a
/// 5,000-character reference echoed back) keeps its start and its end, where the reason is, with `...` between.
fn shown(message: &str) -> String {
    let message = message.replace("insecure(true)", "--insecure");
    let safe = |c: char| match c {
        '\n' | '\r' | '\t' => ' ',
        c if c.is_control() || c == char::REPLACEMENT_CHARACTER => '?',
        c => c,
    };
    let count = message.chars().count();
    if count <= MAX_SHOWN {
        return message.chars().map(safe).collect();
    }
    let half = MAX_SHOWN / 2;
    let head: String = message.chars().take(half).map(safe).collect();
    let tail: String = message.chars().skip(count - half).map(safe).collect();
    format!("{head} ... {tail}")
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&shown(&self.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_safe_line_in_the_clis_words() {
        let failure =
            Failure::failed("registry h:1: serves plain HTTP: build with insecure(true)\nnext \u{1b}[31mred\u{fffd}");
        assert_eq!(failure.to_string(), "registry h:1: serves plain HTTP: build with --insecure next ?[31mred?");
        let long =
            Failure::failed(format!("reference {:?}: tag is 5000 characters long", "b".repeat(5000))).to_string();
        assert_eq!(long.chars().count(), MAX_SHOWN + 5);
        assert!(long.starts_with("reference \"bbb") && long.ends_with("tag is 5000 characters long"), "{long}");
    }
}
