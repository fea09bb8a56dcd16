//! `--add-ignore`: writes a suppression comment for every finding, the way
//! ruff's `--add-noqa` does, so that an existing codebase starts clean and
//! new code is held to the rules. The comment goes at the end of the
//! finding's line (`/* refsan: ignore[RS101] */` in C,
//! `# refsan: ignore[RS101]` in Cython), or alone on the line above where
//! the end of the line is inside a comment, a string or a macro
//! continuation. A comment already on the line gets the new codes.

use anyhow::{Context, Result};
use refsan_ir::{parse_suppressions, Finding, Language};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// What `add` did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Added {
    pub comments: usize,
    pub files: usize,
}

/// Adds comments for `findings` of the file at `path` (a C or Cython
/// source), rewriting it in place.
pub fn add(path: &Path, language: Language, findings: &[Finding]) -> Result<usize> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let (new_text, count) = rewrite(&text, language, findings);
    if count > 0 {
        std::fs::write(path, new_text)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(count)
}

/// The text with the comments added, and how many lines got one.
pub fn rewrite(text: &str, language: Language, findings: &[Finding]) -> (String, usize) {
    let mut by_line: BTreeMap<u32, BTreeSet<&str>> = BTreeMap::new();
    for f in findings {
        if f.span.line > 0 {
            by_line.entry(f.span.line).or_default().insert(f.code);
        }
    }
    let ends_open = line_ends_open(text, language);
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    let mut count = 0;
    // From the bottom up, so that lines inserted above do not move the ones
    // still to do.
    for (&line, codes) in by_line.iter().rev() {
        let index = (line - 1) as usize;
        let Some(current) = lines.get(index).cloned() else {
            continue;
        };
        let codes: Vec<&str> = codes.iter().copied().collect();
        if let Some(merged) = merge_into_existing(&current, &codes) {
            lines[index] = merged;
            count += 1;
            continue;
        }
        let comment = match language {
            Language::Cython => format!("# refsan: ignore[{}]", codes.join(", ")),
            _ => format!("/* refsan: ignore[{}] */", codes.join(", ")),
        };
        if !ends_open.get(index).copied().unwrap_or(true) {
            let (body, newline) = split_newline(&current);
            lines[index] = format!("{}  {comment}{newline}", body.trim_end());
            count += 1;
            continue;
        }
        // The line above, with the line's indentation, unless that line
        // continues a macro (then the comment would end up inside it).
        let above_continues = index > 0
            && lines[index - 1]
                .trim_end_matches(['\n', '\r'])
                .ends_with('\\');
        if above_continues {
            continue;
        }
        let indent: String = current
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect();
        let newline = if current.ends_with("\r\n") {
            "\r\n"
        } else {
            "\n"
        };
        lines.insert(index, format!("{indent}{comment}{newline}"));
        count += 1;
    }
    (lines.concat(), count)
}

fn split_newline(line: &str) -> (&str, &str) {
    if let Some(body) = line.strip_suffix("\r\n") {
        (body, "\r\n")
    } else if let Some(body) = line.strip_suffix('\n') {
        (body, "\n")
    } else {
        (line, "")
    }
}

/// A line that already has a `refsan: ignore[...]` comment, with `codes`
/// added to it.
fn merge_into_existing(line: &str, codes: &[&str]) -> Option<String> {
    let (at, _, existing) = parse_suppressions(line)
        .into_iter()
        .find(|(_, scope, _)| *scope == refsan_ir::SuppressionScope::Line)?;
    if existing.is_empty() {
        // `refsan: ignore` already silences every rule: nothing to add.
        return Some(line.to_string());
    }
    let open = at + line[at..].find('[')?;
    let close = open + line[open..].find(']')?;
    let mut all: BTreeSet<String> = existing.into_iter().collect();
    all.extend(codes.iter().map(ToString::to_string));
    let list: Vec<String> = all.into_iter().collect();
    Some(format!(
        "{}[{}]{}",
        &line[..open],
        list.join(", "),
        &line[close + 1..]
    ))
}

