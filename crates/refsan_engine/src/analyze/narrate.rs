//! How findings are worded from a state: names of values, why a reference
//! is borrowed, and the numbered events of a path.

use super::*;

impl<'a> Analyzer<'a> {
    /// What a lost value's history adds to its leak: a steal that failed, a
    /// Cython `<object>` cast that took a reference of its own.
    pub(super) fn lost(&self, st: &State, site: Site, v: &ValueState, how: Lost) -> Kind {
        let object_cast = v.cast_incref.map(|_| ObjectCast {
            new_from: match v.origin {
                ValOrigin::New(s) | ValOrigin::OutNew(s, _) => Some(self.callee_at(s)),
                _ => None,
            },
            after_incref: v.user_incref.is_some(),
        });
        Kind::Lost {
            value: self.describe(st, site),
            how,
            failed_steal_by: v.steal_failed.map(|s| self.callee_at(s)),
            object_cast,
        }
    }

    /// "`name`" or a description of where the value came from.
    pub(super) fn describe(&self, st: &State, site: Site) -> String {
        let Some(v) = st.value(site) else {
            return "the object".to_string();
        };
        if let Some(name) = v.name {
            return format!("`{}`", self.var_name(name));
        }
        if let Some(var) = st
            .vars_bound_to(Binding::Obj(site))
            .find(|v| !self.is_temp(*v))
        {
            return format!("`{}`", self.var_name(var));
        }
        match v.origin {
            ValOrigin::New(s) => format!("the new reference from `{}`", self.callee_at(s)),
            ValOrigin::Borrowed(s) => {
                format!("the borrowed reference from `{}`", self.callee_at(s))
            }
            ValOrigin::OutNew(s, _) => format!("the new reference from `{}`", self.callee_at(s)),
            ValOrigin::OutBorrowed(s, _) => {
                format!("the borrowed reference from `{}`", self.callee_at(s))
            }
            ValOrigin::Param(i) => match self.func.params.get(i as usize) {
                Some(p) => format!("`{}`", self.var_name(*p)),
                None => "a parameter".to_string(),
            },
            ValOrigin::Global(id) => format!("`{}`", self.name_of(id).trim_start_matches('&')),
            ValOrigin::Field(s) => self
                .field_text(s)
                .unwrap_or_else(|| "the field".to_string()),
        }
    }

    pub(super) fn field_text(&self, sref: StmtRef) -> Option<String> {
        let (b, f) = self.field_read_at(sref)?;
        Some(if self.is_temp(b) {
            if f == "[]" {
                "an array element".to_string()
            } else {
                format!("the `{f}` field")
            }
        } else if f == "[]" {
            format!("`{}[...]`", self.var_name(b))
        } else {
            format!("`{}->{}`", self.var_name(b), f)
        })
    }

