//! The spellings of contract facts in the data files (`capi.toml`,
//! `overrides.toml`), and their conversion to the IR's contract types.
//!
//! The IR types only serialize; these mirrors give them a checked
//! deserialization without touching `refsan_ir`. Every conversion is an
//! exhaustive `match` in both directions, so a variant added to the IR fails
//! to compile here until the data format learns its name.

use refsan_ir::{
    ArgEffect, Behaviour, ExcEffect, FailsWhen, Failure, FormatSpec, FormatStyle, Gil, Returns,
};
use serde::Deserialize;

use crate::KbError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ReturnsName {
    New,
    Borrowed,
    NotObject,
    Void,
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FailureName {
    Never,
    Null,
    NullNoExc,
    NullMaybeExc,
    AlwaysNull,
    NegOne,
    Negative,
    NegTwo,
    Zero,
    TriState,
    Ambiguous,
    End,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ArgEffectName {
    Borrow,
    Steal,
    StealOnSuccess,
    OutNew,
    OutNewMaybeNull,
    OutBorrowed,
    ReplaceInPlace,
    Nullable,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ExcEffectName {
    OnFailure,
    Sets,
    Clears,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum GilName {
    Needed,
    NotNeeded,
    Releases,
    Acquires,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FailsWhenName {
    Caller,
    Oom,
    OomIfLiteral,
}

impl From<FailsWhenName> for FailsWhen {
    fn from(name: FailsWhenName) -> FailsWhen {
        match name {
            FailsWhenName::Caller => FailsWhen::Caller,
            FailsWhenName::Oom => FailsWhen::Oom,
            FailsWhenName::OomIfLiteral => FailsWhen::OomIfLiteral,
        }
    }
}

pub(crate) fn fails_when_spelling(value: FailsWhen) -> &'static str {
    match value {
        FailsWhen::Caller => "caller",
        FailsWhen::Oom => "oom",
        FailsWhen::OomIfLiteral => "oom_if_literal",
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FormatName {
    Parse,
    Build,
    Unpack,
    Printf,
}

impl From<FormatName> for FormatStyle {
    fn from(name: FormatName) -> FormatStyle {
        match name {
            FormatName::Parse => FormatStyle::Parse,
            FormatName::Build => FormatStyle::Build,
            FormatName::Unpack => FormatStyle::Unpack,
            FormatName::Printf => FormatStyle::Printf,
        }
    }
}

pub(crate) fn format_spelling(value: FormatStyle) -> &'static str {
    match value {
        FormatStyle::Parse => "parse",
        FormatStyle::Build => "build",
        FormatStyle::Unpack => "unpack",
        FormatStyle::Printf => "printf",
    }
}

impl From<GilName> for Gil {
    fn from(name: GilName) -> Gil {
        match name {
            GilName::Needed => Gil::Needed,
            GilName::NotNeeded => Gil::NotNeeded,
            GilName::Releases => Gil::Releases,
            GilName::Acquires => Gil::Acquires,
        }
    }
}

pub(crate) fn gil_spelling(value: Gil) -> &'static str {
    match value {
        Gil::Needed => "needed",
        Gil::NotNeeded => "not_needed",
        Gil::Releases => "releases",
        Gil::Acquires => "acquires",
    }
}

impl From<ReturnsName> for Returns {
    fn from(name: ReturnsName) -> Returns {
        match name {
            ReturnsName::New => Returns::New,
            ReturnsName::Borrowed => Returns::Borrowed,
            ReturnsName::NotObject => Returns::NotObject,
            ReturnsName::Void => Returns::Void,
            ReturnsName::Unknown => Returns::Unknown,
        }
    }
}

impl From<FailureName> for Failure {
    fn from(name: FailureName) -> Failure {
        match name {
            FailureName::Never => Failure::Never,
            FailureName::Null => Failure::Null,
            FailureName::NullNoExc => Failure::NullNoExc,
            FailureName::NullMaybeExc => Failure::NullMaybeExc,
            FailureName::AlwaysNull => Failure::AlwaysNull,
            FailureName::NegOne => Failure::NegOne,
            FailureName::Negative => Failure::Negative,
            FailureName::NegTwo => Failure::NegTwo,
            FailureName::Zero => Failure::Zero,
            FailureName::TriState => Failure::TriState,
            FailureName::Ambiguous => Failure::Ambiguous,
            FailureName::End => Failure::End,
        }
    }
}

impl From<ArgEffectName> for ArgEffect {
    fn from(name: ArgEffectName) -> ArgEffect {
        match name {
            ArgEffectName::Borrow => ArgEffect::Borrow,
            ArgEffectName::Steal => ArgEffect::Steal,
            ArgEffectName::StealOnSuccess => ArgEffect::StealOnSuccess,
            ArgEffectName::OutNew => ArgEffect::OutNew,
            ArgEffectName::OutNewMaybeNull => ArgEffect::OutNewMaybeNull,
            ArgEffectName::OutBorrowed => ArgEffect::OutBorrowed,
            ArgEffectName::ReplaceInPlace => ArgEffect::ReplaceInPlace,
            ArgEffectName::Nullable => ArgEffect::Nullable,
        }
    }
}

impl From<ExcEffectName> for ExcEffect {
    fn from(name: ExcEffectName) -> ExcEffect {
        match name {
            ExcEffectName::OnFailure => ExcEffect::OnFailure,
            ExcEffectName::Sets => ExcEffect::Sets,
            ExcEffectName::Clears => ExcEffect::Clears,
        }
    }
}

/// The data-file spelling of each IR value (inverse of the `From` impls).
pub(crate) fn returns_spelling(value: Returns) -> &'static str {
    match value {
        Returns::New => "new",
        Returns::Borrowed => "borrowed",
        Returns::NotObject => "not_object",
        Returns::Void => "void",
        Returns::Unknown => "unknown",
    }
}

pub(crate) fn failure_spelling(value: Failure) -> &'static str {
    match value {
        Failure::Never => "never",
        Failure::Null => "null",
        Failure::NullNoExc => "null_no_exc",
        Failure::NullMaybeExc => "null_maybe_exc",
        Failure::AlwaysNull => "always_null",
        Failure::NegOne => "neg_one",
        Failure::Negative => "negative",
        Failure::NegTwo => "neg_two",
        Failure::Zero => "zero",
        Failure::TriState => "tri_state",
        Failure::Ambiguous => "ambiguous",
        Failure::End => "end",
    }
}

pub(crate) fn arg_effect_spelling(value: ArgEffect) -> &'static str {
    match value {
        ArgEffect::Borrow => "borrow",
        ArgEffect::Steal => "steal",
        ArgEffect::StealOnSuccess => "steal_on_success",
        ArgEffect::StealOnFailure => "steal_on_failure",
        ArgEffect::OutNew => "out_new",
        ArgEffect::OutNewMaybeNull => "out_new_maybe_null",
        ArgEffect::OutBorrowed => "out_borrowed",
        ArgEffect::ReplaceInPlace => "replace_in_place",
        ArgEffect::Nullable => "nullable",
    }
}

pub(crate) fn exc_effect_spelling(value: ExcEffect) -> &'static str {
    match value {
        ExcEffect::OnFailure => "on_failure",
        ExcEffect::Sets => "sets",
        ExcEffect::Clears => "clears",
    }
}

