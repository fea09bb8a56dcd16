//! Lines of a source text and the column units of the output formats.
//!
//! Spans count columns in bytes. People and editors count characters, and
//! SARIF (by default) and GitHub count UTF-16 code units; the three agree on
//! ASCII lines. Without the source text, byte columns are all we have.

use refsan_ir::Span;

/// The unit an output format counts columns in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ColumnUnit {
    /// Unicode scalar values: text and JSON output.
    Chars,
    /// UTF-16 code units: SARIF's default `columnKind`, GitHub.
    Utf16,
}

/// A source text split into lines once, so every lookup is a slice.
#[derive(Clone, Debug)]
pub(crate) struct SourceLines<'a> {
    text: &'a str,
    /// Byte offset where each line starts; never empty.
    starts: Vec<usize>,
}

impl<'a> SourceLines<'a> {
    pub(crate) fn new(text: &'a str) -> SourceLines<'a> {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        SourceLines { text, starts }
    }

    /// Number of lines; a final line without a newline counts, and so does
    /// the empty line after a final newline (a span may point at EOF).
    pub(crate) fn line_count(&self) -> usize {
        self.starts.len()
    }

    /// The 1-based line `line` without its line terminator (`\n` or `\r\n`).
    pub(crate) fn line(&self, line: u32) -> Option<&'a str> {
        let raw = self.raw_line(line)?;
        Some(raw.strip_suffix('\r').unwrap_or(raw))
    }

    /// The 1-based line `line` without its `\n` (a `\r` stays: byte columns
    /// count it).
    fn raw_line(&self, line: u32) -> Option<&'a str> {
        let index = usize::try_from(line).ok()?.checked_sub(1)?;
        let start = *self.starts.get(index)?;
        let end = match self.starts.get(index + 1) {
            Some(next) => next - 1,
            None => self.text.len(),
        };
        self.text.get(start..end)
    }

    /// Converts a 1-based byte column of `line` into `unit`. Columns past the
    /// end of the line keep their distance from it; a column inside a
    /// multi-byte character counts as that character.
    pub(crate) fn column(&self, line: u32, byte_col: u32, unit: ColumnUnit) -> u32 {
        let Some(text) = self.raw_line(line) else {
            return byte_col;
        };
        let offset = byte_col.saturating_sub(1) as usize;
        let (prefix, beyond) = if offset > text.len() {
            (text, offset - text.len())
        } else {
            (&text[..floor_char_boundary(text, offset)], 0)
        };
        let units = match unit {
            ColumnUnit::Chars => prefix.chars().count(),
            ColumnUnit::Utf16 => prefix.encode_utf16().count(),
        };
        u32::try_from(units + beyond + 1).unwrap_or(u32::MAX)
    }
}

/// The largest char boundary of `text` at or before `offset`.
pub(crate) fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// A span's position in the unit of an output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Position {
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
}

impl Position {
    /// `None` for the dummy span (no location).
    pub(crate) fn of(
        span: Span,
        source: Option<&SourceLines<'_>>,
        unit: ColumnUnit,
    ) -> Option<Position> {
        if span.is_dummy() {
            return None;
        }
        let convert = |line: u32, col: u32| match source {
            Some(lines) => lines.column(line, col, unit),
            None => col,
        };
        let column = convert(span.line, span.col).max(1);
        // A span that ends before it starts is corrupt; show where it starts.
        let (end_line, end_column) = if (span.end_line, span.end_col) < (span.line, span.col) {
            (span.line, column)
        } else {
            (span.end_line, convert(span.end_line, span.end_col).max(1))
        };
        Some(Position {
            line: span.line,
            column,
            end_line,
            end_column,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_drop_terminators() {
        let lines = SourceLines::new("a\r\nb\n\nlast");
        assert_eq!(lines.line_count(), 4);
        assert_eq!(lines.line(1), Some("a"));
        assert_eq!(lines.line(2), Some("b"));
        assert_eq!(lines.line(3), Some(""));
        assert_eq!(lines.line(4), Some("last"));
        assert_eq!(lines.line(5), None);
        assert_eq!(lines.line(0), None);
        assert_eq!(SourceLines::new("x\n").line(2), Some(""));
    }

    #[test]
    fn columns_count_characters_or_utf16_units() {
        // "é" is 2 bytes, 1 char, 1 UTF-16 unit; "😀" is 4 bytes, 1 char, 2 units.
        let lines = SourceLines::new("é😀x\n");
        assert_eq!(lines.column(1, 1, ColumnUnit::Chars), 1);
        assert_eq!(lines.column(1, 3, ColumnUnit::Chars), 2);
        assert_eq!(lines.column(1, 7, ColumnUnit::Chars), 3);
        assert_eq!(lines.column(1, 7, ColumnUnit::Utf16), 4);
        // Inside "😀": counts as the character.
        assert_eq!(lines.column(1, 5, ColumnUnit::Chars), 2);
        // Past the end of the line (length 7 bytes, 3 chars).
        assert_eq!(lines.column(1, 9, ColumnUnit::Chars), 5);
        // No such line: the byte column stays.
        assert_eq!(lines.column(9, 4, ColumnUnit::Chars), 4);
    }

    #[test]
    fn position_of_dummy_span_is_none() {
        assert_eq!(Position::of(Span::default(), None, ColumnUnit::Chars), None);
    }
}
