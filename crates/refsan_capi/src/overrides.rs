//! The curated `overrides.toml`: corrections and additions to refcounts.dat.
//!
//! Two kinds of entries, each with a mandatory `why`:
//!
//! ```toml
//! [[group]]                      # one fact shared by several functions
//! why = "return -1 with an exception set on failure"
//! names = ["PyList_Append", "PyList_Insert"]
//! failure = "neg_one"
//!
//! [function.PyList_SetItem]      # facts about one function
//! why = "steals `item` even when it fails; refcounts.dat says 0"
//! failure = "neg_one"
//! args = { item = "steal" }
//! ```
//!
//! For one function, fields set by its `[function.NAME]` table win over the
//! same fields set by groups, which win over what refcounts.dat implies. Two
//! groups setting the same field of the same function is an error, so the
//! order of groups never matters.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::record::{
    ArgEffectName, ExcEffectName, FailsWhenName, FailureName, FormatName, GilName, ReturnsName,
};
use crate::KbError;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OverridesFile {
    #[serde(default)]
    pub group: Vec<OverrideRecord>,
    #[serde(default)]
    pub function: BTreeMap<String, OverrideRecord>,
}

/// One `[[group]]` or `[function.NAME]` table.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OverrideRecord {
    pub why: String,
    /// Only in groups: the functions the group applies to.
    pub names: Option<Vec<String>>,
    pub returns: Option<ReturnsName>,
    pub failure: Option<FailureName>,
    pub exc: Option<ExcEffectName>,
    pub noreturn: Option<bool>,
    #[serde(rename = "macro")]
    pub is_macro: Option<bool>,
    pub added: Option<String>,
    pub removed: Option<String>,
    pub limited: Option<bool>,
    /// Parameter names of a function refcounts.dat does not describe.
    pub params: Option<Vec<String>>,
    /// Effects by parameter name.
    pub args: Option<BTreeMap<String, ArgEffectName>>,
    /// Parameters that accept NULL.
    pub nullable: Option<Vec<String>>,
    #[serde(flatten)]
    pub behaviour: BehaviourRecord,
}

/// The behaviour facts of an override table (see `refsan_ir::Behaviour`);
/// arguments are named by parameter.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BehaviourRecord {
    pub runs_code: Option<bool>,
    pub constructor: Option<bool>,
    pub keeps: Option<Vec<String>>,
    pub volatile_item: Option<bool>,
    pub slot_getter: Option<bool>,
    pub overwrites_slot_of: Option<Vec<String>>,
    pub gil: Option<GilName>,
    pub reports_exception: Option<bool>,
    pub matches_exception: Option<bool>,
    pub untracked_result: Option<bool>,
    pub returns_type: Option<bool>,
    pub nonnull_with_exception: Option<Vec<String>>,
    pub outputs_null_with: Option<Vec<String>>,
    pub gc_untrack: Option<bool>,
    pub ref_variant: Option<String>,
    /// Format-driven: the format string is the parameter named `format`,
    /// the variable arguments start at `...`.
    pub format: Option<FormatName>,
    /// What can make it fail (default: the caller).
    pub fails_when: Option<FailsWhenName>,
    pub zero_for_null: Option<bool>,
    pub succeeds_for: Option<[i64; 2]>,
    pub succeeds_on_types: Option<Vec<String>>,
    pub result_type: Option<String>,
    pub tests_type: Option<String>,
    pub validates: Option<String>,
}

/// The overrides that apply to one function, merged from its groups and its
/// own table.
#[derive(Clone, Debug, Default)]
pub(crate) struct Patch {
    pub returns: Option<ReturnsName>,
    pub failure: Option<FailureName>,
    pub exc: Option<ExcEffectName>,
    pub noreturn: Option<bool>,
    pub is_macro: Option<bool>,
    pub added: Option<String>,
    pub removed: Option<String>,
    pub limited: Option<bool>,
    pub params: Option<Vec<String>>,
    pub args: BTreeMap<String, ArgEffectName>,
    pub nullable: Vec<String>,
    pub behaviour: BehaviourRecord,
}

