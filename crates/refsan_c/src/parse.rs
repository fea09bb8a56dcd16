//! The tree-sitter parse of a prepared text: thread-local parsers, and a
//! work and time allowance past which a parse is abandoned.

use refsan_ir::Language;
use std::cell::RefCell;
use std::time::{Duration, Instant};
use tree_sitter::{ParseOptions, Parser, Point, Range, Tree};

/// Runs of blanks at least this long are left out of the parse: blanked
/// comments, directives and data tables are a large part of a file, and
/// tree-sitter lexes a blank as slowly as a token.
const MIN_SKIPPED_BLANKS: usize = 64;

/// The parts of `text` to parse: everything but the blank lines of long
/// runs of blanks. A range starts and ends at a line start, so the line
/// break that ends a directive stays in.
fn included_ranges(text: &[u8]) -> Vec<Range> {
    let blank = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r');
    let mut out = Vec::new();
    let mut row = 0usize;
    // Start of the range being built: byte and row (always a line start,
    // or the start of the text).
    let mut start = (0usize, 0usize);
    let n = text.len();
    let mut i = 0;
    while i < n {
        if !blank(text[i]) {
            i += 1;
            continue;
        }
        let mut j = i;
        // Where the blank lines of the run start and end (after its first
        // and its last line break), and their rows.
        let mut first: Option<(usize, usize)> = None;
        let mut last = (0usize, 0usize);
        while j < n && blank(text[j]) {
            if text[j] == b'\n' {
                row += 1;
                first.get_or_insert((j + 1, row));
                last = (j + 1, row);
            }
            j += 1;
        }
        if let Some((skip_from, from_row)) = first {
            let (skip_to, to_row) = last;
            if skip_to >= skip_from + MIN_SKIPPED_BLANKS {
                out.push(Range {
                    start_byte: start.0,
                    end_byte: skip_from,
                    start_point: Point::new(start.1, 0),
                    end_point: Point::new(from_row, 0),
                });
                start = (skip_to, to_row);
            }
        }
        i = j;
    }
    if start.0 < n || out.is_empty() {
        let last_line = text[start.0..].iter().rposition(|c| *c == b'\n');
        let col = match last_line {
            Some(p) => n - (start.0 + p + 1),
            None => n - start.0,
        };
        out.push(Range {
            start_byte: start.0,
            end_byte: n,
            start_point: Point::new(start.1, 0),
            end_point: Point::new(row, col),
        });
    }
    out
}

/// Parser work allowed before a parse is abandoned, counted in
/// tree-sitter's progress callbacks (one per 100 parser operations):
/// `BASE + bytes / PER_BYTES_DIVISOR`. CPython's sources need at most one
/// callback per 50 bytes; this allows 25 times that.
const PARSE_CALLBACKS_BASE: usize = 100_000;
const PARSE_CALLBACKS_BYTES_PER: usize = 2;

/// Wall-clock allowance for one parse: error recovery on some inputs
/// (C++ `a < b > c` repeated) makes single operations very slow, so the
/// operation budget alone does not bound the time. Normal code parses at
/// about 0.1 µs per byte; this allows 50 times that plus two seconds.
const PARSE_TIME_BASE: Duration = Duration::from_secs(2);
const PARSE_TIME_PER_BYTE_NS: u64 = 5_000;

thread_local! {
    static C_PARSER: RefCell<Option<Parser>> = const { RefCell::new(None) };
    static CPP_PARSER: RefCell<Option<Parser>> = const { RefCell::new(None) };
}

/// Parses with this thread's parser for `language`; abandoned (None) past
/// the work or time allowance.
pub(crate) fn parse(language: Language, text: &[u8]) -> Option<Tree> {
    let cell = match language {
        Language::Cpp => &CPP_PARSER,
        _ => &C_PARSER,
    };
    cell.with(|slot| {
        let mut slot = slot.try_borrow_mut().ok()?;
        if slot.is_none() {
            let mut parser = Parser::new();
            let lang: tree_sitter::Language = match language {
                Language::Cpp => tree_sitter_cpp::LANGUAGE.into(),
                _ => tree_sitter_c::LANGUAGE.into(),
            };
            parser.set_language(&lang).ok()?;
            *slot = Some(parser);
        }
        let parser = slot.as_mut()?;
        let len = text.len();
        parser.set_included_ranges(&included_ranges(text)).ok()?;
        let limit = PARSE_CALLBACKS_BASE + len / PARSE_CALLBACKS_BYTES_PER;
        let deadline = Instant::now()
            + PARSE_TIME_BASE
            + Duration::from_nanos(PARSE_TIME_PER_BYTE_NS * len as u64);
        let mut callbacks = 0usize;
        let mut progress = |_: &tree_sitter::ParseState| {
            callbacks += 1;
            callbacks > limit || (callbacks & 15 == 0 && Instant::now() > deadline)
        };
        let options = ParseOptions::new().progress_callback(&mut progress);
        let tree = parser.parse_with_options(
            &mut |i, _| if i < len { &text[i..] } else { &[] },
            None,
            Some(options),
        );
        if tree.is_none() {
            // A cancelled parse leaves state behind.
            parser.reset();
        }
        tree
    })
}
#[cfg(test)]
mod tests {
    use super::*;

    fn plain_parse(text: &[u8]) -> Tree {
        let mut p = Parser::new();
        p.set_language(&tree_sitter_c::LANGUAGE.into()).unwrap();
        p.parse(text, None).unwrap()
    }

    #[test]
    fn long_blank_runs_are_left_out_and_the_tree_is_the_same() {
        let text = format!(
            "#include \"a.h\"\n{}\n#if A\nint y;{}\n#endif\n{}  int x;\nstatic int f(void)\n{{\n{}    return 1;\n}}\n",
            "\n".repeat(80),
            " ".repeat(100),
            format!("{}\n", " ".repeat(70)).repeat(3),
            "\n".repeat(70),
        );
        let ranges = included_ranges(text.as_bytes());
        assert!(ranges.len() >= 3, "{ranges:?}");
        for r in &ranges {
            // Every range starts at a line start, and its points match its bytes.
            let before = &text.as_bytes()[..r.start_byte];
            assert_eq!(
                before.iter().filter(|c| **c == b'\n').count(),
                r.start_point.row
            );
            assert!(r.start_byte == 0 || before.ends_with(b"\n"));
        }
        let ours = parse(Language::C, text.as_bytes()).unwrap();
        let plain = plain_parse(text.as_bytes());
        assert_eq!(ours.root_node().to_sexp(), plain.root_node().to_sexp());
        assert!(!ours.root_node().has_error());
        let last = ours
            .root_node()
            .child(ours.root_node().child_count() - 1)
            .unwrap();
        assert_eq!(
            last.start_position(),
            plain
                .root_node()
                .child(plain.root_node().child_count() - 1)
                .unwrap()
                .start_position()
        );
        assert_eq!(last.start_byte(), text.find("static").unwrap());
    }

    #[test]
    fn texts_without_long_runs_are_one_range() {
        for text in ["", "int x;", "int x;\n\n\nint y;\n", "   \n"] {
            let ranges = included_ranges(text.as_bytes());
            assert_eq!(ranges.len(), 1, "{text:?}");
            assert_eq!((ranges[0].start_byte, ranges[0].end_byte), (0, text.len()));
        }
    }
}
