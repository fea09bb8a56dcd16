//! Recognises the heap checkers' messages on stderr: CPython's debug
//! allocator (`PYTHONMALLOC=debug`, `Objects/obmalloc.c`), a debug build's
//! reference-count assertions (`Objects/object.c`) and glibc's malloc
//! checks.
//!
//! The debug allocator surrounds each block with 0xFD guard bytes and an API
//! id byte, fills fresh memory with 0xCD and freed memory with 0xDD. When it
//! finds damage on free it prints "Debug memory block at address p=...: API
//! 'm'" and the guard bytes it found; a leading guard full of 0xDD means the
//! block had already been freed (a double free), other values mean a write
//! outside the block.

/// A debug allocator fill pattern, seen in a register, an address or a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FillPattern {
    /// 0xDD: memory that was freed.
    Freed,
    /// 0xCD: freshly allocated, never written (here: freed, then handed out
    /// again while a stale pointer still pointed at it).
    Fresh,
    /// 0xFD: the guard bytes around a block.
    Guard,
}

impl FillPattern {
    pub fn byte(self) -> u8 {
        match self {
            FillPattern::Freed => 0xDD,
            FillPattern::Fresh => 0xCD,
            FillPattern::Guard => 0xFD,
        }
    }

    /// The pattern a 64-bit value was read from, if any: at least the six
    /// high bytes must be the fill byte, so that a value decremented or
    /// offset by a field access (0xdddddddddddddddc) still counts.
    pub fn of_value(value: u64) -> Option<FillPattern> {
        [FillPattern::Freed, FillPattern::Fresh, FillPattern::Guard]
            .into_iter()
            .find(|p| {
                let b = p.byte() as u64;
                (2..8).all(|i| (value >> (8 * i)) & 0xff == b)
            })
    }
}

/// The guard-byte dump of a damaged block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockDump {
    /// "0x7f356c3b0850".
    pub address: String,
    /// The API id byte found in the block header ('m', 'o', 'r'; 0xDD when
    /// the header was freed).
    pub api_byte: Option<u8>,
    /// The bytes found in the leading guard where 0xFD was expected.
    pub bad_leading: Vec<u8>,
    /// The bytes found in the trailing guard where 0xFD was expected.
    pub bad_trailing: Vec<u8>,
}

impl BlockDump {
    /// The header and leading guard carry the freed fill: the block had
    /// already been released when it was freed (again).
    pub fn freed_before(&self) -> bool {
        self.api_byte == Some(FillPattern::Freed.byte())
            || (!self.bad_leading.is_empty()
                && self
                    .bad_leading
                    .iter()
                    .all(|b| *b == FillPattern::Freed.byte()))
    }
}

/// Everything the heap checkers said.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeapMessages {
    pub block_dump: Option<BlockDump>,
    /// "bad ID: Allocated using API 'o', verified using API 'm'", "bad
    /// trailing pad byte"...: the debug allocator's verdict.
    pub allocator_error: Option<String>,
    /// A debug build's "object has negative ref count" assertion line.
    pub negative_refcount: Option<String>,
    /// "<object at 0x... is freed>": a debug build dumped a freed object.
    pub freed_object: Option<String>,
    /// "deallocating None" and friends: a singleton's count reached zero.
    pub singleton_dealloc: Option<String>,
    /// glibc's malloc messages ("free(): double free detected in tcache 2").
    pub libc_error: Option<String>,
}

impl HeapMessages {
    pub fn is_empty(&self) -> bool {
        self == &HeapMessages::default()
    }
}

/// Scans raw stderr bytes (the API id byte is not UTF-8 after a free).
pub fn parse(bytes: &[u8]) -> HeapMessages {
    let mut out = HeapMessages::default();
    let mut lines = bytes.split(|b| *b == b'\n').peekable();
    while let Some(raw) = lines.next() {
        let line = String::from_utf8_lossy(raw);
        let text = line.trim();
        if out.block_dump.is_none() && text.starts_with("Debug memory block at address p=") {
            let mut dump = block_header(raw);
            let mut in_trailing = false;
            while let Some(next) = lines.peek() {
                let l = String::from_utf8_lossy(next);
                let t = l.trim();
                if !next.starts_with(b"    ") {
                    break;
                }
                if t.starts_with("The ") && t.contains("pad bytes at tail=") {
                    in_trailing = true;
                } else if t.starts_with("The ") && t.contains("pad bytes at p-") {
                    in_trailing = false;
                } else if let Some(byte) = ouch_byte(t) {
                    if in_trailing {
                        dump.bad_trailing.push(byte);
                    } else {
                        dump.bad_leading.push(byte);
                    }
                }
                lines.next();
            }
            out.block_dump = Some(dump);
            continue;
        }
        if let Some(rest) = text.strip_prefix("Fatal Python error: ") {
            for verdict in ["bad ID", "bad leading pad byte", "bad trailing pad byte"] {
                if rest.contains(verdict) && out.allocator_error.is_none() {
                    out.allocator_error = Some(rest.to_string());
                }
            }
            if rest.contains("deallocating ") && out.singleton_dealloc.is_none() {
                out.singleton_dealloc = Some(rest.to_string());
            }
        }
        if text.contains("negative ref count") && out.negative_refcount.is_none() {
            out.negative_refcount = Some(text.to_string());
        }
        if text.starts_with("<object at ") && text.ends_with(" is freed>") {
            out.freed_object.get_or_insert_with(|| text.to_string());
        }
        if out.libc_error.is_none() && is_libc_heap_message(text) {
            out.libc_error = Some(text.to_string());
        }
    }
    out
}