pub(crate) fn parse_overrides(text: &str) -> Result<OverridesFile, KbError> {
    toml::from_str(text).map_err(|source| KbError::Toml {
        file: "overrides.toml",
        message: source.to_string(),
    })
}

/// Resolves groups and function tables into one patch per function name.
pub(crate) fn patches(file: &OverridesFile) -> Result<BTreeMap<String, Patch>, KbError> {
    let mut from_groups: BTreeMap<String, Patch> = BTreeMap::new();
    for group in &file.group {
        check_why(&group.why, "a [[group]]")?;
        let names = group.names.as_ref().ok_or_else(|| KbError::Invalid {
            entry: group.why.clone(),
            message: "a [[group]] needs `names`".to_string(),
        })?;
        for name in names {
            check_name(name)?;
            let patch = from_groups.entry(name.clone()).or_default();
            merge_group(patch, group, name)?;
        }
    }
    let mut result = from_groups;
    for (name, record) in &file.function {
        check_name(name)?;
        check_why(&record.why, name)?;
        if record.names.is_some() {
            return Err(KbError::Invalid {
                entry: name.clone(),
                message: "`names` belongs in a [[group]]".to_string(),
            });
        }
        let patch = result.entry(name.clone()).or_default();
        overlay_function(patch, record);
    }
    Ok(result)
}

