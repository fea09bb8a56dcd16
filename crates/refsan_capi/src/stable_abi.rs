//! Reader for CPython's `Misc/stable_abi.toml`: which functions and macros
//! belong to the Limited API.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

use crate::KbError;

#[derive(Deserialize)]
struct StableAbiFile {
    #[serde(default)]
    function: BTreeMap<String, StableAbiItem>,
    #[serde(default, rename = "macro")]
    macros: BTreeMap<String, StableAbiItem>,
}

#[derive(Deserialize)]
struct StableAbiItem {
    /// Part of the stable ABI but not of the Limited API (private helpers
    /// behind public macros, items removed from the Limited API).
    #[serde(default)]
    abi_only: bool,
}

/// Names of the functions and macros of the Limited API.
pub fn limited_api_names(text: &str) -> Result<HashSet<String>, KbError> {
    let file: StableAbiFile = toml::from_str(text).map_err(|source| KbError::Toml {
        file: "stable_abi.toml",
        message: source.to_string(),
    })?;
    Ok(file
        .function
        .into_iter()
        .chain(file.macros)
        .filter(|(_, item)| !item.abi_only)
        .map(|(name, _)| name)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_and_macros_without_abi_only() {
        let names = limited_api_names(
            "[function.PyList_New]\nadded = '3.2'\n\
             [function._PyArg_Parse_SizeT]\nadded = '3.2'\nabi_only = true\n\
             [macro.Py_BEGIN_ALLOW_THREADS]\nadded = '3.2'\n\
             [struct.PyObject]\nadded = '3.2'\n",
        )
        .expect("valid test data");
        assert!(names.contains("PyList_New"));
        assert!(names.contains("Py_BEGIN_ALLOW_THREADS"));
        assert!(!names.contains("_PyArg_Parse_SizeT"));
        assert!(!names.contains("PyObject"));
    }

    #[test]
    fn the_shipped_file_parses() {
        let names = limited_api_names(include_str!("../data/stable_abi-3.11.toml"))
            .expect("shipped stable_abi.toml parses");
        assert!(names.contains("PyModule_AddObjectRef"));
        assert!(!names.contains("PyTuple_GET_ITEM"));
    }
}
