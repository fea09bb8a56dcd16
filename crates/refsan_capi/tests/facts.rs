//! Facts the static checker relies on, read from the shipped knowledge base.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

use refsan_capi::{ApiEntry, KnowledgeBase};
use refsan_ir::{ArgEffect, ExcEffect, Failure, Returns};

fn entry(name: &str) -> &'static ApiEntry {
    match KnowledgeBase::builtin().get(name) {
        Some(entry) => entry,
        None => panic!("{name} is missing from the knowledge base"),
    }
}

fn returns(name: &str) -> Returns {
    entry(name).contract.returns
}

fn failure(name: &str) -> Failure {
    entry(name).contract.failure
}

fn arg(name: &str, position: usize) -> ArgEffect {
    entry(name).contract.arg(position)
}

#[test]
fn steal_always() {
    for (name, position) in [
        ("PyList_SetItem", 2),
        ("PyList_SET_ITEM", 2),
        ("PyTuple_SetItem", 2),
        ("PyTuple_SET_ITEM", 2),
        ("PyStructSequence_SetItem", 2),
        ("PyStructSequence_SET_ITEM", 2),
        ("PyModule_Add", 2),
        ("PyErr_Restore", 0),
        ("PyErr_Restore", 1),
        ("PyErr_Restore", 2),
        ("PyErr_SetRaisedException", 0),
        ("PyErr_SetExcInfo", 0),
        ("PyErr_SetExcInfo", 1),
        ("PyErr_SetExcInfo", 2),
        ("PyException_SetCause", 1),
        ("PyException_SetContext", 1),
        ("PyUnicode_AppendAndDel", 1),
        ("PyBytes_ConcatAndDel", 1),
        ("PyCell_SET", 1),
        ("Py_DECREF", 0),
        ("Py_XDECREF", 0),
        ("PyGen_New", 0),
    ] {
        assert_eq!(
            arg(name, position),
            ArgEffect::Steal,
            "{name} arg {position}"
        );
    }
}

#[test]
fn do_not_steal() {
    assert!(!entry("PyException_SetTraceback").contract.steals_any());
    assert!(!entry("PyModule_AddObjectRef").contract.steals_any());
    assert!(!entry("PyList_Append").contract.steals_any());
    assert!(!entry("PyDict_SetItem").contract.steals_any());
    assert!(!entry("PyCell_Set").contract.steals_any());
    // refcounts.dat says -1 for these; the caller's reference is untouched.
    assert!(!entry("PySet_Discard").contract.steals_any());
    assert!(!entry("PyContext_Exit").contract.steals_any());
}

#[test]
fn steal_on_success() {
    assert_eq!(arg("PyModule_AddObject", 2), ArgEffect::StealOnSuccess);
    assert_eq!(failure("PyModule_AddObject"), Failure::NegOne);
}

#[test]
fn stolen_arguments_that_accept_null() {
    for (name, position) in [
        ("PyErr_Restore", 0),
        ("PyException_SetCause", 1),
        ("Py_XDECREF", 0),
        ("PyModule_Add", 2),
    ] {
        let entry = entry(name);
        assert!(entry.accepts_null(position), "{name} arg {position}");
        assert!(entry.contract.steals_any(), "{name}");
    }
    assert!(!entry("Py_DECREF").accepts_null(0));
}

#[test]
fn borrowed_results() {
    for (name, expected) in [
        ("PyList_GetItem", Failure::Null),
        ("PyList_GET_ITEM", Failure::Never),
        ("PyTuple_GetItem", Failure::Null),
        ("PyTuple_GET_ITEM", Failure::Never),
        ("PyDict_GetItem", Failure::NullNoExc),
        ("PyDict_GetItemWithError", Failure::NullMaybeExc),
        ("PyDict_GetItemString", Failure::NullNoExc),
        ("PySequence_Fast_GET_ITEM", Failure::Never),
        ("PyModule_GetDict", Failure::Never),
        ("PyImport_AddModule", Failure::Null),
        ("PyImport_AddModuleObject", Failure::Null),
        ("PySys_GetObject", Failure::NullNoExc),
        ("PyErr_Occurred", Failure::NullNoExc),
        ("PyWeakref_GetObject", Failure::Null),
        ("PyWeakref_GET_OBJECT", Failure::Never),
        ("PyCell_GET", Failure::NullNoExc),
        ("Py_TYPE", Failure::Never),
    ] {
        assert_eq!(returns(name), Returns::Borrowed, "{name}");
        assert_eq!(failure(name), expected, "{name}");
    }
    for name in [
        "PyEval_GetBuiltins",
        "PyEval_GetGlobals",
        "PyEval_GetLocals",
    ] {
        assert_eq!(returns(name), Returns::Borrowed, "{name}");
    }
    assert_eq!(returns("PyModule_GetState"), Returns::NotObject);
    assert_eq!(arg("PyDict_Next", 2), ArgEffect::OutBorrowed);
    assert_eq!(arg("PyDict_Next", 3), ArgEffect::OutBorrowed);
}

