//! Naming the key of a value of the wrong YAML type. serde-saphyr says only what it expected where (`line 2:
//! expected sequence start`); this finds, in the spec's text, the key that value belongs to (its path, such as
//! `tags.allow` or `registries.host.insecure`, from the keys before it on its line, flow style, and the lines above
//! it with less indentation, block style) and says what that key takes, with an example when the value is a
//! scalar (`tags.allow must be a list: allow: ["^v2"]`). A leaf: it works on text only.

/// What each key takes, by the last key of its path (a host below `registries` takes settings).
fn expected(path: &[String]) -> Option<&'static str> {
    let last = path.last()?;
    if path.len() == 2 && path[0] == "registries" {
        return Some("a map of settings (insecure, tls_skip_verify, ca, username, password_file, password_env, rate)");
    }
    Some(match last.as_str() {
        "sync" => "a list of entries, each `- { source: ..., target: ... }`",
        "allow" | "deny" => "a list of regexes",
        "tags" => "a map: tags: { allow: [...], deny: [...], semver: \"...\", latest: N }",
        "defaults" => "a map of entry options (tags, platforms, referrers, overwrite)",
        "registries" => "a map of registry hosts to their settings",
        "referrers" | "overwrite" | "insecure" | "tls_skip_verify" => "true or false (a YAML boolean)",
        "latest" => "a whole number of tags (1 or more)",
        "rate" => "a number of requests per second",
        "platforms" => "`all` or a list of platforms (`os/arch[/variant]`)",
        "source" | "target" | "semver" | "ca" | "username" | "password_file" | "password_env" => "a string",
        _ => return None,
    })
}

/// Whether serde-saphyr's `message` is about a value's type (not an unknown or missing key, not YAML syntax).
fn is_type_error(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    (m.contains("expected") || m.contains("invalid"))
        && !m.contains("unknown field")
        && !m.contains("missing field")
        && !m.contains("duplicate")
}

/// The message for a type error serde-saphyr reported as `message` at `line`/`column` (1-based) of `text`: the
/// key's path and what it takes; `None` when the message is no type error or no key is found there.
pub(super) fn type_error(text: &str, line: usize, column: usize, message: &str) -> Option<String> {
    if !is_type_error(message) || line == 0 {
        return None;
    }
    let lines: Vec<&str> = text.lines().collect();
    let here = lines.get(line - 1)?;
    let mut col = column.saturating_sub(1).min(here.len());
    // A scalar's error may point at its key rather than at the value: move to the value. (A map or list of the
    // wrong type starting at a key is the collection itself.)
    let collection = ["sequence", "mapping", "map"].iter().any(|w| message.contains(w));
    let at_key = keys_before(here, here.len()).into_iter().find(|(_, s, _)| *s == col && !collection);
    if let Some((_, start, _)) = at_key {
        let colon = here[start..].find(':').map_or(here.len(), |i| start + i + 1);
        col = colon + (here[colon..].len() - here[colon..].trim_start().len());
    }
    let mut path = key_path(&lines, line - 1, col)?;
    if path.len() > 1 && path[0] == "sync" {
        path.remove(0);
    }
    let what = expected(&path)?;
    let key = path.last()?.clone();
    let value = scalar_at(here, col);
    let example = match (what, value) {
        (w, Some(v)) if w.starts_with("a list") => format!(": {key}: [{v}]"),
        (_, Some(v)) => format!(", not {v}"),
        (_, None) => String::new(),
    };
    Some(format!("{} must be {what}{example}", path.join(".")))
}