/// For each line, whether its end is inside a comment or a string, or
/// continued with a backslash: no comment may be appended there.
fn line_ends_open(text: &str, language: Language) -> Vec<bool> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    // C: inside /* */; Cython: inside a triple-quoted string (its quote).
    let mut in_block = false;
    let mut triple: Option<&[u8]> = None;
    let mut line_start = 0;
    while i <= bytes.len() {
        if i == bytes.len() || bytes[i] == b'\n' {
            let line = &text[line_start..i];
            let continued = line.trim_end_matches('\r').ends_with('\\');
            out.push(in_block || triple.is_some() || continued);
            line_start = i + 1;
            i += 1;
            continue;
        }
        match language {
            Language::Cython => {
                if let Some(q) = triple {
                    if bytes[i..].starts_with(q) {
                        triple = None;
                        i += 3;
                        continue;
                    }
                } else if bytes[i] == b'#' {
                    // The rest of the line is a comment: appending is fine.
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                    continue;
                } else if bytes[i..].starts_with(b"\"\"\"") || bytes[i..].starts_with(b"'''") {
                    triple = Some(&bytes[i..i + 3]);
                    i += 3;
                    continue;
                } else if bytes[i] == b'"' || bytes[i] == b'\'' {
                    i = skip_quoted(bytes, i);
                    continue;
                }
            }
            _ => {
                if in_block {
                    if bytes[i..].starts_with(b"*/") {
                        in_block = false;
                        i += 2;
                        continue;
                    }
                } else if bytes[i..].starts_with(b"/*") {
                    in_block = true;
                    i += 2;
                    continue;
                } else if bytes[i..].starts_with(b"//") {
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                    continue;
                } else if bytes[i] == b'"' || bytes[i] == b'\'' {
                    i = skip_quoted(bytes, i);
                    continue;
                }
            }
        }
        i += 1;
    }
    out
}

/// The index after a one-line quoted literal starting at `i`.
fn skip_quoted(bytes: &[u8], i: usize) -> usize {
    let quote = bytes[i];
    let mut j = i + 1;
    while j < bytes.len() && bytes[j] != b'\n' {
        if bytes[j] == b'\\' {
            j += 2;
            continue;
        }
        if bytes[j] == quote {
            return j + 1;
        }
        j += 1;
    }
    j
}

#[cfg(test)]
mod tests {
    use super::*;
    use refsan_ir::{Severity, Span};

    fn at(line: u32, code: &'static str) -> Finding {
        Finding {
            code,
            name: "x",
            severity: Severity::Error,
            message: String::new(),
            span: Span {
                line,
                col: 1,
                ..Span::default()
            },
            function: None,
            events: Vec::new(),
            help: None,
            related: Vec::new(),
            trigger: refsan_ir::Trigger::Always,
            failing_call: None,
        }
    }

    #[test]
    fn c_comments_at_the_end_of_the_line_or_above() {
        let src = "int f(void)\n{\n    return NULL;\n    x = 1; /* open\n    comment */\n}\n";
        let (out, n) = rewrite(
            src,
            Language::C,
            &[at(3, "RS101"), at(3, "RS109"), at(4, "RS102")],
        );
        assert_eq!(n, 2);
        assert_eq!(
            out,
            "int f(void)\n{\n    return NULL;  /* refsan: ignore[RS101, RS109] */\n    /* refsan: ignore[RS102] */\n    x = 1; /* open\n    comment */\n}\n"
        );
    }

    #[test]
    fn an_existing_comment_gets_the_new_codes() {
        let src = "    Py_DECREF(x); /* refsan: ignore[RS102] */\n";
        let (out, n) = rewrite(src, Language::C, &[at(1, "RS103")]);
        assert_eq!(n, 1);
        assert_eq!(
            out,
            "    Py_DECREF(x); /* refsan: ignore[RS102, RS103] */\n"
        );
    }

    #[test]
    fn cython_comments_and_strings() {
        let src = "def f():\n    x = g()\n    s = \"\"\"a\n    b\"\"\"\n";
        let (out, n) = rewrite(src, Language::Cython, &[at(2, "RS401"), at(3, "RS101")]);
        assert_eq!(n, 2);
        assert_eq!(
            out,
            "def f():\n    x = g()  # refsan: ignore[RS401]\n    # refsan: ignore[RS101]\n    s = \"\"\"a\n    b\"\"\"\n"
        );
    }

    #[test]
    fn never_inside_a_macro() {
        let src = "#define M(x) \\\n    Py_DECREF(x)\n";
        let (out, n) = rewrite(src, Language::C, &[at(2, "RS102")]);
        // The end of line 2 is free: the comment goes there.
        assert_eq!(n, 1);
        assert!(out.contains("Py_DECREF(x)  /* refsan: ignore[RS102] */"));
        let src = "#define M(x) \\\n    Py_DECREF(x) \\\n    + 1\n";
        let (_, n) = rewrite(src, Language::C, &[at(2, "RS102")]);
        assert_eq!(n, 0, "inside a macro continuation: left alone");
    }
}
