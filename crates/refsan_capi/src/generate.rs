//! Merges refcounts.dat, stable_abi.toml and overrides.toml into the entries
//! of `capi.toml`, and renders them.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use refsan_ir::{
    ArgEffect, Behaviour, Contract, ExcEffect, FailsWhen, Failure, FormatSpec, FormatStyle, Gil,
    Returns,
};

use crate::overrides::{parse_overrides, patches, BehaviourRecord, Patch};
use crate::record::{
    arg_effect_spelling, exc_effect_spelling, fails_when_spelling, failure_spelling,
    format_spelling, gil_spelling, parse_version, returns_spelling, toml_string, version_spelling,
};
use crate::refcounts::{parse_refcounts, RefcountEffect, RefcountsFunction};
use crate::stable_abi::limited_api_names;
use crate::{ApiEntry, KbError};

/// The three inputs of the generator, as text.
pub struct Sources<'a> {
    pub refcounts: &'a str,
    pub stable_abi: &'a str,
    pub overrides: &'a str,
}

impl Sources<'static> {
    /// The inputs checked into the crate's `data/` directory.
    pub fn shipped() -> Sources<'static> {
        Sources {
            refcounts: include_str!("../data/refcounts-3.11.dat"),
            stable_abi: include_str!("../data/stable_abi-3.11.toml"),
            overrides: include_str!("../data/overrides.toml"),
        }
    }
}

/// The command that rewrites `data/capi.toml`.
pub const REGENERATE_COMMAND: &str = "cargo run -p refsan_capi --bin refsan-capi-gen";

/// Builds every entry, sorted by name.
pub fn merge(sources: &Sources<'_>) -> Result<Vec<ApiEntry>, KbError> {
    let documented: BTreeMap<String, RefcountsFunction> = parse_refcounts(sources.refcounts)?
        .into_iter()
        .map(|f| (f.name.clone(), f))
        .collect();
    let limited = limited_api_names(sources.stable_abi)?;
    let patches = patches(&parse_overrides(sources.overrides)?)?;
    let names: BTreeSet<&String> = documented.keys().chain(patches.keys()).collect();
    let mut entries = Vec::with_capacity(names.len());
    let mut errors = Vec::new();
    for name in names {
        match build_entry(name, documented.get(name), patches.get(name), &limited) {
            Ok(entry) => entries.push(entry),
            Err(error) => errors.push(error),
        }
    }
    match errors.len() {
        0 => Ok(entries),
        1 => Err(errors.remove(0)),
        _ => Err(KbError::Several(errors)),
    }
}

/// The text of `capi.toml` for the given inputs.
pub fn generate(sources: &Sources<'_>) -> Result<String, KbError> {
    Ok(render(&merge(sources)?))
}

fn build_entry(
    name: &str,
    documented: Option<&RefcountsFunction>,
    patch: Option<&Patch>,
    limited: &HashSet<String>,
) -> Result<ApiEntry, KbError> {
    let empty = Patch::default();
    let patch = patch.unwrap_or(&empty);
    let invalid = |message: String| KbError::Invalid {
        entry: name.to_string(),
        message,
    };

    let (mut contract, param_names) = match (documented, &patch.params) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "refcounts.dat already names the parameters; drop `params`".to_string(),
            ))
        }
        (Some(function), None) => (
            contract_from_refcounts(function),
            function.params.iter().map(|p| p.name.clone()).collect(),
        ),
        (None, params) => {
            if patch.returns.is_none() || patch.failure.is_none() {
                return Err(invalid(
                    "not in refcounts.dat, so overrides must give `returns` and `failure` \
                     (is the name misspelt?)"
                        .to_string(),
                ));
            }
            (Contract::unknown(), params.clone().unwrap_or_default())
        }
    };

    if let Some(returns) = patch.returns {
        contract.returns = returns.into();
    }
    if let Some(failure) = patch.failure {
        contract.failure = failure.into();
    }
    if let Some(exc) = patch.exc {
        contract.exc = exc.into();
    }
    if let Some(noreturn) = patch.noreturn {
        contract.noreturn = noreturn;
    }
    let position = |param: &str| {
        param_names.iter().position(|p| p == param).ok_or_else(|| {
            invalid(format!(
                "no parameter named `{param}` (has {param_names:?})"
            ))
        })
    };
    for (param, effect) in &patch.args {
        contract.set_arg(position(param)?, (*effect).into());
    }
    let mut also_nullable = Vec::new();
    for param in &patch.nullable {
        let index = position(param)?;
        match contract.arg(index) {
            ArgEffect::Borrow => contract.set_arg(index, ArgEffect::Nullable),
            ArgEffect::Nullable => {}
            _ => also_nullable.push(index),
        }
    }
    also_nullable.sort_unstable();
    also_nullable.dedup();
    while contract.args.last() == Some(&ArgEffect::Borrow) {
        contract.args.pop();
    }

    if let Some(function) = documented {
        require_out_pointer_effects(function, patch)?;
    }
    check_consistency(name, &contract)?;

    let behaviour = behaviour_from_patch(&patch.behaviour, &position)?;
    let version =
        |text: &Option<String>| text.as_deref().map(|t| parse_version(name, t)).transpose();
    Ok(ApiEntry {
        name: name.to_string(),
        contract,
        is_macro: patch.is_macro.unwrap_or_else(|| looks_like_macro(name)),
        added: version(&patch.added)?,
        removed: version(&patch.removed)?,
        limited_api: patch.limited.unwrap_or_else(|| limited.contains(name)),
        param_names,
        also_nullable,
        behaviour,
    })
}

