//! The per-function control-flow graph every front-end lowers into.
//!
//! A function is a list of variables and basic blocks. Statements are the few
//! things that matter for ownership (calls, INCREF/DECREF, stores, uses);
//! everything else a front-end does not understand becomes `Escape`/`Havoc`
//! (stop tracking) or an `Opaque` operand, never a silently dropped
//! reference. Entry block is `BlockId(0)`.

use crate::contract::{Contract, ContractSource};
use crate::span::Span;
use serde::Serialize;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct VarId(pub u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct BlockId(pub u32);

impl VarId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl BlockId {
    pub const ENTRY: BlockId = BlockId(0);
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// The ownership-relevant class of a C or Cython type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TypeClass {
    /// `PyObject *` or a pointer to an object struct (`FooObject *`,
    /// `PyTypeObject *`), or a Cython `object`/Python-typed variable.
    Object,
    /// `PyObject **`: an out parameter or an array of references.
    ObjectPtrPtr,
    /// Integer-like (int, Py_ssize_t, long, char, enum...).
    Int,
    /// Any other pointer.
    Pointer,
    /// `void`.
    Void,
    /// Structs, floats, arrays, unknown typedefs.
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VarKind {
    /// The n-th parameter (0-based).
    Param(u32),
    Local,
    /// A temporary the front-end introduced for a nested expression. It dies
    /// at the end of the statement that created it.
    Temp,
    /// A function-level `static` variable: stores into it outlive the call.
    Static,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Var {
    pub name: String,
    pub ty: TypeClass,
    /// The type as written, e.g. "PyObject *", "FooObject *", "int".
    pub c_type: String,
    pub kind: VarKind,
    /// Cython `object`-typed variables: the language releases the reference
    /// the variable holds; the front-end makes that explicit with `Managed`
    /// statements.
    pub managed: bool,
    pub span: Span,
}

/// A value read by a statement.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Operand {
    Var(VarId),
    Null,
    Int(i64),
    /// A string literal (format strings of PyArg_ParseTuple, Py_BuildValue...).
    /// A literal joined to a macro the front-end cannot expand (`"iiN"
    /// _Py_PARSE_PID`) holds [`UNKNOWN_TEXT`] where the macro's text goes.
    Str(String),
    /// A named global or static: `Py_None`, `&PyList_Type`, a module-level
    /// variable.
    Global(String),
    /// `base->field` (or `base.field`): the reference the object at `base`
    /// holds in that field. Reading it gives a reference owned by the object.
    Field(VarId, String),
    /// `&place`: a pointer to a place (for out parameters).
    AddrOf(Place),
    /// Anything else: arithmetic, unknown macros, expressions the front-end
    /// does not model. Never tracked.
    Opaque,
}

/// Stands in a string literal for the text of a macro the front-end could
/// not expand.
pub const UNKNOWN_TEXT: char = '\u{FFFC}';

impl Operand {
    pub fn var(&self) -> Option<VarId> {
        match self {
            Operand::Var(v) => Some(*v),
            _ => None,
        }
    }
}

/// A place a reference can be stored into.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Place {
    Var(VarId),
    /// `base->field`.
    Field(VarId, String),
    /// `*p`: typically an out parameter.
    Deref(VarId),
    /// `p[i]`: an array of references.
    Index(VarId),
    /// A global or static variable.
    Global(String),
    /// A place the front-end could not resolve.
    Opaque,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Callee {
    Named(String),
    /// A call through a function pointer (`Py_TYPE(self)->tp_free(self)`).
    Indirect,
}

impl Callee {
    pub fn name(&self) -> Option<&str> {
        match self {
            Callee::Named(n) => Some(n),
            Callee::Indirect => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UseKind {
    /// Reads through the pointer: field access, Py_TYPE, Py_SIZE, a macro that
    /// dereferences. NULL crashes here.
    Deref,
    /// Py_VISIT in a traverse function.
    Visit,
    /// The value is printed, compared or otherwise read without dereference.
    Read,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum StmtKind {
    /// `dst = src`: copies a pointer or integer; no reference count changes.
    Assign { dst: VarId, src: Operand },
    /// `dst = callee(args)`; effects come from the callee's contract.
    Call {
        dst: Option<VarId>,
        callee: Callee,
        args: Vec<Operand>,
    },
    /// `place = value` where place is not a local: the reference moves there.
    Store { place: Place, value: Operand },
    /// Py_INCREF / Py_XINCREF (`nullable`). `revive`: the count becomes
    /// one (`_Py_NewReference` on an object a free list or a resize gave
    /// back): a reference the function already holds is that one.
    Incref {
        value: Operand,
        nullable: bool,
        revive: bool,
    },
    /// Py_DECREF / Py_XDECREF (`nullable`) / Py_CLEAR (`clears` is the place
    /// set to NULL afterwards).
    Decref {
        value: Operand,
        nullable: bool,
        clears: Option<Place>,
    },
    /// The value is used: it must be alive (and for Deref, non-NULL).
    Use { value: Operand, kind: UseKind },
    /// The value escapes in a way the front-end cannot model: stop tracking.
    Escape { value: Operand },
    /// The variable receives an unknown value (written by unmodelled code).
    Havoc { var: VarId },
    /// Py_BEGIN_ALLOW_THREADS / `with nogil`.
    ReleaseGil,
    /// Py_END_ALLOW_THREADS / `with gil`.
    AcquireGil,
}

/// Why a statement exists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Written by the user.
    Source,
    /// Expanded from a macro (name of the macro).
    Macro(String),
    /// Inserted by a front-end for a language that manages references itself
    /// (Cython's own INCREF/DECREF of `object` variables).
    Managed(ManagedOp),
}

impl Origin {
    /// Marks an INCREF/DECREF written in Cython as `Py_INCREF(p)` on a raw
    /// `PyObject *` although `cpython.ref` declares it for `object`: the
    /// author's intent is lowered, and the engine says why it will not
    /// compile.
    pub const CYTHON_RAW_REFCOUNT: &'static str = "cython:refcount-call-on-raw-pointer";
    /// A statement of an `assert()` condition.
    pub const ASSERT: &'static str = "assert";
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ManagedOp {
    /// Cython takes a reference when assigning to an `object` variable.
    AssignIncref,
    /// Cython releases the old value of an `object` variable on reassignment.
    AssignRelease,
    /// Cython releases `object` variables when the function exits.
    ScopeExit,
    /// `<object>p`: the cast takes a new reference.
    ObjectCast,
    /// Cython releases a temporary holding a new reference after its use.
    TempRelease,
    /// Cython takes a reference to a value it returns.
    ReturnIncref,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
    pub origin: Origin,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn negate(self) -> CmpOp {
        match self {
            CmpOp::Eq => CmpOp::Ne,
            CmpOp::Ne => CmpOp::Eq,
            CmpOp::Lt => CmpOp::Ge,
            CmpOp::Le => CmpOp::Gt,
            CmpOp::Gt => CmpOp::Le,
            CmpOp::Ge => CmpOp::Lt,
        }
    }

    /// The operator with its operands swapped (`3 < x` is `x > 3`).
    pub fn swap(self) -> CmpOp {
        match self {
            CmpOp::Eq => CmpOp::Eq,
            CmpOp::Ne => CmpOp::Ne,
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// A branch condition the engine can split paths on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Cond {
    /// True when the operand is NULL.
    IsNull(Operand),
    /// An integer operand compared with a constant.
    Cmp(Operand, CmpOp, i64),
    /// True when an exception is set (`PyErr_Occurred()`).
    ErrOccurred,
    /// True when the two operands are the same pointer (`x == Py_None`,
    /// `a == b`).
    Same(Operand, Operand),
    /// Anything else: both branches are possible.
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Terminator {
    Goto(BlockId),
    Branch {
        cond: Cond,
        then_bb: BlockId,
        else_bb: BlockId,
        /// The condition's source text, for path events.
        text: String,
    },
    /// Any of the targets: `switch`, the arms of `#if`, loops whose exit the
    /// front-end does not model.
    Choose(Vec<BlockId>),
    Return(Option<Operand>),
    /// The path ends without returning (abort, Py_FatalError, Py_UNREACHABLE).
    Unreachable,
}

impl Terminator {
    pub fn successors(&self) -> Vec<BlockId> {
        match self {
            Terminator::Goto(b) => vec![*b],
            Terminator::Branch {
                then_bb, else_bb, ..
            } => vec![*then_bb, *else_bb],
            Terminator::Choose(bs) => bs.clone(),
            Terminator::Return(_) | Terminator::Unreachable => Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub term: Terminator,
    pub term_span: Span,
}

/// What the rest of the world expects of a function, when the front-end can
/// tell from its definition alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Nothing known: the engine infers a summary from the body.
    Plain,
    /// Called from Python (Argument Clinic `_impl`, Cython `def`): returns a
    /// new reference or NULL with an exception set; borrows its arguments.
    PythonFacing,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Function {
    pub name: String,
    /// The whole definition.
    pub span: Span,
    pub name_span: Span,
    pub is_static: bool,
    pub returns: TypeClass,
    pub return_c_type: String,
    pub params: Vec<VarId>,
    pub vars: Vec<Var>,
    pub blocks: Vec<Block>,
    pub role: Role,
    /// A contract stated on the definition itself (cpychecker macros,
    /// `# refsan:` comments), with its source.
    pub declared: Option<(Contract, ContractSource)>,
    /// Parameters (0-based) of a Python-facing function that its caller
    /// hands a reference of its own (an Argument Clinic converter that
    /// makes a new object, `PyUnicode_FSConverter`): the function owns them.
    pub handed_over: Vec<usize>,
    /// Regions the front-end could not lower faithfully (parse errors,
    /// unsupported constructs). Findings are still reported, but the function
    /// is marked approximate.
    pub approximate: Vec<(Span, String)>,
    /// The project header this `static` function is defined in, when the
    /// file only includes it: the function is analysed for what its callers
    /// learn of it (its summary, in the includer's context), and its own
    /// findings belong to the header. Its spans are the header's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
}

impl Function {
    pub fn var(&self, v: VarId) -> &Var {
        &self.vars[v.index()]
    }

    pub fn block(&self, b: BlockId) -> &Block {
        &self.blocks[b.index()]
    }

    /// Checks the structural invariants every front-end must keep: every
    /// referenced block and variable exists, params are Param vars.
    pub fn validate(&self) -> Result<(), String> {
        let nb = self.blocks.len() as u32;
        let nv = self.vars.len() as u32;
        if nb == 0 {
            return Err(format!("{}: no blocks", self.name));
        }
        let check_var = |v: VarId| -> Result<(), String> {
            if v.0 >= nv {
                Err(format!("{}: variable v{} out of range", self.name, v.0))
            } else {
                Ok(())
            }
        };
        let check_op = |op: &Operand| -> Result<(), String> {
            match op {
                Operand::Var(v) | Operand::Field(v, _) => check_var(*v),
                Operand::AddrOf(p) => check_place(p, nv, &self.name),
                _ => Ok(()),
            }
        };
        for (i, p) in self.params.iter().enumerate() {
            check_var(*p)?;
            if self.var(*p).kind != VarKind::Param(i as u32) {
                return Err(format!("{}: param {} is not a Param var", self.name, i));
            }
        }
        for (bi, b) in self.blocks.iter().enumerate() {
            for s in &b.stmts {
                match &s.kind {
                    StmtKind::Assign { dst, src } => {
                        check_var(*dst)?;
                        check_op(src)?;
                    }
                    StmtKind::Call { dst, args, .. } => {
                        if let Some(d) = dst {
                            check_var(*d)?;
                        }
                        for a in args {
                            check_op(a)?;
                        }
                    }
                    StmtKind::Store { place, value } => {
                        check_place(place, nv, &self.name)?;
                        check_op(value)?;
                    }
                    StmtKind::Incref { value, .. }
                    | StmtKind::Use { value, .. }
                    | StmtKind::Escape { value } => check_op(value)?,
                    StmtKind::Decref { value, clears, .. } => {
                        check_op(value)?;
                        if let Some(p) = clears {
                            check_place(p, nv, &self.name)?;
                        }
                    }
                    StmtKind::Havoc { var } => check_var(*var)?,
                    StmtKind::ReleaseGil | StmtKind::AcquireGil => {}
                }
            }
            for s in b.term.successors() {
                if s.0 >= nb {
                    return Err(format!(
                        "{}: bb{} jumps to missing bb{}",
                        self.name, bi, s.0
                    ));
                }
            }
            match &b.term {
                Terminator::Branch {
                    cond: Cond::IsNull(op),
                    ..
                }
                | Terminator::Branch {
                    cond: Cond::Cmp(op, _, _),
                    ..
                }
                | Terminator::Return(Some(op)) => check_op(op)?,
                Terminator::Branch {
                    cond: Cond::Same(a, b),
                    ..
                } => {
                    check_op(a)?;
                    check_op(b)?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn check_place(p: &Place, nv: u32, name: &str) -> Result<(), String> {
    match p {
        Place::Var(v) | Place::Field(v, _) | Place::Deref(v) | Place::Index(v) if v.0 >= nv => {
            Err(format!("{}: place variable v{} out of range", name, v.0))
        }
        _ => Ok(()),
    }
}

// ---- Text form, for debugging (`refsan debug-ir`) and front-end tests ----

struct OpFmt<'a>(&'a Function, &'a Operand);
struct PlaceFmt<'a>(&'a Function, &'a Place);

impl fmt::Display for OpFmt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let func = self.0;
        match self.1 {
            Operand::Var(v) => write!(f, "{}", func.var(*v).name),
            Operand::Null => f.write_str("NULL"),
            Operand::Int(i) => write!(f, "{i}"),
            Operand::Str(s) => write!(f, "{s:?}"),
            Operand::Global(g) => write!(f, "@{g}"),
            Operand::Field(v, name) => write!(f, "{}->{}", func.var(*v).name, name),
            Operand::AddrOf(p) => write!(f, "&{}", PlaceFmt(func, p)),
            Operand::Opaque => f.write_str("?"),
        }
    }
}

impl fmt::Display for PlaceFmt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let func = self.0;
        match self.1 {
            Place::Var(v) => write!(f, "{}", func.var(*v).name),
            Place::Field(v, name) => write!(f, "{}->{}", func.var(*v).name, name),
            Place::Deref(v) => write!(f, "*{}", func.var(*v).name),
            Place::Index(v) => write!(f, "{}[?]", func.var(*v).name),
            Place::Global(g) => write!(f, "@{g}"),
            Place::Opaque => f.write_str("?"),
        }
    }
}

impl Function {
    /// A stable, human-readable dump of the CFG (one line per statement).
    pub fn dump(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let params: Vec<String> = self
            .params
            .iter()
            .map(|p| format!("{}: {:?}", self.var(*p).name, self.var(*p).ty))
            .collect();
        let _ = writeln!(
            out,
            "fn {}({}) -> {:?}{}{}",
            self.name,
            params.join(", "),
            self.returns,
            if self.is_static { " static" } else { "" },
            match self.role {
                Role::Plain => "",
                Role::PythonFacing => " python-facing",
            }
        );
        for (i, b) in self.blocks.iter().enumerate() {
            let _ = writeln!(out, "  bb{i}:");
            for s in &b.stmts {
                let o = |op: &Operand| OpFmt(self, op).to_string();
                let line = match &s.kind {
                    StmtKind::Assign { dst, src } => {
                        format!("{} = {}", self.var(*dst).name, o(src))
                    }
                    StmtKind::Call { dst, callee, args } => {
                        let args: Vec<String> = args.iter().map(o).collect();
                        let name = callee.name().unwrap_or("(*indirect)");
                        match dst {
                            Some(d) => {
                                format!(
                                    "{} = call {}({})",
                                    self.var(*d).name,
                                    name,
                                    args.join(", ")
                                )
                            }
                            None => format!("call {}({})", name, args.join(", ")),
                        }
                    }
                    StmtKind::Store { place, value } => {
                        format!("store {} -> {}", o(value), PlaceFmt(self, place))
                    }
                    StmtKind::Incref {
                        value,
                        nullable,
                        revive,
                    } => {
                        format!(
                            "{} {}",
                            if *revive {
                                "revive"
                            } else if *nullable {
                                "xincref"
                            } else {
                                "incref"
                            },
                            o(value)
                        )
                    }
                    StmtKind::Decref {
                        value,
                        nullable,
                        clears,
                    } => {
                        let mut s = format!(
                            "{} {}",
                            if *nullable { "xdecref" } else { "decref" },
                            o(value)
                        );
                        if let Some(p) = clears {
                            s.push_str(&format!(" (clears {})", PlaceFmt(self, p)));
                        }
                        s
                    }
                    StmtKind::Use { value, kind } => format!("use({kind:?}) {}", o(value)),
                    StmtKind::Escape { value } => format!("escape {}", o(value)),
                    StmtKind::Havoc { var } => format!("havoc {}", self.var(*var).name),
                    StmtKind::ReleaseGil => "release-gil".to_string(),
                    StmtKind::AcquireGil => "acquire-gil".to_string(),
                };
                let origin = match &s.origin {
                    Origin::Source => String::new(),
                    Origin::Macro(m) => format!("  [{m}]"),
                    Origin::Managed(m) => format!("  [managed {m:?}]"),
                };
                let _ = writeln!(out, "    {line}  @{}{origin}", s.span.line);
            }
            let term = match &b.term {
                Terminator::Goto(t) => format!("goto bb{}", t.0),
                Terminator::Branch {
                    cond,
                    then_bb,
                    else_bb,
                    ..
                } => {
                    let c = match cond {
                        Cond::IsNull(op) => format!("{} == NULL", OpFmt(self, op)),
                        Cond::Cmp(op, cmp, k) => {
                            format!("{} {} {}", OpFmt(self, op), cmp.as_str(), k)
                        }
                        Cond::ErrOccurred => "PyErr_Occurred()".to_string(),
                        Cond::Same(a, b) => {
                            format!("{} same as {}", OpFmt(self, a), OpFmt(self, b))
                        }
                        Cond::Unknown => "?".to_string(),
                    };
                    format!("if {c} then bb{} else bb{}", then_bb.0, else_bb.0)
                }
                Terminator::Choose(bs) => {
                    let t: Vec<String> = bs.iter().map(|b| format!("bb{}", b.0)).collect();
                    format!("choose {}", t.join(", "))
                }
                Terminator::Return(None) => "return".to_string(),
                Terminator::Return(Some(op)) => format!("return {}", OpFmt(self, op)),
                Terminator::Unreachable => "unreachable".to_string(),
            };
            let _ = writeln!(out, "    {term}  @{}", b.term_span.line);
        }
        out
    }
}
