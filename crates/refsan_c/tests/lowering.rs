//! Snapshot tests of the lowering: each test is a small realistic snippet
//! and the IR dump (or the file-level facts) it produces. Update with
//! `INSTA_UPDATE=always cargo test -p refsan_c --test lowering` and review
//! the diff.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

use refsan_ir::{Language, Module, Role};
use std::fmt::Write;

fn lower(src: &str) -> Module {
    lower_as(src, Language::C)
}

fn lower_as(src: &str, language: Language) -> Module {
    let path = if language == Language::Cpp {
        "t.cpp"
    } else {
        "t.c"
    };
    let module = refsan_c::lower_file(path, src.as_bytes(), language);
    for f in &module.functions {
        if let Err(e) = f.validate() {
            panic!("invalid IR: {e}\n{}", f.dump());
        }
    }
    module
}

/// Every function's dump, plus its approximate regions.
fn dump(src: &str) -> String {
    dump_module(&lower(src))
}

fn dump_module(m: &Module) -> String {
    let mut out = m.dump();
    for f in &m.functions {
        for (span, why) in &f.approximate {
            let _ = writeln!(out, "approximate {}: line {}: {why}", f.name, span.line);
        }
        if let Some((c, source)) = &f.declared {
            let _ = writeln!(out, "declared {}: {c:?} ({source:?})", f.name);
        }
    }
    for p in &m.problems {
        let _ = writeln!(out, "problem line {}: {}", p.span.line, p.message);
    }
    out
}

/// The file-level facts of a module.
fn facts(m: &Module) -> String {
    let mut out = String::new();
    for s in &m.structs {
        let _ = writeln!(out, "struct {:?} object={}", s.names, s.is_object);
        for f in &s.fields {
            let _ = writeln!(out, "  {}: {} ({:?})", f.name, f.c_type, f.ty);
        }
    }
    for t in &m.method_tables {
        let _ = writeln!(out, "methods {}", t.name);
        for e in &t.entries {
            let _ = writeln!(
                out,
                "  {:?} -> {} {:?} @{}",
                e.py_name, e.func, e.flags, e.span.line
            );
        }
    }
    for t in &m.type_defs {
        let _ = writeln!(
            out,
            "type {} {:?} struct={:?} flags={:?}",
            t.name, t.kind, t.object_struct, t.flags
        );
        for s in &t.slots {
            let _ = writeln!(out, "  {} = {} @{}", s.slot, s.value, s.span.line);
        }
    }
    for d in &m.module_defs {
        let _ = writeln!(out, "module {}", d.name);
        for s in &d.slots {
            let _ = writeln!(out, "  {} = {}", s.slot, s.value);
        }
    }
    for d in &m.declarations {
        let _ = writeln!(
            out,
            "declaration {} -> {:?} params={} contract={:?}",
            d.name, d.returns, d.param_count, d.contract
        );
    }
    for s in &m.suppressions {
        let _ = writeln!(out, "suppression line {} {:?}", s.line, s.codes);
    }
    if m.free_threading {
        out.push_str("free-threading\n");
    }
    for p in &m.problems {
        let _ = writeln!(out, "problem line {}: {}", p.span.line, p.message);
    }
    out
}

// ---- CPython macros ----

#[test]
fn incref_decref_family() {
    insta::assert_snapshot!(dump(
        r#"
static PyObject *
pair(PyObject *self, PyObject *a, PyObject *b)
{
    Py_INCREF(a);
    Py_XINCREF(b);
    Py_DECREF(a);
    Py_XDECREF(b);
    Py_INCREF(Py_None);
    return Py_None;
}
"#
    ));
}

#[test]
fn clear_local_and_field() {
    insta::assert_snapshot!(dump(
        r#"
static int
Foo_clear(FooObject *self)
{
    PyObject *tmp = self->cache;
    Py_CLEAR(tmp);
    Py_CLEAR(self->first);
    Py_CLEAR(self->view.obj);
    return 0;
}
"#
    ));
}

#[test]
fn setref_and_xsetref() {
    insta::assert_snapshot!(dump(
        r#"
static int
Foo_set(FooObject *self, PyObject *value)
{
    PyObject *local = NULL;
    Py_SETREF(self->first, Py_NewRef(value));
    Py_XSETREF(local, PyObject_Str(value));
    Py_XDECREF(local);
    return 0;
}
"#
    ));
}