/// The behaviour an override states, with parameters turned into positions.
fn behaviour_from_patch(
    record: &BehaviourRecord,
    position: &dyn Fn(&str) -> Result<usize, KbError>,
) -> Result<Behaviour, KbError> {
    let positions = |names: &Option<Vec<String>>| -> Result<Vec<usize>, KbError> {
        let mut out = names
            .iter()
            .flatten()
            .map(|n| position(n))
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_unstable();
        out.dedup();
        Ok(out)
    };
    Ok(Behaviour {
        runs_code: record.runs_code.unwrap_or(false),
        constructor: record.constructor.unwrap_or(false),
        keeps: positions(&record.keeps)?,
        volatile_item: record.volatile_item.unwrap_or(false),
        slot_getter: record.slot_getter.unwrap_or(false),
        overwrites_slot_of: record.overwrites_slot_of.clone().unwrap_or_default(),
        gil: record.gil.map(Into::into).unwrap_or_default(),
        reports_exception: record.reports_exception.unwrap_or(false),
        matches_exception: record.matches_exception.unwrap_or(false),
        untracked_result: record.untracked_result.unwrap_or(false),
        returns_type: record.returns_type.unwrap_or(false),
        nonnull_with_exception: positions(&record.nonnull_with_exception)?,
        outputs_null_with: positions(&record.outputs_null_with)?,
        gc_untrack: record.gc_untrack.unwrap_or(false),
        ref_variant: record.ref_variant.clone(),
        format: record
            .format
            .map(|style| -> Result<FormatSpec, KbError> {
                let style: FormatStyle = style.into();
                let format_arg = match style {
                    FormatStyle::Unpack => None,
                    _ => Some(position("format")?),
                };
                Ok(FormatSpec {
                    style,
                    format_arg,
                    varargs: position("...")?,
                })
            })
            .transpose()?,
        fails_when: record.fails_when.map(Into::into).unwrap_or_default(),
        zero_for_null: record.zero_for_null.unwrap_or(false),
        succeeds_for: record.succeeds_for.map(|[lo, hi]| (lo, hi)),
        succeeds_on_types: record.succeeds_on_types.clone().unwrap_or_default(),
        result_type: record.result_type.clone(),
        tests_type: record.tests_type.clone(),
        validates: record.validates.clone(),
    })
}

