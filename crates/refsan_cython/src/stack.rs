//! Recursion bounded by the stack it really uses: frame sizes differ by an
//! order of magnitude between debug and release builds, so depth counters
//! alone cannot promise that deeply nested input never overflows a
//! thread's stack (2 MiB for rayon's workers).

/// Bytes of stack the parser may use below its entry point.
pub const PARSE_STACK: usize = 256 * 1024;
/// Bytes of stack the lowering of one function may use.
pub const LOWER_STACK: usize = 384 * 1024;

#[derive(Clone, Copy, Debug)]
pub struct StackGuard {
    base: usize,
    limit: usize,
}

impl StackGuard {
    /// A guard measuring from the caller's frame.
    #[inline(never)]
    pub fn here(limit: usize) -> StackGuard {
        let marker = 0u8;
        StackGuard {
            base: address(&marker),
            limit,
        }
    }

    /// True when the current frame is more than `limit` bytes away from
    /// where the guard was made.
    #[inline(never)]
    pub fn exceeded(&self) -> bool {
        let marker = 0u8;
        address(&marker).abs_diff(self.base) > self.limit
    }
}

fn address(m: &u8) -> usize {
    std::hint::black_box(m as *const u8 as usize)
}
