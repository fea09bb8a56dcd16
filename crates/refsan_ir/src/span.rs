//! Source positions. Front-ends compute spans once; everything downstream
//! (engine, rules, report) only copies them.

use serde::{Deserialize, Serialize};

/// A range of a source file: byte offsets plus 1-based line/column of both
/// ends, so renderers never need to rescan the text to locate a finding.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct Span {
    pub start: u32,
    pub end: u32,
    pub line: u32,
    pub col: u32,
    pub end_line: u32,
    pub end_col: u32,
}

impl Span {
    /// True for the default span, used by synthesized statements that have no
    /// source text of their own.
    pub fn is_dummy(&self) -> bool {
        self.line == 0
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        if self.is_dummy() {
            return other;
        }
        if other.is_dummy() {
            return self;
        }
        let (first, last) = if self.start <= other.start {
            (self, other)
        } else {
            (other, self)
        };
        let end = if first.end >= last.end { first } else { last };
        Span {
            start: first.start,
            end: end.end,
            line: first.line,
            col: first.col,
            end_line: end.end_line,
            end_col: end.end_col,
        }
    }
}

/// Maps byte offsets to 1-based line and column numbers.
#[derive(Clone, Debug)]
pub struct LineIndex {
    line_starts: Vec<u32>,
}

impl LineIndex {
    pub fn new(text: &[u8]) -> LineIndex {
        let mut line_starts = Vec::with_capacity(text.len() / 32 + 1);
        line_starts.push(0);
        for (i, b) in text.iter().enumerate() {
            if *b == b'\n' {
                line_starts.push((i + 1) as u32);
            }
        }
        LineIndex { line_starts }
    }

    /// (line, column), both 1-based; the column counts bytes.
    pub fn line_col(&self, offset: u32) -> (u32, u32) {
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        (line as u32 + 1, offset - self.line_starts[line] + 1)
    }

    pub fn span(&self, start: u32, end: u32) -> Span {
        let (line, col) = self.line_col(start);
        let (end_line, end_col) = self.line_col(end);
        Span {
            start,
            end,
            line,
            col,
            end_line,
            end_col,
        }
    }

    /// Byte offset of the start of a 1-based line.
    pub fn line_start(&self, line: u32) -> Option<u32> {
        self.line_starts.get(line.checked_sub(1)? as usize).copied()
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let idx = LineIndex::new(b"ab\ncd\n\nef");
        assert_eq!(idx.line_col(0), (1, 1));
        assert_eq!(idx.line_col(1), (1, 2));
        assert_eq!(idx.line_col(3), (2, 1));
        assert_eq!(idx.line_col(6), (3, 1));
        assert_eq!(idx.line_col(8), (4, 2));
        let s = idx.span(3, 5);
        assert_eq!((s.line, s.col, s.end_line, s.end_col), (2, 1, 2, 3));
    }

    #[test]
    fn span_to_covers_both() {
        let idx = LineIndex::new(b"0123456789");
        let a = idx.span(2, 4);
        let b = idx.span(6, 9);
        assert_eq!(a.to(b), idx.span(2, 9));
        assert_eq!(b.to(a), idx.span(2, 9));
        assert_eq!(Span::default().to(a), a);
    }
}
