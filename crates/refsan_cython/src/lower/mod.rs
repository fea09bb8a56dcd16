//! Lowering a parsed Cython file into the ownership IR.
//!
//! This module collects what the file declares (classes and their
//! attributes, functions and their signatures, extern declarations,
//! cimports) and builds the [`Module`]; `func.rs` lowers function bodies,
//! `expr.rs` expressions, calls and conditions.
//!
//! The shapes emitted here are a contract with the engine; see the crate
//! documentation for the list.

mod expr;
mod func;
mod scope;
mod synthetic;

use crate::ast::*;
use crate::comments::{Comments, OwnershipNote};
use crate::cpython_pxd::{CpythonPxd, PxdFunc};
use crate::parser;
use crate::types::{TypeEnv, VClass};
use refsan_ir::{
    ArgEffect, Contract, ContractSource, Declaration, ExcEffect, Failure, FieldDef, GlobalVar,
    Language, LineIndex, Module, Problem, Returns, SlotEntry, Span, StructDef, TypeClass, TypeDef,
    TypeDefKind,
};
use std::collections::{BTreeMap, HashMap, HashSet};

/// How Cython checks a call's result for an exception.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Check {
    None,
    /// NULL means an exception.
    Null,
    /// NULL, then `PyErr_Occurred()` (`except? NULL`).
    NullMaybe,
    /// The value means an exception (`except -1`).
    Value(i64),
    /// The value, then `PyErr_Occurred()` (`except? -1`).
    ValueMaybe(i64),
    /// Always `PyErr_Occurred()` (`except *`, `void` functions).
    ErrOccurred,
}

/// A function's signature as the caller sees it.
#[derive(Clone, Debug)]
pub(crate) struct FuncSig {
    /// The name calls use (`f`, `Class.meth`).
    pub ir_name: String,
    pub kind: FuncKind,
    pub ret: VClass,
    pub params: Vec<(String, VClass)>,
    pub check: Check,
}

impl FuncSig {
    fn from_def(f: &FuncDef, env: &TypeEnv, ir_name: String, is_extern: bool) -> FuncSig {
        // A function that runs without the GIL cannot return an object: an
        // unknown return type there is a C type.
        let c_only = f.nogil && !f.with_gil;
        let ret = match (&f.ret, f.kind) {
            (Some(t), _) => {
                let c = env.classify(t);
                if c == VClass::Managed && c_only && !env.is_known_object(t) {
                    VClass::C(TypeClass::Other)
                } else {
                    c
                }
            }
            (None, FuncKind::Def) => special_return(&f.name).unwrap_or(VClass::Managed),
            (None, _) => VClass::Managed,
        };
        let mut params = Vec::new();
        for p in &f.params {
            if p.star == 1 && p.name == "..." {
                continue;
            }
            if p.star == 3 || (p.star == 1 && p.name.is_empty()) {
                continue;
            }
            params.push((p.name.clone(), param_class_in(p, env, c_only)));
        }
        let check = if f.kind == FuncKind::Def {
            match ret {
                VClass::Managed => Check::Null,
                VClass::C(TypeClass::Void) => Check::None,
                _ => Check::ValueMaybe(-1),
            }
        } else {
            check_for(ret, &f.except, is_extern)
        };
        FuncSig {
            ir_name,
            kind: f.kind,
            ret,
            params,
            check,
        }
    }

    fn from_pxd(p: &PxdFunc) -> FuncSig {
        FuncSig {
            ir_name: p.name.clone(),
            kind: FuncKind::Cdef,
            ret: p.ret,
            params: p.params.iter().map(|c| (String::new(), *c)).collect(),
            check: check_for(p.ret, &p.except, true),
        }
    }
}

/// The class of a parameter (untyped parameters are objects).
/// The class of a parameter of a function that may run without the GIL
/// (`c_only`): an unknown type there is a C type.
pub(crate) fn param_class_in(p: &Param, env: &TypeEnv, c_only: bool) -> VClass {
    let c = param_class(p, env);
    match &p.ty {
        Some(t) if c_only && c == VClass::Managed && !env.is_known_object(t) => {
            VClass::C(TypeClass::Other)
        }
        _ => c,
    }
}

pub(crate) fn param_class(p: &Param, env: &TypeEnv) -> VClass {
    if p.star == 1 || p.star == 2 {
        return VClass::Managed;
    }
    match &p.ty {
        Some(t) => env.classify(t),
        None => match &p.annotation {
            Some(a) => annotation_class(a, env),
            None => VClass::Managed,
        },
    }
}

/// `x: cython.int` is a C int; `x: list` or `x: int` a Python object.
pub(crate) fn annotation_class(a: &Expr, env: &TypeEnv) -> VClass {
    match a.dotted() {
        Some(d) if d.starts_with("cython.") => {
            let last = d.rsplit('.').next().unwrap_or(&d);
            if last.starts_with('p') && last.len() > 2 && last != "pointer" {
                // cython.p_int: pointer types.
                return VClass::C(TypeClass::Pointer);
            }
            env.classify(&CType {
                base: d.clone(),
                text: d,
                ..CType::default()
            })
        }
        _ => VClass::Managed,
    }
}

