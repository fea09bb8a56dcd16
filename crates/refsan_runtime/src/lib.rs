//! refsan's runtime side: `refsan run`, `refsan build` and `refsan doctor`.
//!
//! `refsan run` starts a Python program with crash instrumentation and, when
//! it crashes, writes one report: the signal and faulting address, the
//! Python traceback, the native stack with Cython frames mapped back to
//! `.pyx` lines, the extension function at fault, a classification (RT01–RT06)
//! with its evidence, and the static checker's findings for that function.
//!
//! Code map:
//! - [`supervise`]: starts the program, tees its stderr, forwards signals,
//!   catches crashes alive under ptrace and holds them still for gdb.
//! - [`gdb`]: drives gdb in batch mode with an embedded Python script.
//! - [`faulthandler`], [`heapcheck`], [`asan`], [`valgrind`]: parsers for
//!   what CPython, its allocators and the sanitizers print.
//! - [`classify`]: RT01–RT06 from the evidence.
//! - [`cython`]: generated C line → `.pyx` line.
//! - [`run`]: the modes, and events → [`report::CrashReport`].
//! - [`report`] (data) and [`render`] (text and JSON).
//! - [`build`], [`doctor`]: the other two commands.

pub mod asan;
pub mod build;
pub mod classify;
pub mod cython;
pub mod doctor;
pub mod faulthandler;
pub mod gdb;
pub mod heapcheck;
pub mod procfs;
pub mod program;
pub mod render;
pub mod report;
pub mod run;
pub mod supervise;
pub mod valgrind;

use std::path::{Path, PathBuf};

/// The static checker's findings for one function, shown next to a crash in
/// that function. `refsan run` takes an implementation as an optional
/// argument so that this crate does not depend on the checker.
/// What the static checker found in an extension's project.
#[derive(Clone, Debug)]
pub struct ExtensionSources {
    /// The project directory checked.
    pub root: PathBuf,
    /// Each finding with its file.
    pub findings: Vec<report::SourceFinding>,
}

pub trait StaticFindings {
    /// Findings in `function` of `source_file`. For Cython, `source_file` is
    /// the `.pyx` and `function` the qualified Python-level name
    /// ("MyDataWrapper.__dealloc__"); for C, the C file and function.
    fn for_function(&self, source_file: &Path, function: &str) -> Vec<refsan_ir::Finding>;

    /// The findings in the sources of the project extension `module` was
    /// built from (`library` is its shared object), and the project
    /// directory checked; None when its sources cannot be found (an
    /// installed wheel).
    fn for_extension(&self, library: &Path, module: &str) -> Option<ExtensionSources> {
        let _ = (library, module);
        None
    }
}
