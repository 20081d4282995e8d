//! A small Rust lexer for the module-graph checker: identifiers (keywords too), `::`, single-character punctuation
//! and string literals, each with its line. Comments (doc comments too) are dropped; string, char and number
//! literals become tokens that carry no identifiers, so a path written in a comment or a string names nothing.

/// What a token is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    /// An identifier or keyword; a raw identifier (`r#type`) without its `r#`.
    Ident(String),
    /// `::`.
    PathSep,
    /// A string literal (plain, raw, byte or C), its text between the quotes, escapes left as written.
    Str(String),
    /// A number, char or byte literal.
    Lit,
    /// A lifetime or label (`'a`).
    Lifetime,
    /// Any other single character: `{`, `}`, `;`, `#`, `<`, `*`, ...
    Punct(char),
}

/// A token and the 1-based line it starts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    /// The token.
    pub(crate) tok: Tok,
    /// The line it starts on.
    pub(crate) line: usize,
}

impl Token {
    /// The identifier, if this is one.
    pub(crate) fn ident(&self) -> Option<&str> {
        match &self.tok {
            Tok::Ident(s) => Some(s),
            _ => None,
        }
    }

    /// Whether this is the punctuation `c`.
    pub(crate) fn is(&self, c: char) -> bool {
        self.tok == Tok::Punct(c)
    }

    /// Whether this is the identifier (or keyword) `word`.
    pub(crate) fn is_word(&self, word: &str) -> bool {
        self.ident() == Some(word)
    }
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// The tokens of `src`. Never fails: an unterminated literal or comment runs to the end of the text.
pub(crate) fn lex(src: &str) -> Vec<Token> {
    Lexer { c: src.chars().collect(), i: 0, line: 1, out: Vec::new() }.run()
}

struct Lexer {
    c: Vec<char>,
    i: usize,
    line: usize,
    out: Vec<Token>,
}

impl Lexer {
    fn at(&self, k: usize) -> char {
        self.c.get(self.i + k).copied().unwrap_or('\0')
    }

    /// Step over one character, counting lines.
    fn bump(&mut self) {
        if self.at(0) == '\n' {
            self.line += 1;
        }
        self.i += 1;
    }

    fn push(&mut self, tok: Tok, line: usize) {
        self.out.push(Token { tok, line });
    }

    fn run(mut self) -> Vec<Token> {
        while self.i < self.c.len() {
            let ch = self.at(0);
            let line = self.line;
            if ch.is_whitespace() {
                self.bump();
            } else if ch == '/' && self.at(1) == '/' {
                while self.i < self.c.len() && self.at(0) != '\n' {
                    self.i += 1;
                }
            } else if ch == '/' && self.at(1) == '*' {
                self.block_comment();
            } else if ch == '"' {
                self.i += 1;
                let s = self.quoted('"');
                self.push(Tok::Str(s), line);
            } else if ch == '\'' {
                self.quote_or_lifetime(line);
            } else if let Some((prefix, hashes)) = self.raw_string_start() {
                self.i += prefix + hashes + 1;
                let s = self.raw(hashes);
                self.push(Tok::Str(s), line);
            } else if (ch == 'b' || ch == 'c') && self.at(1) == '"' {
                self.i += 2;
                let s = self.quoted('"');
                self.push(Tok::Str(s), line);
            } else if ch == 'b' && self.at(1) == '\'' {
                self.i += 2;
                self.quoted('\'');
                self.push(Tok::Lit, line);
            } else if ch == 'r' && self.at(1) == '#' && is_ident_start(self.at(2)) {
                self.i += 2;
                let id = self.ident();
                self.push(Tok::Ident(id), line);
            } else if is_ident_start(ch) {
                let id = self.ident();
                self.push(Tok::Ident(id), line);
            } else if ch.is_ascii_digit() {
                self.number();
                self.push(Tok::Lit, line);
            } else if ch == ':' && self.at(1) == ':' {
                self.i += 2;
                self.push(Tok::PathSep, line);
            } else {
                self.i += 1;
                self.push(Tok::Punct(ch), line);
            }
        }
        self.out
    }

    /// A `/* .. */` comment, nested ones included.
    fn block_comment(&mut self) {
        self.i += 2;
        let mut depth = 1;
        while self.i < self.c.len() && depth > 0 {
            if self.at(0) == '/' && self.at(1) == '*' {
                depth += 1;
                self.i += 2;
            } else if self.at(0) == '*' && self.at(1) == '/' {
                depth -= 1;
                self.i += 2;
            } else {
                self.bump();
            }
        }
    }

    /// `r"`, `r#"`, `br"`, `cr#"`...: the length of the prefix letters and the number of `#`.
    fn raw_string_start(&self) -> Option<(usize, usize)> {
        let prefix = match (self.at(0), self.at(1)) {
            ('r', _) => 1,
            ('b' | 'c', 'r') => 2,
            _ => return None,
        };
        let mut hashes = 0;
        while self.at(prefix + hashes) == '#' {
            hashes += 1;
        }
        (self.at(prefix + hashes) == '"').then_some((prefix, hashes))
    }

    /// The body of a raw string after its opening quote, up to `"` and `hashes` times `#`.
    fn raw(&mut self, hashes: usize) -> String {
        let start = self.i;
        while self.i < self.c.len() {
            if self.at(0) == '"' && (1..=hashes).all(|k| self.at(k) == '#') {
                let s: String = self.c[start..self.i].iter().collect();
                self.i += 1 + hashes;
                return s;
            }
            self.bump();
        }
        self.c[start..].iter().collect()
    }

    /// The body of a quoted literal after its opening quote, up to the closing `close`, skipping escapes.
    fn quoted(&mut self, close: char) -> String {
        let start = self.i;
        while self.i < self.c.len() {
            match self.at(0) {
                '\\' => {
                    self.i += 1;
                    self.bump();
                }
                c if c == close => {
                    let s: String = self.c[start..self.i].iter().collect();
                    self.i += 1;
                    return s;
                }
                _ => self.bump(),
            }
        }
        self.c[start..].iter().collect()
    }

    /// `'x'`, `'\n'` (a char) or `'a` (a lifetime or label).
    fn quote_or_lifetime(&mut self, line: usize) {
        if self.at(1) == '\\' || (self.at(1) != '\0' && self.at(2) == '\'') {
            self.i += 1;
            self.quoted('\'');
            self.push(Tok::Lit, line);
        } else {
            self.i += 1;
            while is_ident_char(self.at(0)) {
                self.i += 1;
            }
            self.push(Tok::Lifetime, line);
        }
    }

    fn ident(&mut self) -> String {
        let start = self.i;
        while is_ident_char(self.at(0)) {
            self.i += 1;
        }
        self.c[start..self.i].iter().collect()
    }

    /// `42`, `0x1f_u8`, `1.5e3`; a `.` belongs to the number only when a digit follows it (`1..2`, `x.0.1`).
    fn number(&mut self) {
        loop {
            while is_ident_char(self.at(0)) {
                self.i += 1;
            }
            if self.at(0) == '.' && self.at(1).is_ascii_digit() {
                self.i += 1;
            } else {
                break;
            }
        }
    }
}