/// Return classes of the special methods Cython implements as C slots.
pub(crate) fn special_return(name: &str) -> Option<VClass> {
    Some(match name {
        "__init__" | "__cinit__" | "__setitem__" | "__delitem__" | "__setattr__"
        | "__delattr__" | "__set__" | "__delete__" | "__getbuffer__" | "__bool__"
        | "__nonzero__" | "__contains__" | "__len__" | "__hash__" => VClass::C(TypeClass::Int),
        "__dealloc__" | "__releasebuffer__" => VClass::C(TypeClass::Void),
        _ => return None,
    })
}

pub(crate) fn check_for(ret: VClass, except: &ExceptSpec, is_extern: bool) -> Check {
    if ret == VClass::Managed {
        return Check::Null;
    }
    match except {
        ExceptSpec::NoExcept => Check::None,
        ExceptSpec::Cpp | ExceptSpec::Star => Check::ErrOccurred,
        ExceptSpec::Value { value, maybe } => match (value, maybe) {
            (ExcValue::Int(v), false) => Check::Value(*v),
            (ExcValue::Int(v), true) => Check::ValueMaybe(*v),
            (ExcValue::Null, false) => Check::Null,
            (ExcValue::Null, true) => Check::NullMaybe,
            (ExcValue::Other, _) => Check::ErrOccurred,
        },
        ExceptSpec::Default if is_extern => Check::None,
        // Cython 3: cdef functions propagate exceptions unless `noexcept`.
        ExceptSpec::Default => match ret {
            VClass::C(TypeClass::Int) => Check::ValueMaybe(-1),
            VClass::Raw | VClass::RawPtrPtr | VClass::C(TypeClass::Pointer) => Check::NullMaybe,
            _ => Check::ErrOccurred,
        },
    }
}

/// An attribute of a `cdef class`.
#[derive(Clone, Debug)]
pub(crate) struct Attr {
    pub class: VClass,
    pub c_type: String,
    pub rng: Rng,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct ClassInfo {
    pub name: String,
    pub cdef: bool,
    pub attrs: BTreeMap<String, Attr>,
    /// Attribute order as declared.
    pub attr_order: Vec<String>,
    /// cdef/cpdef methods callable at C level.
    pub methods: HashMap<String, FuncSig>,
    pub bases: Vec<String>,
}

/// What the file declares, shared by all its functions.
pub(crate) struct Cx<'a> {
    pub src: &'a [u8],
    pub idx: LineIndex,
    pub env: TypeEnv,
    pub classes: HashMap<String, ClassInfo>,
    pub funcs: HashMap<String, FuncSig>,
    pub externs: HashMap<String, FuncSig>,
    /// Local name → (module, name in the module).
    pub cimports: HashMap<String, (String, String)>,
    /// Local name of a cimported module → module.
    pub module_aliases: HashMap<String, String>,
    /// Module-level `cdef` variables.
    pub cdef_globals: HashMap<String, VClass>,
    pub cpython: &'a CpythonPxd,
    /// The cimport statement that brought each cpython name in.
    pub cimport_rng: HashMap<String, Rng>,
    /// Enum members and `DEF` constants: C values.
    pub c_consts: HashSet<String>,
    /// `DEF` constants with an integer (or boolean) value: `IF`/`if` on
    /// them is decided when Cython compiles the module.
    pub def_values: HashMap<String, i64>,
    /// Names bound by module-level Python imports.
    pub py_imports: HashSet<String>,
    /// Names assigned by module-level Python code.
    pub py_globals: HashSet<String>,
}

impl<'a> Cx<'a> {
    pub fn span(&self, r: Rng) -> Span {
        let end = (r.end as usize).min(self.src.len()) as u32;
        let start = r.start.min(end);
        self.idx.span(start, end)
    }

    pub fn text(&self, r: Rng) -> String {
        let s = (r.start as usize).min(self.src.len());
        let e = (r.end as usize).clamp(s, self.src.len());
        let t = String::from_utf8_lossy(&self.src[s..e]);
        let t: String = t.split_whitespace().collect::<Vec<_>>().join(" ");
        if t.len() > 80 {
            let mut cut = 77;
            while !t.is_char_boundary(cut) {
                cut -= 1;
            }
            format!("{}...", &t[..cut])
        } else {
            t
        }
    }

    /// What a dotted name's head refers to when it is a cimported module
    /// (`cimport numpy as np`, `from lxml.includes cimport tree`): the
    /// module's full name.
    pub fn cimported_module(&self, head: &str) -> Option<String> {
        if let Some(m) = self.module_aliases.get(head) {
            return Some(m.clone());
        }
        let (module, name) = self.cimports.get(head)?;
        if self.env.classes.contains(head) || self.env.c_types.contains_key(head) {
            return None;
        }
        Some(format!("{module}.{name}"))
    }