#[test]
fn newref_in_expressions() {
    insta::assert_snapshot!(dump(
        r#"
static PyObject *
get(FooObject *self, PyObject *args)
{
    PyObject *x = Py_NewRef(PyTuple_GET_ITEM(args, 0));
    PyObject *y = Py_XNewRef(self->maybe);
    Py_DECREF(x);
    Py_XDECREF(y);
    return Py_NewRef(self->first);
}
"#
    ));
}

#[test]
fn return_singletons_and_richcompare() {
    insta::assert_snapshot!(dump(
        r#"
static PyObject *
truth(PyObject *self, PyObject *arg)
{
    int r = PyObject_IsTrue(arg);
    if (r < 0)
        return NULL;
    if (r)
        Py_RETURN_TRUE;
    if (arg == self)
        Py_RETURN_NONE;
    if (arg != Py_None)
        Py_RETURN_NOTIMPLEMENTED;
    Py_RETURN_FALSE;
}

static PyObject *
Foo_richcompare(FooObject *a, FooObject *b, int op)
{
    Py_RETURN_RICHCOMPARE(a->value, b->value, op);
}
"#
    ));
}

#[test]
fn visit_in_traverse() {
    insta::assert_snapshot!(dump(
        r#"
static int
Foo_traverse(FooObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->first);
    Py_VISIT(Py_TYPE(self));
    return 0;
}
"#
    ));
}

#[test]
fn gil_release_without_semicolons() {
    insta::assert_snapshot!(dump(
        r#"
static PyObject *
sleep_a_bit(PyObject *self, PyObject *arg)
{
    int r;
    Py_BEGIN_ALLOW_THREADS
    r = usleep(10);
    Py_END_ALLOW_THREADS
    if (r < 0) {
        Py_BLOCK_THREADS
        PyErr_SetFromErrno(PyExc_OSError);
        Py_UNBLOCK_THREADS
    }
    Py_RETURN_NONE;
}
"#
    ));
}

#[test]
fn paths_that_never_return() {
    insta::assert_snapshot!(dump(
        r#"
static int
kind(PyObject *o)
{
    assert(o != NULL);
    switch (Py_TYPE(o)->tp_flags & 3) {
    case 0: return 0;
    case 1: Py_FatalError("bad object");
    case 2: abort();
    default:
        Py_UNREACHABLE();
    }
}
"#
    ));
}

// ---- control flow ----

#[test]
fn if_else_chains() {
    insta::assert_snapshot!(dump(
        r#"
static int
sign(int x)
{
    int s;
    if (x > 0)
        s = 1;
    else if (x < 0)
        s = -1;
    else {
        s = 0;
    }
    return s;
}
"#
    ));
}

#[test]
fn loops_with_break_and_continue() {
    insta::assert_snapshot!(dump(
        r#"
static PyObject *
collect(PyObject *self, PyObject *seq)
{
    PyObject *it = PyObject_GetIter(seq), *item;
    Py_ssize_t i, n = 0;
    if (it == NULL)
        return NULL;
    while ((item = PyIter_Next(it)) != NULL) {
        if (item == Py_None) {
            Py_DECREF(item);
            continue;
        }
        Py_DECREF(item);
        if (++n > 10)
            break;
    }
    for (i = 0; i < n; i++) {
        if (i == 3) break;
    }
    do {
        n--;
    } while (n > 0);
    for (;;) {
        if (n == 0) break;
    }
    Py_DECREF(it);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}
"#
    ));
}

#[test]
fn switch_fallthrough_and_missing_default() {
    insta::assert_snapshot!(dump(
        r#"
static int
classify(int op)
{
    int r = 0;
    switch (op) {
    case Py_LT:
    case Py_LE:
        r = 1;
        /* fall through */
    case Py_EQ:
        r += 1;
        break;
    case Py_NE:
        return -1;
    }
    return r;
}
"#
    ));
}