#[test]
fn new_references_through_out_pointers() {
    let get_item_ref = entry("PyDict_GetItemRef");
    assert_eq!(get_item_ref.contract.failure, Failure::TriState);
    assert_eq!(get_item_ref.contract.arg(2), ArgEffect::OutNew);
    assert_eq!(get_item_ref.added, Some((3, 13)));
    assert!(!get_item_ref.available_in((3, 12)) && get_item_ref.available_in((3, 13)));
    for name in [
        "PyDict_GetItemStringRef",
        "PyDict_Pop",
        "PyDict_PopString",
        "PyMapping_GetOptionalItem",
        "PyMapping_GetOptionalItemString",
        "PyObject_GetOptionalAttr",
        "PyObject_GetOptionalAttrString",
    ] {
        assert_eq!(failure(name), Failure::TriState, "{name}");
        assert_eq!(arg(name, 2), ArgEffect::OutNew, "{name}");
        assert_eq!(entry(name).added, Some((3, 13)), "{name}");
    }
    assert_eq!(arg("PyDict_SetDefaultRef", 3), ArgEffect::OutNew);
    assert_eq!(arg("PyWeakref_GetRef", 1), ArgEffect::OutNew);
    assert_eq!(arg("PyIter_NextItem", 1), ArgEffect::OutNew);
    assert_eq!(entry("PyIter_NextItem").added, Some((3, 14)));

    let fetch = entry("PyErr_Fetch");
    assert_eq!(fetch.contract.exc, ExcEffect::Clears);
    for position in 0..3 {
        assert_eq!(fetch.contract.arg(position), ArgEffect::OutNewMaybeNull);
        assert_eq!(
            arg("PyErr_GetExcInfo", position),
            ArgEffect::OutNewMaybeNull
        );
    }
}

#[test]
fn new_references_returned() {
    for (name, expected) in [
        ("PyList_GetItemRef", Failure::Null),
        ("PyImport_AddModuleRef", Failure::Null),
        ("Py_NewRef", Failure::Never),
        ("Py_XNewRef", Failure::Never),
        ("PyErr_GetRaisedException", Failure::NullNoExc),
        ("PyErr_GetHandledException", Failure::NullNoExc),
        ("PyIter_Next", Failure::NullMaybeExc),
        ("PyObject_Vectorcall", Failure::Null),
        ("PyObject_GetAttr", Failure::Null),
    ] {
        assert_eq!(returns(name), Returns::New, "{name}");
        assert_eq!(failure(name), expected, "{name}");
    }
    assert_eq!(
        entry("PyErr_GetRaisedException").contract.exc,
        ExcEffect::Clears
    );
    assert_eq!(entry("PyErr_GetRaisedException").added, Some((3, 12)));
    assert!(entry("Py_XNewRef").accepts_null(0));
}

#[test]
fn replace_in_place() {
    for (name, position) in [
        ("PyUnicode_Append", 0),
        ("PyUnicode_AppendAndDel", 0),
        ("PyBytes_Concat", 0),
        ("PyBytes_ConcatAndDel", 0),
        ("_PyTuple_Resize", 0),
        ("_PyBytes_Resize", 0),
        ("PyUnicode_InternInPlace", 0),
    ] {
        assert_eq!(arg(name, position), ArgEffect::ReplaceInPlace, "{name}");
    }
    assert_eq!(failure("PyUnicode_InternInPlace"), Failure::Never);
    assert_eq!(failure("_PyTuple_Resize"), Failure::NegOne);
}

#[test]
fn failure_modes() {
    for (name, expected) in [
        ("PyList_Check", Failure::Never),
        ("PyTuple_CheckExact", Failure::Never),
        ("Py_IS_TYPE", Failure::Never),
        ("PyList_GET_SIZE", Failure::Never),
        ("PyObject_Size", Failure::Negative),
        ("PyList_Size", Failure::Negative),
        ("PyObject_Hash", Failure::Negative),
        ("PyList_Append", Failure::NegOne),
        ("PyObject_IsTrue", Failure::TriState),
        ("PyObject_Not", Failure::TriState),
        ("PyObject_IsInstance", Failure::TriState),
        ("PyObject_IsSubclass", Failure::TriState),
        ("PyObject_RichCompareBool", Failure::TriState),
        ("PySequence_Contains", Failure::TriState),
        ("PyDict_Contains", Failure::TriState),
        ("PyArg_ParseTuple", Failure::Zero),
        ("PyArg_ParseTupleAndKeywords", Failure::Zero),
        ("PyArg_Parse", Failure::Zero),
        ("PyArg_UnpackTuple", Failure::Zero),
        ("PyLong_AsLong", Failure::Ambiguous),
        ("PyLong_AsSsize_t", Failure::Ambiguous),
        ("PyFloat_AsDouble", Failure::Ambiguous),
        ("PyList_Append", Failure::NegOne),
        ("PyList_Insert", Failure::NegOne),
        ("PyList_SetSlice", Failure::NegOne),
        ("PyDict_SetItem", Failure::NegOne),
        ("PyDict_SetItemString", Failure::NegOne),
        ("PyDict_DelItem", Failure::NegOne),
        ("PyObject_SetAttr", Failure::NegOne),
        ("PyObject_SetAttrString", Failure::NegOne),
        ("PyModule_AddIntConstant", Failure::NegOne),
        ("PyModule_AddStringConstant", Failure::NegOne),
        ("PyModule_AddType", Failure::NegOne),
        ("PyModule_AddObjectRef", Failure::NegOne),
        ("PyType_Ready", Failure::NegOne),
        ("PyErr_BadArgument", Failure::Zero),
    ] {
        assert_eq!(failure(name), expected, "{name}");
    }
}