    /// True when nothing in the file declares `name` and it is no Python
    /// builtin: in an included `.pxi` it comes from the including file.
    pub fn undeclared(&self, name: &str) -> bool {
        !self.funcs.contains_key(name)
            && !self.externs.contains_key(name)
            && !self.cimports.contains_key(name)
            && !self.module_aliases.contains_key(name)
            && !self.env.classes.contains(name)
            && !self.env.c_types.contains_key(name)
            && !self.py_imports.contains(name)
            && !self.py_globals.contains(name)
            && !self.cdef_globals.contains_key(name)
            && !self.c_consts.contains(name)
            && !PYTHON_BUILTINS.contains(&name)
    }

    /// The value of a condition Cython decides at compile time: a `DEF`
    /// constant, a literal, `not` of one.
    pub fn const_truth(&self, e: &Expr) -> Option<bool> {
        match &e.kind {
            ExprKind::Name(n) => self.def_values.get(n).map(|k| *k != 0),
            ExprKind::Int(Some(k)) => Some(*k != 0),
            ExprKind::Unary {
                op: UnOp::Not,
                operand,
            } => self.const_truth(operand).map(|b| !b),
            _ => None,
        }
    }

    /// The pxd declaration a name refers to, if it comes from `cpython.*`.
    pub fn cpython_func(&self, local: &str) -> Option<&'a PxdFunc> {
        let (module, orig) = self.cimports.get(local)?;
        if module == "cpython" || module.starts_with("cpython.") {
            self.cpython.get(orig)
        } else {
            None
        }
    }

    /// A class and its bases in this file, for attribute and method lookup.
    pub fn class_chain(&self, name: &str) -> Vec<&ClassInfo> {
        let mut out = Vec::new();
        let mut cur = Some(name.to_string());
        while let Some(n) = cur.take() {
            if out.len() > 16 {
                break;
            }
            if let Some(c) = self.classes.get(&n) {
                cur = c.bases.first().cloned();
                out.push(c);
            }
        }
        out
    }

    pub fn attr(&self, class: &str, attr: &str) -> Option<&Attr> {
        self.class_chain(class)
            .into_iter()
            .find_map(|c| c.attrs.get(attr))
    }

    pub fn method(&self, class: &str, name: &str) -> Option<&FuncSig> {
        self.class_chain(class)
            .into_iter()
            .find_map(|c| c.methods.get(name))
    }

    /// The class that defines `name` for `class` (itself or a base).
    fn defining_class(&self, class: &str, name: &str) -> Option<&str> {
        self.class_chain(class)
            .into_iter()
            .find(|c| c.methods.contains_key(name))
            .map(|c| c.name.as_str())
    }

    /// The signature a call of method `name` on an object of `class` goes
    /// through. A cdef method is virtual: when a subclass in the file
    /// overrides it, the call may run the override, so the defining
    /// method's summary does not describe it and the call is named apart
    /// (declared by [`virtual_declarations`] with the signature's contract).
    pub fn method_call_sig(&self, class: &str, name: &str) -> Option<FuncSig> {
        let sig = self.method(class, name)?;
        let def = self.defining_class(class, name)?;
        let overridden = self.classes.values().any(|c| {
            c.name != def
                && c.methods.contains_key(name)
                && self.class_chain(&c.name).iter().any(|b| b.name == def)
        });
        let mut sig = sig.clone();
        if overridden {
            sig.ir_name = virtual_name(&sig.ir_name);
        }
        Some(sig)
    }
}

/// The callee name of a virtual call of `ir_name`.
fn virtual_name(ir_name: &str) -> String {
    format!("{ir_name} (or an override)")
}

/// Declarations of the virtual calls of overridden methods: their
/// signature's contract, no summary.
fn virtual_declarations(cx: &Cx) -> Vec<Declaration> {
    let mut out = Vec::new();
    let mut classes: Vec<&ClassInfo> = cx.classes.values().collect();
    classes.sort_by(|a, b| a.name.cmp(&b.name));
    for c in classes {
        let mut names: Vec<&String> = c.methods.keys().collect();
        names.sort();
        for n in names {
            let Some(sig) = cx.method_call_sig(&c.name, n) else {
                continue;
            };
            if sig.ir_name != c.methods[n].ir_name {
                out.push(Declaration {
                    name: sig.ir_name.clone(),
                    returns: sig.ret.type_class(),
                    param_count: sig.params.len(),
                    contract: Some((
                        note_contract(&OwnershipNote::default(), &sig),
                        ContractSource::Declaration,
                    )),
                    noexcept: sig.check == Check::None,
                    span: Span::default(),
                });
            }
        }
    }
    out
}