fn block_header(raw: &[u8]) -> BlockDump {
    let line = String::from_utf8_lossy(raw);
    let address = line
        .split("p=")
        .nth(1)
        .and_then(|r| r.split(':').next())
        .unwrap_or("")
        .to_string();
    let api_byte = raw
        .windows(5)
        .position(|w| w == b"API '")
        .and_then(|pos| raw.get(pos + 5).copied());
    BlockDump {
        address,
        api_byte,
        bad_leading: Vec::new(),
        bad_trailing: Vec::new(),
    }
}

/// "at p-7: 0xdd *** OUCH" → 0xdd.
fn ouch_byte(text: &str) -> Option<u8> {
    if !text.ends_with("*** OUCH") {
        return None;
    }
    let value = text.split(": ").nth(1)?.split_whitespace().next()?;
    u8::from_str_radix(value.trim_start_matches("0x"), 16).ok()
}

/// glibc's malloc_printerr messages about heap damage.
fn is_libc_heap_message(text: &str) -> bool {
    const MESSAGES: [&str; 8] = [
        "double free detected",
        "double free or corruption",
        "free(): invalid pointer",
        "free(): invalid size",
        "malloc(): corrupted",
        "malloc(): memory corruption",
        "corrupted size vs. prev_size",
        "munmap_chunk(): invalid pointer",
    ];
    MESSAGES.iter().any(|m| text.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_patterns_survive_small_offsets() {
        assert_eq!(
            FillPattern::of_value(0xdddd_dddd_dddd_dddd),
            Some(FillPattern::Freed)
        );
        assert_eq!(
            FillPattern::of_value(0xdddd_dddd_dddd_dddc),
            Some(FillPattern::Freed)
        );
        assert_eq!(
            FillPattern::of_value(0xcdcd_cdcd_cdcd_cdcd),
            Some(FillPattern::Fresh)
        );
        assert_eq!(
            FillPattern::of_value(0xfdfd_fdfd_fdfd_fdfd),
            Some(FillPattern::Guard)
        );
        assert_eq!(FillPattern::of_value(0x7fff_dddd_dddd_dddd), None);
        assert_eq!(FillPattern::of_value(0), None);
    }

    #[test]
    fn double_free_leaves_freed_fill_in_the_header() {
        let out = parse(include_bytes!("../tests/data/debugalloc_bad_id.txt"));
        let dump = out.block_dump.expect("block dump");
        assert_eq!(dump.address, "0x7faac39b0850");
        assert_eq!(dump.api_byte, Some(0xdd));
        assert_eq!(dump.bad_leading, vec![0xdd; 7]);
        assert!(dump.freed_before());
    }

    #[test]
    fn trailing_pad_overwrite_is_not_a_double_free() {
        let out = parse(include_bytes!("../tests/data/debugalloc_trailing_pad.txt"));
        let dump = out.block_dump.expect("block dump");
        assert_eq!(dump.api_byte, Some(b'm'));
        assert!(dump.bad_leading.is_empty());
        assert_eq!(dump.bad_trailing, vec![0x41]);
        assert!(!dump.freed_before());
        assert_eq!(
            out.allocator_error.as_deref(),
            Some("_PyMem_DebugRawFree: bad trailing pad byte")
        );
    }

    #[test]
    fn debug_build_negative_refcount() {
        let out = parse(include_bytes!(
            "../tests/data/debugbuild_negative_refcount.txt"
        ));
        assert!(out
            .negative_refcount
            .as_deref()
            .unwrap()
            .contains("_Py_NegativeRefcount"));
        assert!(out.freed_object.is_some());
    }

    #[test]
    fn glibc_double_free() {
        let out = parse(include_bytes!("../tests/data/glibc_double_free.txt"));
        assert_eq!(
            out.libc_error.as_deref(),
            Some("free(): double free detected in tcache 2")
        );
    }

    #[test]
    fn ordinary_output_has_no_messages() {
        assert!(parse(b"hello\nworld\n").is_empty());
    }
}
