//! The syntax tree of a Cython file, as far as ownership needs it. Python
//! constructs are kept (the lowering must know which operations create
//! references); C declarations keep their types as written plus the few
//! facts that decide ownership (pointer depth, object or not).

/// A byte range of the source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rng {
    pub start: u32,
    pub end: u32,
}

impl Rng {
    pub fn to(self, other: Rng) -> Rng {
        Rng {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// A C or Cython type as written in a declaration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CType {
    /// The base type: "int", "unsigned long", "PyObject", "object",
    /// "np.ndarray", "MyClass". Empty for an untyped declaration.
    pub base: String,
    /// Number of `*` (and C++ `&`) in the declarator.
    pub ptr: u8,
    /// Text between brackets after the base: a template (`vector[int]`),
    /// a buffer (`np.ndarray[double, ndim=2]`) or a memoryview (`double[:]`).
    pub brackets: Option<String>,
    /// `(*name)(...)`: a function pointer.
    pub func_ptr: bool,
    /// `name[10]`: a C array.
    pub array: bool,
    /// The type as written.
    pub text: String,
}

impl CType {
    pub fn untyped() -> CType {
        CType::default()
    }

    pub fn is_untyped(&self) -> bool {
        self.base.is_empty() && self.ptr == 0 && !self.func_ptr
    }

    pub fn is_memoryview(&self) -> bool {
        self.brackets.as_deref().is_some_and(|b| b.contains(':'))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExcValue {
    Int(i64),
    Null,
    Other,
}

/// A function's `except` clause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExceptSpec {
    /// Nothing written: Cython's default (propagates for `cdef` functions,
    /// `noexcept` for externs).
    Default,
    NoExcept,
    /// `except V` (`maybe` = `except? V`: V is also a valid value).
    Value {
        value: ExcValue,
        maybe: bool,
    },
    /// `except *`.
    Star,
    /// `except +` (C++).
    Cpp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub rng: Rng,
    /// `None` for an untyped parameter (a Python object).
    pub ty: Option<CType>,
    pub annotation: Option<Expr>,
    pub default: Option<Expr>,
    /// 1 for `*args`, 2 for `**kwargs`.
    pub star: u8,
    pub not_none: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FuncKind {
    Def,
    Cdef,
    Cpdef,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncDef {
    pub kind: FuncKind,
    pub is_async: bool,
    pub name: String,
    pub name_rng: Rng,
    /// The C name of an extern function (`PtrIter_Next "PyIter_Next"(...)`).
    pub cname: Option<String>,
    /// The whole definition (header and body).
    pub rng: Rng,
    /// The declared return type (`cdef`/`cpdef`); `None` when not written.
    pub ret: Option<CType>,
    pub ret_annotation: Option<Expr>,
    pub params: Vec<Param>,
    pub except: ExceptSpec,
    pub nogil: bool,
    pub with_gil: bool,
    /// `inline`, `public`, `api`, `static`...
    pub modifiers: Vec<String>,
    /// `None` for a declaration without body (`.pxd`, `cdef extern`).
    pub body: Option<Vec<Stmt>>,
    pub decorators: Vec<Expr>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VarDecl {
    pub name: String,
    pub rng: Rng,
    pub ty: CType,
    pub value: Option<Expr>,
    /// `public` / `readonly` for `cdef class` attributes.
    pub visibility: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassDef {
    pub cdef: bool,
    pub name: String,
    pub name_rng: Rng,
    pub rng: Rng,
    pub bases: Vec<Expr>,
    pub body: Vec<Stmt>,
    pub decorators: Vec<Expr>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternBlock {
    /// The header named in `cdef extern from "h"`, or `*`.
    pub header: Option<String>,
    pub nogil: bool,
    pub rng: Rng,
    pub items: Vec<Stmt>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeDeclKind {
    Struct,
    Union,
    Enum,
    Fused,
    /// `ctypedef <type> name`.
    Typedef,
    CppClass,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeDecl {
    pub kind: TypeDeclKind,
    pub name: Option<String>,
    pub rng: Rng,
    pub fields: Vec<VarDecl>,
    /// For a typedef: the aliased type.
    pub underlying: Option<CType>,
    /// Enum members.
    pub members: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handler {
    pub types: Option<Expr>,
    pub name: Option<(String, Rng)>,
    pub body: Vec<Stmt>,
    pub rng: Rng,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WithItem {
    pub ctx: Expr,
    pub target: Option<Expr>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StmtKind {
    Expr(Expr),
    /// `a = b = value`.
    Assign {
        targets: Vec<Expr>,
        value: Expr,
    },
    AugAssign {
        target: Expr,
        op: BinOp,
        value: Expr,
    },
    AnnAssign {
        target: Expr,
        annotation: Expr,
        value: Option<Expr>,
    },
    /// `cdef int a, b = 1` (locals, module variables, class attributes).
    CDecl(Vec<VarDecl>),
    Return(Option<Expr>),
    Raise {
        exc: Option<Expr>,
        cause: Option<Expr>,
    },
    Pass,
    Break,
    Continue,
    If {
        branches: Vec<(Expr, Vec<Stmt>)>,
        orelse: Vec<Stmt>,
    },
    While {
        test: Expr,
        body: Vec<Stmt>,
        orelse: Vec<Stmt>,
    },
    For {
        target: Expr,
        iter: Expr,
        body: Vec<Stmt>,
        orelse: Vec<Stmt>,
    },
    /// Cython's `for i from a <= i < b:` (the bounds are kept as
    /// expressions).
    ForFrom {
        target: Expr,
        bounds: Vec<Expr>,
        body: Vec<Stmt>,
        orelse: Vec<Stmt>,
    },
    Try {
        body: Vec<Stmt>,
        handlers: Vec<Handler>,
        orelse: Vec<Stmt>,
        finalbody: Option<Vec<Stmt>>,
    },
    With {
        items: Vec<WithItem>,
        body: Vec<Stmt>,
    },
    /// `with nogil:` (`nogil` = true) or `with gil:`.
    Gil {
        nogil: bool,
        body: Vec<Stmt>,
    },
    Del(Vec<Expr>),
    Global(Vec<String>),
    Nonlocal(Vec<String>),
    Assert {
        test: Expr,
        msg: Option<Expr>,
    },
    Func(Box<FuncDef>),
    Class(Box<ClassDef>),
    Extern(Box<ExternBlock>),
    TypeDecl(Box<TypeDecl>),
    /// The old `property name:` block of a `cdef class`.
    Property {
        name: String,
        body: Vec<Stmt>,
    },
    /// `import a.b as c`, `from m import x as y`.
    Import {
        module: String,
        names: Vec<(String, Option<String>)>,
    },
    /// `cimport m as a`, `from m cimport x as y`.
    CImport {
        module: String,
        names: Vec<(String, Option<String>)>,
        /// `cimport m` (the module itself is imported).
        whole_module: bool,
    },
    Include(String),
    /// A statement the parser could not read; `names` are the identifiers
    /// it mentions, so the lowering can forget what it knew about them.
    Error {
        names: Vec<(String, Rng)>,
        message: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub rng: Rng,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
    MatMul,
    LShift,
    RShift,
    BitAnd,
    BitOr,
    BitXor,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    Neg,
    Pos,
    Invert,
    Not,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpKind {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    In,
    NotIn,
    Is,
    IsNot,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConstKind {
    None,
    True,
    False,
    Null,
    Ellipsis,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompKind {
    List,
    Set,
    Dict,
    Generator,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompFor {
    pub target: Expr,
    pub iter: Expr,
    pub ifs: Vec<Expr>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arg {
    Pos(Expr),
    Star(Expr),
    Kw(String, Expr),
    StarStar(Expr),
}

impl Arg {
    pub fn expr(&self) -> &Expr {
        match self {
            Arg::Pos(e) | Arg::Star(e) | Arg::Kw(_, e) | Arg::StarStar(e) => e,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExprKind {
    Name(String),
    /// An integer literal (`None` when it does not fit an i64).
    Int(Option<i64>),
    Float,
    Str {
        bytes: bool,
        /// Cython's `c'x'` char literal: a C value.
        char_lit: bool,
    },
    /// An f-string: its replacement fields.
    FString(Vec<Expr>),
    Const(ConstKind),
    Attr {
        value: Box<Expr>,
        attr: String,
        attr_rng: Rng,
    },
    Call {
        func: Box<Expr>,
        args: Vec<Arg>,
    },
    Subscript {
        value: Box<Expr>,
        index: Vec<Expr>,
    },
    /// `a:b:c` inside a subscript (its parts, absent ones left out).
    Slice(Vec<Expr>),
    BinOp {
        op: BinOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    Unary {
        op: UnOp,
        operand: Box<Expr>,
    },
    BoolOp {
        and: bool,
        values: Vec<Expr>,
    },
    Compare {
        left: Box<Expr>,
        ops: Vec<(CmpKind, Expr)>,
    },
    IfExp {
        test: Box<Expr>,
        body: Box<Expr>,
        orelse: Box<Expr>,
    },
    /// `<T>x` (`checked` for `<T?>x`).
    Cast {
        ty: CType,
        checked: bool,
        value: Box<Expr>,
    },
    /// `&x`.
    AddrOf(Box<Expr>),
    /// `sizeof(...)`, `typeid(...)`: a C constant.
    Sizeof,
    Tuple(Vec<Expr>),
    List(Vec<Expr>),
    Set(Vec<Expr>),
    /// `{k: v, **m}` (`None` key for `**m`).
    Dict(Vec<(Option<Expr>, Expr)>),
    Comp {
        kind: CompKind,
        elts: Vec<Expr>,
        generators: Vec<CompFor>,
    },
    Lambda {
        params: Vec<Param>,
        body: Box<Expr>,
    },
    Yield(Option<Box<Expr>>),
    YieldFrom(Box<Expr>),
    Await(Box<Expr>),
    Starred(Box<Expr>),
    Walrus {
        target: String,
        value: Box<Expr>,
    },
    /// C++ `new T(...)`.
    New(Box<Expr>),
    Error,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    pub kind: ExprKind,
    pub rng: Rng,
}

impl Expr {
    pub fn new(kind: ExprKind, rng: Rng) -> Expr {
        Expr { kind, rng }
    }

    pub fn name(&self) -> Option<&str> {
        match &self.kind {
            ExprKind::Name(n) => Some(n),
            _ => None,
        }
    }

    /// `a.b.c` as a dotted string.
    pub fn dotted(&self) -> Option<String> {
        match &self.kind {
            ExprKind::Name(n) => Some(n.clone()),
            ExprKind::Attr { value, attr, .. } => Some(format!("{}.{}", value.dotted()?, attr)),
            _ => None,
        }
    }

    /// Calls `f` on every direct sub-expression.
    pub fn for_each_child<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        match &self.kind {
            ExprKind::Name(_)
            | ExprKind::Int(_)
            | ExprKind::Float
            | ExprKind::Str { .. }
            | ExprKind::Const(_)
            | ExprKind::Sizeof
            | ExprKind::Error => {}
            ExprKind::FString(v)
            | ExprKind::Tuple(v)
            | ExprKind::List(v)
            | ExprKind::Set(v)
            | ExprKind::Slice(v) => v.iter().for_each(f),
            ExprKind::Attr { value, .. } => f(value),
            ExprKind::Call { func, args } => {
                f(func);
                args.iter().for_each(|a| f(a.expr()));
            }
            ExprKind::Subscript { value, index } => {
                f(value);
                index.iter().for_each(f);
            }
            ExprKind::BinOp { left, right, .. } => {
                f(left);
                f(right);
            }
            ExprKind::Unary { operand, .. } => f(operand),
            ExprKind::BoolOp { values, .. } => values.iter().for_each(f),
            ExprKind::Compare { left, ops } => {
                f(left);
                ops.iter().for_each(|(_, e)| f(e));
            }
            ExprKind::IfExp { test, body, orelse } => {
                f(test);
                f(body);
                f(orelse);
            }
            ExprKind::Cast { value, .. }
            | ExprKind::AddrOf(value)
            | ExprKind::YieldFrom(value)
            | ExprKind::Await(value)
            | ExprKind::Starred(value)
            | ExprKind::New(value)
            | ExprKind::Walrus { value, .. } => f(value),
            ExprKind::Dict(items) => {
                for (k, v) in items {
                    if let Some(k) = k {
                        f(k);
                    }
                    f(v);
                }
            }
            ExprKind::Comp {
                elts, generators, ..
            } => {
                elts.iter().for_each(&mut *f);
                for g in generators {
                    f(&g.target);
                    f(&g.iter);
                    g.ifs.iter().for_each(&mut *f);
                }
            }
            ExprKind::Lambda { params, body } => {
                for p in params {
                    if let Some(d) = &p.default {
                        f(d);
                    }
                }
                f(body);
            }
            ExprKind::Yield(v) => {
                if let Some(v) = v {
                    f(v);
                }
            }
        }
    }
}