/// Python's builtin names (a name among them needs no declaration).
const PYTHON_BUILTINS: &[&str] = &[
    "abs",
    "all",
    "any",
    "ascii",
    "bin",
    "bool",
    "breakpoint",
    "bytearray",
    "bytes",
    "callable",
    "chr",
    "classmethod",
    "compile",
    "complex",
    "delattr",
    "dict",
    "dir",
    "divmod",
    "enumerate",
    "eval",
    "exec",
    "filter",
    "float",
    "format",
    "frozenset",
    "getattr",
    "globals",
    "hasattr",
    "hash",
    "help",
    "hex",
    "id",
    "input",
    "int",
    "isinstance",
    "issubclass",
    "iter",
    "len",
    "list",
    "locals",
    "map",
    "max",
    "memoryview",
    "min",
    "next",
    "object",
    "oct",
    "open",
    "ord",
    "pow",
    "print",
    "property",
    "range",
    "repr",
    "reversed",
    "round",
    "set",
    "setattr",
    "slice",
    "sorted",
    "staticmethod",
    "str",
    "sum",
    "super",
    "tuple",
    "type",
    "vars",
    "zip",
    "unicode",
    "basestring",
    "long",
    "xrange",
    "unichr",
    "reduce",
    "intern",
    "None",
    "True",
    "False",
    "NotImplemented",
    "Ellipsis",
    "__import__",
    "__name__",
    "__file__",
    "__doc__",
    "self",
    "BaseException",
    "Exception",
    "ArithmeticError",
    "AssertionError",
    "AttributeError",
    "BufferError",
    "EOFError",
    "ImportError",
    "IndexError",
    "KeyError",
    "KeyboardInterrupt",
    "LookupError",
    "MemoryError",
    "NameError",
    "NotImplementedError",
    "OSError",
    "OverflowError",
    "RecursionError",
    "ReferenceError",
    "RuntimeError",
    "StopIteration",
    "StopAsyncIteration",
    "SyntaxError",
    "SystemError",
    "SystemExit",
    "TypeError",
    "UnboundLocalError",
    "UnicodeError",
    "UnicodeDecodeError",
    "UnicodeEncodeError",
    "ValueError",
    "ZeroDivisionError",
    "IOError",
    "EnvironmentError",
    "FileNotFoundError",
    "PermissionError",
    "TimeoutError",
    "ConnectionError",
    "BrokenPipeError",
    "ConnectionResetError",
    "BlockingIOError",
    "InterruptedError",
    "ModuleNotFoundError",
    "Warning",
    "UserWarning",
    "DeprecationWarning",
    "RuntimeWarning",
    "FutureWarning",
    "PendingDeprecationWarning",
    "ResourceWarning",
    "UnicodeWarning",
    "BytesWarning",
    "ImportWarning",
    "SyntaxWarning",
    "GeneratorExit",
    "cython",
];

/// What the CLI can pass besides the file.
#[derive(Clone, Copy)]
pub struct LowerOptions<'a> {
    pub cpython: &'a CpythonPxd,
    /// Other files whose declarations the file sees (its `.pxd`, the
    /// project's `.pxd` files it cimports, the `.pxi` files it includes or
    /// that include it): their classes, functions, externs and types are
    /// known, nothing of theirs is analysed.
    pub context: &'a [ContextFile<'a>],
}

/// A file of a lowered file's context.
#[derive(Clone, Copy, Debug)]
pub struct ContextFile<'a> {
    pub path: &'a str,
    pub source: &'a [u8],
}

impl Default for LowerOptions<'static> {
    fn default() -> Self {
        LowerOptions {
            cpython: CpythonPxd::embedded(),
            context: &[],
        }
    }
}

