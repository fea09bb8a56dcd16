//! The headers a C or C++ file is read with: the project's own headers it
//! includes with `#include "..."`, and theirs, in the order the compiler
//! would see them (a header's own includes before it).
//!
//! An include is looked up next to the file that includes it, at the
//! project root, and then among the project's headers by path suffix (the
//! project's `-I` directories are not known). Headers of Python itself (a
//! directory holding `Python.h`, or one below it) and of the system are
//! never read: the knowledge base covers the C API. An include that
//! cannot be found is assumed to come from the compiler's search path.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::project::{Context, ContextSource};

/// Most headers read for one file, and most bytes.
const MAX_HEADERS: usize = 64;
const MAX_HEADER_BYTES: usize = 8 << 20;

/// Extensions of the files an include may name and that are read as
/// headers (code included as `x.c.h` or `x.inc` is not a header).
const HEADER_EXTENSIONS: &[&str] = &["h", "hh", "hpp", "hxx", "H"];

/// The project's headers, by file name.
pub type HeaderIndex = HashMap<String, Vec<PathBuf>>;

/// Every header of the project under `root`, by file name.
pub fn header_index(root: &Path) -> HeaderIndex {
    let mut out = HeaderIndex::new();
    for e in crate::project::project_files(root) {
        if !e.file_type().is_some_and(|t| t.is_file()) || !is_header(e.path()) {
            continue;
        }
        if let Some(name) = e.path().file_name().and_then(|n| n.to_str()) {
            out.entry(name.to_string())
                .or_default()
                .push(e.path().to_path_buf());
        }
    }
    for paths in out.values_mut() {
        paths.sort();
    }
    out
}

fn is_header(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.ends_with(".c.h") {
        return false;
    }
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| HEADER_EXTENSIONS.contains(&e))
}

/// The `#include "..."` names of a source, in order.
pub fn quoted_includes(src: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for line in src.split(|b| *b == b'\n') {
        let t = trim_start(line);
        let Some(rest) = t.strip_prefix(b"#") else {
            continue;
        };
        let rest = trim_start(rest);
        let Some(rest) = rest.strip_prefix(b"include") else {
            continue;
        };
        let rest = trim_start(rest);
        let Some(rest) = rest.strip_prefix(b"\"") else {
            continue;
        };
        if let Some(end) = rest.iter().position(|b| *b == b'"') {
            if let Ok(name) = std::str::from_utf8(&rest[..end]) {
                if !name.is_empty() {
                    out.push(name.to_string());
                }
            }
        }
    }
    out
}

fn trim_start(s: &[u8]) -> &[u8] {
    let n = s
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t' | b'\r'))
        .count();
    &s[n..]
}

/// A depth-first walk of a file's includes.
pub struct Gather<'a> {
    root: &'a Path,
    index: &'a HeaderIndex,
    seen: HashSet<PathBuf>,
    /// Directories known to be Python's own headers (or not).
    python_dirs: HashMap<PathBuf, bool>,
    files: Vec<ContextSource>,
    notes: Vec<String>,
    bytes: usize,
    full: bool,
}

impl<'a> Gather<'a> {
    pub fn new(root: &'a Path, index: &'a HeaderIndex, file: &Path) -> Gather<'a> {
        let mut seen = HashSet::new();
        seen.insert(file.to_path_buf());
        Gather {
            root,
            index,
            seen,
            python_dirs: HashMap::new(),
            files: Vec::new(),
            notes: Vec::new(),
            bytes: 0,
            full: false,
        }
    }

    /// Reads the headers `src` (the text of `file`) includes, and theirs.
    pub fn visit(&mut self, file: &Path, src: &[u8], depth: usize) {
        // Deeper than any real project nests its headers: a chain of
        // generated includes, not worth following.
        if depth > 32 {
            return;
        }
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        for inc in quoted_includes(src) {
            let Some(found) = self.resolve(&dir, &inc) else {
                continue;
            };
            if !self.seen.insert(found.clone()) {
                // Already read, or being read (an include cycle, which
                // include guards make harmless).
                continue;
            }
            if self.files.len() >= MAX_HEADERS || self.bytes >= MAX_HEADER_BYTES {
                if !self.full {
                    self.full = true;
                    self.notes.push(format!(
                        "more than {MAX_HEADERS} headers or {} MiB of headers around this file; the rest were not read",
                        MAX_HEADER_BYTES >> 20
                    ));
                }
                return;
            }
            match std::fs::read(&found) {
                Ok(text) => {
                    self.bytes += text.len();
                    self.visit(&found, &text, depth + 1);
                    self.files.push(ContextSource {
                        path: found,
                        source: text,
                    });
                }
                Err(e) => self.notes.push(format!(
                    "cannot read the header {}: {e}",
                    crate::driver::display_path(&found)
                )),
            }
        }
    }

    pub fn finish(self) -> Context {
        Context {
            files: self.files,
            notes: self.notes,
        }
    }

    /// The project header `inc` names, seen from `dir`.
    fn resolve(&mut self, dir: &Path, inc: &str) -> Option<PathBuf> {
        let rel = Path::new(inc);
        if rel.is_absolute() || !is_header(rel) {
            return None;
        }
        let direct = [dir.join(rel), self.root.join(rel)];
        let found = direct.into_iter().find(|c| c.is_file()).or_else(|| {
            // Among the project's headers: the one whose path ends with
            // the include's, nearest to the including directory.
            let name = rel.file_name()?.to_str()?;
            let rel_parts: Vec<_> = rel.components().collect();
            self.index
                .get(name)?
                .iter()
                .filter(|p| {
                    let parts: Vec<_> = p.components().collect();
                    parts.len() >= rel_parts.len()
                        && parts[parts.len() - rel_parts.len()..] == rel_parts[..]
                })
                .max_by_key(|p| (common_prefix(p, dir), std::cmp::Reverse((*p).clone())))
                .cloned()
        })?;
        let found = std::fs::canonicalize(&found).unwrap_or(found);
        if !found.starts_with(self.root) || self.is_python_header(&found) {
            return None;
        }
        Some(found)
    }

    /// Whether `header` is one of Python's own: a directory at or above it
    /// (inside the project) holds `Python.h`.
    fn is_python_header(&mut self, header: &Path) -> bool {
        let mut d = header.parent();
        while let Some(dir) = d {
            if !dir.starts_with(self.root) {
                break;
            }
            let known = *self
                .python_dirs
                .entry(dir.to_path_buf())
                .or_insert_with(|| dir.join("Python.h").is_file());
            if known {
                return true;
            }
            d = dir.parent();
        }
        false
    }
}

