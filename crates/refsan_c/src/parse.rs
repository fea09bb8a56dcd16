//! The tree-sitter parse of a prepared text: thread-local parsers, and a
//! work and time allowance past which a parse is abandoned.

use refsan_ir::Language;
use std::cell::RefCell;
use std::time::{Duration, Instant};
use tree_sitter::{ParseOptions, Parser, Tree};

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