pub fn lower(path: &str, source: &[u8], opts: LowerOptions<'_>) -> Module {
    let parsed = parser::parse(source);
    let comments = Comments::new(source, &parsed.comments);
    let mut module = Module::new(path, Language::Cython);
    module.suppressions = comments.suppressions();
    let mut cx = Cx {
        src: source,
        idx: LineIndex::new(source),
        env: TypeEnv::default(),
        classes: HashMap::new(),
        funcs: HashMap::new(),
        externs: HashMap::new(),
        cimports: HashMap::new(),
        module_aliases: HashMap::new(),
        cdef_globals: HashMap::new(),
        cpython: opts.cpython,
        cimport_rng: HashMap::new(),
        c_consts: HashSet::new(),
        def_values: HashMap::new(),
        py_imports: HashSet::new(),
        py_globals: HashSet::new(),
    };
    let top = flatten_top(&parsed.stmts);
    // The context's declarations first: the file's own ones complete or
    // override them.
    let context: Vec<(ContextFile<'_>, parser::ParsedFile)> = opts
        .context
        .iter()
        .map(|c| (*c, parser::parse(c.source)))
        .collect();
    let context_tops: Vec<Vec<&Stmt>> =
        context.iter().map(|(_, p)| flatten_top(&p.stmts)).collect();
    for t in &context_tops {
        collect_names(t, &mut cx);
    }
    // Only this file's cimports have a place in it.
    cx.cimport_rng.clear();
    collect_names(&top, &mut cx);
    for t in &context_tops {
        collect_signatures(t, &mut cx);
    }
    // Attributes declared in another file have no place in this one.
    for c in cx.classes.values_mut() {
        for a in c.attrs.values_mut() {
            a.rng = Rng::default();
        }
    }
    let own_funcs: HashSet<String> = top
        .iter()
        .filter_map(|s| match &s.kind {
            StmtKind::Func(f) if f.body.is_some() => Some(f.name.clone()),
            _ => None,
        })
        .collect();
    collect_signatures(&top, &mut cx);

    // Module-level `cdef` variables (and extern variables).
    for s in &top {
        let vars: Vec<&VarDecl> = match &s.kind {
            StmtKind::CDecl(v) => v.iter().collect(),
            StmtKind::Extern(e) => e
                .items
                .iter()
                .filter_map(|it| match &it.kind {
                    StmtKind::CDecl(v) => Some(v.iter()),
                    _ => None,
                })
                .flatten()
                .collect(),
            _ => continue,
        };
        for v in vars {
            if v.ty.base == "DEF" {
                continue;
            }
            let class = cx
                .cdef_globals
                .get(&v.name)
                .copied()
                .unwrap_or(VClass::Managed);
            module.globals.push(GlobalVar {
                name: v.name.clone(),
                ty: class.type_class(),
                c_type: if v.ty.text.is_empty() {
                    "object".to_string()
                } else {
                    v.ty.text.clone()
                },
                span: cx.span(v.rng),
            });
        }
    }
    // Classes: struct and type definitions.
    for s in &top {
        if let StmtKind::Class(c) = &s.kind {
            if c.cdef {
                class_defs(c, &cx, &mut module);
            }
        }
    }
    // Declarations of extern functions.
    for s in &top {
        if let StmtKind::Extern(e) = &s.kind {
            for it in &e.items {
                if let StmtKind::Func(f) = &it.kind {
                    module
                        .declarations
                        .push(extern_declaration(f, it.rng, &cx, &comments));
                }
            }
        }
    }
    module.declarations.extend(virtual_declarations(&cx));
    module.declarations.extend(context_declarations(
        &context,
        &context_tops,
        &own_funcs,
        &cx,
    ));
    // Functions.
    let mut used_synth: HashSet<&'static str> = HashSet::new();
    let mut used_pxd: HashSet<String> = HashSet::new();
    for s in &top {
        match &s.kind {
            StmtKind::Func(f) if f.body.is_some() => {
                let out = func::lower_function(&cx, f, None, f.name.clone());
                used_synth.extend(out.synth);
                used_pxd.extend(out.pxd);
                module.functions.push(out.func);
            }
            StmtKind::Class(c) => {
                for (f, name) in class_methods(c) {
                    if f.body.is_some() {
                        let out = func::lower_function(&cx, f, Some(&c.name), name);
                        used_synth.extend(out.synth);
                        used_pxd.extend(out.pxd);
                        module.functions.push(out.func);
                    }
                }
            }
            _ => {}
        }
    }
    // Declarations Cython's own pxd files make: `object` results.
    let mut pxd_names: Vec<&String> = used_pxd.iter().collect();
    pxd_names.sort();
    for n in pxd_names {
        let Some(p) = cx.cpython_func(n) else {
            continue;
        };
        if p.ret != VClass::Managed {
            continue;
        }
        let span = cx
            .cimport_rng
            .get(n)
            .map(|r| cx.span(*r))
            .unwrap_or_default();
        module.declarations.push(Declaration {
            name: p.name.clone(),
            returns: TypeClass::Object,
            param_count: p.params.len(),
            contract: Some((
                Contract {
                    returns: Returns::New,
                    failure: Failure::Null,
                    args: Vec::new(),
                    exc: ExcEffect::OnFailure,
                    noreturn: false,
                },
                ContractSource::Declaration,
            )),
            noexcept: false,
            span,
        });
    }
    // The synthetic callees standing for Python-level operations.
    let mut synth: Vec<&&str> = used_synth.iter().collect();
    synth.sort();
    for n in synth {
        if let Some(d) = synthetic::synthetic_declaration(n) {
            module.declarations.push(d);
        }
    }
    // Problems: statements that could not be read outside functions.
    collect_problems(&parsed.stmts, &cx, &mut module.problems, false);
    module
}

/// Top-level statements, with compile-time `IF` blocks opened.
fn flatten_top(stmts: &[Stmt]) -> Vec<&Stmt> {
    let mut out = Vec::new();
    fn walk<'s>(stmts: &'s [Stmt], out: &mut Vec<&'s Stmt>, depth: u32) {
        for s in stmts {
            match &s.kind {
                StmtKind::If { branches, orelse } if depth < 8 => {
                    out.push(s);
                    for (_, b) in branches {
                        walk(b, out, depth + 1);
                    }
                    walk(orelse, out, depth + 1);
                }
                StmtKind::Try {
                    body,
                    handlers,
                    orelse,
                    finalbody,
                } if depth < 8 => {
                    out.push(s);
                    walk(body, out, depth + 1);
                    for h in handlers {
                        walk(&h.body, out, depth + 1);
                    }
                    walk(orelse, out, depth + 1);
                    if let Some(f) = finalbody {
                        walk(f, out, depth + 1);
                    }
                }
                _ => out.push(s),
            }
        }
    }
    walk(stmts, &mut out, 0);
    out
}