fn common_prefix(a: &Path, b: &Path) -> usize {
    a.components()
        .zip(b.components())
        .take_while(|(x, y)| x == y)
        .count()
}

/// The identifiers of a C source followed by `(`: the names it may call
/// (and keywords, macros and the functions it defines), found by a scan of
/// its text.
pub fn called_names(src: &[u8]) -> HashSet<&[u8]> {
    let mut out = HashSet::new();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < src.len() {
        if !(src[i].is_ascii_alphabetic() || src[i] == b'_') || (i > 0 && ident(src[i - 1])) {
            i += 1;
            continue;
        }
        let start = i;
        while i < src.len() && ident(src[i]) {
            i += 1;
        }
        let end = i;
        while i < src.len() && matches!(src[i], b' ' | b'\t') {
            i += 1;
        }
        if src.get(i) == Some(&b'(') {
            out.insert(&src[start..end]);
        }
    }
    out
}

/// The functions a C source defines with external linkage, found by a
/// scan of its text (no parse): a line starting at column 0 whose first
/// identifier followed by `(` is the name, the definition's body `{`
/// after the closing parenthesis, and no `static` in front.
pub fn exported_definitions(src: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut prev_line: &[u8] = b"";
    let mut offset = 0usize;
    for line in src.split(|b| *b == b'\n') {
        let start = offset;
        offset += line.len() + 1;
        let first = line.first().copied().unwrap_or(b' ');
        if !(first.is_ascii_alphabetic() || first == b'_') {
            if !line.iter().all(u8::is_ascii_whitespace) {
                prev_line = line;
            }
            continue;
        }
        let Some(open) = line.iter().position(|b| *b == b'(') else {
            prev_line = line;
            continue;
        };
        let head = &line[..open];
        let name_end = head
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .map_or(0, |i| i + 1);
        let name_start = head[..name_end]
            .iter()
            .rposition(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
            .map_or(0, |i| i + 1);
        let name = &head[name_start..name_end];
        let words = |s: &[u8]| -> bool {
            s.split(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
                .any(|w| {
                    matches!(
                        w,
                        b"static"
                            | b"typedef"
                            | b"return"
                            | b"if"
                            | b"while"
                            | b"for"
                            | b"switch"
                            | b"define"
                    )
                })
        };
        let type_before = head[..name_start]
            .iter()
            .any(|b| b.is_ascii_alphanumeric() || *b == b'*')
            || (!prev_line.is_empty()
                && !prev_line.ends_with(b";")
                && !prev_line.ends_with(b"}")
                && !prev_line.ends_with(b"/")
                && !prev_line.starts_with(b"#"));
        let static_before = words(&head[..name_start]) || (name_start == 0 && words(prev_line));
        prev_line = line;
        if name.is_empty()
            || name[0].is_ascii_digit()
            || !type_before
            || static_before
            || words(name)
        {
            continue;
        }
        // The body follows the parameter list.
        let mut depth = 0i32;
        let mut i = start + open;
        let mut body = false;
        while i < src.len() && i < start + open + 4096 {
            match src[i] {
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        let rest = &src[i + 1..];
                        let next = rest.iter().position(|b| !b.is_ascii_whitespace());
                        body = next.is_some_and(|n| rest[n] == b'{');
                        break;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        if body {
            if let Ok(n) = std::str::from_utf8(name) {
                out.push(n.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_includes_only() {
        let src = b"#include <Python.h>\n  #  include \"a.h\"\n#include\"sub/b.h\" // x\n#define X \"c.h\"\n#include \"\"\n";
        assert_eq!(quoted_includes(src), ["a.h", "sub/b.h"]);
    }

    #[test]
    fn called_names_by_scan() {
        let src = b"static int f(void) { return helper_a (x) + y2_b(z[k]) + w; }\n#define M(x) x\nabc\t();";
        let mut names: Vec<&[u8]> = called_names(src).into_iter().collect();
        names.sort();
        let want: Vec<&[u8]> = vec![b"M", b"abc", b"f", b"helper_a", b"y2_b"];
        assert_eq!(names, want);
    }

    #[test]
    fn exported_definitions_by_scan() {
        let src = b"static PyObject *\nhidden(PyObject *x)\n{\n}\n\nPyObject *\nshown(PyObject *x,\n      int y)\n{\n    return x;\n}\nint also(void) {\n    if (x) {\n    }\n}\nint proto(void);\nstatic int inl(void) { return 0; }\nMY_MACRO(x)\n";
        assert_eq!(exported_definitions(src), ["shown", "also"]);
    }

    #[test]
    fn headers_by_extension() {
        assert!(is_header(Path::new("x/a.h")));
        assert!(is_header(Path::new("a.hpp")));
        assert!(!is_header(Path::new("clinic/a.c.h")));
        assert!(!is_header(Path::new("a.inc")));
        assert!(!is_header(Path::new("a.c")));
    }
}