#[test]
fn goto_forward_and_backward() {
    insta::assert_snapshot!(dump(
        r#"
static PyObject *
retry(PyObject *self, PyObject *arg)
{
    PyObject *result = NULL;
    int attempts = 0;
again:
    result = PyObject_CallNoArgs(arg);
    if (result == NULL) {
        if (++attempts < 3)
            goto again;
        goto error;
    }
    return result;
error:
    return NULL;
    Py_DECREF(arg);
}
"#
    ));
}

#[test]
fn constant_conditions_do_not_branch() {
    insta::assert_snapshot!(dump(
        r#"
static void
constants(PyObject *o)
{
    if (0) {
        Py_DECREF(o);
    }
    while (1) {
        if (o) break;
    }
    do {
        Py_INCREF(o);
    } while (0);
    if (!0)
        Py_DECREF(o);
}
"#
    ));
}

#[test]
fn short_circuit_conditions() {
    insta::assert_snapshot!(dump(
        r#"
static int
check(PyObject *a, PyObject *b, int r, PyObject **out)
{
    if (a == NULL || !b)
        return -1;
    if (NULL != a && r != 0 && 0 > r)
        return -2;
    if (!(r == -1) && PyErr_Occurred() == NULL)
        return -3;
    if ((*out = PyObject_Repr(a)) == NULL)
        return -4;
    if (PyObject_IsTrue(b) < 0 || !PyCallable_Check(b))
        return -5;
    if (a == b)
        return -6;
    return r ? 1 : (b ? 2 : 3);
}
"#
    ));
}

// ---- expressions ----

#[test]
fn nested_calls_use_temporaries() {
    insta::assert_snapshot!(dump(
        r#"
static PyObject *
build(PyObject *self, PyObject *args)
{
    PyObject *x = PyObject_CallFunction(func, "OO", PyLong_FromLong(1), PyUnicode_FromString("a"));
    PyList_Append(x, PyTuple_GET_ITEM(args, 0));
    (void)PyObject_Hash(x);
    Py_ssize_t n = PyList_GET_SIZE(x) + PyTuple_GET_SIZE(args) * 2;
    return PyTuple_Pack(2, x, PyLong_FromSsize_t(n));
}
"#
    ));
}

#[test]
fn field_reads_stores_and_places() {
    insta::assert_snapshot!(dump(
        r#"
static PyObject *global_cache;

static int
places(FooObject *self, PyObject **items, PyObject *v)
{
    PyObject *first = self->first;
    PyObject *deep = self->state->module;
    Py_ssize_t len = self->view.len;
    self->first = v;
    items[0] = v;
    *items = v;
    global_cache = v;
    first = items[1];
    len += 1;
    self->count++;
    return Py_TYPE(self)->tp_flags != 0;
}
"#
    ));
}

#[test]
fn out_parameters_and_addresses() {
    insta::assert_snapshot!(dump(
        r#"
static PyObject *
parse(PyObject *self, PyObject *args)
{
    PyObject *obj, *value = NULL;
    int flag = 0;
    if (!PyArg_ParseTuple(args, "O|i", &obj, &flag))
        return NULL;
    if (PyDict_GetItemRef(self->dict, obj, &value) < 0)
        return NULL;
    PyObject_GetBuffer(obj, &self->view, PyBUF_SIMPLE);
    return PyObject_Call(&PyList_Type, value, NULL);
}
"#
    ));
}

#[test]
fn literals_and_casts() {
    insta::assert_snapshot!(dump(
        r#"
static PyObject *
literals(PyObject *self)
{
    PyObject *p = (PyObject *)0;
    PyObject *q = ((void *)0);
    long a = 0x1F, b = -42L, c = 'x', d = '\n';
    const char *s = "abc" "def";
    PyObject *r = (PyObject *)self;
    PyObject *t = (PyObject *)PyLong_FromLong(a);
    return Py_BuildValue("(Oi)", t, b);
}
"#
    ));
}

#[test]
fn assignment_chains_and_pointer_zero() {
    insta::assert_snapshot!(dump(
        r#"
static PyObject *
chains(FooObject *self, PyObject **out)
{
    PyObject *a, *b;
    a = b = PyList_New(0);
    self->first = self->last = a;
    *out = 0;
    self->first = 0;
    b = 0;
    if (a == 0)
        return 0;
    return b;
}
"#
    ));
}

