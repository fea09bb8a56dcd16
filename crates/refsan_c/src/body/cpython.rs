//! CPython's reference-counting and control macros, recognised by name at
//! call position (they are defined in Python.h, not in the file).

use super::{Dst, Lowerer};
use refsan_ir::{Callee, Operand, Origin, Place, StmtKind, Terminator, TypeClass, UseKind};
use tree_sitter::Node;

use crate::syntax::Txt;

/// Calls that never return.
const NORETURN: &[&[u8]] = &[
    b"abort",
    b"exit",
    b"_exit",
    b"Py_FatalError",
    b"Py_Exit",
    b"_Py_FatalErrorFunc",
    b"_Py_FatalErrorFormat",
];

impl Lowerer<'_> {
    /// Lowers `name(args)` when it is one of the macros with a meaning of
    /// their own; `None` for everything else (an ordinary call).
    pub(super) fn cpython_macro(
        &mut self,
        t: Txt<'_>,
        call: Node<'_>,
        name: &[u8],
        args: &[Node<'_>],
        dst: Dst,
    ) -> Option<Operand> {
        let span = t.span(call);
        let macro_name = || String::from_utf8_lossy(name).into_owned();
        match (name, args.len()) {
            // `Py_IncRef`/`Py_DecRef` are the stable ABI's function forms of
            // Py_XINCREF/Py_XDECREF.
            (b"Py_INCREF" | b"Py_XINCREF" | b"Py_IncRef", 1) => {
                let value = self.value(t, args[0]);
                let nullable = name != b"Py_INCREF";
                self.emit_macro(
                    StmtKind::Incref {
                        value,
                        nullable,
                        revive: false,
                    },
                    span,
                    &macro_name(),
                );
                Some(self.no_value(dst, span))
            }
            (b"_Py_NewReference" | b"_Py_NewReferenceNoTotal", 1) => {
                // A free list revives a dead object: its count becomes one
                // and the function holds that reference.
                let value = self.value(t, args[0]);
                self.emit_macro(
                    StmtKind::Incref {
                        value,
                        nullable: false,
                        revive: true,
                    },
                    span,
                    &macro_name(),
                );
                Some(self.no_value(dst, span))
            }
            (
                b"Py_DECREF"
                | b"Py_XDECREF"
                | b"Py_DecRef"
                | b"_Py_DECREF_INT"
                | b"_Py_DECREF_NO_DEALLOC",
                1,
            ) => {
                let value = self.value(t, args[0]);
                let nullable = name == b"Py_XDECREF" || name == b"Py_DecRef";
                self.emit_macro(
                    StmtKind::Decref {
                        value,
                        nullable,
                        clears: None,
                    },
                    span,
                    &macro_name(),
                );
                Some(self.no_value(dst, span))
            }
            (b"Py_CLEAR", 1) => {
                self.py_clear(t, args[0], span);
                Some(self.no_value(dst, span))
            }
            (b"Py_SETREF" | b"Py_XSETREF", 2) => {
                self.py_setref(
                    t,
                    args[0],
                    args[1],
                    name == b"Py_XSETREF",
                    span,
                    &macro_name(),
                );
                Some(self.no_value(dst, span))
            }
            (b"Py_NewRef" | b"Py_XNewRef" | b"_Py_NewRef" | b"_Py_XNewRef", 1) => {
                let value = self.value(t, args[0]);
                let nullable = name.contains(&b'X');
                self.emit_macro(
                    StmtKind::Incref {
                        value: value.clone(),
                        nullable,
                        revive: false,
                    },
                    span,
                    &macro_name(),
                );
                Some(match dst {
                    Dst::Var(v) => {
                        self.emit(StmtKind::Assign { dst: v, src: value }, span);
                        Operand::Var(v)
                    }
                    Dst::Temp => value,
                    Dst::Discard => Operand::Opaque,
                })
            }
            (b"Py_VISIT", 1) => {
                let value = self.value(t, args[0]);
                self.emit_macro(
                    StmtKind::Use {
                        value,
                        kind: UseKind::Visit,
                    },
                    span,
                    "Py_VISIT",
                );
                // `if (visit(op, arg)) return vret;`
                let cont = self.b.new_block();
                let ret = self.b.new_block();
                self.b.terminate(Terminator::Choose(vec![cont, ret]), span);
                self.b.switch_to(ret);
                self.b
                    .terminate(Terminator::Return(Some(Operand::Opaque)), span);
                self.b.switch_to(cont);
                Some(self.no_value(dst, span))
            }
            (b"Py_RETURN_RICHCOMPARE", 3) => {
                for a in args {
                    let op = self.value(t, *a);
                    self.consume(&op, span);
                }
                let mut arms = Vec::new();
                for _ in 0..3 {
                    arms.push(self.b.new_block());
                }
                self.b.terminate(Terminator::Choose(arms.clone()), span);
                for (bb, g) in arms
                    .into_iter()
                    .zip(["Py_True", "Py_False", "Py_NotImplemented"])
                {
                    self.b.switch_to(bb);
                    self.return_singleton(g, span, "Py_RETURN_RICHCOMPARE");
                }
                Some(Operand::Opaque)
            }
            (b"assert", 1) => {
                let ok = self.b.new_block();
                let fail = self.b.new_block();
                // Calls in the condition are marked: the code states how they
                // end (a failure it asserts is certain, one it rules out aborts).
                let outer = self.macro_origin.replace(Origin::ASSERT.to_string());
                self.cond(t, args[0], ok, fail);
                self.macro_origin = outer;
                self.b.switch_to(fail);
                self.b.terminate(Terminator::Unreachable, span);
                self.b.switch_to(ok);
                Some(self.no_value(dst, span))
            }
            // Casts written as macros: the value is the operand.
            (b"_Py_CAST" | b"_Py_STATIC_CAST", 2) => Some(self.value_to(t, args[1], dst)),
            (b"Py_SAFE_DOWNCAST", 3) => Some(self.value_to(t, args[0], dst)),
            // Branch hints (`LIKELY(x)` expands to it): the value is `x`.
            (b"__builtin_expect", 2) => Some(self.value_to(t, args[0], dst)),
            (
                b"_PyObject_CAST"
                | b"_PyObject_CAST_CONST"
                | b"_PyVarObject_CAST"
                | b"_PyCFunction_CAST",
                1,
            ) => Some(self.value_to(t, args[0], dst)),
            (b"Py_UNREACHABLE" | b"__builtin_unreachable", _) => {
                for a in args {
                    let op = self.value(t, *a);
                    self.consume(&op, span);
                }
                self.b.terminate(Terminator::Unreachable, span);
                Some(Operand::Opaque)
            }
            _ if NORETURN.contains(&name) => {
                let ops: Vec<Operand> = args.iter().map(|a| self.value(t, *a)).collect();
                self.emit_call(span, Callee::Named(macro_name()), ops, Dst::Discard);
                self.b.terminate(Terminator::Unreachable, span);
                Some(Operand::Opaque)
            }
            _ => None,
        }
    }

    /// The result of a macro that has no value.
    fn no_value(&mut self, dst: Dst, span: refsan_ir::Span) -> Operand {
        match dst {
            Dst::Var(v) => {
                self.emit(
                    StmtKind::Assign {
                        dst: v,
                        src: Operand::Opaque,
                    },
                    span,
                );
                Operand::Var(v)
            }
            _ => Operand::Opaque,
        }
    }

    /// `Py_CLEAR(p)`: XDECREF the place's value, then set the place to NULL.
    fn py_clear(&mut self, t: Txt<'_>, arg: Node<'_>, span: refsan_ir::Span) {
        let lv = self.lvalue(t, arg);
        self.deref_use(lv.deref, span, "Py_CLEAR");
        self.emit_macro(
            StmtKind::Decref {
                value: lv.read,
                nullable: true,
                clears: Some(lv.place.clone()),
            },
            span,
            "Py_CLEAR",
        );
        self.set_place(lv.place, Operand::Null, span, "Py_CLEAR");
    }

    /// `Py_SETREF(dst, src)`: `tmp = dst; dst = src; Py_DECREF(tmp);`.
    fn py_setref(
        &mut self,
        t: Txt<'_>,
        dst: Node<'_>,
        src: Node<'_>,
        nullable: bool,
        span: refsan_ir::Span,
        name: &str,
    ) {
        let lv = self.lvalue(t, dst);
        self.deref_use(lv.deref, span, name);
        let tmp = self.new_temp(TypeClass::Object, span);
        self.emit_macro(
            StmtKind::Assign {
                dst: tmp,
                src: lv.read,
            },
            span,
            name,
        );
        let value = self.value(t, src);
        self.set_place(lv.place, value, span, name);
        self.emit_macro(
            StmtKind::Decref {
                value: Operand::Var(tmp),
                nullable,
                clears: None,
            },
            span,
            name,
        );
    }

    fn deref_use(&mut self, base: Option<refsan_ir::VarId>, span: refsan_ir::Span, name: &str) {
        if let Some(b) = base {
            self.emit_macro(
                StmtKind::Use {
                    value: Operand::Var(b),
                    kind: UseKind::Deref,
                },
                span,
                name,
            );
        }
    }

    /// `place = value` as a macro statement: Assign for a local, Store
    /// otherwise.
    fn set_place(&mut self, place: Place, value: Operand, span: refsan_ir::Span, name: &str) {
        let kind = match place {
            Place::Var(v) => StmtKind::Assign { dst: v, src: value },
            place => StmtKind::Store { place, value },
        };
        self.emit_macro(kind, span, name);
    }
}
