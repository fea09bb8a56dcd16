//! `refsan leaks`: finds reference and memory leaks by calling a function
//! (or running each pytest test) repeatedly in a real Python interpreter.
//!
//! The method is CPython's own `-R` refleak hunt: warm-up runs, then
//! measured runs, with the usual caches cleared and `gc.collect()` between
//! runs; a counter leaks only when it grows on every measured run
//! ([`noise`]). Measured per run: the total reference count (debug builds),
//! allocated blocks, bytes traced by tracemalloc, and the reference counts
//! of the arguments passed in (positive *and* negative: an extra Py_DECREF
//! on a borrowed argument shows up as a shrinking count before it crashes).
//! Live objects by type and tracemalloc allocation sites are compared over
//! the measured runs.
//!
//! The Python side lives in this crate's `python/refsan_helpers/` ([`helpers`]); the two
//! sides talk through files ([`protocol`]), never through the user's stdout.

pub mod error;
pub mod helpers;
pub mod model;
pub mod noise;
pub mod protocol;
pub mod render;
pub mod runner;

pub use error::LeaksError;
pub use model::{LeakReport, TargetReport, TargetStatus, Verdict};
pub use protocol::{MeasureOptions, TargetKind};
pub use runner::{hunt, parse_pytest_command, CrashHandOver, LeakMode, LeakRequest};