#[test]
fn static_locals_are_globals() {
    insta::assert_snapshot!(dump(
        r#"
static PyObject *
cached(PyObject *self)
{
    static PyObject *cache = NULL;
    if (cache == NULL) {
        cache = PyUnicode_InternFromString("x");
        if (cache == NULL)
            return NULL;
    }
    return Py_NewRef(cache);
}
"#
    ));
}

#[test]
fn shadowing_resolves_to_innermost() {
    let m = lower(
        r#"
static PyObject *
shadow(PyObject *x)
{
    PyObject *r = x;
    {
        PyObject *x = PyList_New(0);
        r = x;
    }
    return x;
}
"#,
    );
    let f = m.function("shadow").expect("lowered");
    let param = f.params[0];
    let inner = f
        .vars
        .iter()
        .position(|v| v.name == "x" && v.kind == refsan_ir::VarKind::Local)
        .map(|i| refsan_ir::VarId(i as u32))
        .expect("inner x");
    let stmts: Vec<&StmtKind> = f.blocks[0].stmts.iter().map(|s| &s.kind).collect();
    use refsan_ir::{Callee, Operand, StmtKind, Terminator};
    assert!(matches!(stmts[0], StmtKind::Assign { src: Operand::Var(v), .. } if *v == param));
    assert!(
        matches!(stmts[1], StmtKind::Call { dst: Some(d), callee: Callee::Named(_), .. } if *d == inner)
    );
    assert!(matches!(stmts[2], StmtKind::Assign { src: Operand::Var(v), .. } if *v == inner));
    assert!(matches!(&f.blocks[0].term, Terminator::Return(Some(Operand::Var(v))) if *v == param));
}

// ---- preprocessor ----

#[test]
fn preprocessor_arms_in_a_body() {
    insta::assert_snapshot!(dump(
        r#"
static PyObject *
platform(PyObject *self)
{
#ifdef MS_WINDOWS
    PyObject *r = win_impl();
#elif defined(__APPLE__)
    PyObject *r = mac_impl();
#else
    PyObject *r = posix_impl();
#endif
#if 0
    Py_DECREF(r);
#endif
#ifndef NDEBUG
    check(r);
#endif
    return r;
}
"#
    ));
}

#[test]
fn if_body_split_by_preprocessor() {
    insta::assert_snapshot!(dump(
        r#"
static int
pick(PyObject *self)
{
    if (self == NULL)
#ifdef BIG_ENDIAN
        flag = be();
#else
        flag = le();
#endif
    return 0;

exit:
#ifndef MS_WINDOWS
    done();
#endif
    return 1;
}
"#
    ));
}

#[test]
fn same_file_macros_are_expanded() {
    insta::assert_snapshot!(dump(
        r#"
#define CHECK(x) do { if ((x) == NULL) goto error; } while (0)
#define GET(o, name) PyObject_GetAttrString(o, name)
#define RET_IF_NEG(r) if ((r) < 0) return NULL
#define SELF(x) SELF(x)
#define PASTE(a, b) a##b(x)

static PyObject *
macros(PyObject *self, PyObject *obj)
{
    PyObject *a = GET(obj, "a");
    CHECK(a);
    RET_IF_NEG(PyObject_SetAttrString(obj, "b", a));
    SELF(a);
    PASTE(f, g);
    return a;
error:
    return NULL;
}
"#
    ));
}

#[test]
fn macro_defined_after_use_and_inside_body() {
    insta::assert_snapshot!(dump(
        r#"
static int
late(PyObject *self)
{
#define LOCAL_CLEAR(p) do { Py_XDECREF(p); p = NULL; } while (0)
    PyObject *x = PyList_New(0);
    LOCAL_CLEAR(x);
    return LATER(self);
}
#define LATER(o) (Py_TYPE(o)->tp_flags != 0)
"#
    ));
}

// ---- robustness ----

#[test]
fn parse_errors_are_skipped_and_approximate() {
    insta::assert_snapshot!(dump(
        r#"
static int
broken(PyObject *self)
{
    PyObject *x = PyList_New(0);
    PyObject *y = NULL;
    if (x == NULL) return -1;
    y = x + * ) ;
    Py_DECREF(x);
    return 0;
}

static int
fine(PyObject *o)
{
    return o != NULL;
}
"#
    ));
}

