use super::Verdict;
use crate::violation::{plain_name, Kind, Lost, Violation};
use refsan_ir::ApiFacts;
use refsan_ir::{Precision, RuleMeta, Severity};

pub static META: RuleMeta = RuleMeta {
    code: "RS101",
    name: "leaked-reference",
    severity: Severity::Error,
    summary:
        "an owned (new) reference is neither returned, stored, stolen nor released on some path",
    doc: r#"# RS101 leaked-reference

## What it does
Finds new references that the function owns and then loses on some path:
it returns, jumps to an error label, overwrites the variable, or discards
a call's result without releasing it, returning it, storing it
or handing it to a stealing API. Error paths are the usual place: a
`goto error` that skips a `Py_DECREF`, an early `return NULL`. A reference
lost at several returns, or overwritten in a loop and lost again at a
return, is one finding, at the first of them, whose message lists the
lines of the others.

An object's field owns a reference when the type's `tp_dealloc` or
`tp_clear` releases it. `__init__` can be called again on an initialised
object and a setter runs many times, so a `tp_init` or a setter that
overwrites such a field of `self` (or sets it to NULL) without releasing or
even looking at what it held leaks that reference: a warning, one per
function, listing the other fields it overwrites the same way.

## Why is this bad?
The object's reference count never drops to zero: it and everything it
refers to stay in memory forever. In a function called in a loop the leak
grows without bound.

## Example
```c
static PyObject *
pair(PyObject *self, PyObject *args)
{
    PyObject *list = PyList_New(0);
    if (list == NULL)
        return NULL;
    if (PyList_Append(list, args) < 0)
        return NULL;            /* `list` leaks here */
    return list;
}
```

Use instead:
```c
    if (PyList_Append(list, args) < 0) {
        Py_DECREF(list);
        return NULL;
    }
```

## Known problems
A helper defined in another source of the project is known by its summary; one from another library has unknown ownership, so a leak of its result, or one it makes, is not seen. A function over the analysis budget (`--show-notes` lists them) is checked on the paths that were explored only. A reference stored into a C struct whose owner is not visible is not tracked.

## Options
Ownership of functions refsan cannot see (defined in another file or library) can be stated in `[tool.refsan.functions]` (`returns`, `steals`, `fails`); otherwise calls to them are taken to borrow their arguments.

## References
- https://docs.python.org/3/c-api/intro.html#reference-counts
- https://docs.python.org/3/c-api/refcounting.html
"#,
    tags: &["reference-counting", "memory-leak"],
    precision: Precision::Medium,
};

/// Claims every lost reference the refining rules (RS106, RS401, RS402)
/// leave, discarded results, and references returned once too often.
pub fn judge(v: &Violation, _facts: &dyn ApiFacts) -> Option<Verdict> {
    match &v.kind {
        Kind::Lost { value, how, .. } => {
            let (message, last) = match how {
                Lost::Return => (
                    format!("{value} leaks: the function returns without releasing it"),
                    format!("{value} leaks here"),
                ),
                Lost::Overwrite { var } => (
                    format!(
                        "{value} leaks: `{var}` is overwritten while it holds the only reference"
                    ),
                    format!("`{var}` is overwritten here"),
                ),
                Lost::Temp { callee } => (
                    format!("the new reference returned by `{callee}` is never released: it leaks"),
                    "the reference is lost here".to_string(),
                ),
            };
            Some(Verdict::new(message, last, release_help(value)))
        }
        Kind::Discarded { callee } => Some(Verdict::new(
            format!("the new reference returned by `{callee}` is discarded and leaks"),
            format!("the result of `{callee}` is discarded here"),
            Some("keep the result and release it with Py_DECREF".to_string()),
        )),
        // Only the project's code says the field owns a reference: a
        // warning.
        Kind::FieldOverwritten {
            place,
            released_by,
            role,
            cleared,
            also,
        } => {
            let (done, help) = if *cleared {
                ("set to NULL", format!("release it first: `Py_CLEAR({place})`"))
            } else {
                (
                    "overwritten",
                    format!("release the old value: `Py_XSETREF({place}, new_value)`"),
                )
            };
            let mut verdict = Verdict::new(
                format!(
                    "`{place}` is {done} without releasing the reference it may already hold \
                     when {role} runs (`{released_by}` releases the field, so it owns one): \
                     that reference leaks{}",
                    also_text(also)
                ),
                format!("`{place}` is {done} here"),
                Some(help),
            );
            verdict.severity = Some(Severity::Warning);
            Some(verdict)
        }
        Kind::ReturnedWithExtra { value, extra } => {
            let message = if *extra == 1 {
                format!("{value} leaks: it is returned with one reference too many")
            } else {
                format!("{value} leaks: it is returned with {extra} references too many")
            };
            Some(Verdict::new(
                message,
                format!("{value} is returned here"),
                None,
            ))
        }
        _ => None,
    }
}