/// Parses a CPython version written `"3.13"`.
pub(crate) fn parse_version(entry: &str, text: &str) -> Result<(u8, u8), KbError> {
    let invalid = || KbError::Invalid {
        entry: entry.to_string(),
        message: format!("version `{text}` is not of the form MAJOR.MINOR (e.g. \"3.13\")"),
    };
    let (major, minor) = text.split_once('.').ok_or_else(invalid)?;
    let major: u8 = major.parse().map_err(|_| invalid())?;
    let minor: u8 = minor.parse().map_err(|_| invalid())?;
    Ok((major, minor))
}

pub(crate) fn version_spelling((major, minor): (u8, u8)) -> String {
    format!("{major}.{minor}")
}

/// One line of `capi.toml`: the merged contract of one function or macro.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EntryRecord {
    pub returns: ReturnsName,
    pub failure: FailureName,
    #[serde(default)]
    pub args: Vec<ArgEffectName>,
    #[serde(default = "exc_on_failure")]
    pub exc: ExcEffectName,
    #[serde(default)]
    pub noreturn: bool,
    #[serde(default, rename = "macro")]
    pub is_macro: bool,
    #[serde(default)]
    pub added: Option<String>,
    #[serde(default)]
    pub removed: Option<String>,
    #[serde(default)]
    pub limited: bool,
    #[serde(default)]
    pub params: Vec<String>,
    #[serde(default)]
    pub also_nullable: Vec<usize>,
    #[serde(default)]
    pub runs_code: bool,
    #[serde(default)]
    pub constructor: bool,
    #[serde(default)]
    pub keeps: Vec<usize>,
    #[serde(default)]
    pub volatile_item: bool,
    #[serde(default)]
    pub slot_getter: bool,
    #[serde(default)]
    pub overwrites_slot_of: Vec<String>,
    #[serde(default)]
    pub gil: Option<GilName>,
    #[serde(default)]
    pub reports_exception: bool,
    #[serde(default)]
    pub matches_exception: bool,
    #[serde(default)]
    pub untracked_result: bool,
    #[serde(default)]
    pub returns_type: bool,
    #[serde(default)]
    pub nonnull_with_exception: Vec<usize>,
    #[serde(default)]
    pub outputs_null_with: Vec<usize>,
    #[serde(default)]
    pub gc_untrack: bool,
    #[serde(default)]
    pub ref_variant: Option<String>,
    #[serde(default)]
    pub format: Option<FormatName>,
    #[serde(default)]
    pub fails_when: Option<FailsWhenName>,
    #[serde(default)]
    pub zero_for_null: bool,
    #[serde(default)]
    pub succeeds_for: Option<[i64; 2]>,
    #[serde(default)]
    pub succeeds_on_types: Vec<String>,
    #[serde(default)]
    pub result_type: Option<String>,
    #[serde(default)]
    pub tests_type: Option<String>,
    #[serde(default)]
    pub validates: Option<String>,
    #[serde(default)]
    pub format_arg: Option<usize>,
    #[serde(default)]
    pub varargs_arg: Option<usize>,
}