fn check_why(why: &str, entry: &str) -> Result<(), KbError> {
    if why.trim().is_empty() {
        return Err(KbError::Invalid {
            entry: entry.to_string(),
            message: "`why` must say where the fact comes from".to_string(),
        });
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), KbError> {
    if crate::record::is_c_identifier(name) {
        Ok(())
    } else {
        Err(KbError::Invalid {
            entry: name.to_string(),
            message: "not a C identifier".to_string(),
        })
    }
}

/// Sets `slot` from a group, refusing a second group's value.
fn set_once<T: Clone>(
    slot: &mut Option<T>,
    value: &Option<T>,
    field: &str,
    name: &str,
) -> Result<(), KbError> {
    if let Some(value) = value {
        if slot.is_some() {
            return Err(KbError::Invalid {
                entry: name.to_string(),
                message: format!("two groups set `{field}`; keep one or use [function.{name}]"),
            });
        }
        *slot = Some(value.clone());
    }
    Ok(())
}

fn merge_group(patch: &mut Patch, group: &OverrideRecord, name: &str) -> Result<(), KbError> {
    set_once(&mut patch.returns, &group.returns, "returns", name)?;
    set_once(&mut patch.failure, &group.failure, "failure", name)?;
    set_once(&mut patch.exc, &group.exc, "exc", name)?;
    set_once(&mut patch.noreturn, &group.noreturn, "noreturn", name)?;
    set_once(&mut patch.is_macro, &group.is_macro, "macro", name)?;
    set_once(&mut patch.added, &group.added, "added", name)?;
    set_once(&mut patch.removed, &group.removed, "removed", name)?;
    set_once(&mut patch.limited, &group.limited, "limited", name)?;
    set_once(&mut patch.params, &group.params, "params", name)?;
    let (b, g) = (&mut patch.behaviour, &group.behaviour);
    set_once(&mut b.runs_code, &g.runs_code, "runs_code", name)?;
    set_once(&mut b.constructor, &g.constructor, "constructor", name)?;
    set_once(&mut b.keeps, &g.keeps, "keeps", name)?;
    set_once(
        &mut b.volatile_item,
        &g.volatile_item,
        "volatile_item",
        name,
    )?;
    set_once(&mut b.slot_getter, &g.slot_getter, "slot_getter", name)?;
    set_once(
        &mut b.overwrites_slot_of,
        &g.overwrites_slot_of,
        "overwrites_slot_of",
        name,
    )?;
    set_once(&mut b.gil, &g.gil, "gil", name)?;
    set_once(
        &mut b.reports_exception,
        &g.reports_exception,
        "reports_exception",
        name,
    )?;
    set_once(
        &mut b.matches_exception,
        &g.matches_exception,
        "matches_exception",
        name,
    )?;
    set_once(
        &mut b.untracked_result,
        &g.untracked_result,
        "untracked_result",
        name,
    )?;
    set_once(&mut b.returns_type, &g.returns_type, "returns_type", name)?;
    set_once(
        &mut b.nonnull_with_exception,
        &g.nonnull_with_exception,
        "nonnull_with_exception",
        name,
    )?;
    set_once(
        &mut b.outputs_null_with,
        &g.outputs_null_with,
        "outputs_null_with",
        name,
    )?;
    set_once(&mut b.gc_untrack, &g.gc_untrack, "gc_untrack", name)?;
    set_once(&mut b.ref_variant, &g.ref_variant, "ref_variant", name)?;
    set_once(&mut b.format, &g.format, "format", name)?;
    set_once(&mut b.fails_when, &g.fails_when, "fails_when", name)?;
    set_once(
        &mut b.zero_for_null,
        &g.zero_for_null,
        "zero_for_null",
        name,
    )?;
    set_once(&mut b.succeeds_for, &g.succeeds_for, "succeeds_for", name)?;
    set_once(
        &mut b.succeeds_on_types,
        &g.succeeds_on_types,
        "succeeds_on_types",
        name,
    )?;
    set_once(&mut b.result_type, &g.result_type, "result_type", name)?;
    set_once(&mut b.tests_type, &g.tests_type, "tests_type", name)?;
    set_once(&mut b.validates, &g.validates, "validates", name)?;
    for (param, effect) in group.args.iter().flatten() {
        if patch.args.insert(param.clone(), *effect).is_some() {
            return Err(KbError::Invalid {
                entry: name.to_string(),
                message: format!("two groups set the effect of `{param}`"),
            });
        }
    }
    patch
        .nullable
        .extend(group.nullable.iter().flatten().cloned());
    Ok(())
}

fn overlay_function(patch: &mut Patch, record: &OverrideRecord) {
    fn overlay<T: Clone>(slot: &mut Option<T>, value: &Option<T>) {
        if value.is_some() {
            slot.clone_from(value);
        }
    }
    overlay(&mut patch.returns, &record.returns);
    overlay(&mut patch.failure, &record.failure);
    overlay(&mut patch.exc, &record.exc);
    overlay(&mut patch.noreturn, &record.noreturn);
    overlay(&mut patch.is_macro, &record.is_macro);
    overlay(&mut patch.added, &record.added);
    overlay(&mut patch.removed, &record.removed);
    overlay(&mut patch.limited, &record.limited);
    overlay(&mut patch.params, &record.params);
    let (b, r) = (&mut patch.behaviour, &record.behaviour);
    overlay(&mut b.runs_code, &r.runs_code);
    overlay(&mut b.constructor, &r.constructor);
    overlay(&mut b.keeps, &r.keeps);
    overlay(&mut b.volatile_item, &r.volatile_item);
    overlay(&mut b.slot_getter, &r.slot_getter);
    overlay(&mut b.overwrites_slot_of, &r.overwrites_slot_of);
    overlay(&mut b.gil, &r.gil);
    overlay(&mut b.reports_exception, &r.reports_exception);
    overlay(&mut b.matches_exception, &r.matches_exception);
    overlay(&mut b.untracked_result, &r.untracked_result);
    overlay(&mut b.returns_type, &r.returns_type);
    overlay(&mut b.nonnull_with_exception, &r.nonnull_with_exception);
    overlay(&mut b.outputs_null_with, &r.outputs_null_with);
    overlay(&mut b.gc_untrack, &r.gc_untrack);
    overlay(&mut b.ref_variant, &r.ref_variant);
    overlay(&mut b.format, &r.format);
    overlay(&mut b.fails_when, &r.fails_when);
    overlay(&mut b.zero_for_null, &r.zero_for_null);
    overlay(&mut b.succeeds_for, &r.succeeds_for);
    overlay(&mut b.succeeds_on_types, &r.succeeds_on_types);
    overlay(&mut b.result_type, &r.result_type);
    overlay(&mut b.tests_type, &r.tests_type);
    overlay(&mut b.validates, &r.validates);
    for (param, effect) in record.args.iter().flatten() {
        patch.args.insert(param.clone(), *effect);
    }
    patch
        .nullable
        .extend(record.nullable.iter().flatten().cloned());
}