    /// The first field a statement (or a branch's condition) reads: its
    /// base variable and name.
    pub(super) fn field_read_at(&self, sref: StmtRef) -> Option<(VarId, &'a str)> {
        let mut found = None;
        let mut look = |op: &'a Operand| {
            if let Operand::Field(b, f) = op {
                if found.is_none() {
                    found = Some((*b, f.as_str()));
                }
            }
        };
        let Some(stmt) = self.stmt_at(sref) else {
            // A field read by a branch's condition (`if (!self->x)`).
            let (bi, _) = self.locate(sref);
            if let Some(Terminator::Branch { cond, .. }) = self.func.blocks.get(bi).map(|b| &b.term)
            {
                match cond {
                    Cond::IsNull(op) | Cond::Cmp(op, ..) => look(op),
                    Cond::Same(a, b) => {
                        look(a);
                        look(b);
                    }
                    Cond::ErrOccurred | Cond::Unknown => {}
                }
            }
            return found;
        };
        match &stmt.kind {
            StmtKind::Assign { src, .. } => look(src),
            StmtKind::Call { args, .. } => args.iter().for_each(look),
            StmtKind::Incref { value, .. }
            | StmtKind::Decref { value, .. }
            | StmtKind::Use { value, .. }
            | StmtKind::Store { value, .. } => look(value),
            _ => {}
        }
        found
    }

    /// What says the function does not own a value: the C API (or a stated
    /// contract), or the project's conventions as inferred.
    pub(super) fn borrow_basis(&self, v: &ValueState) -> Basis {
        match v.status {
            Status::Stolen(s) => return self.callee_basis(&self.callee_at(s)),
            Status::Stored(_) => return Basis::Inferred,
            _ => {}
        }
        match v.origin {
            ValOrigin::Param(_) if self.expect.python_facing => Basis::Stated,
            ValOrigin::Param(_) | ValOrigin::Field(_) => Basis::Inferred,
            ValOrigin::Borrowed(s) | ValOrigin::OutBorrowed(s, _) => {
                self.callee_basis(&self.callee_at(s))
            }
            // A singleton, or a static object (`&Thing_Type`): no one holds
            // a reference the function could be handed.
            ValOrigin::Global(id) => {
                let n = self.name_of(id);
                if n.starts_with('&') || self.resolver.is_singleton(&n) {
                    Basis::Stated
                } else {
                    Basis::Inferred
                }
            }
            ValOrigin::New(_) | ValOrigin::OutNew(..) => Basis::Stated,
        }
    }

    /// Whether what `callee` does with references is stated (the knowledge
    /// base, a declaration, an annotation, `[tool.refsan]`) or inferred
    /// (a summary of the project's function, words in a comment).
    pub(super) fn callee_basis(&self, callee: &str) -> Basis {
        match self.resolver.stated(callee) {
            Some(r) if r.source != ContractSource::CommentHeuristic => Basis::Stated,
            _ => Basis::Inferred,
        }
    }

    /// The weaker of the value's basis and the stealing callee's.
    pub(super) fn steal_basis(&self, v: &ValueState, callee: &str) -> Basis {
        match (self.borrow_basis(v), self.callee_basis(callee)) {
            (Basis::Stated, Basis::Stated) => Basis::Stated,
            _ => Basis::Inferred,
        }
    }

    /// Why the function does not own a value (for RS102/RS104/RS105/RS108).
    pub(super) fn why_borrowed(&self, v: &ValueState) -> String {
        match v.status {
            Status::Stolen(s) => {
                return format!(
                    "its reference was stolen by `{}` on line {}",
                    self.callee_at(s),
                    self.span_at(s).line
                )
            }
            Status::Stored(s) => {
                return format!(
                    "its reference was stored away on line {}",
                    self.span_at(s).line
                )
            }
            _ => {}
        }
        match v.origin {
            ValOrigin::Param(_) => "parameters are borrowed references".to_string(),
            ValOrigin::Borrowed(s) | ValOrigin::OutBorrowed(s, _) => {
                format!(
                    "`{}` returns a borrowed reference, line {}",
                    self.callee_at(s),
                    self.span_at(s).line
                )
            }
            ValOrigin::Global(id) => {
                let n = self.name_of(id);
                if self.resolver.is_singleton(&n) {
                    format!(
                        "`{}` is a global singleton and needs its own reference before Python 3.12",
                        n.trim_start_matches('&')
                    )
                } else {
                    format!("`{}` is a global", n.trim_start_matches('&'))
                }
            }
            ValOrigin::Field(_) => "it belongs to the object's field".to_string(),
            ValOrigin::New(s) | ValOrigin::OutNew(s, _) => {
                format!(
                    "its reference from `{}` was already given up",
                    self.callee_at(s)
                )
            }
        }
    }

    pub(super) fn creation_event(&self, v: &ValueState) -> Option<Event> {
        let (span, message) = match v.origin {
            ValOrigin::New(s) => (
                self.span_at(s),
                format!("new reference from `{}`", self.callee_at(s)),
            ),
            ValOrigin::Borrowed(s) => (
                self.span_at(s),
                format!("borrowed reference from `{}`", self.callee_at(s)),
            ),
            ValOrigin::OutNew(s, _) => (
                self.span_at(s),
                format!(
                    "`{}` writes a new reference{}",
                    self.callee_at(s),
                    self.out_target(s, v)
                ),
            ),
            ValOrigin::OutBorrowed(s, _) => (
                self.span_at(s),
                format!(
                    "`{}` writes a borrowed reference{}",
                    self.callee_at(s),
                    self.out_target(s, v)
                ),
            ),
            ValOrigin::Param(i) => {
                let p = *self.func.params.get(i as usize)?;
                (
                    self.func.vars[p.index()].span,
                    format!(
                        "`{}` is a parameter: a borrowed reference",
                        self.var_name(p)
                    ),
                )
            }
            ValOrigin::Field(s) => (
                self.span_at(s),
                format!(
                    "{} read here",
                    self.field_text(s).unwrap_or_else(|| "the field".into())
                ),
            ),
            ValOrigin::Global(_) => return None,
        };
        Some(Event { span, message })
    }

    pub(super) fn out_target(&self, _s: StmtRef, v: &ValueState) -> String {
        match v.name {
            Some(n) => format!(" to `{}`", self.var_name(n)),
            None => String::new(),
        }
    }

    pub(super) fn render_event(&self, st: &State, ev: &Ev) -> Option<Event> {
        let ev = match *ev {
            Ev::Branch { block, taken } => {
                let b = self.func.blocks.get(block.index())?;
                let Terminator::Branch { cond, text, .. } = &b.term else {
                    return None;
                };
                Event {
                    span: b.term_span,
                    message: self.branch_text(cond, text, taken),
                }
            }
            Ev::CallFailed { stmt, .. } => {
                let name = self.callee_at(stmt);
                let how = self.failure_text(&name);
                Event {
                    span: self.span_at(stmt),
                    message: format!("`{name}` fails{how}"),
                }
            }
            Ev::Joined { .. } => return None,
            Ev::CallFalse { stmt } => Event {
                span: self.span_at(stmt),
                message: format!("`{}` returns 0", self.callee_at(stmt)),
            },
            Ev::Incref { stmt, site } => Event {
                span: self.span_at(stmt),
                message: format!("{} gets a new reference", self.describe(st, site)),
            },
            Ev::Decref { stmt, site } => Event {
                span: self.span_at(stmt),
                message: format!(
                    "{} is released by `{}`",
                    self.describe(st, site),
                    self.callee_at(stmt)
                ),
            },
            Ev::Stolen { stmt, site } => Event {
                span: self.span_at(stmt),
                message: format!(
                    "`{}` steals the reference to {}",
                    self.callee_at(stmt),
                    self.describe(st, site)
                ),
            },
            Ev::Stored { stmt, site } => Event {
                span: self.span_at(stmt),
                message: format!(
                    "the reference to {} is stored away",
                    self.describe(st, site)
                ),
            },
            Ev::NotStolen { stmt, site } => Event {
                span: self.span_at(stmt),
                message: format!(
                    "`{}` fails: it does not steal {}, the caller still owns it",
                    self.callee_at(stmt),
                    self.describe(st, site)
                ),
            },
            Ev::CodeRan { stmt, site } => {
                let callee = self.callee_at(stmt);
                let via = match self.resolver.runs_code(&callee) {
                    Some(api) => format!(" (through `{api}`)"),
                    None => String::new(),
                };
                Event {
                    span: self.span_at(stmt),
                    message: format!(
                        "`{callee}` can run Python code{via} while {} is borrowed",
                        self.describe(st, site)
                    ),
                }
            }
            Ev::Assigned { .. } | Ev::Created { .. } => return None,
        };
        Some(ev)
    }

    /// The callee whose result a temporary holds.
    pub(super) fn temp_callee(&self, t: VarId) -> Option<&'a str> {
        self.func
            .blocks
            .iter()
            .flat_map(|b| b.stmts.iter())
            .find_map(|s| match &s.kind {
                StmtKind::Call {
                    dst: Some(d),
                    callee: Callee::Named(n),
                    ..
                } if *d == t => Some(n.as_str()),
                _ => None,
            })
    }

    /// What taking one edge of a branch means, worded from the condition the
    /// engine split on (so it is right whatever the source's negations).
    pub(super) fn branch_text(&self, cond: &Cond, text: &str, taken: bool) -> String {
        let operand = |op: &Operand| -> Option<String> {
            match op {
                Operand::Var(v) if !self.is_temp(*v) => Some(format!("`{}`", self.var_name(*v))),
                Operand::Global(g) => Some(format!("`{g}`")),
                Operand::Field(v, f) if !self.is_temp(*v) => {
                    Some(format!("`{}->{}`", self.var_name(*v), f))
                }
                Operand::Var(v) => self.temp_callee(*v).map(|c| format!("the result of `{c}`")),
                _ => None,
            }
        };
        match cond {
            Cond::IsNull(op) => match operand(op) {
                Some(o) => format!("{o} is {}", if taken { "NULL" } else { "not NULL" }),
                None => format!("`{text}` is {}", if taken { "NULL" } else { "not NULL" }),
            },
            Cond::Cmp(Operand::Var(v), CmpOp::Ne, 0)
                if self.var_name(*v).starts_with("#defined ") =>
            {
                // What a preprocessor arm says of a macro (see the C
                // front-end).
                format!(
                    "`{}` is {}defined",
                    &self.var_name(*v)["#defined ".len()..],
                    if taken { "" } else { "not " }
                )
            }
            Cond::Cmp(Operand::Var(v), CmpOp::Lt, k) if self.var_name(*v).starts_with('#') => {
                // A preprocessor arm choice (see the C front-end).
                format!(
                    "`{}`: arm {k} is {}compiled",
                    self.var_name(*v),
                    if taken { "" } else { "not " }
                )
            }
            Cond::Cmp(op, cmp, k) => {
                let cmp = if taken { *cmp } else { cmp.negate() };
                match (operand(op), op) {
                    (Some(o), Operand::Var(v)) if self.is_temp(*v) => {
                        let what = match (cmp, *k) {
                            (CmpOp::Eq, k) => format!("is {k}"),
                            (CmpOp::Ne, 0) => "is not 0".to_string(),
                            (CmpOp::Lt, 0) => "is negative".to_string(),
                            (CmpOp::Ge, 0) => "is not negative".to_string(),
                            (c, k) => format!("is {} {k}", c.as_str()),
                        };
                        format!("{o} {what}")
                    }
                    (Some(o), _) => {
                        format!(
                            "{} {} {k}",
                            o.trim_end_matches('`').to_string() + "",
                            cmp.as_str()
                        ) + "`"
                    }
                    (None, _) => format!("`{text}` is {}", if taken { "true" } else { "false" }),
                }
            }
            Cond::ErrOccurred => if taken {
                "an exception is set"
            } else {
                "no exception is set"
            }
            .to_string(),
            Cond::Same(a, b) => {
                let name = |op: &Operand| match op {
                    Operand::Var(v) if !self.is_temp(*v) => self.var_name(*v).to_string(),
                    Operand::Global(g) => g.clone(),
                    Operand::Field(v, f) if !self.is_temp(*v) => {
                        format!("{}->{}", self.var_name(*v), f)
                    }
                    Operand::AddrOf(Place::Global(g)) => format!("&{g}"),
                    _ => "the value".to_string(),
                };
                format!(
                    "`{}` is {}`{}`",
                    name(a),
                    if taken { "" } else { "not " },
                    name(b)
                )
            }
            Cond::Unknown => format!("`{text}` is {}", if taken { "true" } else { "false" }),
        }
    }

    pub(super) fn failure_text(&self, name: &str) -> &'static str {
        match self.resolver.resolve(name).map(|r| r.contract.failure) {
            Some(
                Failure::Null | Failure::NullNoExc | Failure::NullMaybeExc | Failure::AlwaysNull,
            ) => " (returns NULL)",
            Some(Failure::NegOne | Failure::Negative | Failure::TriState) => " (returns -1)",
            Some(Failure::NegTwo) => " (returns -2)",
            Some(Failure::Zero) => " (returns 0)",
            _ => "",
        }
    }

    /// The numbered path of a finding at `at` about `site` (or about the
    /// path as a whole when `site` is None), without the finding itself.
    /// Calls that ran Python code while the value was borrowed are steps of
    /// an RS110 finding's path only (`code_ran`).
    pub(super) fn path(
        &self,
        st: &State,
        site: Option<Site>,
        at: Span,
        code_ran: bool,
    ) -> Vec<Event> {
        const MAX_EVENTS: usize = 12;
        let all = path_events(&st.path);
        let start = match site {
            Some(s) => all
                .iter()
                .rposition(|e| matches!(e, Ev::Created { site, .. } if *site == s))
                .map_or(0, |i| i + 1),
            None => 0,
        };
        let mut picked: Vec<(bool, Event)> = Vec::new();
        if let Some(v) = site.and_then(|s| st.value(s)) {
            if let Some(e) = self.creation_event(v) {
                picked.push((true, e));
            }
        }
        for ev in &all[start..] {
            let related = match ev.site() {
                Some(s) => Some(s) == site,
                None => true,
            };
            let strong = ev.site().is_some();
            if !related || (!code_ran && matches!(ev, Ev::CodeRan { .. })) {
                continue;
            }
            if let Some(e) = self.render_event(st, ev) {
                picked.push((strong, e));
            }
        }
        // Keep the story short (the finding's own event is one more): drop
        // the oldest branch events first.
        while picked.len() + 1 > MAX_EVENTS {
            match picked.iter().skip(1).position(|(strong, _)| !strong) {
                Some(i) => {
                    picked.remove(i + 1);
                }
                None => {
                    picked.remove(1.min(picked.len() - 1));
                }
            }
        }
        // Several events of one statement ("`f` fails", "the result of `f`
        // is negative") say one thing: keep the one about the value.
        let mut merged: Vec<(bool, Event)> = Vec::with_capacity(picked.len());
        for (strong, e) in picked {
            match merged.last_mut() {
                Some((prev_strong, prev))
                    if (prev.span.line, prev.span.col) == (e.span.line, e.span.col) =>
                {
                    if strong && !*prev_strong {
                        *prev = e;
                        *prev_strong = true;
                    }
                }
                _ => merged.push((strong, e)),
            }
        }
        let mut out: Vec<Event> = merged
            .into_iter()
            .map(|(_, e)| e)
            .filter(|e| (e.span.line, e.span.col) != (at.line, at.col))
            .collect();
        out.dedup();
        out
    }

    /// Records what the analysis found at `span` about `site`, with its
    /// path; the same observation from several paths is kept once, with
    /// the path that takes the least to happen.
    pub(super) fn emit(&mut self, st: &State, kind: Kind, span: Span, site: Option<Site>) {
        let demand = path_demand(&st.path);
        let code_ran = matches!(kind, Kind::UsedAfterCodeRan { .. });
        let seen = self
            .result
            .violations
            .iter()
            .position(|v| v.span == span && v.site == site && v.kind == kind);
        if let Some(i) = seen {
            if demand < self.result.violations[i].trigger {
                let (trigger, failing) = self.trigger_of(st);
                let path = self.path(st, site, span, code_ran);
                let v = &mut self.result.violations[i];
                v.path = path;
                v.trigger = trigger;
                v.failing = failing;
            }
            return;
        }
        let path = self.path(st, site, span, code_ran);
        let (trigger, failing) = self.trigger_of(st);
        let singleton = self.singleton_of(st, site);
        self.result.violations.push(Violation {
            kind,
            span,
            path,
            site,
            trigger,
            failing,
            singleton,
        });
    }

    /// The singleton the value at `site` was found to be on this path.
    fn singleton_of(&self, st: &State, site: Option<Site>) -> Option<String> {
        let n = st.value(site?)?.singleton?;
        Some(self.name_of(n))
    }

    /// What it takes for the path of `st` to happen, and the first call
    /// on it whose failure takes that.
    pub(super) fn trigger_of(&self, st: &State) -> (Trigger, Option<FailingCall>) {
        let demand = path_demand(&st.path);
        if demand == Trigger::Always {
            return (demand, None);
        }
        let failing = path_events(&st.path).into_iter().find_map(|ev| match ev {
            Ev::CallFailed { stmt, demand: d } if d == demand => Some(FailingCall {
                name: self.callee_at(stmt),
                span: self.span_at(stmt),
            }),
            _ => None,
        });
        (demand, failing)
    }

    /// A violation kept aside for the summary to decide (see
    /// `FnResult::param_violations`).
    pub(super) fn violation(&self, st: &State, kind: Kind, span: Span, site: Site) -> Violation {
        let (trigger, failing) = self.trigger_of(st);
        Violation {
            path: self.path(st, Some(site), span, false),
            kind,
            span,
            site: Some(site),
            trigger,
            failing,
            singleton: self.singleton_of(st, Some(site)),
        }
    }

    pub(super) fn mark_reported(&self, st: &mut State, site: Site) {
        if let Some(v) = st.value_mut(site) {
            v.reported = true;
        }
    }

    pub(super) fn null_why_text(&self, why: NullWhy) -> String {
        match why {
            NullWhy::Literal(s) => format!("set to NULL on line {}", self.span_at(s).line),
            NullWhy::Failed(s) => format!(
                "`{}` returned NULL on line {}",
                self.callee_at(s),
                self.span_at(s).line
            ),
            NullWhy::Checked(s) => format!("checked on line {}", self.span_at(s).line),
        }
    }

    pub(super) fn null_name(&self, op_text: Option<String>) -> String {
        op_text
            .map(|n| format!("`{n}`"))
            .unwrap_or_else(|| "the value".to_string())
    }

    pub(super) fn var_text(&self, st: &State, b: Binding) -> Option<String> {
        st.vars_bound_to(b)
            .find(|v| !self.is_temp(*v))
            .map(|v| self.var_name(v).to_string())
    }

    pub(super) fn op_text(&self, st: &State, op: &Operand, b: Binding) -> Option<String> {
        match op {
            Operand::Var(v) if !self.is_temp(*v) => Some(self.var_name(*v).to_string()),
            Operand::Field(v, f) if !self.is_temp(*v) && f != "[]" => {
                Some(format!("{}->{}", self.var_name(*v), f))
            }
            _ => self.var_text(st, b),
        }
    }

    /// The place a Store statement writes, as the user wrote it.
    /// Where the borrowed value `v` was stored at `sref`.
    pub(super) fn store_place_text(&self, sref: StmtRef, v: &ValueState) -> String {
        match self.stmt_at(sref).map(|s| &s.kind) {
            Some(StmtKind::Store { place, .. }) => match place {
                Place::Field(b, f) if !self.is_temp(*b) => format!("{}->{}", self.var_name(*b), f),
                Place::Field(_, f) => format!("the `{f}` field"),
                Place::Global(g) => g.clone(),
                Place::Deref(p) => format!("*{}", self.var_name(*p)),
                Place::Index(p) => format!("{}[...]", self.var_name(*p)),
                Place::Var(v) => self.var_name(*v).to_string(),
                Place::Opaque => "the place".to_string(),
            },
            // An output written through a field's address
            // (`PyArg_ParseTuple(args, "O", &self->cb)`).
            Some(StmtKind::Call { args, .. }) => args
                .iter()
                .enumerate()
                .filter(|(i, _)| match v.origin {
                    ValOrigin::OutBorrowed(s, out) if s == sref => *i == out as usize,
                    _ => true,
                })
                .find_map(|(_, a)| match a {
                    Operand::AddrOf(Place::Field(b, f)) if !self.is_temp(*b) => {
                        Some(format!("{}->{}", self.var_name(*b), f))
                    }
                    Operand::AddrOf(Place::Field(_, f)) => Some(format!("the `{f}` field")),
                    _ => None,
                })
                .unwrap_or_else(|| "the place".to_string()),
            _ => "the place".to_string(),
        }
    }
}
