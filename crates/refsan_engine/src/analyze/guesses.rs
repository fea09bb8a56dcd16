//! Facts about C-API functions guessed from their names.

/// Arguments a C-API function stores (taking its own reference) in the
/// container it gets as first argument.
pub(super) fn kept_arguments(callee: &str) -> &'static [usize] {
    match callee {
        "PyDict_SetItem" | "PyObject_SetItem" | "_PyDict_SetItem_KnownHash" => &[1, 2],
        "_PyDict_SetItemId" | "_PyObject_SetAttrId" => &[2],
        "PyDict_SetItemString"
        | "PyObject_SetAttr"
        | "PyObject_SetAttrString"
        | "PyModule_AddObjectRef"
        | "PyList_Insert"
        | "PyObject_GenericSetAttr"
        | "PyDict_SetDefault" => &[2],
        "PyList_Append" | "PySet_Add" | "_PyList_AppendTakeRef" => &[1],
        _ => &[],
    }
}

/// APIs that make a new object nobody else refers to yet.
pub(super) fn is_constructor(callee: &str) -> bool {
    callee.ends_with("_New")
        || callee.contains("_New")
        || callee.contains("Copy")
        || callee.ends_with("_Pack")
        || matches!(
            callee,
            "PySequence_List"
                | "PySequence_Tuple"
                | "PySequence_Fast"
                | "PyDict_Items"
                | "PyDict_Keys"
                | "PyDict_Values"
                | "PyMapping_Items"
                | "PyMapping_Keys"
                | "PyMapping_Values"
                | "PyObject_Dir"
                | "PyList_GetSlice"
                | "PyTuple_GetSlice"
                | "PyUnicode_Split"
                | "Py_BuildValue"
        )
}

/// Macros reading an item slot that a *_SET_ITEM can overwrite.
pub(super) fn is_item_getter(callee: &str) -> bool {
    matches!(
        callee,
        "PyTuple_GET_ITEM"
            | "PyList_GET_ITEM"
            | "PyStructSequence_GET_ITEM"
            | "PyStructSequence_GetItem"
    )
}

/// APIs that return a borrowed item of a mutable container.
pub(super) fn borrows_volatile_item(callee: &str) -> bool {
    callee.starts_with("PyDict_GetItem")
        || callee.starts_with("_PyDict_GetItem")
        || matches!(
            callee,
            "PyDict_Next" | "PyList_GetItem" | "PyList_GET_ITEM" | "PySequence_Fast_GET_ITEM"
        )
}

/// C-API calls that can run arbitrary Python code (and so mutate any
/// container).
pub(super) fn runs_python_code(callee: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "PyObject_Call",
        "PyObject_Vectorcall",
        "PyObject_GetAttr",
        "PyObject_SetAttr",
        "PyObject_DelAttr",
        "PyObject_GetItem",
        "PyObject_SetItem",
        "PyObject_DelItem",
        "PyObject_RichCompare",
        "PyObject_Repr",
        "PyObject_Str",
        "PyObject_Hash",
        "PyObject_IsTrue",
        "PyObject_GetIter",
        "PyObject_Format",
        "PyNumber_",
        "PySequence_GetItem",
        "PySequence_SetItem",
        "PySequence_Contains",
        "PyMapping_",
        "PyIter_Next",
        "PyDict_SetItem",
        "PyDict_DelItem",
        "PyDict_Contains",
        "PyEval_Call",
        "PyImport_",
        "PyErr_Print",
        "PyErr_WriteUnraisable",
    ];
    PREFIXES.iter().any(|p| callee.starts_with(p))
}

/// The outcomes of a call with this contract.
/// What a NegOne API returns on success: 0 for status functions
/// (PyList_Append, PyModule_AddObject), any non-negative value for sizes,
/// indexes, hashes and comparisons.
pub(super) fn status_success(name: &str) -> (i64, i64) {
    const VALUED: &[&str] = &[
        "Size",
        "Length",
        "Count",
        "Index",
        "Hash",
        "Find",
        "Tailmatch",
        "Compare",
        "AsSsize",
        "GetLength",
        "Fileno",
        "AsFileDescriptor",
        "Read",
        "Write",
        "ToInt",
        "Merge",
        "_GET_",
        "Check",
    ];
    if VALUED.iter().any(|v| name.contains(v)) {
        (0, i64::MAX)
    } else {
        (0, 0)
    }
}
