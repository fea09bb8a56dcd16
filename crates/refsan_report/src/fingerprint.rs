//! Identities of findings that survive edits elsewhere in the file: SARIF
//! `partialFingerprints` and the JSON `fingerprint` field.

use refsan_ir::Finding;

/// A path as it is compared across runs and platforms: `/` separators, no
/// leading `./`.
pub(crate) fn canonical_path(path: &str) -> String {
    let mut path = path.replace('\\', "/");
    while let Some(rest) = path.strip_prefix("./") {
        path = rest.trim_start_matches('/').to_string();
    }
    path
}

/// FNV-1a, 64 bits: tiny, and its output is fixed by its definition, unlike
/// `std`'s hashers, so fingerprints stay equal across refsan builds.
fn fnv1a64(parts: &[&str]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET_BASIS;
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            // A separator no part contains, so ("ab","c") != ("a","bc").
            hash ^= 0xff;
            hash = hash.wrapping_mul(PRIME);
        }
        for byte in part.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    hash
}

/// The hash of what identifies a finding: rule, file, function, message;
/// deliberately not its line, so a finding keeps its identity when code
/// above it moves.
pub(crate) fn finding_hash(finding: &Finding, path: &str) -> u64 {
    fnv1a64(&[
        finding.code,
        &canonical_path(path),
        finding.function.as_deref().unwrap_or(""),
        &finding.message,
    ])
}

/// Numbers findings with equal hashes in output order (the same leak at two
/// `return`s), as GitHub's own line hashes do: `<hash>:<occurrence>`.
#[derive(Debug, Default)]
pub(crate) struct Fingerprinter {
    seen: std::collections::HashMap<u64, u32>,
}

impl Fingerprinter {
    pub(crate) fn next(&mut self, finding: &Finding, path: &str) -> String {
        let hash = finding_hash(finding, path);
        let occurrence = self.seen.entry(hash).or_insert(0);
        *occurrence += 1;
        format!("{hash:016x}:{occurrence}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use refsan_ir::{Severity, Span};

    fn finding(line: u32) -> Finding {
        Finding {
            code: "RS101",
            name: "leaked-reference",
            severity: Severity::Error,
            message: "`result` leaks".to_string(),
            span: Span {
                line,
                col: 5,
                end_line: line,
                end_col: 9,
                ..Span::default()
            },
            function: Some("f".to_string()),
            events: Vec::new(),
            help: None,
            related: Vec::new(),
            trigger: refsan_ir::Trigger::Always,
            failing_call: None,
        }
    }

    #[test]
    fn hash_ignores_lines_and_path_spelling() {
        assert_eq!(
            finding_hash(&finding(3), "src/a.c"),
            finding_hash(&finding(30), "./src\\a.c")
        );
        assert_ne!(
            finding_hash(&finding(3), "src/a.c"),
            finding_hash(&finding(3), "src/b.c")
        );
    }

    #[test]
    fn hash_is_fixed_by_definition() {
        // FNV-1a of the empty input is its offset basis.
        assert_eq!(fnv1a64(&[""]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(&["a"]), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(fnv1a64(&["ab", "c"]), fnv1a64(&["a", "bc"]));
    }

    #[test]
    fn equal_findings_are_numbered() {
        let mut fingerprints = Fingerprinter::default();
        let first = fingerprints.next(&finding(3), "a.c");
        let second = fingerprints.next(&finding(9), "a.c");
        assert!(first.ends_with(":1"));
        assert!(second.ends_with(":2"));
        assert_eq!(first[..16], second[..16]);
    }
}
