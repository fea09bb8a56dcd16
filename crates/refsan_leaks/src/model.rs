//! The report of `refsan leaks`: what was measured, what leaks, and why.
//!
//! Built from the helpers' raw deltas by applying the noise rule
//! ([`crate::noise`]); serialised as-is for `--format json`.

use crate::noise::{self, Trend};
use crate::protocol::{MeasureOptions, RawInterpreter, RawTargetResult, TargetKind};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeakReport {
    pub interpreter: Option<Interpreter>,
    pub options: MeasureOptions,
    pub timeout_seconds: f64,
    pub targets: Vec<TargetReport>,
    /// Things that make the numbers less exact (no debug build...).
    pub warnings: Vec<String>,
    /// Things that make the numbers meaningless (an extension built for a
    /// release interpreter measured under a debug one): no target is judged
    /// and the exit status is 2.
    #[serde(default)]
    pub setup_problems: Vec<String>,
    /// pytest mode: pytest's own exit status.
    pub pytest_exit_status: Option<i32>,
    pub summary: Summary,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Interpreter {
    pub executable: String,
    pub version: String,
    pub implementation: String,
    pub abiflags: String,
    /// `sys.gettotalrefcount` exists: reference totals are exact.
    pub debug_build: bool,
    pub trace_refs: bool,
    /// 3.12+: None, True, False, small ints... have pinned refcounts.
    pub immortal_objects: bool,
}

impl From<RawInterpreter> for Interpreter {
    fn from(raw: RawInterpreter) -> Self {
        Interpreter {
            executable: raw.executable,
            version: raw.version,
            implementation: raw.implementation,
            abiflags: raw.abiflags,
            debug_build: raw.debug_build,
            trace_refs: raw.trace_refs,
            immortal_objects: raw.immortal_objects,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Summary {
    pub targets: usize,
    pub leaking: usize,
    /// Counts that shrink on every run: references released that were
    /// never owned.
    #[serde(default)]
    pub over_releasing: usize,
    pub crashed: usize,
    pub timed_out: usize,
    pub not_run: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetStatus {
    Measured,
    Skipped,
    Crashed,
    TimedOut,
    /// Never started: an earlier failure stopped the process before it.
    NotRun,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Leak,
    /// A count shrinks on every run (and none grows): an extra Py_DECREF.
    OverRelease,
    Clean,
    NotMeasured,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// `sys.gettotalrefcount()` (debug builds).
    Refs,
    /// `sys.getallocatedblocks()`.
    Blocks,
    /// Memory traced by tracemalloc.
    Bytes,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::Refs => "refs",
            Metric::Blocks => "blocks",
            Metric::Bytes => "bytes",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MetricSeries {
    pub metric: Metric,
    /// One delta per measured run.
    pub deltas: Vec<i64>,
    pub per_call: f64,
    pub trend: Trend,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArgumentRefcount {
    pub label: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub repr: String,
    pub immortal: bool,
    pub deltas: Vec<i64>,
    pub per_call: f64,
    pub trend: Trend,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TypeGrowth {
    #[serde(rename = "type")]
    pub type_name: String,
    /// Objects more at the end of the measured runs than at their start.
    pub growth: i64,
    pub per_call: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AllocationSite {
    /// Source file, or `<native code of ...>` when the allocation happened
    /// in a C/Cython function called directly by refsan.
    pub file: String,
    pub line: u32,
    pub native: bool,
    pub size_diff: i64,
    pub count_diff: i64,
    pub bytes_per_call: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// The total reference count grows (debug build).
    ReferenceLeak,
    /// Allocated blocks or traced bytes grow.
    MemoryLeak,
    /// An argument gains references: an extra Py_INCREF (or it is stored).
    ArgumentGainsReferences,
    /// An argument loses references: an extra Py_DECREF on a borrowed one.
    ArgumentLosesReferences,
    /// The total reference count shrinks: references released that were
    /// never owned.
    ReferencesReleasedTwice,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeakFinding {
    pub kind: FindingKind,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RaisedError {
    #[serde(rename = "type")]
    pub type_name: String,
    pub message: String,
    /// Calls (of warm-up and measured runs) that raised.
    pub calls: u64,
    pub traceback: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CrashReport {
    pub signal: Option<i32>,
    pub signal_name: Option<String>,
    pub exit_code: Option<i32>,
    pub detail: String,
    pub stderr_tail: String,
    /// A command that runs the target alone, to hand to `refsan run`.
    pub reproduce: Vec<String>,
    /// A fuller crash report from a [`crate::CrashHandOver`], when one is
    /// configured.
    pub handed_over: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Timing {
    pub warmup_seconds: f64,
    pub measure_seconds: f64,
    pub call_seconds: f64,
    /// Wall time of one measured run, harness work included.
    pub seconds_per_run: f64,
    /// Cache clearing, gc and sampling per measured run.
    pub overhead_seconds_per_run: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetReport {
    pub name: String,
    pub kind: TargetKind,
    pub status: TargetStatus,
    pub verdict: Verdict,
    pub findings: Vec<LeakFinding>,
    pub metrics: Vec<MetricSeries>,
    pub arguments: Vec<ArgumentRefcount>,
    pub types: Vec<TypeGrowth>,
    pub sites: Vec<AllocationSite>,
    pub notes: Vec<String>,
    pub raised: Option<RaisedError>,
    pub crash: Option<CrashReport>,
    /// pytest mode: the outcome of the test's normal run.
    pub outcome: Option<String>,
    pub timing: Option<Timing>,
}

impl TargetReport {
    pub fn metric(&self, metric: Metric) -> Option<&MetricSeries> {
        self.metrics.iter().find(|series| series.metric == metric)
    }

    /// A target that never produced measurements.
    pub fn unmeasured(name: String, kind: TargetKind, status: TargetStatus) -> Self {
        TargetReport {
            name,
            kind,
            status,
            verdict: Verdict::NotMeasured,
            findings: Vec::new(),
            metrics: Vec::new(),
            arguments: Vec::new(),
            types: Vec::new(),
            sites: Vec::new(),
            notes: Vec::new(),
            raised: None,
            crash: None,
            outcome: None,
            timing: None,
        }
    }

    /// Applies the noise rule to a helper's raw result.
    pub fn from_raw(raw: RawTargetResult) -> Self {
        let status = match raw.status.as_str() {
            "measured" => TargetStatus::Measured,
            "skipped" => TargetStatus::Skipped,
            "timed_out" => TargetStatus::TimedOut,
            _ => TargetStatus::Crashed,
        };
        let mut report = TargetReport::unmeasured(raw.target.clone(), raw.kind, status);
        report.outcome = raw.outcome.clone();
        if status != TargetStatus::Measured {
            report.crash = crash_from_raw(&raw);
            if report.crash.is_none() {
                report.notes.extend(raw.detail.clone());
            }
            return report;
        }
        let calls_per_run = raw.calls_per_run.max(1);
        let runs = raw.runs;
        let total_calls = f64::from(runs.max(1)) * f64::from(calls_per_run);

        for (metric, deltas) in [
            (Metric::Refs, &raw.series.refs),
            (Metric::Blocks, &raw.series.blocks),
            (Metric::Bytes, &raw.series.bytes),
        ] {
            if let Some(deltas) = deltas {
                report.metrics.push(MetricSeries {
                    metric,
                    deltas: deltas.clone(),
                    per_call: noise::per_call(deltas, calls_per_run),
                    trend: noise::trend(deltas),
                });
            }
        }
        report.arguments = raw
            .arguments
            .iter()
            .map(|argument| ArgumentRefcount {
                label: argument.label.clone(),
                type_name: argument.type_name.clone(),
                repr: argument.repr.clone(),
                immortal: argument.immortal,
                deltas: argument.deltas.clone(),
                per_call: noise::per_call(&argument.deltas, calls_per_run),
                trend: noise::trend(&argument.deltas),
            })
            .collect();
        report.types = raw
            .types
            .iter()
            .filter(|growth| noise::is_sustained(growth.growth, runs))
            .map(|growth| TypeGrowth {
                type_name: growth.type_name.clone(),
                growth: growth.growth,
                per_call: growth.growth as f64 / total_calls,
            })
            .collect();
        report.sites = raw
            .sites
            .iter()
            .filter(|site| site.size_diff > 0 && noise::is_sustained(site.count_diff, runs))
            .map(|site| AllocationSite {
                file: site.file.clone(),
                line: site.line,
                native: site.native,
                size_diff: site.size_diff,
                count_diff: site.count_diff,
                bytes_per_call: site.size_diff as f64 / total_calls,
            })
            .collect();
        report.raised = raw.raised.as_ref().map(|raised| RaisedError {
            type_name: raised.type_name.clone(),
            message: raised.message.clone(),
            calls: raised.calls,
            traceback: raised.traceback.clone(),
        });
        report.timing = raw.timing.as_ref().map(|timing| {
            let runs = f64::from(runs.max(1));
            Timing {
                warmup_seconds: timing.warmup_seconds,
                measure_seconds: timing.measure_seconds,
                call_seconds: timing.call_seconds,
                seconds_per_run: timing.measure_seconds / runs,
                overhead_seconds_per_run: (timing.measure_seconds - timing.call_seconds).max(0.0)
                    / runs,
            }
        });
        report.findings = findings(&report);
        report.notes = notes(&report);
        report.verdict = verdict(&report.findings);
        report
    }
}

/// Growth of any kind is a leak; a count that only shrinks is an
/// over-release.
fn verdict(findings: &[LeakFinding]) -> Verdict {
    let grows = findings.iter().any(|finding| {
        matches!(
            finding.kind,
            FindingKind::ReferenceLeak
                | FindingKind::MemoryLeak
                | FindingKind::ArgumentGainsReferences
        )
    });
    if grows {
        Verdict::Leak
    } else if findings.is_empty() {
        Verdict::Clean
    } else {
        Verdict::OverRelease
    }
}

fn crash_from_raw(raw: &RawTargetResult) -> Option<CrashReport> {
    if raw.status == "skipped" {
        return None;
    }
    Some(CrashReport {
        signal: raw.signal,
        signal_name: raw.signal_name.clone(),
        exit_code: raw.exit_code,
        detail: raw.detail.clone().unwrap_or_default(),
        stderr_tail: raw.stderr_tail.clone().unwrap_or_default(),
        reproduce: Vec::new(),
        handed_over: None,
    })
}

fn plural(count: f64, one: &str, many: &str) -> String {
    if (count.abs() - 1.0).abs() < f64::EPSILON {
        format!("{} {one}", format_amount(count.abs()))
    } else {
        format!("{} {many}", format_amount(count.abs()))
    }
}

/// 1 → "1", 1.5 → "1.5", 0.333 → "0.33".
pub fn format_amount(value: f64) -> String {
    if (value - value.round()).abs() < 1e-9 {
        format!("{}", value.round() as i64)
    } else {
        let text = format!("{value:.2}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn findings(report: &TargetReport) -> Vec<LeakFinding> {
    let mut found = Vec::new();
    if let Some(refs) = report.metric(Metric::Refs) {
        match refs.trend {
            Trend::Grows => found.push(LeakFinding {
                kind: FindingKind::ReferenceLeak,
                message: format!(
                    "the total reference count grows by {} per call: references are created and never released",
                    format_amount(refs.per_call)
                ),
            }),
            Trend::Shrinks => found.push(LeakFinding {
                kind: FindingKind::ReferencesReleasedTwice,
                message: format!(
                    "the total reference count shrinks by {} per call: references are released that were never owned (an extra Py_DECREF)",
                    format_amount(-refs.per_call)
                ),
            }),
            Trend::Steady => {}
        }
    }
    let blocks = report.metric(Metric::Blocks);
    let bytes = report.metric(Metric::Bytes);
    let blocks_grow = blocks.is_some_and(|series| series.trend == Trend::Grows);
    let bytes_grow = bytes.is_some_and(|series| series.trend == Trend::Grows);
    if blocks_grow || bytes_grow {
        let mut parts = Vec::new();
        if let Some(series) = blocks.filter(|series| series.trend == Trend::Grows) {
            parts.push(plural(series.per_call, "memory block", "memory blocks"));
        }
        if let Some(series) = bytes.filter(|series| series.trend == Trend::Grows) {
            parts.push(plural(series.per_call, "byte", "bytes"));
        }
        found.push(LeakFinding {
            kind: FindingKind::MemoryLeak,
            message: format!("{} per call are never freed", parts.join(", ")),
        });
    }
    for argument in &report.arguments {
        match argument.trend {
            Trend::Grows => found.push(LeakFinding {
                kind: FindingKind::ArgumentGainsReferences,
                message: format!(
                    "argument {} ({}) gains {} per call: an extra Py_INCREF on it (or the function keeps it on every call)",
                    argument.label,
                    argument.type_name,
                    plural(argument.per_call, "reference", "references")
                ),
            }),
            Trend::Shrinks => found.push(LeakFinding {
                kind: FindingKind::ArgumentLosesReferences,
                message: format!(
                    "argument {} ({}) loses {} per call: a Py_DECREF on a borrowed reference; the caller's object would be freed while still in use (refsan held extra references to keep it alive)",
                    argument.label,
                    argument.type_name,
                    plural(argument.per_call, "reference", "references")
                ),
            }),
            Trend::Steady => {}
        }
    }
    found
}

fn notes(report: &TargetReport) -> Vec<String> {
    let mut notes = Vec::new();
    for argument in report.arguments.iter().filter(|argument| argument.immortal) {
        notes.push(format!(
            "argument {} ({}) is immortal: its reference count is pinned, so an extra or missing Py_INCREF/Py_DECREF on it cannot be seen at run time; pass a mortal object (a new list, a large int) to check how the function treats its argument",
            argument.label, argument.repr
        ));
    }
    if let Some(raised) = &report.raised {
        if let Some(when) = raised.type_name.strip_prefix("test failed ") {
            // pytest mode: the test's outcome in its normal run is apart.
            notes.push(format!(
                "the test failed {when} in {} of its repeated runs: {}; the counts are of those runs",
                raised.calls, raised.message
            ));
        } else {
            notes.push(format!(
                "{} of the calls raised {}: {} (the error path was measured)",
                raised.calls, raised.type_name, raised.message
            ));
        }
    }
    notes
}

impl LeakReport {
    /// A set-up problem was found: the measured counts are not judged.
    pub fn withhold_verdicts(&mut self) {
        if self.setup_problems.is_empty() {
            return;
        }
        for target in &mut self.targets {
            if target.verdict != Verdict::NotMeasured {
                target.verdict = Verdict::NotMeasured;
                target.findings.clear();
                target.notes.push(
                    "not judged: the set-up problem above makes its counts meaningless".into(),
                );
            }
        }
    }

    pub fn summarize(&mut self) {
        let count = |status: TargetStatus| {
            self.targets
                .iter()
                .filter(|target| target.status == status)
                .count()
        };
        self.summary = Summary {
            targets: self.targets.len(),
            leaking: self
                .targets
                .iter()
                .filter(|target| target.verdict == Verdict::Leak)
                .count(),
            over_releasing: self
                .targets
                .iter()
                .filter(|target| target.verdict == Verdict::OverRelease)
                .count(),
            crashed: count(TargetStatus::Crashed),
            timed_out: count(TargetStatus::TimedOut),
            not_run: count(TargetStatus::NotRun),
        };
    }

    /// Leaks, crashes or hangs were found.
    pub fn has_problems(&self) -> bool {
        self.summary.leaking
            + self.summary.over_releasing
            + self.summary.crashed
            + self.summary.timed_out
            + self.summary.not_run
            > 0
    }

    /// The exit status of `refsan leaks`: 2 for a set-up problem; pytest's
    /// own failure status passes through; otherwise 1 when leaks,
    /// over-releases, crashes or hangs were found.
    pub fn exit_status(&self) -> i32 {
        if !self.setup_problems.is_empty() {
            return 2;
        }
        match self.pytest_exit_status {
            Some(status) if status != 0 => status,
            _ if self.has_problems() => 1,
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{RawArgument, RawSeries, RawSite, RawTypeGrowth};

    fn raw(series: RawSeries, arguments: Vec<RawArgument>) -> RawTargetResult {
        RawTargetResult {
            target: "m:f".into(),
            kind: TargetKind::Call,
            status: "measured".into(),
            detail: None,
            warmup: 3,
            runs: 6,
            calls_per_run: 1,
            series,
            arguments,
            types: vec![
                RawTypeGrowth {
                    type_name: "builtins.list".into(),
                    growth: 6,
                },
                RawTypeGrowth {
                    type_name: "re.Pattern".into(),
                    growth: 1,
                },
            ],
            sites: vec![RawSite {
                file: "<native code of m:f>".into(),
                line: 0,
                native: true,
                size_diff: 336,
                count_diff: 6,
            }],
            raised: None,
            timing: None,
            outcome: None,
            signal: None,
            signal_name: None,
            exit_code: None,
            stderr_tail: None,
            extra: Default::default(),
        }
    }

    fn argument(deltas: Vec<i64>, immortal: bool) -> RawArgument {
        RawArgument {
            label: "args[0]".into(),
            type_name: "builtins.list".into(),
            repr: "[]".into(),
            immortal,
            deltas,
        }
    }

    #[test]
    fn a_list_leaked_per_call_is_a_memory_and_reference_leak() {
        let report = TargetReport::from_raw(raw(
            RawSeries {
                refs: Some(vec![1; 6]),
                blocks: Some(vec![1; 6]),
                bytes: Some(vec![56; 6]),
            },
            vec![argument(vec![0; 6], false)],
        ));
        assert_eq!(report.verdict, Verdict::Leak);
        let kinds: Vec<_> = report.findings.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, [FindingKind::ReferenceLeak, FindingKind::MemoryLeak]);
        assert_eq!(
            report.findings[1].message,
            "1 memory block, 56 bytes per call are never freed"
        );
        // The one-off re.Pattern is not shown next to the leak.
        assert_eq!(report.types.len(), 1);
        assert_eq!(report.sites[0].bytes_per_call, 56.0);
    }

    #[test]
    fn argument_refcounts_report_both_directions() {
        let steady = RawSeries {
            refs: None,
            blocks: Some(vec![0; 6]),
            bytes: None,
        };
        let gains = TargetReport::from_raw(raw(steady.clone(), vec![argument(vec![1; 6], false)]));
        assert_eq!(gains.findings[0].kind, FindingKind::ArgumentGainsReferences);
        let loses = TargetReport::from_raw(raw(steady.clone(), vec![argument(vec![-1; 6], false)]));
        assert_eq!(loses.findings[0].kind, FindingKind::ArgumentLosesReferences);
        assert_eq!(gains.verdict, Verdict::Leak);
        assert_eq!(loses.verdict, Verdict::OverRelease);
        let clean = TargetReport::from_raw(raw(steady, vec![argument(vec![0; 6], true)]));
        assert_eq!(clean.verdict, Verdict::Clean);
        assert!(clean.notes[0].contains("immortal"));
    }

    #[test]
    fn noise_is_not_a_leak() {
        let report = TargetReport::from_raw(raw(
            RawSeries {
                refs: Some(vec![3, 0, 0, 0, 0, 0]),
                blocks: Some(vec![0, 1, 0, 0, 1, 0]),
                bytes: Some(vec![72, 0, 0, 0, 0, 0]),
            },
            vec![],
        ));
        assert_eq!(report.verdict, Verdict::Clean);
    }

    #[test]
    fn pytest_failures_pass_through_the_exit_status() {
        let mut report = LeakReport {
            interpreter: None,
            options: MeasureOptions::default(),
            timeout_seconds: 60.0,
            targets: vec![],
            warnings: vec![],
            setup_problems: vec![],
            pytest_exit_status: Some(1),
            summary: Summary::default(),
        };
        report.summarize();
        assert_eq!(report.exit_status(), 1);
        report.pytest_exit_status = Some(0);
        assert_eq!(report.exit_status(), 0);
        // A set-up problem outranks everything, and withholds verdicts.
        let leaking = TargetReport::from_raw(raw(
            RawSeries {
                refs: Some(vec![3; 6]),
                blocks: Some(vec![0; 6]),
                bytes: None,
            },
            vec![],
        ));
        assert_eq!(leaking.verdict, Verdict::Leak);
        report.targets.push(leaking);
        report
            .setup_problems
            .push("extension built for a release interpreter".into());
        report.withhold_verdicts();
        report.summarize();
        assert_eq!(report.targets[0].verdict, Verdict::NotMeasured);
        assert_eq!(report.summary.leaking, 0);
        assert_eq!(report.exit_status(), 2);
    }
}