#[test]
fn deep_nesting_is_cut_not_overflowed() {
    let mut src = String::from("int deep(PyObject *o) {\n    int r = ");
    for _ in 0..3000 {
        src.push('(');
    }
    src.push('1');
    for _ in 0..3000 {
        src.push(')');
    }
    src.push_str(";\n    return r;\n}\n");
    let m = lower(&src);
    let f = m.function("deep").expect("deep is lowered");
    assert!(!f.approximate.is_empty(), "{}", f.dump());
}

// ---- file-level facts ----

#[test]
fn object_structs() {
    insta::assert_snapshot!(facts(&lower(
        r#"
typedef struct {
    PyObject_HEAD
    PyObject *first;
    PyObject *last;
    int number;
    PyObject *items[4];
    PyObject **out;
} CustomObject;

struct varobj {
    PyObject_VAR_HEAD
    char *data;
};

typedef struct _sub {
    PyListObject list;
    PyObject *extra;
} SubObject;

struct plain { int a; double b; };
"#
    )));
}

#[test]
fn method_table() {
    insta::assert_snapshot!(facts(&lower(
        r#"
static PyMethodDef Custom_methods[] = {
    {"name", (PyCFunction) Custom_name, METH_NOARGS, "Return the name"},
    {"kw", (PyCFunction)(void(*)(void))Custom_kw, METH_VARARGS | METH_KEYWORDS, NULL},
    CUSTOM_CLINIC_METHODDEF
    OTHER_METHODDEF
#ifdef HAVE_FAST
    {"fast", _PyCFunction_CAST(Custom_fast), METH_FASTCALL, NULL},
#endif
    {.ml_name = "des", .ml_meth = des_func, .ml_flags = METH_O},
    {NULL, NULL}  /* Sentinel */
};
"#
    )));
}

#[test]
fn static_type_positional() {
    insta::assert_snapshot!(facts(&lower(
        r#"
static PyTypeObject CustomType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    "custom.Custom",             /* tp_name */
    sizeof(CustomObject),        /* tp_basicsize */
    0,                           /* tp_itemsize */
    (destructor)Custom_dealloc,  /* tp_dealloc */
    0, 0, 0, 0,
    (reprfunc)Custom_repr,       /* tp_repr */
    0, 0, 0, 0, 0, 0, 0, 0, 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    "Custom objects",            /* tp_doc */
    (traverseproc)Custom_traverse,
    (inquiry)Custom_clear,
    0, 0, 0, 0,
    Custom_methods,
};
"#
    )));
}

#[test]
fn static_type_designated() {
    insta::assert_snapshot!(facts(&lower(
        r#"
static PyTypeObject CustomType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "custom.Custom",
    .tp_doc = PyDoc_STR("Custom objects"),
    .tp_basicsize = sizeof(struct custom),
    .tp_itemsize = 0,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor) Custom_dealloc,
    .tp_members = Custom_members,
    .tp_base = &PyList_Type,
};
"#
    )));
}

#[test]
fn heap_type_spec() {
    insta::assert_snapshot!(facts(&lower(
        r#"
static PyType_Slot Foo_slots[] = {
    {Py_tp_dealloc, Foo_dealloc},
    {Py_tp_traverse, (traverseproc)Foo_traverse},
    {Py_tp_doc, (void *)"doc"},
    {Py_nb_add, Foo_add},
    {0, NULL},
};

static PyType_Spec Foo_spec = {
    "mod.Foo",
    sizeof(FooObject),
    0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    Foo_slots
};

static PyType_Slot Bar_slots[] = {
    {Py_tp_clear, Bar_clear},
    {0, 0}
};

static PyType_Spec Bar_spec = {
    .name = "mod.Bar",
    .basicsize = sizeof(BarObject),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = Bar_slots,
};
"#
    )));
}

