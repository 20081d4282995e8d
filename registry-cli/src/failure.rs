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
/// undecodable bytes are shown as `?`, newlines as spaces; cut at [`MAX_SHOWN`] characters.
fn shown(message: &str) -> String {
    let message = message.replace("insecure(true)", "--insecure");
    let mut line = String::with_capacity(message.len().min(MAX_SHOWN));
    for (i, c) in message.chars().enumerate() {
        if i == MAX_SHOWN {
            line.push_str("...");
            break;
        }
        line.push(match c {
            '\n' | '\r' | '\t' => ' ',
            c if c.is_control() || c == char::REPLACEMENT_CHARACTER => '?',
            c => c,
        });
    }
    line
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
        let long = Failure::failed("x".repeat(5000)).to_string();
        assert_eq!(long.chars().count(), MAX_SHOWN + 3);
    }
}
