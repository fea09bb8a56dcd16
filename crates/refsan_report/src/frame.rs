//! Source frames: a few lines around a span with a line-number gutter and a
//! caret underline, as rustc prints them.
//!
//! Spans come from front-ends that may be wrong and sources from files that
//! may have changed since, so every position is clamped: a frame is either
//! drawn from what is there or not drawn at all, never a panic.

use crate::columns::{floor_char_boundary, SourceLines};
use crate::style::{Palette, Role};
use refsan_ir::{Severity, Span};
use unicode_width::UnicodeWidthChar;

/// Lines of context shown above the first line of the span.
const CONTEXT_BEFORE: u32 = 2;
/// Display columns of source shown per line before it is cut with "...".
const MAX_LINE_WIDTH: usize = 120;
/// When a long line is cut on the left, columns kept before the span.
const LEFT_CONTEXT: usize = 24;
/// Spans over more lines than this show their first and last lines only.
const MAX_SPAN_LINES: u32 = 4;
/// A tab is shown as this many spaces (carets stay aligned).
const TAB_WIDTH: usize = 4;
const ELLIPSIS: &str = "...";

/// Renders a frame of `source` around `span` with `label` after the carets.
/// Returns an empty string when the span cannot be located in `source`
/// (dummy span, line past the end of the text): callers then print the
/// location alone.
///
/// ```
/// use refsan_ir::LineIndex;
/// let source = "int f(void) {\n    return NULL;\n}\n";
/// let span = LineIndex::new(source.as_bytes()).span(18, 30);
/// let frame = refsan_report::source_frame(source, span, "leaks here", false);
/// assert!(frame.contains("2 |     return NULL;"));
/// assert!(frame.contains("  |     ^^^^^^^^^^^^ leaks here"));
/// ```
pub fn source_frame(source: &str, span: Span, label: &str, color: bool) -> String {
    let lines = SourceLines::new(source);
    match Frame::build(&lines, span, label) {
        Some(frame) => frame.render(&Palette::new(color), Role::Severity(Severity::Error)),
        None => String::new(),
    }
}

/// A laid-out frame, ready to print with any gutter colour.
#[derive(Clone, Debug)]
pub(crate) struct Frame {
    /// Width of the line-number column; the text renderer aligns `-->` and
    /// `=` with it.
    pub gutter_width: usize,
    rows: Vec<Row>,
}

#[derive(Clone, Debug)]
enum Row {
    /// An empty gutter line: `   |`.
    Blank,
    Source {
        line: u32,
        text: String,
    },
    /// Carets under the previous source row, then the label.
    Marks {
        indent: usize,
        carets: usize,
        label: String,
    },
    /// Lines of a long span that are not shown.
    Elision,
}

/// The display-column range of one line that is shown, when the longest line
/// shown is too wide for the terminal.
#[derive(Clone, Copy, Debug)]
struct Window {
    left: usize,
    budget: usize,
}

impl Window {
    const WHOLE: Window = Window {
        left: 0,
        budget: MAX_LINE_WIDTH,
    };

    fn prefix(&self) -> usize {
        if self.left > 0 {
            ELLIPSIS.len()
        } else {
            0
        }
    }

    /// Screen column of display column `col` (clamped into the window).
    fn screen(&self, col: usize) -> usize {
        self.prefix() + col.clamp(self.left, self.left + self.budget) - self.left
    }
}

/// One displayed character of a source line: where it starts in the line
/// (bytes), what is shown for it and how wide that is.
#[derive(Clone, Copy, Debug)]
struct Cell {
    byte: usize,
    shown: char,
    repeat: usize,
    width: usize,
}

/// Splits a line into cells: tabs become spaces, control characters their
/// visible pictures, and bidirectional overrides a replacement character so
/// that no source line can reorder the terminal's output.
fn cells(line: &str) -> Vec<Cell> {
    line.char_indices()
        .map(|(byte, c)| {
            let (shown, repeat) = match c {
                '\t' => (' ', TAB_WIDTH),
                '\u{0}'..='\u{1f}' => (char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}'), 1),
                '\u{7f}' => ('\u{2421}', 1),
                '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{61c}' => ('\u{fffd}', 1),
                c => (c, 1),
            };
            let width = shown.width().unwrap_or(0) * repeat;
            Cell {
                byte,
                shown,
                repeat,
                width,
            }
        })
        .collect()
}

fn total_width(cells: &[Cell]) -> usize {
    cells.iter().map(|cell| cell.width).sum()
}

/// Display column (0-based) of byte offset `byte` in the line; offsets past
/// its end keep their distance from it.
fn display_col(line: &str, cells: &[Cell], byte: usize) -> usize {
    if byte >= line.len() {
        return total_width(cells) + (byte - line.len());
    }
    let byte = floor_char_boundary(line, byte);
    cells
        .iter()
        .take_while(|cell| cell.byte < byte)
        .map(|cell| cell.width)
        .sum()
}