/// What refcounts.dat alone implies.
///
/// - return `+1`: new reference, NULL with an exception on failure;
/// - return `0`: borrowed reference, NULL with an exception on failure;
/// - return `null`: always NULL with an exception set;
/// - `void`: nothing, cannot fail; any other type: not an object and no
///   failure value known (overrides add it);
/// - parameter `-1`: stolen; `0`, `+1` (the callee takes its own reference)
///   and non-objects: borrowed.
fn contract_from_refcounts(function: &RefcountsFunction) -> Contract {
    let (returns, failure, exc) = match function.return_effect {
        RefcountEffect::Incremented => (Returns::New, Failure::Null, ExcEffect::OnFailure),
        RefcountEffect::Unchanged => (Returns::Borrowed, Failure::Null, ExcEffect::OnFailure),
        RefcountEffect::AlwaysNull => (Returns::New, Failure::AlwaysNull, ExcEffect::Sets),
        RefcountEffect::NotObject | RefcountEffect::Decremented => {
            if function.return_type == "void" {
                (Returns::Void, Failure::Never, ExcEffect::OnFailure)
            } else {
                (Returns::NotObject, Failure::Never, ExcEffect::OnFailure)
            }
        }
    };
    let mut contract = Contract {
        returns,
        failure,
        args: Vec::new(),
        exc,
        noreturn: false,
    };
    for (index, param) in function.params.iter().enumerate() {
        if param.effect == RefcountEffect::Decremented {
            contract.set_arg(index, ArgEffect::Steal);
        }
    }
    contract
}

/// refcounts.dat cannot say what a callee writes through a `PyObject **`;
/// every such parameter must have its effect stated in the overrides.
fn require_out_pointer_effects(function: &RefcountsFunction, patch: &Patch) -> Result<(), KbError> {
    for param in &function.params {
        if param.c_type == "PyObject**" && !patch.args.contains_key(&param.name) {
            return Err(KbError::Invalid {
                entry: function.name.clone(),
                message: format!(
                    "`{}` is a PyObject** (refcounts.dat line {}); overrides must give its effect",
                    param.name, function.line
                ),
            });
        }
    }
    Ok(())
}

/// Rejects contracts that contradict themselves.
fn check_consistency(name: &str, contract: &Contract) -> Result<(), KbError> {
    let problem = match (contract.returns, contract.failure) {
        (Returns::Void, failure) if failure != Failure::Never => {
            Some("a void function cannot signal failure by its result")
        }
        (
            Returns::New | Returns::Borrowed | Returns::Unknown,
            Failure::NegOne
            | Failure::Negative
            | Failure::NegTwo
            | Failure::Zero
            | Failure::TriState,
        ) => Some("an object result cannot fail with an integer"),
        (_, Failure::AlwaysNull) if contract.exc != ExcEffect::Sets => {
            Some("`always_null` needs `exc = \"sets\"`")
        }
        _ => None,
    };
    match problem {
        Some(message) => Err(KbError::Invalid {
            entry: name.to_string(),
            message: message.to_string(),
        }),
        None => Ok(()),
    }
}

/// CPython spells function-like macros in capitals after the prefix
/// (`PyTuple_GET_ITEM`, `Py_INCREF`); mixed-case macros are marked in the
/// overrides.
fn looks_like_macro(name: &str) -> bool {
    let unprefixed = name.trim_start_matches('_');
    match unprefixed.split_once('_') {
        Some((_, rest)) => {
            rest.chars().any(|c| c.is_ascii_uppercase())
                && !rest.chars().any(|c| c.is_ascii_lowercase())
        }
        None => false,
    }
}

const HEADER: &str = "\
# The C-API knowledge base of refsan: one line per function or macro.
# Generated from refcounts-3.11.dat, stable_abi-3.11.toml and overrides.toml;
# do not edit: change overrides.toml and run
#     cargo run -p refsan_capi --bin refsan-capi-gen
# The format is described in the crate documentation of refsan_capi.
";

/// Renders entries as `capi.toml`, one inline table per line.
pub fn render(entries: &[ApiEntry]) -> String {
    let mut out = String::with_capacity(entries.len() * 160 + HEADER.len());
    out.push_str(HEADER);
    out.push('\n');
    for entry in entries {
        out.push_str(&render_entry(entry));
        out.push('\n');
    }
    out
}

