//! Errors of the leak hunter: everything that prevents a report.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum LeaksError {
    #[error("cannot create a temporary directory for refsan's Python helpers: {0}")]
    TempDir(#[source] std::io::Error),

    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot start `{program}`: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },

    #[error("waiting for `{program}` failed: {source}")]
    Wait {
        program: String,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot read the harness's results from {path}: {source}")]
    ReadEvents {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("the harness wrote an unreadable line {line}: {message}")]
    Protocol { line: usize, message: String },

    #[error("{0}")]
    Harness(String),

    #[error("the interpreter `{program}` exited ({status}) before the harness started{stderr}")]
    NoHarness {
        program: String,
        status: String,
        stderr: String,
    },

    #[error("invalid request: {0}")]
    Request(String),
}
