//! What comments say: `# refsan: ignore[RS101]` suppressions,
//! `# refsan: returns new|borrowed` / `# refsan: steals N` annotations on
//! extern declarations, and — the weakest source — the usual words in a
//! declaration's trailing comment ("new reference", "borrowed", "steals").

use crate::lexer::Comment;
use refsan_ir::{LineIndex, Returns, Span, Suppression};
use std::collections::HashMap;

/// An ownership statement about one declared function.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnershipNote {
    pub returns: Option<Returns>,
    /// 0-based parameter positions whose reference the function steals.
    pub steals: Vec<usize>,
}

impl OwnershipNote {
    pub fn is_empty(&self) -> bool {
        self.returns.is_none() && self.steals.is_empty()
    }
}

pub struct Comments<'a> {
    src: &'a [u8],
    by_line: HashMap<u32, Vec<Comment>>,
    lines: LineIndex,
}

impl<'a> Comments<'a> {
    pub fn new(src: &'a [u8], comments: &[Comment]) -> Comments<'a> {
        let mut by_line: HashMap<u32, Vec<Comment>> = HashMap::new();
        for c in comments {
            by_line.entry(c.line).or_default().push(*c);
        }
        Comments {
            src,
            by_line,
            lines: LineIndex::new(src),
        }
    }

    /// The span of bytes `start..end` (clamped to the text).
    fn span(&self, start: u32, end: u32) -> Span {
        let len = self.src.len() as u32;
        self.lines.span(start.min(len), end.min(len))
    }

    fn text(&self, c: &Comment) -> String {
        let s = (c.start as usize).min(self.src.len());
        let e = (c.end as usize).clamp(s, self.src.len());
        String::from_utf8_lossy(&self.src[s..e]).into_owned()
    }

    /// `# refsan: ignore[...]` comments (and the file and region forms).
    pub fn suppressions(&self) -> Vec<Suppression> {
        let mut out = Vec::new();
        let mut lines: Vec<&u32> = self.by_line.keys().collect();
        lines.sort();
        for line in lines {
            for c in &self.by_line[line] {
                let text = self.text(c);
                for (at, scope, codes) in refsan_ir::parse_suppressions(&text) {
                    let len = text[at..].find(']').map_or(text.len() - at, |e| e + 1);
                    out.push(Suppression {
                        line: *line,
                        codes,
                        scope,
                        span: self.span(c.start + at as u32, c.start + (at + len) as u32),
                    });
                }
            }
        }
        out
    }

    /// An explicit `# refsan:` annotation on lines `first..=last` of a
    /// declaration (trailing comments) or on the line above it (a comment
    /// alone on its line).
    pub fn annotation(&self, first: u32, last: u32) -> Option<OwnershipNote> {
        let mut note = OwnershipNote::default();
        let mut found = false;
        let above = first.checked_sub(1).and_then(|l| self.by_line.get(&l));
        for c in above.into_iter().flatten().filter(|c| c.own_line) {
            found |= parse_annotation(&self.text(c), &mut note);
        }
        for line in first..=last {
            for c in self.by_line.get(&line).into_iter().flatten() {
                if !c.own_line {
                    found |= parse_annotation(&self.text(c), &mut note);
                }
            }
        }
        (found && !note.is_empty()).then_some(note)
    }

    /// The words of a declaration's trailing comment (and a CPython-style
    /// "Return value: New reference." comment right below it).
    pub fn heuristic(
        &self,
        first: u32,
        last: u32,
        params: &[(String, bool)],
    ) -> Option<OwnershipNote> {
        let mut text = String::new();
        for line in first..=last {
            for c in self.by_line.get(&line).into_iter().flatten() {
                if !c.own_line {
                    text.push_str(&self.text(c));
                    text.push(' ');
                }
            }
        }
        if let Some(below) = self.by_line.get(&(last + 1)) {
            for c in below.iter().filter(|c| c.own_line) {
                let t = self.text(c);
                if t.to_ascii_lowercase().contains("return value:") {
                    text.push_str(&t);
                }
            }
        }
        if text.is_empty() || text.contains("refsan:") {
            return None;
        }
        heuristic_words(&text, params)
    }
}

fn after_marker(text: &str) -> Option<&str> {
    let i = text.find("refsan:")?;
    Some(text[i + "refsan:".len()..].trim())
}

/// `refsan: returns new`, `refsan: returns borrowed`, `refsan: steals 1`,
/// `refsan: returns new, steals 2 3` (positions are 1-based).
pub fn parse_annotation(text: &str, note: &mut OwnershipNote) -> bool {
    let Some(rest) = after_marker(text) else {
        return false;
    };
    let lower = rest.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter(|w| !w.is_empty())
        .collect();
    let mut found = false;
    let mut i = 0;
    while i < words.len() {
        match words[i] {
            "returns" | "return" => {
                match words.get(i + 1).copied() {
                    Some("new" | "new-reference" | "new_reference" | "owned" | "strong") => {
                        note.returns = Some(Returns::New);
                        found = true;
                        i += 1;
                    }
                    Some("borrowed" | "borrowed-reference" | "borrowed_reference") => {
                        note.returns = Some(Returns::Borrowed);
                        found = true;
                        i += 1;
                    }
                    _ => {}
                }
                i += 1;
            }
            "steals" | "steal" => {
                i += 1;
                while let Some(n) = words.get(i).and_then(|w| w.parse::<usize>().ok()) {
                    if n >= 1 {
                        note.steals.push(n - 1);
                        found = true;
                    }
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    found
}

/// Ownership words in a free-text comment. `params` are the declaration's
/// parameters (name, is an object) so "steals" can name the right one.
pub fn heuristic_words(text: &str, params: &[(String, bool)]) -> Option<OwnershipNote> {
    let t = text.to_ascii_lowercase();
    let mut note = OwnershipNote::default();
    let says_new = [
        "new reference",
        "new ref",
        "returns new",
        "return value: new",
        "owned reference",
        "strong reference",
    ]
    .iter()
    .any(|w| t.contains(w));
    let says_borrowed = t.contains("borrowed");
    match (says_new, says_borrowed) {
        (true, false) => note.returns = Some(Returns::New),
        (false, true) => note.returns = Some(Returns::Borrowed),
        _ => {}
    }
    let says_steals = [
        "steal",
        "consumes a reference",
        "consumes the reference",
        "takes ownership",
    ]
    .iter()
    .any(|w| t.contains(w))
        && !t.contains("does not steal")
        && !t.contains("doesn't steal");
    if says_steals {
        let objects: Vec<usize> = params
            .iter()
            .enumerate()
            .filter(|(_, (_, obj))| *obj)
            .map(|(i, _)| i)
            .collect();
        // The parameter named after the verb ("steals a reference to
        // item"), skipping the words of the sentence itself.
        const STOP: &[&str] = &[
            "a",
            "an",
            "the",
            "to",
            "of",
            "it",
            "its",
            "reference",
            "ref",
        ];
        let after = t.find("steal").or_else(|| t.find("consumes")).unwrap_or(0);
        let named = t[after..]
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .filter(|w| !w.is_empty() && !STOP.contains(w))
            .find_map(|w| {
                params
                    .iter()
                    .enumerate()
                    .find(|(_, (n, obj))| *obj && n.to_ascii_lowercase() == w)
            });
        if let Some((i, _)) = named {
            note.steals.push(i);
        } else if let Some(i) = objects.first() {
            note.steals.push(*i);
        }
    }
    (!note.is_empty()).then_some(note)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations() {
        let mut n = OwnershipNote::default();
        assert!(parse_annotation("# refsan: returns new, steals 2", &mut n));
        assert_eq!(n.returns, Some(Returns::New));
        assert_eq!(n.steals, vec![1]);
        let mut n = OwnershipNote::default();
        assert!(parse_annotation("# refsan: returns borrowed", &mut n));
        assert_eq!(n.returns, Some(Returns::Borrowed));
        let mut n = OwnershipNote::default();
        assert!(!parse_annotation("# returns new", &mut n));
    }

    #[test]
    fn heuristic_words_in_comments() {
        let p = vec![("item".to_string(), true)];
        assert_eq!(
            heuristic_words("# Returns new ref", &[]).and_then(|n| n.returns),
            Some(Returns::New)
        );
        assert_eq!(
            heuristic_words("# Returns borrowed ref", &[]).and_then(|n| n.returns),
            Some(Returns::Borrowed)
        );
        assert_eq!(
            heuristic_words("# Consumes a reference (steals)", &p).map(|n| n.steals),
            Some(vec![0])
        );
        let two = vec![("a".to_string(), true), ("b".to_string(), true)];
        assert_eq!(
            heuristic_words("# steals a reference to b", &two).map(|n| n.steals),
            Some(vec![1])
        );
        assert_eq!(heuristic_words("# does not steal", &p), None);
        assert_eq!(
            heuristic_words("# new reference, or borrowed when cached", &[]),
            None
        );
        assert_eq!(heuristic_words("# Hypothetical C release func", &p), None);
    }
}