/// The other fields a function overwrites the same way.
fn also_text(also: &[(String, u32)]) -> String {
    match also {
        [] => String::new(),
        [(p, line)] => format!("; so is `{p}` (line {line})"),
        _ => {
            let list: Vec<String> = also
                .iter()
                .map(|(p, l)| format!("`{p}` (line {l})"))
                .collect();
            format!(
                "; {} more fields are overwritten the same way: {}",
                also.len(),
                list.join(", ")
            )
        }
    }
}

/// The help line of a leak: release the variable, when it has a name.
pub fn release_help(value: &str) -> Option<String> {
    plain_name(value)
        .map(|v| format!("release it with `Py_DECREF({v})` (or `Py_XDECREF`) on this path"))
}

#[cfg(test)]
mod tests {
    use crate::test_support::{check, check_c};
    use refsan_ir::Language;

    /// greenlet's `OwnedObject::consuming(PyTuple_Pack(...))`: a C++
    /// factory takes the new reference over (its destructor releases it);
    /// a plain C call does not.
    #[test]
    fn cxx_owners_take_new_references_over() {
        check(
            Language::Cpp,
            "RS101",
            r#"
static PyObject *
pack(PyObject *self, PyObject *args)
{
    OwnedObject lhs = OwnedObject::consuming(PyTuple_Pack(2, self, args));
    auto holder = std::make_unique<Holder>(PyList_New(0));
    use_tuple(PyTuple_Pack(1, self));
 // ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ RS101
    Py_RETURN_NONE;
}
"#,
        );
    }

    #[test]
    fn leak_on_a_later_error_path() {
        check_c(
            "RS101",
            r#"
static PyObject *
pair(PyObject *self, PyObject *args)
{
    PyObject *first, *second;
    PyObject *list = PyList_New(0);
    if (list == NULL)
        return NULL;
    if (!PyArg_ParseTuple(args, "OO", &first, &second))
        return NULL;
     // ^^^^^^^^^^^^ RS101: `list` leaks
    if (PyList_Append(list, first) < 0)
        goto error;
    if (PyList_Append(list, second) < 0)
        goto error;
    return list;
error:
    Py_DECREF(list);
    return NULL;
}
"#,
        );
    }

    #[test]
    fn leak_of_a_helper_s_new_reference() {
        check_c(
            "RS101",
            r#"
static PyObject *
make_key(long n)
{
    return PyLong_FromLong(n);
}

static PyObject *
lookup(PyObject *self, PyObject *d)
{
    PyObject *key = make_key(42);
    if (key == NULL)
        return NULL;
    int found = PyDict_Contains(d, key);
    if (found < 0)
        return NULL;
     // ^^^^^^^^^^^^ RS101: `key` leaks
    Py_DECREF(key);
    return PyBool_FromLong(found);
}
"#,
        );
    }

    #[test]
    fn released_stolen_or_returned_on_every_path() {
        check_c(
            "RS101",
            r#"
static PyObject *
pair(PyObject *self, PyObject *args)
{
    PyObject *first, *second;
    if (!PyArg_ParseTuple(args, "OO", &first, &second))
        return NULL;
    PyObject *tuple = PyTuple_New(2);
    if (tuple == NULL)
        return NULL;
    PyObject *n = PyLong_FromLong(2);
    if (n == NULL) {
        Py_DECREF(tuple);
        return NULL;
    }
    PyTuple_SET_ITEM(tuple, 0, n);
    Py_INCREF(first);
    PyTuple_SET_ITEM(tuple, 1, first);
    return tuple;
}
"#,
        );
    }
}
