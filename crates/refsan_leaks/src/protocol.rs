//! What refsan and the Python helpers exchange.
//!
//! refsan → helpers: one JSON settings file ([`HarnessConfig`]), named on the
//! harness's command line or, for the pytest plugin, by `REFSAN_LEAKS_CONFIG`.
//!
//! helpers → refsan: JSON lines ([`Event`]) appended to a file whose path is
//! in the settings, flushed line by line. The user's stdout and stderr are
//! never used, so the program's own output passes through untouched, and
//! after a crash the last `target_start` tells which target was running.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of the event format written by the helpers.
pub const PROTOCOL_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct HarnessConfig {
    pub events: String,
    pub setup: Option<String>,
    pub args: Option<String>,
    pub targets: Vec<HarnessTarget>,
    pub options: MeasureOptions,
    pub timeout_seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct HarnessTarget {
    pub name: String,
    pub kind: TargetKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// `--call module:function`
    Call,
    /// `--code "..."`
    Code,
    /// One collected pytest test.
    Test,
}

/// How each target is measured.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MeasureOptions {
    /// Runs whose deltas are discarded (caches, interning, lazy imports settle).
    pub warmup: u32,
    /// Runs whose deltas decide.
    pub runs: u32,
    /// Calls of the target in one run.
    pub calls_per_run: u32,
    /// How many types and allocation sites to report.
    pub top: u32,
    /// Trace allocations with tracemalloc (bytes and sites).
    pub tracemalloc: bool,
    /// Frames kept per tracemalloc trace.
    pub tracemalloc_frames: u32,
}

impl Default for MeasureOptions {
    fn default() -> Self {
        MeasureOptions {
            warmup: 3,
            runs: 6,
            calls_per_run: 1,
            top: 5,
            tracemalloc: true,
            tracemalloc_frames: 8,
        }
    }
}

/// One line of the events file.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Hello {
        protocol: u32,
        interpreter: RawInterpreter,
    },
    TargetStart {
        target: String,
        kind: TargetKind,
    },
    TargetResult(Box<RawTargetResult>),
    Warning {
        message: String,
    },
    /// The counts cannot be trusted (an extension built for another ABI).
    SetupProblem {
        message: String,
    },
    Fatal {
        message: String,
    },
    SessionFinish {
        exit_status: i32,
    },
    Done,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RawInterpreter {
    pub executable: String,
    pub version: String,
    pub implementation: String,
    pub abiflags: String,
    pub debug_build: bool,
    pub trace_refs: bool,
    pub immortal_objects: bool,
    #[serde(default)]
    pub extension_suffixes: Vec<String>,
}

/// A target's measurement as the helpers report it: raw deltas, no verdict.
#[derive(Debug, Clone, Deserialize)]
pub struct RawTargetResult {
    pub target: String,
    pub kind: TargetKind,
    /// `measured`, `skipped`, `crashed` or `timed_out`.
    pub status: String,
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(default)]
    pub warmup: u32,
    #[serde(default)]
    pub runs: u32,
    #[serde(default)]
    pub calls_per_run: u32,
    #[serde(default)]
    pub series: RawSeries,
    #[serde(default)]
    pub arguments: Vec<RawArgument>,
    #[serde(default)]
    pub types: Vec<RawTypeGrowth>,
    #[serde(default)]
    pub sites: Vec<RawSite>,
    #[serde(default)]
    pub raised: Option<RawRaised>,
    #[serde(default)]
    pub timing: Option<RawTiming>,
    /// pytest: the outcome of the test's normal run.
    #[serde(default)]
    pub outcome: Option<String>,
    #[serde(default)]
    pub signal: Option<i32>,
    #[serde(default)]
    pub signal_name: Option<String>,
    #[serde(default)]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub stderr_tail: Option<String>,
    /// Fields this version does not know, kept for forward compatibility.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RawSeries {
    #[serde(default)]
    pub refs: Option<Vec<i64>>,
    #[serde(default)]
    pub blocks: Option<Vec<i64>>,
    #[serde(default)]
    pub bytes: Option<Vec<i64>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RawArgument {
    pub label: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub repr: String,
    pub immortal: bool,
    pub deltas: Vec<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RawTypeGrowth {
    #[serde(rename = "type")]
    pub type_name: String,
    pub growth: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RawSite {
    pub file: String,
    pub line: u32,
    pub native: bool,
    pub size_diff: i64,
    pub count_diff: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RawRaised {
    #[serde(rename = "type")]
    pub type_name: String,
    pub message: String,
    pub traceback: String,
    pub calls: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RawTiming {
    pub warmup_seconds: f64,
    pub measure_seconds: f64,
    pub call_seconds: f64,
}

/// Parses the events file; a truncated last line (the process died while
/// writing it) is ignored, any other unreadable line is an error.
pub fn parse_events(text: &str) -> Result<Vec<Event>, (usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut events = Vec::with_capacity(lines.len());
    for (index, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Event>(line) {
            Ok(event) => events.push(event),
            Err(_) if index + 1 == lines.len() && !text.ends_with('\n') => break,
            Err(err) => return Err((index + 1, err.to_string())),
        }
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_measured_target() {
        let text = concat!(
            r#"{"protocol": 1, "interpreter": {"executable": "/usr/bin/python3-dbg", "version": "3.11.2", "implementation": "cpython", "abiflags": "d", "debug_build": true, "trace_refs": false, "immortal_objects": false}, "event": "hello"}"#,
            "\n",
            r#"{"target": "m:f", "kind": "call", "event": "target_start"}"#,
            "\n",
            r#"{"target": "m:f", "kind": "call", "status": "measured", "warmup": 3, "runs": 2, "calls_per_run": 1, "series": {"refs": [1, 1], "blocks": [1, 1], "bytes": null}, "arguments": [{"label": "args[0]", "type": "builtins.list", "repr": "[]", "immortal": false, "deltas": [0, 0]}], "types": [{"type": "builtins.list", "growth": 2}], "sites": [], "raised": null, "timing": {"warmup_seconds": 0.1, "measure_seconds": 0.2, "call_seconds": 0.01}, "future_field": 7, "event": "target_result"}"#,
            "\n",
        );
        let events = parse_events(text).unwrap();
        assert_eq!(events.len(), 3);
        match &events[2] {
            Event::TargetResult(result) => {
                assert_eq!(result.series.refs.as_deref(), Some(&[1, 1][..]));
                assert_eq!(result.series.bytes, None);
                assert_eq!(result.arguments[0].type_name, "builtins.list");
                assert!(result.extra.contains_key("future_field"));
            }
            other => panic!("unexpected event {other:?}"),
        }
    }

    #[test]
    fn ignores_a_truncated_last_line_only() {
        let text = "{\"event\": \"done\"}\n{\"target\": \"m:f\", \"ki";
        assert_eq!(parse_events(text).unwrap().len(), 1);
        let broken = "{\"event\": \"do\n{\"event\": \"done\"}\n";
        assert_eq!(parse_events(broken).unwrap_err().0, 1);
    }
}
