//! Tempita templates (`.pyx.in`, `.pxi.in`, `.pxd.in`, or `.tp`): Cython sources with
//! `{{...}}` template code, expanded at build time. They are read with the
//! template code neutralised, every byte offset and line kept: directive
//! lines (`{{py: ...}}` blocks, `{{for ...}}`, `{{endif}}`) become blank,
//! and a substitution inside a line of code (`def take_{{name}}(...)`)
//! becomes an identifier of the same length (`def take___name__(...)`).

/// The path names a template.
pub fn is_template_path(path: &str) -> bool {
    [
        ".pyx.in", ".pxi.in", ".pxd.in", ".pyx.tp", ".pxi.tp", ".pxd.tp",
    ]
    .iter()
    .any(|s| path.ends_with(s))
}

/// The source with its template code neutralised (same length, same lines).
pub fn neutralise(src: &[u8]) -> Vec<u8> {
    let mut out = src.to_vec();
    let n = src.len();
    let mut i = 0;
    while i + 1 < n {
        if !(src[i] == b'{' && src[i + 1] == b'{') {
            i += 1;
            continue;
        }
        // The matching `}}` (template code may span lines).
        let mut j = i + 2;
        while j + 1 < n && !(src[j] == b'}' && src[j + 1] == b'}') {
            j += 1;
        }
        let end = (j + 2).min(n);
        let line_start = src[..i]
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |p| p + 1);
        let line_end = src[end..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(n, |p| end + p);
        let alone = src[line_start..i].iter().all(u8::is_ascii_whitespace)
            && src[end..line_end].iter().all(u8::is_ascii_whitespace);
        let inner = &src[i + 2..j.min(n)];
        let directive = alone
            && (inner.contains(&b'\n')
                || inner.starts_with(b"py:")
                || inner.first().is_some_and(u8::is_ascii_alphabetic)
                    && inner
                        .split(u8::is_ascii_whitespace)
                        .next()
                        .is_some_and(|w| {
                            matches!(
                                w,
                                b"for"
                                    | b"endfor"
                                    | b"if"
                                    | b"elif"
                                    | b"else"
                                    | b"endif"
                                    | b"py"
                                    | b"default"
                                    | b"inherit"
                                    | b"def"
                                    | b"enddef"
                            )
                        }));
        if directive {
            for b in &mut out[line_start..line_end] {
                if *b != b'\n' {
                    *b = b' ';
                }
            }
        } else {
            for b in &mut out[i..end] {
                *b = if b.is_ascii_alphanumeric() { *b } else { b'_' };
            }
            // A line break inside a substitution stays a line break.
            for (k, b) in src[i..end].iter().enumerate() {
                if *b == b'\n' {
                    out[i + k] = b'\n';
                }
            }
        }
        i = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_blank_and_substitutions_become_names() {
        let src = b"{{py:\ndtypes = ['int64', 'float64']\n}}\n{{for name in dtypes}}\ndef take_{{name}}(values):\n    return values\n{{endfor}}\n";
        let out = neutralise(src);
        assert_eq!(out.len(), src.len());
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text.lines().count(),
            String::from_utf8_lossy(src).lines().count()
        );
        assert!(text.contains("def take___name__(values):"), "{text}");
        assert!(!text.contains("{{"));
        assert!(!text.contains("endfor"));
    }
}