fn render_behaviour(b: &Behaviour, fields: &mut Vec<String>) {
    let flag = |fields: &mut Vec<String>, on: bool, key: &str| {
        if on {
            fields.push(format!("{key} = true"));
        }
    };
    let positions = |fields: &mut Vec<String>, list: &[usize], key: &str| {
        if !list.is_empty() {
            let items: Vec<String> = list.iter().map(usize::to_string).collect();
            fields.push(format!("{key} = [{}]", items.join(", ")));
        }
    };
    flag(fields, b.runs_code, "runs_code");
    flag(fields, b.constructor, "constructor");
    positions(fields, &b.keeps, "keeps");
    flag(fields, b.volatile_item, "volatile_item");
    flag(fields, b.slot_getter, "slot_getter");
    if !b.overwrites_slot_of.is_empty() {
        let names: Vec<String> = b
            .overwrites_slot_of
            .iter()
            .map(|n| toml_string(n))
            .collect();
        fields.push(format!("overwrites_slot_of = [{}]", names.join(", ")));
    }
    if b.gil != Gil::Needed {
        fields.push(format!("gil = \"{}\"", gil_spelling(b.gil)));
    }
    flag(fields, b.reports_exception, "reports_exception");
    flag(fields, b.matches_exception, "matches_exception");
    flag(fields, b.untracked_result, "untracked_result");
    flag(fields, b.returns_type, "returns_type");
    positions(fields, &b.nonnull_with_exception, "nonnull_with_exception");
    positions(fields, &b.outputs_null_with, "outputs_null_with");
    flag(fields, b.gc_untrack, "gc_untrack");
    if let Some(v) = &b.ref_variant {
        fields.push(format!("ref_variant = {}", toml_string(v)));
    }
    if let Some(f) = &b.format {
        fields.push(format!("format = \"{}\"", format_spelling(f.style)));
        if let Some(at) = f.format_arg {
            fields.push(format!("format_arg = {at}"));
        }
        fields.push(format!("varargs_arg = {}", f.varargs));
    }
    flag(fields, b.zero_for_null, "zero_for_null");
    if let Some((lo, hi)) = b.succeeds_for {
        fields.push(format!("succeeds_for = [{lo}, {hi}]"));
    }
    if !b.succeeds_on_types.is_empty() {
        let names: Vec<String> = b.succeeds_on_types.iter().map(|n| toml_string(n)).collect();
        fields.push(format!("succeeds_on_types = [{}]", names.join(", ")));
    }
    if let Some(t) = &b.result_type {
        fields.push(format!("result_type = {}", toml_string(t)));
    }
    if let Some(t) = &b.tests_type {
        fields.push(format!("tests_type = {}", toml_string(t)));
    }
    if let Some(v) = &b.validates {
        fields.push(format!("validates = {}", toml_string(v)));
    }
    if b.fails_when != FailsWhen::Caller {
        fields.push(format!(
            "fails_when = \"{}\"",
            fails_when_spelling(b.fails_when)
        ));
    }
}