/// The part of the line inside `window`, with "..." where it was cut.
fn windowed(cells: &[Cell], window: Window) -> String {
    let mut shown = String::new();
    if window.left > 0 {
        shown.push_str(ELLIPSIS);
    }
    let mut col = 0;
    for cell in cells {
        let next = col + cell.width;
        if col >= window.left {
            if next > window.left + window.budget {
                shown.push_str(ELLIPSIS);
                break;
            }
            shown.extend(std::iter::repeat_n(cell.shown, cell.repeat));
        }
        col = next;
    }
    let kept = shown.trim_end().len();
    shown.truncate(kept);
    shown
}

/// A source line trimmed of surrounding whitespace and cut to `max_width`
/// display columns, for the one-line source excerpts of the event list. A
/// line too long to show whole is cut around `focus` (a byte offset into
/// `line`, where the event is).
pub(crate) fn excerpt(line: &str, focus: usize, max_width: usize) -> String {
    let trimmed = line.trim_start();
    let lead = line.len() - trimmed.len();
    let trimmed = trimmed.trim_end();
    // Tabs inside an excerpt only separate tokens: one space each.
    let shown: Vec<(usize, char, usize)> = cells(trimmed)
        .iter()
        .map(|cell| {
            if cell.shown == ' ' {
                (cell.byte, ' ', 1)
            } else {
                (cell.byte, cell.shown, cell.width)
            }
        })
        .collect();
    if shown.iter().map(|(_, _, width)| width).sum::<usize>() <= max_width {
        return shown.iter().map(|(_, c, _)| c).collect();
    }
    let focus = focus.saturating_sub(lead);
    let before_focus: usize = shown
        .iter()
        .take_while(|(byte, _, _)| *byte < focus)
        .map(|(_, _, width)| width)
        .sum();
    let mut excerpt = String::new();
    // Columns after the event that must stay visible without a left cut.
    let after_focus = (max_width / 3).min(LEFT_CONTEXT);
    let (skip, budget) = if before_focus + after_focus <= max_width.saturating_sub(ELLIPSIS.len()) {
        (0, max_width.saturating_sub(ELLIPSIS.len()))
    } else {
        excerpt.push_str(ELLIPSIS);
        let skip = before_focus.saturating_sub(LEFT_CONTEXT / 2);
        (skip, max_width.saturating_sub(2 * ELLIPSIS.len()))
    };
    let mut col = 0;
    let mut used = 0;
    for &(_, c, width) in &shown {
        col += width;
        if col <= skip {
            continue;
        }
        if used + width > budget {
            excerpt.push_str(ELLIPSIS);
            break;
        }
        excerpt.push(c);
        used += width;
    }
    excerpt
}

/// A span clamped to the text: lines that exist, an end not before the start.
#[derive(Clone, Copy, Debug)]
struct Located {
    line: u32,
    start_byte: usize,
    end_line: u32,
    end_byte: usize,
}

fn locate(lines: &SourceLines<'_>, span: Span) -> Option<Located> {
    if span.is_dummy() {
        return None;
    }
    let first = lines.line(span.line)?;
    let start_byte = span.col.saturating_sub(1) as usize;
    let last_line = u32::try_from(lines.line_count()).unwrap_or(u32::MAX);
    let (mut end_line, mut end_byte) = (span.end_line, span.end_col.saturating_sub(1) as usize);
    if end_line > last_line {
        end_line = last_line;
        end_byte = lines.line(last_line).map_or(0, str::len);
    }
    if (end_line, end_byte) < (span.line, start_byte) {
        return Some(Located {
            line: span.line,
            start_byte,
            end_line: span.line,
            end_byte: start_byte,
        });
    }
    // A span that ends at the start of a line ends with the line before:
    // underline that line's end rather than an empty next line.
    if end_line > span.line && end_byte == 0 {
        end_line -= 1;
        end_byte = lines.line(end_line).map_or(first.len(), str::len);
    }
    Some(Located {
        line: span.line,
        start_byte,
        end_line,
        end_byte,
    })
}