#[test]
fn exception_state() {
    for name in [
        "PyErr_Format",
        "PyErr_NoMemory",
        "PyErr_SetFromErrno",
        "PyErr_SetFromErrnoWithFilenameObject",
    ] {
        assert_eq!(returns(name), Returns::New, "{name}");
        assert_eq!(failure(name), Failure::AlwaysNull, "{name}");
        assert_eq!(entry(name).contract.exc, ExcEffect::Sets, "{name}");
    }
    for name in [
        "PyErr_SetString",
        "PyErr_SetObject",
        "PyErr_SetNone",
        "PyErr_BadArgument",
    ] {
        assert_eq!(entry(name).contract.exc, ExcEffect::Sets, "{name}");
    }
    assert_eq!(entry("PyErr_Clear").contract.exc, ExcEffect::Clears);
    for name in ["Py_FatalError", "Py_Exit", "abort"] {
        assert!(entry(name).contract.noreturn, "{name}");
    }
    assert!(!entry("PyErr_Clear").contract.noreturn);
}

#[test]
fn nullable_arguments() {
    for (name, position) in [
        ("Py_XINCREF", 0),
        ("Py_XDECREF", 0),
        ("Py_XNewRef", 0),
        ("PyObject_Call", 2),
        ("PyObject_CallObject", 1),
        ("PyErr_Restore", 1),
        ("PyException_SetContext", 1),
    ] {
        assert!(entry(name).accepts_null(position), "{name} arg {position}");
    }
    assert!(!entry("PyObject_Call").accepts_null(1));
}

#[test]
fn versions() {
    for (name, added) in [
        ("PyModule_Add", (3, 13)),
        ("PyErr_SetRaisedException", (3, 12)),
        ("PyObject_HasAttrWithError", (3, 13)),
        ("PyLong_AsInt", (3, 13)),
        ("Py_GetConstant", (3, 13)),
        ("Py_GetConstantBorrowed", (3, 13)),
        ("PyUnicode_EqualToUTF8", (3, 13)),
        ("PyType_GetModuleByDef", (3, 11)),
        ("PyModule_AddObjectRef", (3, 10)),
        ("Py_NewRef", (3, 10)),
        ("PyObject_Vectorcall", (3, 9)),
        ("PyObject_VectorcallMethod", (3, 9)),
    ] {
        assert_eq!(entry(name).added, Some(added), "{name}");
    }
    assert_eq!(entry("PyList_Append").added, None);
    for (name, removed) in [
        ("PyEval_CallObject", (3, 13)),
        ("PyEval_CallObjectWithKeywords", (3, 13)),
        ("PyUnicode_AS_UNICODE", (3, 12)),
        ("PyUnicode_AsUnicode", (3, 12)),
    ] {
        assert_eq!(entry(name).removed, Some(removed), "{name}");
    }
}

#[test]
fn macros_and_limited_api() {
    for name in [
        "PyTuple_GET_ITEM",
        "PyList_SET_ITEM",
        "Py_INCREF",
        "Py_TYPE",
        "PySequence_Fast_GET_ITEM",
        "PyList_Check",
        "Py_NewRef",
    ] {
        assert!(entry(name).is_macro, "{name}");
    }
    for name in ["PyList_SetItem", "PyObject_ASCII", "PyErr_Fetch"] {
        assert!(!entry(name).is_macro, "{name}");
    }
    assert!(entry("PyList_SetItem").limited_api);
    assert!(entry("PyModule_AddObjectRef").limited_api);
    assert!(!entry("PyTuple_GET_ITEM").limited_api);
    assert!(!entry("_PyArg_Parse_SizeT").limited_api);
}

#[test]
fn parameter_names() {
    assert_eq!(
        entry("PyList_SetItem").param_names,
        ["list", "index", "item"]
    );
    assert_eq!(
        entry("PyDict_GetItemRef").param_names,
        ["p", "key", "result"]
    );
}

#[test]
fn builtin_is_parsed_once_and_complete() {
    let first = KnowledgeBase::builtin();
    let second = KnowledgeBase::builtin();
    assert!(std::ptr::eq(first, second));
    assert!(first.len() > 900, "{}", first.len());
    let mut previous = "";
    for entry in first.iter() {
        assert!(entry.name.as_str() > previous, "sorted and unique");
        previous = &entry.name;
    }
}