#[test]
fn module_def_with_slots() {
    insta::assert_snapshot!(facts(&lower(
        r#"
static PyModuleDef_Slot mod_slots[] = {
    {Py_mod_exec, mod_exec},
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
    {0, NULL}
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT,
    "custom",
    "doc",
    sizeof(mod_state),
    mod_methods,
    mod_slots,
    mod_traverse,
    mod_clear,
    (freefunc)mod_free,
};

static struct PyModuleDef other = {
    PyModuleDef_HEAD_INIT,
    .m_name = "other",
    .m_size = -1,
    .m_methods = other_methods,
};
"#
    )));
}

#[test]
fn suppression_comments() {
    insta::assert_snapshot!(facts(&lower(
        r#"
/* refsan: ignore[RS101, RS102] */
int a;
int b; // refsan: ignore
/* not a suppression: refsan: ignored */
/*
 * refsan: ignore[RS205]
 */
"#
    )));
}

#[test]
fn prototypes_and_annotations() {
    let m = lower(
        r#"
PyObject *borrowed_thing(PyObject *o) CPYCHECKER_RETURNS_BORROWED_REF;
int steals(PyObject *a, PyObject *b) CPYCHECKER_STEALS_REFERENCE_TO_ARG(2);
extern int negative(PyObject *o) CPYCHECKER_NEGATIVE_RESULT_SETS_EXCEPTION;
PyObject *sets(void) CPYCHECKER_SETS_EXCEPTION;
PyAPI_FUNC(PyObject *) PyFoo_New(Py_ssize_t n);
int plain(void);

static PyObject *
defined(PyObject *o) CPYCHECKER_RETURNS_BORROWED_REF
{
    return o;
}
"#,
    );
    let mut out = facts(&m);
    out.push_str(&dump_module(&m));
    insta::assert_snapshot!(out);
}

#[test]
fn clinic_impl_is_python_facing() {
    let m = lower(
        r#"
/*[clinic input]
mod.f
[clinic start generated code]*/
/*[clinic end generated code: output=da39a3ee5e6b4b0d input=4d56a2b2033b462b]*/

static PyObject *
helper(PyObject *module)
{
    return NULL;
}

static PyObject *
mod_f_impl(PyObject *module, PyObject *x)
/*[clinic end generated code: output=3a4bc09cc7c8a73d input=40fcc5afa06ae593]*/
{
    return Py_NewRef(x);
}
"#,
    );
    assert_eq!(m.function("helper").map(|f| f.role), Some(Role::Plain));
    assert_eq!(
        m.function("mod_f_impl").map(|f| f.role),
        Some(Role::PythonFacing)
    );
}

#[test]
fn functions_in_every_preprocessor_arm() {
    let m = lower(
        r#"
#ifdef MS_WINDOWS
static int impl(void) { return 1; }
#else
static int impl(void) { return 2; }
#endif
#if 0
static int dead(void) { return 0; }
#endif
"#,
    );
    let names: Vec<&str> = m.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["impl", "impl"]);
}

// ---- C++ ----

#[test]
fn cpp_extern_c_classes_and_raii() {
    insta::assert_snapshot!(dump_module(&lower_as(
        r#"
#include <Python.h>

namespace detail {
class Ref {
public:
    explicit Ref(PyObject *o) : obj_(o) {}
    PyObject *get() const { return obj_; }
private:
    PyObject *obj_;
};
}

extern "C" {
static PyObject *
wrap(PyObject *self, PyObject *args)
{
    PyObject *res = PyList_New(0);
    if (res == nullptr) {
        throw std::runtime_error("no memory");
    }
    detail::Ref keep(PyLong_FromLong(1));
    auto t = static_cast<PyObject *>(PyTuple_New(2));
    auto plus = [&](int x) { return x + 1; };
    auto later = [keep, t]() { Py_DECREF(t); };
    long n = long(PyTuple_GET_SIZE(args));
    PyObject *extra = new Wrapper(PyDict_New());
    delete extra;
    try {
        risky();
    } catch (const std::exception &e) {
        Py_DECREF(res);
        return NULL;
    }
    Py_DECREF(t);
    return reinterpret_cast<PyObject *>(res);
}
}

PyObject *Module::method(PyObject *x, int &n)
{
    Py_INCREF(x);
    return x;
}
"#,
        Language::Cpp
    )));
}