impl Frame {
    pub(crate) fn build(lines: &SourceLines<'_>, span: Span, label: &str) -> Option<Frame> {
        let at = locate(lines, span)?;
        let first_text = lines.line(at.line)?;
        let last_text = lines.line(at.end_line)?;

        let context: Vec<u32> = (at.line.saturating_sub(CONTEXT_BEFORE).max(1)..at.line).collect();
        let spanned = at.end_line - at.line + 1;
        let middle: Vec<u32> = if spanned <= MAX_SPAN_LINES {
            (at.line + 1..at.end_line).collect()
        } else {
            Vec::new()
        };
        let span_lines: Vec<u32> = std::iter::once(at.line)
            .chain(middle.iter().copied())
            .chain((at.end_line > at.line).then_some(at.end_line))
            .collect();

        let first_cells = cells(first_text);
        let start_col = display_col(first_text, &first_cells, at.start_byte);
        let single_line_end =
            (at.end_line == at.line).then(|| display_col(first_text, &first_cells, at.end_byte));
        let window = choose_window(
            lines,
            &span_lines,
            start_col,
            single_line_end.unwrap_or(start_col + 1),
        );

        let source_row = |line: u32| Row::Source {
            line,
            text: windowed(&cells(lines.line(line).unwrap_or("")), window),
        };
        // Context that fits is shown whole even when the span's line had to
        // be cut: a line of "..." says nothing.
        let context_row = |line: u32| {
            let line_cells = cells(lines.line(line).unwrap_or(""));
            let text = if total_width(&line_cells) <= MAX_LINE_WIDTH {
                windowed(&line_cells, Window::WHOLE)
            } else {
                windowed(&line_cells, window)
            };
            Row::Source { line, text }
        };
        let marks = |from: usize, to: usize, label: &str| {
            let indent = window.screen(from);
            let carets = window.screen(to).saturating_sub(indent).max(1);
            Row::Marks {
                indent,
                carets,
                label: one_line(label),
            }
        };

        let mut rows = vec![Row::Blank];
        rows.extend(context.iter().map(|&line| context_row(line)));
        rows.push(source_row(at.line));
        match single_line_end {
            Some(end_col) => rows.push(marks(start_col, end_col, label)),
            None => {
                rows.push(marks(start_col, total_width(&first_cells), ""));
                if spanned > MAX_SPAN_LINES {
                    rows.push(Row::Elision);
                }
                rows.extend(middle.iter().map(|&line| source_row(line)));
                rows.push(source_row(at.end_line));
                let last_cells = cells(last_text);
                let indent_bytes = last_text.len() - last_text.trim_start().len();
                let from = display_col(last_text, &last_cells, indent_bytes.min(at.end_byte));
                rows.push(marks(
                    from,
                    display_col(last_text, &last_cells, at.end_byte),
                    label,
                ));
            }
        }
        Some(Frame {
            gutter_width: digits(at.end_line),
            rows,
        })
    }

    pub(crate) fn render(&self, palette: &Palette, marks: Role) -> String {
        let width = self.gutter_width;
        let empty_gutter = palette.paint(Role::Gutter, &format!("{:width$} |", ""));
        let mut out = String::new();
        for row in &self.rows {
            match row {
                Row::Blank => out.push_str(&empty_gutter),
                Row::Source { line, text } => {
                    out.push_str(&palette.paint(Role::Gutter, &format!("{line:>width$} |")));
                    if !text.is_empty() {
                        out.push(' ');
                        out.push_str(text);
                    }
                }
                Row::Marks {
                    indent,
                    carets,
                    label,
                } => {
                    out.push_str(&empty_gutter);
                    out.push(' ');
                    out.push_str(&" ".repeat(*indent));
                    let mut underline = "^".repeat(*carets);
                    if !label.is_empty() {
                        underline.push(' ');
                        underline.push_str(label);
                    }
                    out.push_str(&palette.paint(marks, &underline));
                }
                Row::Elision => out.push_str(&palette.paint(Role::Gutter, ELLIPSIS)),
            }
            out.push('\n');
        }
        out
    }
}

/// The window every shown line is cut to: all of it when the lines fit,
/// else a slice that keeps the start of the span in view.
fn choose_window(
    lines: &SourceLines<'_>,
    shown: &[u32],
    start_col: usize,
    end_col: usize,
) -> Window {
    let widest = shown
        .iter()
        .filter_map(|&line| lines.line(line))
        .map(|text| total_width(&cells(text)))
        .max()
        .unwrap_or(0)
        .max(end_col);
    if widest <= MAX_LINE_WIDTH {
        return Window::WHOLE;
    }
    let budget_from_start = MAX_LINE_WIDTH - ELLIPSIS.len();
    if end_col <= budget_from_start {
        return Window {
            left: 0,
            budget: budget_from_start,
        };
    }
    Window {
        left: start_col.saturating_sub(LEFT_CONTEXT).max(1),
        budget: MAX_LINE_WIDTH - 2 * ELLIPSIS.len(),
    }
}

fn digits(n: u32) -> usize {
    n.checked_ilog10().map_or(1, |log| log as usize + 1)
}