/// Methods of a class (property accessors included), with their IR names.
fn class_methods(c: &ClassDef) -> Vec<(&FuncDef, String)> {
    let mut out = Vec::new();
    for s in &c.body {
        match &s.kind {
            StmtKind::Func(f) => out.push((&**f, format!("{}.{}", c.name, f.name))),
            StmtKind::Property { name, body } => {
                for p in body {
                    if let StmtKind::Func(f) = &p.kind {
                        out.push((&**f, format!("{}.{}.{}", c.name, name, f.name)));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Pass 1: type names (classes, typedefs, structs, enums) and imports.
fn collect_names(top: &[&Stmt], cx: &mut Cx) {
    let mut typedefs: Vec<(String, CType)> = Vec::new();
    for s in top {
        match &s.kind {
            StmtKind::Class(c) => {
                cx.env.classes.insert(c.name.clone());
            }
            StmtKind::TypeDecl(t) => type_decl_name(t, cx, &mut typedefs),
            StmtKind::Extern(e) => {
                for it in &e.items {
                    match &it.kind {
                        StmtKind::TypeDecl(t) => type_decl_name(t, cx, &mut typedefs),
                        StmtKind::Class(c) => {
                            cx.env.classes.insert(c.name.clone());
                        }
                        _ => {}
                    }
                }
            }
            StmtKind::Import { names, .. } => {
                for (m, alias) in names {
                    let local = alias
                        .clone()
                        .unwrap_or_else(|| m.split('.').next().unwrap_or(m).to_string());
                    cx.py_imports.insert(local);
                }
            }
            StmtKind::CDecl(vars) => {
                for v in vars {
                    if v.ty.base == "DEF" {
                        cx.c_consts.insert(v.name.clone());
                        let value = v.value.as_ref().and_then(|e| match &e.kind {
                            ExprKind::Int(Some(k)) => Some(*k),
                            ExprKind::Name(n) if n == "True" => Some(1),
                            ExprKind::Name(n) if n == "False" => Some(0),
                            ExprKind::Name(n) => cx.def_values.get(n).copied(),
                            _ => None,
                        });
                        match value {
                            Some(k) => {
                                cx.def_values.insert(v.name.clone(), k);
                            }
                            None => {
                                cx.def_values.remove(&v.name);
                            }
                        }
                    }
                }
            }
            StmtKind::Assign { targets, .. } => {
                for t in targets {
                    let mut names = HashSet::new();
                    scope::names_in_expr(t, &mut names, 0);
                    cx.py_globals.extend(names);
                }
            }
            StmtKind::AnnAssign { target, .. } | StmtKind::AugAssign { target, .. } => {
                if let Some(n) = target.name() {
                    cx.py_globals.insert(n.to_string());
                }
            }
            StmtKind::CImport {
                module,
                names,
                whole_module,
            } => {
                if *whole_module {
                    for (m, alias) in names {
                        let local = alias
                            .clone()
                            .unwrap_or_else(|| m.split('.').next().unwrap_or(m).to_string());
                        let target = if alias.is_some() {
                            m.clone()
                        } else {
                            m.split('.').next().unwrap_or(m).to_string()
                        };
                        cx.module_aliases.insert(local, target);
                    }
                } else {
                    for (n, alias) in names {
                        let local = alias.clone().unwrap_or_else(|| n.clone());
                        if module == "libcpp" && n == "bool" {
                            cx.env.cpp_bool = true;
                        }
                        cx.cimports
                            .insert(local.clone(), (module.clone(), n.clone()));
                        cx.cimport_rng.insert(local, s.rng);
                    }
                }
            }
            _ => {}
        }
    }
    // Typedefs may refer to each other: two rounds settle the usual chains.
    for _ in 0..2 {
        for (n, t) in &typedefs {
            let c = cx.env.classify(t);
            cx.env.c_types.insert(n.clone(), c);
        }
    }
}

fn type_decl_name(t: &TypeDecl, cx: &mut Cx, typedefs: &mut Vec<(String, CType)>) {
    cx.c_consts.extend(t.members.iter().cloned());
    let Some(n) = &t.name else { return };
    let class = match t.kind {
        TypeDeclKind::Enum => VClass::C(TypeClass::Int),
        TypeDeclKind::Typedef => {
            if let Some(u) = &t.underlying {
                typedefs.push((n.clone(), u.clone()));
            }
            VClass::C(TypeClass::Other)
        }
        _ => VClass::C(TypeClass::Other),
    };
    cx.env.c_types.insert(n.clone(), class);
}

/// Pass 2: signatures of functions, methods and externs; attributes.
fn collect_signatures(top: &[&Stmt], cx: &mut Cx) {
    for s in top {
        match &s.kind {
            StmtKind::Func(f) => {
                let sig = FuncSig::from_def(f, &cx.env, f.name.clone(), false);
                cx.funcs.insert(f.name.clone(), sig);
            }
            StmtKind::Extern(e) => {
                for it in &e.items {
                    match &it.kind {
                        StmtKind::Func(f) => {
                            // Calls name the C function the declaration
                            // binds (`PtrIter_Next "PyIter_Next"`).
                            let ir = f.cname.clone().unwrap_or_else(|| f.name.clone());
                            let sig = FuncSig::from_def(f, &cx.env, ir, true);
                            cx.externs.insert(f.name.clone(), sig);
                        }
                        StmtKind::CDecl(vars) => {
                            for v in vars {
                                let init: Vec<&Expr> = v.value.iter().collect();
                                let c = scope::literal_refines(
                                    cx,
                                    &v.ty,
                                    cx.env.classify(&v.ty),
                                    &init,
                                );
                                cx.cdef_globals.insert(v.name.clone(), c);
                            }
                        }
                        StmtKind::Class(c) => {
                            let info = class_info(c, &cx.env);
                            merge_class(&mut cx.classes, info);
                        }
                        _ => {}
                    }
                }
            }
            StmtKind::CDecl(vars) => {
                for v in vars {
                    let init: Vec<&Expr> = v.value.iter().collect();
                    let c = scope::literal_refines(cx, &v.ty, cx.env.classify(&v.ty), &init);
                    cx.cdef_globals.insert(v.name.clone(), c);
                }
            }
            StmtKind::Class(c) => {
                let info = class_info(c, &cx.env);
                merge_class(&mut cx.classes, info);
            }
            _ => {}
        }
    }
}

/// A class declared in a `.pxd` and defined in the `.pyx`: attributes from
/// both, the later methods and bases where given.
fn merge_class(classes: &mut HashMap<String, ClassInfo>, info: ClassInfo) {
    match classes.get_mut(&info.name) {
        None => {
            classes.insert(info.name.clone(), info);
        }
        Some(old) => {
            for n in info.attr_order {
                if let Some(a) = info.attrs.get(&n) {
                    if !old.attrs.contains_key(&n) {
                        old.attr_order.push(n.clone());
                    }
                    old.attrs.insert(n, a.clone());
                }
            }
            old.methods.extend(info.methods);
            if !info.bases.is_empty() {
                old.bases = info.bases;
            }
            old.cdef |= info.cdef;
        }
    }
}

/// Declarations of what the context declares and this file does not
/// define: `cdef extern` functions (with their `# refsan:` annotations) and
/// cdef functions defined in another module (their `except` clause).
fn context_declarations(
    context: &[(ContextFile<'_>, parser::ParsedFile)],
    tops: &[Vec<&Stmt>],
    own: &HashSet<String>,
    cx: &Cx,
) -> Vec<Declaration> {
    let mut out = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for ((file, parsed), top) in context.iter().zip(tops) {
        let comments = Comments::new(file.source, &parsed.comments);
        let idx = LineIndex::new(file.source);
        for s in top {
            match &s.kind {
                StmtKind::Extern(e) => {
                    for it in &e.items {
                        if let StmtKind::Func(f) = &it.kind {
                            if own.contains(&f.name) || !seen.insert(f.name.clone()) {
                                continue;
                            }
                            let mut d = extern_declaration_at(f, it.rng, cx, &comments, &idx);
                            d.span = Span::default();
                            out.push(d);
                        }
                    }
                }
                StmtKind::Func(f) if f.kind != FuncKind::Def => {
                    if own.contains(&f.name) || !seen.insert(f.name.clone()) {
                        continue;
                    }
                    let Some(sig) = cx.funcs.get(&f.name) else {
                        continue;
                    };
                    out.push(Declaration {
                        name: sig.ir_name.clone(),
                        returns: sig.ret.type_class(),
                        param_count: sig.params.len(),
                        contract: Some((
                            note_contract(&OwnershipNote::default(), sig),
                            ContractSource::Declaration,
                        )),
                        noexcept: sig.check == Check::None,
                        span: Span::default(),
                    });
                }
                _ => {}
            }
        }
    }
    out
}

fn class_info(c: &ClassDef, env: &TypeEnv) -> ClassInfo {
    let mut info = ClassInfo {
        name: c.name.clone(),
        cdef: c.cdef,
        bases: c
            .bases
            .iter()
            .filter_map(Expr::dotted)
            .map(|d| d.rsplit('.').next().unwrap_or(&d).to_string())
            .collect(),
        ..ClassInfo::default()
    };
    for s in &c.body {
        match &s.kind {
            StmtKind::CDecl(vars) if c.cdef => {
                for v in vars {
                    let class = env.classify(&v.ty);
                    let c_type = if v.ty.text.is_empty() {
                        "object".to_string()
                    } else {
                        v.ty.text.clone()
                    };
                    if !info.attrs.contains_key(&v.name) {
                        info.attr_order.push(v.name.clone());
                    }
                    info.attrs.insert(
                        v.name.clone(),
                        Attr {
                            class,
                            c_type,
                            rng: v.rng,
                        },
                    );
                }
            }
            StmtKind::Func(f) if f.kind != FuncKind::Def => {
                let ir = format!("{}.{}", c.name, f.name);
                info.methods
                    .insert(f.name.clone(), FuncSig::from_def(f, env, ir, false));
            }
            _ => {}
        }
    }
    info
}

/// `StructDef` and `TypeDef` for a `cdef class`.
fn class_defs(c: &ClassDef, cx: &Cx, module: &mut Module) {
    let Some(info) = cx.classes.get(&c.name) else {
        return;
    };
    let span = cx.span(c.rng);
    let fields = info
        .attr_order
        .iter()
        .filter_map(|n| info.attrs.get(n).map(|a| (n, a)))
        .map(|(n, a)| FieldDef {
            name: n.clone(),
            c_type: a.c_type.clone(),
            ty: a.class.type_class(),
            managed: a.class == VClass::Managed,
            span: cx.span(a.rng),
        })
        .collect();
    module.structs.push(StructDef {
        names: vec![c.name.clone()],
        fields,
        is_object: true,
        span,
    });
    let mut slots = Vec::new();
    for s in &c.body {
        if let StmtKind::Func(f) = &s.kind {
            if f.body.is_none() {
                continue;
            }
            let slot = match f.name.as_str() {
                "__dealloc__" => "tp_dealloc",
                "__cinit__" => "__cinit__",
                "__init__" => "__init__",
                _ => continue,
            };
            slots.push(SlotEntry {
                slot: slot.to_string(),
                value: format!("{}.{}", c.name, f.name),
                span: cx.span(f.name_rng),
            });
        }
    }
    module.type_defs.push(TypeDef {
        name: c.name.clone(),
        kind: TypeDefKind::CythonClass,
        object_struct: Some(c.name.clone()),
        flags: Vec::new(),
        slots,
        span,
    });
}

/// The `Declaration` of a `cdef extern` function, with its contract from
/// (in order) a `# refsan:` annotation, an `object` return type, or the
/// words of its comment.
fn extern_declaration(f: &FuncDef, rng: Rng, cx: &Cx, comments: &Comments) -> Declaration {
    extern_declaration_at(f, rng, cx, comments, &cx.idx)
}

/// [`extern_declaration`] of a function in the file `idx` indexes.
fn extern_declaration_at(
    f: &FuncDef,
    rng: Rng,
    cx: &Cx,
    comments: &Comments,
    idx: &LineIndex,
) -> Declaration {
    let sig = cx.externs.get(&f.name).cloned().unwrap_or_else(|| {
        let ir = f.cname.clone().unwrap_or_else(|| f.name.clone());
        FuncSig::from_def(f, &cx.env, ir, true)
    });
    let first = idx.line_col(rng.start).0;
    let last = idx.line_col(rng.end.max(rng.start)).0;
    let params: Vec<(String, bool)> = sig
        .params
        .iter()
        .map(|(n, c)| (n.clone(), c.is_object()))
        .collect();
    let contract = if let Some(note) = comments.annotation(first, last) {
        Some((note_contract(&note, &sig), ContractSource::Annotation))
    } else if sig.ret == VClass::Managed {
        Some((
            note_contract(&OwnershipNote::default(), &sig),
            ContractSource::Declaration,
        ))
    } else {
        comments
            .heuristic(first, last, &params)
            .map(|note| (note_contract(&note, &sig), ContractSource::CommentHeuristic))
    };
    Declaration {
        name: sig.ir_name.clone(),
        returns: sig.ret.type_class(),
        param_count: sig.params.len(),
        contract,
        noexcept: sig.check == Check::None,
        span: idx.span(rng.start, rng.end.max(rng.start)),
    }
}

fn note_contract(note: &OwnershipNote, sig: &FuncSig) -> Contract {
    let returns = match sig.ret {
        // An `object` result is always a new reference Cython takes over.
        VClass::Managed => Returns::New,
        VClass::Raw => note.returns.unwrap_or(Returns::Unknown),
        VClass::C(TypeClass::Void) => Returns::Void,
        _ => Returns::NotObject,
    };
    let failure = match (sig.ret, returns) {
        (VClass::Managed, _) => Failure::Null,
        (_, Returns::New | Returns::Borrowed) => Failure::NullMaybeExc,
        // What the `except` clause says; without a body to read, a value
        // other than the error value may be anything.
        _ => match sig.check {
            Check::None => Failure::Never,
            Check::Value(-1) => Failure::Negative,
            Check::Value(0) => Failure::Zero,
            Check::Null => Failure::Null,
            Check::NullMaybe => Failure::NullMaybeExc,
            Check::Value(_) | Check::ValueMaybe(_) | Check::ErrOccurred => Failure::Ambiguous,
        },
    };
    let mut c = Contract {
        returns,
        failure,
        args: Vec::new(),
        exc: ExcEffect::OnFailure,
        noreturn: false,
    };
    for i in &note.steals {
        if *i < sig.params.len().max(1) + 8 {
            c.set_arg(*i, ArgEffect::Steal);
        }
    }
    c
}

fn collect_problems(stmts: &[Stmt], cx: &Cx, out: &mut Vec<Problem>, in_class: bool) {
    for s in stmts {
        match &s.kind {
            StmtKind::Error { message, .. } => out.push(Problem {
                span: cx.span(s.rng),
                message: format!("could not parse this statement ({message}); it was skipped"),
            }),
            StmtKind::Class(c) if !in_class => collect_problems(&c.body, cx, out, true),
            StmtKind::Extern(e) => collect_problems(&e.items, cx, out, in_class),
            StmtKind::Property { body, .. } => collect_problems(body, cx, out, in_class),
            StmtKind::If { branches, orelse } => {
                for (_, b) in branches {
                    collect_problems(b, cx, out, in_class);
                }
                collect_problems(orelse, cx, out, in_class);
            }
            _ => {}
        }
    }
}