impl EntryRecord {
    /// The behaviour facts of the line.
    pub(crate) fn behaviour(&self) -> Behaviour {
        Behaviour {
            runs_code: self.runs_code,
            constructor: self.constructor,
            keeps: self.keeps.clone(),
            volatile_item: self.volatile_item,
            slot_getter: self.slot_getter,
            overwrites_slot_of: self.overwrites_slot_of.clone(),
            gil: self.gil.map(Into::into).unwrap_or_default(),
            reports_exception: self.reports_exception,
            matches_exception: self.matches_exception,
            untracked_result: self.untracked_result,
            returns_type: self.returns_type,
            nonnull_with_exception: self.nonnull_with_exception.clone(),
            outputs_null_with: self.outputs_null_with.clone(),
            gc_untrack: self.gc_untrack,
            ref_variant: self.ref_variant.clone(),
            format: self.format.map(|style| FormatSpec {
                style: style.into(),
                format_arg: self.format_arg,
                varargs: self.varargs_arg.unwrap_or(0),
            }),
            fails_when: self.fails_when.map(Into::into).unwrap_or_default(),
            zero_for_null: self.zero_for_null,
            succeeds_for: self.succeeds_for.map(|[lo, hi]| (lo, hi)),
            succeeds_on_types: self.succeeds_on_types.clone(),
            result_type: self.result_type.clone(),
            tests_type: self.tests_type.clone(),
            validates: self.validates.clone(),
        }
    }
}

fn exc_on_failure() -> ExcEffectName {
    ExcEffectName::OnFailure
}

/// Whether `name` is a C identifier, so it can stand as a bare TOML key.
pub(crate) fn is_c_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// A TOML basic string holding `text`.
pub(crate) fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