/// A message on one line: labels and excerpts must not break the frame.
pub(crate) fn one_line(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    for cell in cells(text.trim()) {
        let is_break = matches!(cell.shown, '\u{240a}' | '\u{240d}');
        shown.extend(std::iter::repeat_n(
            if is_break { ' ' } else { cell.shown },
            cell.repeat,
        ));
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use refsan_ir::LineIndex;

    fn span_of(source: &str, needle: &str) -> Span {
        let start = source.find(needle).expect("needle in test source");
        LineIndex::new(source.as_bytes()).span(start as u32, (start + needle.len()) as u32)
    }

    #[test]
    fn single_line_frame_with_context() {
        let source = "a\nb\nc\n    return NULL;\n";
        let frame = source_frame(source, span_of(source, "return NULL;"), "leaks", false);
        assert_eq!(
            frame,
            "  |\n2 | b\n3 | c\n4 |     return NULL;\n  |     ^^^^^^^^^^^^ leaks\n"
        );
    }

    #[test]
    fn tabs_keep_carets_aligned() {
        let source = "\tx = f(\ty);\n";
        let frame = source_frame(source, span_of(source, "y"), "", false);
        assert_eq!(frame, "  |\n1 |     x = f(    y);\n  |               ^\n");
    }

    #[test]
    fn wide_characters_take_two_columns() {
        let source = "s = \"漢字\"; y;\n";
        let frame = source_frame(source, span_of(source, "y"), "", false);
        assert!(frame.ends_with("  |             ^\n"), "{frame}");
    }

    #[test]
    fn multi_line_span_marks_first_and_last_line() {
        let source = "x = f(a,\n      b);\n";
        let frame = source_frame(source, span_of(source, "f(a,\n      b)"), "call", false);
        assert_eq!(
            frame,
            "  |\n1 | x = f(a,\n  |     ^^^^\n2 |       b);\n  |       ^^ call\n"
        );
    }

    #[test]
    fn long_span_elides_middle_lines() {
        let source = "f(\n1,\n2,\n3,\n4,\n5);\n";
        let frame = source_frame(source, span_of(source, "f(\n1,\n2,\n3,\n4,\n5)"), "", false);
        assert!(frame.contains("1 | f(\n"));
        assert!(frame.contains("...\n6 | 5);\n"));
        assert!(!frame.contains("3 | 3,"));
    }

    #[test]
    fn long_lines_are_cut_around_the_span() {
        let source = format!("{}target{}\n", "a".repeat(300), "b".repeat(300));
        let frame = source_frame(&source, span_of(&source, "target"), "here", false);
        let source_row = frame.lines().nth(1).unwrap_or_default();
        assert!(source_row.starts_with("1 | ...a"), "{source_row}");
        assert!(source_row.ends_with("b..."), "{source_row}");
        assert!(source_row.chars().count() <= MAX_LINE_WIDTH + 4);
        let marks = frame.lines().nth(2).unwrap_or_default();
        let caret_at = marks.find('^').unwrap_or_default();
        assert_eq!(&source_row[caret_at..caret_at + 6], "target");
    }

    #[test]
    fn spans_past_the_end_draw_nothing_or_clamp() {
        let source = "only line";
        let beyond = Span {
            start: 100,
            end: 105,
            line: 7,
            col: 1,
            end_line: 7,
            end_col: 6,
        };
        assert_eq!(source_frame(source, beyond, "x", false), "");
        assert_eq!(source_frame(source, Span::default(), "x", false), "");
        let past_line_end = Span {
            line: 1,
            col: 20,
            end_line: 3,
            end_col: 2,
            ..beyond
        };
        let frame = source_frame(source, past_line_end, "x", false);
        assert!(frame.contains("1 | only line"), "{frame}");
    }

    #[test]
    fn control_and_bidi_characters_are_neutralised() {
        let source = "a\u{202e}b\u{7}c\n";
        let frame = source_frame(source, span_of(source, "c"), "", false);
        assert!(frame.contains("a\u{fffd}b\u{2407}c"), "{frame}");
    }

    #[test]
    fn excerpts_trim_and_cut() {
        assert_eq!(
            excerpt("\t  result = PyList_New(0);  ", 4, 80),
            "result = PyList_New(0);"
        );
        assert_eq!(excerpt("abcdefghij", 0, 8), "abcde...");
        assert_eq!(excerpt("abcdefgh", 0, 8), "abcdefgh");
        assert_eq!(excerpt("a\tb", 0, 8), "a b");
    }

    #[test]
    fn long_excerpts_keep_the_event_in_view() {
        let line = format!("    {}call(x){}", "a".repeat(100), "b".repeat(100));
        let focus = line.find("call").unwrap_or_default();
        let shown = excerpt(&line, focus, 40);
        assert!(shown.starts_with("...a"), "{shown}");
        assert!(shown.contains("call(x)"), "{shown}");
        assert!(shown.ends_with("b..."), "{shown}");
        assert!(shown.chars().count() <= 40, "{shown}");
    }
}