fn render_entry(entry: &ApiEntry) -> String {
    let contract = &entry.contract;
    let mut fields = vec![
        format!("returns = \"{}\"", returns_spelling(contract.returns)),
        format!("failure = \"{}\"", failure_spelling(contract.failure)),
    ];
    if contract.exc != ExcEffect::OnFailure {
        fields.push(format!("exc = \"{}\"", exc_effect_spelling(contract.exc)));
    }
    if !contract.args.is_empty() {
        let args: Vec<String> = contract
            .args
            .iter()
            .map(|a| format!("\"{}\"", arg_effect_spelling(*a)))
            .collect();
        fields.push(format!("args = [{}]", args.join(", ")));
    }
    if !entry.also_nullable.is_empty() {
        let positions: Vec<String> = entry.also_nullable.iter().map(usize::to_string).collect();
        fields.push(format!("also_nullable = [{}]", positions.join(", ")));
    }
    if contract.noreturn {
        fields.push("noreturn = true".to_string());
    }
    if entry.is_macro {
        fields.push("macro = true".to_string());
    }
    if entry.limited_api {
        fields.push("limited = true".to_string());
    }
    if let Some(added) = entry.added {
        fields.push(format!("added = \"{}\"", version_spelling(added)));
    }
    if let Some(removed) = entry.removed {
        fields.push(format!("removed = \"{}\"", version_spelling(removed)));
    }
    render_behaviour(&entry.behaviour, &mut fields);
    if !entry.param_names.is_empty() {
        let params: Vec<String> = entry.param_names.iter().map(|p| toml_string(p)).collect();
        fields.push(format!("params = [{}]", params.join(", ")));
    }
    format!("{} = {{ {} }}", entry.name, fields.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFCOUNTS: &str = "\
PyList_SetItem:int:::
PyList_SetItem:PyObject*:list:0:
PyList_SetItem:Py_ssize_t:index::
PyList_SetItem:PyObject*:item:0:

PySet_Discard:int:::
PySet_Discard:PyObject*:set:0:
PySet_Discard:PyObject*:key:-1:

PyErr_Fetch:void:::
PyErr_Fetch:PyObject**:ptype:0:
";

    fn sources<'a>(overrides: &'a str) -> Sources<'a> {
        Sources {
            refcounts: REFCOUNTS,
            stable_abi: "[function.PyList_SetItem]\nadded = '3.2'\n",
            overrides,
        }
    }

    const FETCH: &str =
        "[function.PyErr_Fetch]\nwhy = \"w\"\nargs = { ptype = \"out_new_maybe_null\" }\n";

    fn entry<'a>(entries: &'a [ApiEntry], name: &str) -> &'a ApiEntry {
        entries
            .iter()
            .find(|e| e.name == name)
            .expect("entry exists")
    }

    #[test]
    fn refcounts_alone_gives_its_minus_one_as_a_steal() {
        let entries = merge(&sources(FETCH)).expect("valid");
        let discard = entry(&entries, "PySet_Discard");
        assert_eq!(discard.contract.arg(1), ArgEffect::Steal);
        assert_eq!(discard.contract.failure, Failure::Never);
        assert!(entry(&entries, "PyList_SetItem").limited_api);
        assert!(!discard.limited_api);
    }

    #[test]
    fn function_table_beats_group_beats_refcounts() {
        let overrides = format!(
            "{FETCH}\
             [[group]]\nwhy = \"g\"\nnames = [\"PyList_SetItem\", \"PySet_Discard\"]\nfailure = \"neg_one\"\n\
             args = {{}}\n\
             [[group]]\nwhy = \"g2\"\nnames = [\"PySet_Discard\"]\nargs = {{ key = \"borrow\" }}\n\
             [function.PySet_Discard]\nwhy = \"f\"\nfailure = \"tri_state\"\n\
             [function.PyList_SetItem]\nwhy = \"f\"\nargs = {{ item = \"steal\" }}\n"
        );
        let entries = merge(&sources(&overrides)).expect("valid");
        let discard = entry(&entries, "PySet_Discard");
        assert_eq!(
            discard.contract.failure,
            Failure::TriState,
            "function beats group"
        );
        assert_eq!(
            discard.contract.arg(1),
            ArgEffect::Borrow,
            "group beats refcounts"
        );
        let set_item = entry(&entries, "PyList_SetItem");
        assert_eq!(set_item.contract.failure, Failure::NegOne, "group applies");
        assert_eq!(set_item.contract.arg(2), ArgEffect::Steal);
    }

    #[test]
    fn two_groups_setting_one_field_is_an_error() {
        let overrides = format!(
            "{FETCH}\
             [[group]]\nwhy = \"a\"\nnames = [\"PySet_Discard\"]\nfailure = \"neg_one\"\n\
             [[group]]\nwhy = \"b\"\nnames = [\"PySet_Discard\"]\nfailure = \"tri_state\"\n"
        );
        let error = merge(&sources(&overrides)).expect_err("conflict");
        assert!(
            error.to_string().contains("two groups set `failure`"),
            "{error}"
        );
    }

    #[test]
    fn nullable_on_a_steal_is_kept_beside_the_steal() {
        let overrides = format!(
            "{FETCH}[function.PySet_Discard]\nwhy = \"w\"\nnullable = [\"key\", \"set\"]\n"
        );
        let entries = merge(&sources(&overrides)).expect("valid");
        let discard = entry(&entries, "PySet_Discard");
        assert_eq!(discard.contract.arg(0), ArgEffect::Nullable);
        assert_eq!(discard.contract.arg(1), ArgEffect::Steal);
        assert_eq!(discard.also_nullable, [1]);
        assert!(discard.accepts_null(0) && discard.accepts_null(1));
    }

    #[test]
    fn mistakes_in_overrides_are_reported() {
        let cases = [
            ("", "PyObject**"),
            (
                "[function.PyList_Setitem]\nwhy = \"typo\"\nfailure = \"neg_one\"\n",
                "misspelt",
            ),
            (
                "[function.PyList_SetItem]\nwhy = \"w\"\nargs = { value = \"steal\" }\n",
                "no parameter named `value`",
            ),
            (
                "[function.PyList_SetItem]\nwhy = \"w\"\nparams = [\"a\"]\n",
                "already names the parameters",
            ),
            ("[function.PyList_SetItem]\nwhy = \"\"\n", "`why`"),
            ("[function.PyList_SetItem]\nfailure = \"neg_one\"\n", "missing field `why`"),
            (
                "[function.PyList_SetItem]\nwhy = \"w\"\nfailure = \"sometimes\"\n",
                "unknown variant",
            ),
            (
                "[function.PyList_SetItem]\nwhy = \"w\"\nadded = \"3\"\n",
                "MAJOR.MINOR",
            ),
            (
                "[function.PyList_SetItem]\nwhy = \"w\"\nreturns = \"void\"\nfailure = \"neg_one\"\n",
                "void function",
            ),
            ("[[group]]\nwhy = \"w\"\nfailure = \"never\"\n", "needs `names`"),
            (
                "[function.PyList_SetItem]\nwhy = \"w\"\ncolour = 1\n",
                "unknown field `colour`",
            ),
            (
                "[function.PyList_SetItem]\nwhy = \"w\"\nkeeps = [\"value\"]\n",
                "no parameter named `value`",
            ),
            (
                "[function.PyList_SetItem]\nwhy = \"w\"\ngil = \"sometimes\"\n",
                "unknown variant",
            ),
            (
                "[[group]]\nwhy = \"a\"\nnames = [\"PyList_SetItem\"]\nruns_code = true\n\
                 [[group]]\nwhy = \"b\"\nnames = [\"PyList_SetItem\"]\nruns_code = false\n",
                "two groups set `runs_code`",
            ),
        ];
        for (extra, needle) in cases {
            let overrides = if extra.contains("PyErr_Fetch") || needle == "PyObject**" {
                extra.to_string()
            } else {
                format!("{FETCH}{extra}")
            };
            let error = merge(&sources(&overrides)).expect_err(extra);
            assert!(error.to_string().contains(needle), "{extra:?}: {error}");
        }
    }

    #[test]
    fn new_functions_need_returns_and_failure_and_get_their_version() {
        let overrides = format!(
            "{FETCH}[function.PyDict_GetItemRef]\nwhy = \"3.13\"\nreturns = \"not_object\"\n\
             failure = \"tri_state\"\nparams = [\"p\", \"key\", \"result\"]\n\
             args = {{ result = \"out_new\" }}\nadded = \"3.13\"\n"
        );
        let entries = merge(&sources(&overrides)).expect("valid");
        let get = entry(&entries, "PyDict_GetItemRef");
        assert_eq!(get.added, Some((3, 13)));
        assert_eq!(
            get.contract.args,
            [ArgEffect::Borrow, ArgEffect::Borrow, ArgEffect::OutNew]
        );
        assert_eq!(get.param_names, ["p", "key", "result"]);
    }

    #[test]
    fn behaviour_facts_are_merged_and_rendered() {
        let overrides = format!(
            "{FETCH}[[group]]\nwhy = \"w\"\nnames = [\"PyList_SetItem\"]\nruns_code = true\nkeeps = [\"item\"]\n\
             [function.PyList_SetItem]\nwhy = \"w\"\ngil = \"not_needed\"\n"
        );
        let entries = merge(&sources(&overrides)).expect("merges");
        let set = entry(&entries, "PyList_SetItem");
        assert!(set.behaviour.runs_code);
        assert_eq!(set.behaviour.keeps, [2]);
        assert_eq!(set.behaviour.gil, Gil::NotNeeded);
        let line = render(&entries);
        assert!(
            line.contains("runs_code = true, keeps = [2], gil = \"not_needed\""),
            "{line}"
        );
        let loaded = crate::KnowledgeBase::from_toml_str(&line).expect("loads");
        assert_eq!(
            loaded.get("PyList_SetItem").map(|e| &e.behaviour),
            Some(&set.behaviour)
        );
    }

    #[test]
    fn macro_names() {
        assert!(looks_like_macro("PyTuple_GET_ITEM"));
        assert!(looks_like_macro("Py_INCREF"));
        assert!(looks_like_macro("PyUnicode_1BYTE_DATA"));
        assert!(!looks_like_macro("PyList_SetItem"));
        assert!(!looks_like_macro("_Py_c_diff"));
        assert!(!looks_like_macro("Py_AtExit"));
    }
}