/// The scalar written at byte `col` of `line` (quotes kept), up to a `,`, `}` or comment; `None` when a
/// collection or nothing starts there.
fn scalar_at(line: &str, col: usize) -> Option<String> {
    let rest = line.get(col..)?.trim_start();
    if rest.is_empty() || rest.starts_with(['{', '[', '#']) {
        return None;
    }
    let end = if rest.starts_with(['"', '\'']) {
        let quote = rest.as_bytes()[0] as char;
        rest[1..].find(quote).map_or(rest.len(), |i| i + 2)
    } else {
        rest.find([',', '}', ']', '#']).unwrap_or(rest.len())
    };
    let value = rest[..end].trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// The keys `name:` on `line` before byte `end`, with the byte each starts at and the flow depth (`{`/`[` not
/// yet closed) it sits at.
fn keys_before(line: &str, end: usize) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    let bytes = line.as_bytes();
    let (mut depth, mut quote, mut start) = (0usize, None::<u8>, None::<usize>);
    for (i, &b) in bytes.iter().enumerate().take(end) {
        if let Some(q) = quote {
            if b == q {
                quote = None;
            }
            continue;
        }
        match b {
            b'"' | b'\'' => {
                quote = Some(b);
                start.get_or_insert(i);
            }
            b'#' if i == 0 || bytes[i - 1] == b' ' => break,
            b'{' | b'[' => {
                depth = depth.saturating_add(1);
                start = None;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                start = None;
            }
            b',' => start = None,
            b':' if bytes.get(i + 1).is_none_or(|n| *n == b' ') => {
                if let Some(s) = start {
                    let key = line[s..i].trim().trim_start_matches("- ").trim().trim_matches(['"', '\'']);
                    out.push((key.to_string(), s, depth));
                }
                start = None;
            }
            b' ' | b'-' if start.is_none() => {}
            _ => {
                start.get_or_insert(i);
            }
        }
    }
    out
}

/// The indentation of `line` (a `- ` item marker counts as indentation).
fn indent(line: &str) -> usize {
    let spaces = line.len() - line.trim_start().len();
    match line.trim_start().strip_prefix("- ") {
        Some(item) => spaces + 2 + (item.len() - item.trim_start().len()),
        None => spaces,
    }
}

/// The path of keys down to the value at byte `col` of line `at` (0-based).
fn key_path(lines: &[&str], at: usize, col: usize) -> Option<Vec<String>> {
    let mut path: Vec<String> = Vec::new();
    // Flow style: the keys on this line before the value, innermost first, each enclosing one once.
    let on_line = keys_before(lines[at], col);
    let mut limit = col;
    if let Some((key, start, depth)) = on_line.last().cloned() {
        path.push(key);
        let mut want = depth;
        for (k, _, d) in on_line.iter().rev() {
            if *d < want {
                path.push(k.clone());
                want = *d;
            }
        }
        limit = if depth == 0 { start } else { indent(lines[at]) };
        if want == 0 && depth > 0 {
            limit = on_line.iter().find(|(_, _, d)| *d == 0).map_or(limit, |(_, s, _)| *s);
        }
    }
    // Block style: each line above with less indentation than the last key found holds its parent key.
    for line in lines[..at].iter().rev() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let ind = indent(line);
        if ind >= limit {
            continue;
        }
        if let Some((key, _, _)) = keys_before(line, line.len()).first().cloned() {
            path.push(key);
        }
        limit = ind;
        if ind == 0 {
            break;
        }
    }
    path.reverse();
    (!path.is_empty()).then_some(path)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn path(text: &str, line: usize, col: usize) -> Vec<String> {
        let lines: Vec<&str> = text.lines().collect();
        key_path(&lines, line - 1, col - 1).unwrap()
    }

    #[test]
    fn paths_flow_and_block() {
        let flow = "sync:\n  - { source: a, target: b, tags: { allow: \"^v2\" } }\n";
        let col = flow.lines().nth(1).unwrap().find("\"^v2").unwrap() + 1;
        assert_eq!(path(flow, 2, col), ["sync", "tags", "allow"]);
        let block = "sync:\n  - source: a\n    target: b\n    tags:\n      allow: ^v2\n";
        assert_eq!(path(block, 5, 14), ["sync", "tags", "allow"]);
        let map = "sync:\n  source: a\n";
        assert_eq!(path(map, 2, 3), ["sync"]);
        let host = "registries:\n  a.io: { insecure: yes }\n";
        assert_eq!(path(host, 2, 20), ["registries", "a.io", "insecure"]);
    }
}
