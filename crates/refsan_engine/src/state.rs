//! The abstract state of one path through a function.
//!
//! Values are abstract objects identified by their *site*: the statement
//! (and sub-position) that produced them, a parameter, or a global name. A
//! site always denotes the same abstract value, which keeps states finite
//! in loops and makes equality structural. Variables bind to values, NULL,
//! integers (call outcomes), or nothing known.

pub use crate::ids::{FieldBase, NameId, Site, StmtRef, SubPos};
use refsan_ir::{BlockId, Trigger, VarId};
use std::rc::Rc;

/// Why a variable is NULL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NullWhy {
    /// Assigned NULL in the source (`x = NULL`, Py_CLEAR).
    Literal(StmtRef),
    /// A call failed and returned NULL.
    Failed(StmtRef),
    /// A branch established it (`if (x == NULL)`).
    Checked(StmtRef),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Binding {
    /// Nothing known; not tracked.
    Unknown,
    Null(NullWhy),
    Obj(Site),
    /// A non-NULL pointer that is not a Python object (char *, void *).
    Ptr,
    /// An integer in [lo, hi].
    Int(i64, i64),
}

impl Binding {
    /// Bindings whose differences do not matter for ownership: states that
    /// differ only in these are joined.
    pub fn is_execution(&self) -> bool {
        matches!(self, Binding::Unknown | Binding::Ptr | Binding::Int(..))
    }

    /// What two paths' bindings of one variable have in common: integer
    /// ranges widen, a NULL stays one whatever made it, anything else that
    /// differs is unknown.
    pub fn join(self, other: Binding) -> Binding {
        match (self, other) {
            _ if self == other => self,
            (Binding::Int(l1, h1), Binding::Int(l2, h2)) => Binding::Int(l1.min(l2), h1.max(h2)),
            (Binding::Null(_), Binding::Null(_)) => self,
            _ => Binding::Unknown,
        }
    }

    pub fn obj(&self) -> Option<Site> {
        match self {
            Binding::Obj(s) => Some(*s),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValOrigin {
    /// A new reference returned by a call.
    New(StmtRef),
    /// A borrowed reference returned by a call.
    Borrowed(StmtRef),
    /// The n-th parameter.
    Param(u32),
    /// A global, by its interned name.
    Global(NameId),
    /// The reference held by an object's field (read at that statement).
    Field(StmtRef),
    /// A new reference written through out-pointer argument `arg`.
    OutNew(StmtRef, u8),
    /// A borrowed reference written through out-pointer argument `arg`.
    OutBorrowed(StmtRef, u8),
}

impl ValOrigin {
    /// References the function received without owning them.
    pub fn is_borrowed_kind(&self) -> bool {
        matches!(
            self,
            ValOrigin::Borrowed(_)
                | ValOrigin::Param(_)
                | ValOrigin::OutBorrowed(..)
                | ValOrigin::Global(_)
        )
    }

    pub fn is_new_kind(&self) -> bool {
        matches!(self, ValOrigin::New(_) | ValOrigin::OutNew(..))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Nullness {
    NonNull,
    /// Could be NULL for reasons the code may legitimately know (a parameter,
    /// a field): never reported.
    Maybe,
    /// NULL or a new reference, both normal (PyErr_Fetch outputs): releasing
    /// it without a NULL check is reported.
    MaybeOut(StmtRef),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Live,
    /// The function released its last reference: the object may be freed.
    Released(StmtRef),
    /// A stealing call took the function's last reference; the object lives
    /// as long as its new owner.
    Stolen(StmtRef),
    /// Stored into a field/global/out pointer: ownership moved there.
    Stored(StmtRef),
    /// A borrowed reference whose owner was released at that statement.
    OwnerGone(StmtRef),
    /// Handed to code we cannot model: no more findings about it.
    Escaped,
}

impl Status {
    pub fn is_dead(&self) -> bool {
        matches!(self, Status::Released(_) | Status::OwnerGone(_))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ValueState {
    pub site: Site,
    pub origin: ValOrigin,
    /// References the function holds: 1 for a new reference, 0 for a
    /// borrowed one; INCREF adds, DECREF/steal/store subtracts.
    pub owned: i16,
    pub null: Nullness,
    pub status: Status,
    /// The container a borrowed reference came from (or was stolen into).
    pub owner: Option<Site>,
    /// The variable the value was first bound to, for messages.
    pub name: Option<VarId>,
    /// A failed steal-on-success call left the reference with the caller.
    pub steal_failed: Option<StmtRef>,
    /// A finding was reported about this value on this path: no cascades.
    pub reported: bool,
    /// The reference a field holds was handed to a stealing call; the
    /// transfer is complete once the field is overwritten.
    pub field_stolen: Option<StmtRef>,
    /// A Cython `<object>` cast took a reference (ManagedOp::ObjectCast).
    pub cast_incref: Option<StmtRef>,
    /// The user's own Py_INCREF (not one the language inserted).
    pub user_incref: Option<StmtRef>,
    /// A borrowed item of a mutable container (dict, list): Python code can
    /// remove it from the container and free it.
    pub volatile: bool,
    /// A call that can run Python code happened while the value was only
    /// borrowed.
    pub exposed: Option<StmtRef>,
    /// Also held by a C struct we cannot see the owner of: no leak findings.
    pub shared: bool,
    /// Read from an array element (`p[i]`): elements are not told apart, so
    /// no leak findings.
    pub array_item: bool,
    /// A borrowed container item released while its slot still points to
    /// it; fine only if the slot is overwritten (`PyList_SET_ITEM`) later.
    pub slot_released: Option<StmtRef>,
    /// Its slot was overwritten (`PyTuple_SET_ITEM`): no longer an item of
    /// the container, its reference is the function's.
    pub left_slot: bool,
    /// A container keeps its own reference (PyList_Append, PyDict_SetItem):
    /// releasing the function's last reference does not free the object.
    pub kept: bool,
    /// A reference the function owned was passed to a function refsan
    /// knows nothing about, which may keep it.
    pub passed_unknown: bool,
    /// Stored into a field or global without a reference of its own; fine if
    /// a Py_INCREF follows (`self->x = x; Py_INCREF(x);`).
    pub store_debt: Option<StmtRef>,
    /// The code established that it is this singleton (`if (res ==
    /// Py_True)`): a reference too few or too many to an object that is
    /// never freed (immortal from Python 3.12) is a hazard, not a crash.
    pub singleton: Option<NameId>,
}

impl ValueState {
    pub fn new(site: Site, origin: ValOrigin, owned: i16, null: Nullness) -> ValueState {
        ValueState {
            site,
            origin,
            owned,
            null,
            status: Status::Live,
            owner: None,
            name: None,
            steal_failed: None,
            reported: false,
            field_stolen: None,
            cast_incref: None,
            user_incref: None,
            volatile: false,
            exposed: None,
            shared: false,
            array_item: false,
            slot_released: None,
            left_slot: false,
            kept: false,
            passed_unknown: false,
            store_debt: None,
            singleton: None,
        }
    }

    /// The function holds no reference to it and owes none: nothing about
    /// it can be reported at an exit.
    pub fn holds_nothing(&self) -> bool {
        self.owned == 0
            && !matches!(self.origin, ValOrigin::Param(_))
            && self.steal_failed.is_none()
            && self.field_stolen.is_none()
            && self.store_debt.is_none()
            && self.slot_released.is_none()
    }

    /// Findings may be reported about it.
    pub fn trackable(&self) -> bool {
        !self.reported && self.status != Status::Escaped
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Exc {
    Clear,
    Set,
    Unknown,
}

impl Exc {
    pub fn join(self, other: Exc) -> Exc {
        if self == other {
            self
        } else {
            Exc::Unknown
        }
    }
}

/// The value an object's field holds, keyed by the base (its value site, or
/// a variable key when the base is untracked) and interned field name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldSlot {
    pub base: FieldBase,
    pub field: NameId,
    pub val: FieldVal,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FieldVal {
    Obj(Site),
    Null(StmtRef),
    /// A non-NULL C pointer (`self->buf = PyMem_Malloc(n)` succeeded).
    Ptr,
    /// Something a callee may have stored over what this function did:
    /// read as an unknown value, not as a new reference to track.
    Unknown,
}

/// One event on a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ev {
    /// Took the `taken` edge of block `block`'s branch.
    Branch {
        block: BlockId,
        taken: bool,
    },
    /// A call failed (its failure outcome was chosen): what it takes for
    /// it to fail (`Always` for a call that cannot do anything else, such
    /// as `PyErr_Format`).
    CallFailed {
        stmt: StmtRef,
        demand: Trigger,
    },
    /// Paths were joined here, and the prefix they share took less than
    /// the easier of them: what that one took.
    Joined {
        demand: Trigger,
    },
    /// A tri-state call returned 0 (false / absent).
    CallFalse {
        stmt: StmtRef,
    },
    Incref {
        stmt: StmtRef,
        site: Site,
    },
    Decref {
        stmt: StmtRef,
        site: Site,
    },
    Stolen {
        stmt: StmtRef,
        site: Site,
    },
    Stored {
        stmt: StmtRef,
        site: Site,
    },
    /// A steal-on-success call failed: the reference stays with the caller.
    NotStolen {
        stmt: StmtRef,
        site: Site,
    },
    /// The value was bound to a variable by an assignment.
    Assigned {
        stmt: StmtRef,
        site: Site,
    },
    /// A value was created (a call's result, an out pointer, a field read).
    Created {
        stmt: StmtRef,
        site: Site,
    },
    /// A call that can run Python code while the value was only borrowed.
    CodeRan {
        stmt: StmtRef,
        site: Site,
    },
}

impl Ev {
    pub fn site(&self) -> Option<Site> {
        match self {
            Ev::Incref { site, .. }
            | Ev::Decref { site, .. }
            | Ev::Stolen { site, .. }
            | Ev::Stored { site, .. }
            | Ev::NotStolen { site, .. }
            | Ev::Assigned { site, .. }
            | Ev::Created { site, .. }
            | Ev::CodeRan { site, .. } => Some(*site),
            _ => None,
        }
    }
}

pub struct EvNode {
    pub ev: Ev,
    pub prev: Path,
    pub len: u32,
    /// What it takes for the path up to here to happen: the highest demand
    /// of its failed calls.
    pub demand: Trigger,
}

/// The events of a path, newest first, shared between states.
pub type Path = Option<Rc<EvNode>>;

impl Drop for EvNode {
    /// Unlinks the chain iteratively: dropping a long path recursively would
    /// overflow the stack of a worker thread.
    fn drop(&mut self) {
        let mut next = self.prev.take();
        while let Some(node) = next {
            match Rc::try_unwrap(node) {
                Ok(mut n) => next = n.prev.take(),
                Err(_) => break,
            }
        }
    }
}

pub fn path_push(path: &Path, ev: Ev) -> Path {
    let len = path.as_ref().map_or(0, |p| p.len) + 1;
    let own = match ev {
        Ev::CallFailed { demand, .. } | Ev::Joined { demand } => demand,
        _ => Trigger::Always,
    };
    Some(Rc::new(EvNode {
        ev,
        prev: path.clone(),
        len,
        demand: own.max(path_demand(path)),
    }))
}

/// What it takes for `path` to happen.
pub fn path_demand(path: &Path) -> Trigger {
    path.as_ref().map_or(Trigger::Always, |p| p.demand)
}

/// Events oldest first.
pub fn path_events(path: &Path) -> Vec<Ev> {
    let mut out = Vec::new();
    let mut cur = path.clone();
    while let Some(node) = cur {
        out.push(node.ev);
        cur = node.prev.clone();
    }
    out.reverse();
    out
}

/// The longest common prefix of two paths (the events both went through).
pub fn path_common(a: &Path, b: &Path) -> Path {
    let (mut a, mut b) = (a.clone(), b.clone());
    let len = |p: &Path| p.as_ref().map_or(0, |n| n.len);
    while len(&a) > len(&b) {
        a = a.and_then(|n| n.prev.clone());
    }
    while len(&b) > len(&a) {
        b = b.and_then(|n| n.prev.clone());
    }
    loop {
        match (&a, &b) {
            (Some(x), Some(y)) if Rc::ptr_eq(x, y) => return a,
            (Some(x), Some(y)) => {
                let (px, py) = (x.prev.clone(), y.prev.clone());
                a = px;
                b = py;
            }
            _ => return None,
        }
    }
}

#[derive(Clone)]
pub struct State {
    /// Bindings other than `Unknown`, sorted by variable: most variables
    /// know nothing at any point, so states stay small to copy and compare.
    pub vars: Vec<(u32, Binding)>,
    /// Sorted by site.
    pub values: Vec<ValueState>,
    /// Sorted by (base, field).
    pub fields: Vec<FieldSlot>,
    pub exc: Exc,
    /// The exception state is still the caller's: a helper (not called by
    /// the interpreter) may be entered with an exception set, and nothing
    /// on this path has called anything since. `exc` says `Clear` then, but
    /// a test of `PyErr_Occurred()` may go either way.
    pub exc_unseen: bool,
    pub gil_released: bool,
    pub path: Path,
    /// What the code itself established on this path (see [`Known`]),
    /// sorted by key: a later test it decides is dead code as written, not
    /// a path the model of a call ruled out. Not part of the ownership
    /// facts.
    pub known: Vec<Known>,
}

/// What the code established about a tested thing (a variable, a field, the
/// exception state): the values the tests it made leave (NULL and "no
/// exception" are 0, non-NULL and "an exception" are >= 1), or `trusted`
/// when the value comes from a fact (the knowledge base, a summary, the
/// calling convention) and everything about it is established.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Known {
    pub key: u64,
    pub lo: i64,
    pub hi: i64,
    pub trusted: bool,
}

impl Known {
    pub fn range(key: u64, lo: i64, hi: i64) -> Known {
        Known {
            key,
            lo,
            hi,
            trusted: false,
        }
    }

    pub fn trusted(key: u64) -> Known {
        Known {
            key,
            lo: i64::MIN,
            hi: i64::MAX,
            trusted: true,
        }
    }
}

/// What both paths established.
pub(crate) fn join_known(a: &[Known], b: &[Known]) -> Vec<Known> {
    let mut out = Vec::new();
    for x in a {
        if let Ok(i) = b.binary_search_by_key(&x.key, |k| k.key) {
            let y = b[i];
            let (xl, xh) = if x.trusted {
                (i64::MIN, i64::MAX)
            } else {
                (x.lo, x.hi)
            };
            let (yl, yh) = if y.trusted {
                (i64::MIN, i64::MAX)
            } else {
                (y.lo, y.hi)
            };
            let k = Known {
                key: x.key,
                lo: xl.min(yl),
                hi: xh.max(yh),
                trusted: x.trusted && y.trusted,
            };
            if k.trusted || k.lo != i64::MIN || k.hi != i64::MAX {
                out.push(k);
            }
        }
    }
    out
}

/// The key of what a branch tests: a variable, a field read through a
/// variable, or the exception state.
pub fn test_key(var: Option<VarId>, field: Option<NameId>) -> u64 {
    match var {
        Some(v) => u64::from(v.0) | (field.map_or(0, |f| u64::from(f.0) + 1) << 32),
        None => u64::MAX,
    }
}

/// The variable a [`test_key`] is about (`None` for the exception state).
pub fn test_key_var(key: u64) -> Option<VarId> {
    (key != u64::MAX).then_some(VarId(key as u32))
}

impl PartialEq for State {
    fn eq(&self, other: &State) -> bool {
        self.exc == other.exc
            && self.exc_unseen == other.exc_unseen
            && self.gil_released == other.gil_released
            && self.vars == other.vars
            && self.values == other.values
            && self.fields == other.fields
    }
}

impl State {
    pub fn new(_nvars: usize) -> State {
        State {
            vars: Vec::new(),
            values: Vec::new(),
            fields: Vec::new(),
            exc: Exc::Clear,
            exc_unseen: false,
            gil_released: false,
            path: None,
            known: Vec::new(),
        }
    }

    /// What is established about `key`.
    pub fn known(&self, key: u64) -> Option<Known> {
        self.known
            .binary_search_by_key(&key, |k| k.key)
            .ok()
            .map(|i| self.known[i])
    }

    /// Records what is established about `key` (replacing what was).
    pub fn set_known(&mut self, k: Known) {
        match self.known.binary_search_by_key(&k.key, |x| x.key) {
            Ok(i) => self.known[i] = k,
            Err(i) => self.known.insert(i, k),
        }
    }

    /// What was established of the fields read through `var`.
    pub fn forget_known_fields(&mut self, var: VarId) {
        self.known
            .retain(|k| k.key >> 32 == 0 || k.key == u64::MAX || k.key as u32 != var.0);
    }

    /// Keeps the remembered fields for which `keep` holds, given the state
    /// as it is before any is removed.
    pub fn retain_fields(&mut self, keep: impl Fn(&State, &FieldSlot) -> bool) {
        if self.fields.iter().all(|f| keep(self, f)) {
            return;
        }
        let kept: Vec<bool> = self.fields.iter().map(|f| keep(self, f)).collect();
        let mut i = 0;
        self.fields.retain(|_| {
            i += 1;
            kept[i - 1]
        });
    }

    /// `key` got a value nothing established: forget what was.
    pub fn forget_known(&mut self, key: u64) {
        if let Ok(i) = self.known.binary_search_by_key(&key, |k| k.key) {
            self.known.remove(i);
        }
    }

    pub fn push_event(&mut self, ev: Ev) {
        self.path = path_push(&self.path, ev);
    }

    fn value_index(&self, site: Site) -> Result<usize, usize> {
        self.values.binary_search_by_key(&site, |v| v.site)
    }

    pub fn value(&self, site: Site) -> Option<&ValueState> {
        self.value_index(site).ok().map(|i| &self.values[i])
    }

    pub fn value_mut(&mut self, site: Site) -> Option<&mut ValueState> {
        match self.value_index(site) {
            Ok(i) => Some(&mut self.values[i]),
            Err(_) => None,
        }
    }

    /// Inserts or replaces the value at its site.
    pub fn put_value(&mut self, v: ValueState) {
        match self.value_index(v.site) {
            Ok(i) => self.values[i] = v,
            Err(i) => self.values.insert(i, v),
        }
    }

    /// Puts a value made now at its site: a value the site made before (an
    /// earlier loop iteration) is another object, and so are its fields.
    pub fn put_new_value(&mut self, v: ValueState) {
        let site = v.site;
        let base = FieldBase::value(site);
        if self.fields.iter().any(|f| f.base == base) {
            self.fields.retain(|f| f.base != base);
        }
        self.put_value(v);
    }

    pub fn remove_value(&mut self, site: Site) {
        if let Ok(i) = self.value_index(site) {
            self.values.remove(i);
        }
    }

    pub fn binding(&self, v: VarId) -> Binding {
        match self.vars.binary_search_by_key(&v.0, |(k, _)| *k) {
            Ok(i) => self.vars[i].1,
            Err(_) => Binding::Unknown,
        }
    }

    pub fn set_binding(&mut self, v: VarId, b: Binding) {
        match (self.vars.binary_search_by_key(&v.0, |(k, _)| *k), b) {
            (Ok(i), Binding::Unknown) => {
                self.vars.remove(i);
            }
            (Ok(i), b) => self.vars[i].1 = b,
            (Err(_), Binding::Unknown) => {}
            (Err(i), b) => self.vars.insert(i, (v.0, b)),
        }
    }

    /// Every variable bound to `b`.
    pub fn vars_bound_to(&self, b: Binding) -> impl Iterator<Item = VarId> + '_ {
        self.vars
            .iter()
            .filter(move |(_, x)| *x == b)
            .map(|(k, _)| VarId(*k))
    }

    /// Number of variables and fields that refer to the value.
    pub fn ref_count(&self, site: Site) -> usize {
        let target = Binding::Obj(site);
        self.vars.iter().filter(|(_, b)| *b == target).count()
            + self
                .fields
                .iter()
                .filter(|f| f.val == FieldVal::Obj(site))
                .count()
    }

    pub fn field(&self, base: FieldBase, field: NameId) -> Option<FieldVal> {
        self.fields
            .binary_search_by(|f| (f.base, f.field).cmp(&(base, field)))
            .ok()
            .map(|i| self.fields[i].val)
    }

    pub fn set_field(&mut self, base: FieldBase, field: NameId, val: FieldVal) {
        match self
            .fields
            .binary_search_by(|f| (f.base, f.field).cmp(&(base, field)))
        {
            Ok(i) => self.fields[i].val = val,
            Err(i) => self.fields.insert(i, FieldSlot { base, field, val }),
        }
    }

    pub fn clear_field(&mut self, base: FieldBase, field: NameId) {
        if let Ok(i) = self
            .fields
            .binary_search_by(|f| (f.base, f.field).cmp(&(base, field)))
        {
            self.fields.remove(i);
        }
    }

    /// Forgets every remembered field (after a call that may change them).
    pub fn forget_fields(&mut self) {
        self.fields.clear();
    }

    /// Rebinds every variable bound to `site` (a value that turned out NULL).
    pub fn replace_binding(&mut self, site: Site, with: Binding) {
        for (_, b) in &mut self.vars {
            if *b == Binding::Obj(site) {
                *b = with;
            }
        }
        self.vars.retain(|(_, b)| *b != Binding::Unknown);
    }

    /// Drops values nobody refers to and that own nothing: they cannot
    /// cause findings any more. Owned unreferenced values must have been
    /// reported (or escaped) by the caller before.
    pub fn collect_garbage(&mut self) {
        if self.values.is_empty() {
            return;
        }
        // Values are few: mark them directly instead of collecting sites.
        let mut keep: Vec<bool> = self
            .values
            .iter()
            .map(|v| {
                (v.owned > 0 && v.status == Status::Live) || matches!(v.origin, ValOrigin::Param(_))
            })
            .collect();
        if keep.iter().all(|k| *k) {
            return;
        }
        let mark = |keep: &mut Vec<bool>, values: &[ValueState], site: Site| {
            if let Ok(i) = values.binary_search_by_key(&site, |v| v.site) {
                keep[i] = true;
            }
        };
        for (_, b) in &self.vars {
            if let Binding::Obj(s) = b {
                mark(&mut keep, &self.values, *s);
            }
        }
        // A field read that taught nothing (a borrowed reference, nothing
        // known of it, no variable holding it) is forgotten: reading the
        // field again gives the same facts, and paths that read it at
        // different statements stay one state.
        let values = &self.values;
        let vars = &self.vars;
        self.fields.retain(|f| {
            let FieldVal::Obj(s) = f.val else {
                return true;
            };
            let Ok(i) = values.binary_search_by_key(&s, |v| v.site) else {
                return true;
            };
            let v = &values[i];
            let boring = matches!(v.origin, ValOrigin::Field(_))
                && !keep[i]
                && v.owned == 0
                && v.status == Status::Live
                && v.null == Nullness::Maybe
                && !v.reported
                && !v.shared
                && !v.array_item
                && !v.kept
                && !v.passed_unknown
                && v.steal_failed.is_none()
                && v.field_stolen.is_none()
                && v.cast_incref.is_none()
                && v.user_incref.is_none()
                && v.slot_released.is_none()
                && v.store_debt.is_none()
                && !vars.iter().any(|(_, b)| *b == Binding::Obj(s))
                // The container of a value still known (an item read from it).
                && !values.iter().any(|w| w.owner == Some(s));
            !boring
        });
        for f in &self.fields {
            if let FieldVal::Obj(s) = f.val {
                mark(&mut keep, &self.values, s);
            }
        }
        // The container of a kept value stays known: messages name it.
        for i in 0..self.values.len() {
            if keep[i] {
                if let Some(o) = self.values[i].owner {
                    mark(&mut keep, &self.values, o);
                }
            }
        }
        let mut i = 0;
        self.values.retain(|_| {
            let k = keep[i];
            i += 1;
            k
        });
    }

    /// A hash of what `same_property` compares: states with different
    /// hashes cannot be joined, so most comparisons are skipped.
    pub fn prop_hash(&self) -> u64 {
        fn mix(h: u64, x: u64) -> u64 {
            (h.rotate_left(5) ^ x).wrapping_mul(0x517c_c1b7_2722_0a95)
        }
        let mut h = mix(self.gil_released as u64, self.exc as u64);
        for (k, b) in &self.vars {
            match b {
                // Execution facts are joined, not compared.
                Binding::Unknown | Binding::Ptr | Binding::Int(..) => {}
                Binding::Null(_) => h = mix(h, ((*k as u64) << 8) | 2),
                Binding::Obj(s) => h = mix(h, ((*k as u64) << 8) ^ ((s.raw() as u64) << 40) | 3),
            }
        }
        for v in &self.values {
            h = mix(h, v.site.raw() as u64);
            h = mix(
                h,
                (v.owned as u16 as u64)
                    | ((v.reported as u64) << 16)
                    | ((v.owner.map_or(0, Site::raw) as u64) << 17),
            );
        }
        for f in &self.fields {
            h = mix(h, ((f.base.raw() as u64) << 32) | f.field.0 as u64);
        }
        h
    }

    /// Same ownership facts: such states may be joined.
    pub fn same_property(&self, other: &State) -> bool {
        // The exception state is kept apart: it correlates with the integer
        // a function returns (-1 with an exception, 0 without), which
        // summaries and RS109 depend on.
        self.gil_released == other.gil_released
            && self.exc == other.exc
            && self.values == other.values
            && (self.fields == other.fields
                || self.fields.len() == other.fields.len()
                    && self.fields.iter().zip(&other.fields).all(|(a, b)| {
                        // A NULL is a NULL whatever stored or tested it.
                        a.base == b.base
                            && a.field == b.field
                            && (a.val == b.val
                                || matches!((a.val, b.val), (FieldVal::Null(_), FieldVal::Null(_))))
                    }))
            && {
                // Compare the object bindings; execution bindings may differ
                // (and be present on one side only).
                // A NULL is a NULL whatever made it (an assignment, a failed
                // call): the first state's reason is kept.
                let same = |(ka, a): &(u32, Binding), (kb, b): &(u32, Binding)| {
                    ka == kb && (a == b || matches!((a, b), (Binding::Null(_), Binding::Null(_))))
                };
                self.vars == other.vars
                    || self
                        .vars
                        .iter()
                        .filter(|(_, b)| !b.is_execution())
                        .zip(other.vars.iter().filter(|(_, b)| !b.is_execution()))
                        .all(|(a, b)| same(a, b))
                        && self.vars.iter().filter(|(_, b)| !b.is_execution()).count()
                            == other.vars.iter().filter(|(_, b)| !b.is_execution()).count()
            }
    }

    /// Takes `other`'s path when it takes less to happen (fewer or easier
    /// failed calls), so findings tell the easiest way; returns whether it
    /// did.
    pub fn take_path_if_easier(&mut self, other: &State) -> bool {
        let easier = path_demand(&other.path) < path_demand(&self.path);
        if easier {
            self.path = other.path.clone();
        }
        easier
    }

    /// Joins a property-equal state into this one; returns true when this
    /// state changed.
    pub fn join_from(&mut self, other: &State) -> bool {
        let unseen = self.exc_unseen && other.exc_unseen;
        let mut changed = unseen != self.exc_unseen;
        self.exc_unseen = unseen;
        if self.vars == other.vars && self.exc == other.exc {
            return changed;
        }
        let mut joined: Vec<(u32, Binding)> = Vec::with_capacity(self.vars.len());
        for (k, a) in &self.vars {
            let j = a.join(other.binding(VarId(*k)));
            if j != *a {
                changed = true;
            }
            if j != Binding::Unknown {
                joined.push((*k, j));
            }
        }
        self.vars = joined;
        let exc = self.exc.join(other.exc);
        if exc != self.exc {
            self.exc = exc;
            changed = true;
        }
        if changed {
            // What it takes to get here: the easier of the two paths, not
            // the shared prefix (which may need no failure at all).
            let demand = path_demand(&self.path).min(path_demand(&other.path));
            self.path = path_common(&self.path, &other.path);
            if path_demand(&self.path) < demand {
                self.path = path_push(&self.path, Ev::Joined { demand });
            }
            self.known = join_known(&self.known, &other.known);
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_very_long_path_drops_without_recursion() {
        // Built and dropped on a small thread stack.
        std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(|| {
                let mut p: Path = None;
                for i in 0..1_000_000 {
                    p = path_push(
                        &p,
                        Ev::CallFailed {
                            stmt: StmtRef::new(i),
                            demand: Trigger::Always,
                        },
                    );
                }
                drop(p);
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn common_prefix_of_paths() {
        let root = path_push(
            &None,
            Ev::CallFailed {
                stmt: StmtRef::new(1),
                demand: Trigger::Always,
            },
        );
        let a = path_push(
            &root,
            Ev::CallFailed {
                stmt: StmtRef::new(2),
                demand: Trigger::Always,
            },
        );
        let b = path_push(
            &path_push(
                &root,
                Ev::CallFailed {
                    stmt: StmtRef::new(3),
                    demand: Trigger::Always,
                },
            ),
            Ev::CallFailed {
                stmt: StmtRef::new(4),
                demand: Trigger::Always,
            },
        );
        let c = path_common(&a, &b);
        assert_eq!(
            path_events(&c),
            vec![Ev::CallFailed {
                stmt: StmtRef::new(1),
                demand: Trigger::Always,
            }]
        );
        assert!(path_common(&a, &None).is_none());
    }

    #[test]
    fn joined_paths_keep_what_the_easier_took() {
        // Two paths part after event 0, and each then has a call fail on
        // a memory error: the joined state still needs one.
        let root = path_push(
            &None,
            Ev::CallFalse {
                stmt: StmtRef::new(0),
            },
        );
        let oom = |p: &Path, i: u32| {
            path_push(
                p,
                Ev::CallFailed {
                    stmt: StmtRef::new(i),
                    demand: Trigger::Oom,
                },
            )
        };
        let mut s = State::new(1);
        s.set_binding(VarId(0), Binding::Int(0, 0));
        s.path = oom(
            &path_push(
                &root,
                Ev::CallFalse {
                    stmt: StmtRef::new(1),
                },
            ),
            2,
        );
        let mut t = s.clone();
        t.set_binding(VarId(0), Binding::Int(1, 1));
        t.path = oom(
            &path_push(
                &root,
                Ev::CallFalse {
                    stmt: StmtRef::new(3),
                },
            ),
            4,
        );
        assert!(s.join_from(&t));
        assert_eq!(path_demand(&s.path), Trigger::Oom);
        // One of them needing nothing: the joined state needs nothing.
        let mut u = t.clone();
        u.set_binding(VarId(0), Binding::Int(7, 7));
        u.path = path_push(
            &root,
            Ev::CallFalse {
                stmt: StmtRef::new(5),
            },
        );
        assert!(s.join_from(&u));
        assert_eq!(path_demand(&s.path), Trigger::Always);
    }

    #[test]
    fn join_widens_integers() {
        let mut s = State::new(2);
        s.set_binding(VarId(0), Binding::Int(-1, -1));
        let mut t = s.clone();
        t.set_binding(VarId(0), Binding::Int(0, 5));
        assert!(s.same_property(&t));
        assert!(s.join_from(&t));
        assert_eq!(s.binding(VarId(0)), Binding::Int(-1, 5));
        t.set_binding(VarId(1), Binding::Int(3, 3));
        assert!(
            s.same_property(&t),
            "execution facts present on one side only"
        );
        assert!(!s.join_from(&t));
        t.exc = Exc::Set;
        assert!(!s.same_property(&t), "exception states are not joined");
    }

    #[test]
    fn garbage_keeps_owned_values() {
        let mut s = State::new(1);
        let site = |i: u32| Site::of_stmt(StmtRef::new(i), SubPos::Result).expect("numbered");
        let new = |i: u32| ValOrigin::New(StmtRef::new(i));
        s.put_value(ValueState::new(site(0), new(1), 1, Nullness::NonNull));
        s.put_value(ValueState::new(site(1), new(2), 0, Nullness::NonNull));
        s.put_value(ValueState::new(site(2), new(3), 0, Nullness::NonNull));
        s.set_binding(VarId(0), Binding::Obj(site(2)));
        s.collect_garbage();
        let sites: Vec<Site> = s.values.iter().map(|v| v.site).collect();
        assert_eq!(sites, vec![site(0), site(2)]);
    }

    #[test]
    fn nulls_of_different_origins_are_one_state() {
        let mut a = State::new(1);
        let mut b = State::new(1);
        a.set_binding(VarId(0), Binding::Null(NullWhy::Literal(StmtRef::new(3))));
        b.set_binding(VarId(0), Binding::Null(NullWhy::Literal(StmtRef::new(7))));
        assert!(a.same_property(&b));
        assert!(!a.join_from(&b), "the first state's reason is kept");
        b.set_binding(VarId(0), Binding::Ptr);
        assert!(!a.same_property(&b));
    }

    #[test]
    fn field_reads_that_taught_nothing_are_forgotten() {
        // `self->args` read at statement 5 on one path and at statement 9
        // on the other: after the block, the two states are one.
        let site = |i: u32| Site::of_stmt(StmtRef::new(i), SubPos::Result).expect("numbered");
        let read_at = |i: u32, null: Nullness| {
            let mut s = State::new(2);
            s.put_value(ValueState::new(
                Site::param(0),
                ValOrigin::Param(0),
                0,
                Nullness::NonNull,
            ));
            s.set_binding(VarId(0), Binding::Obj(Site::param(0)));
            let mut v = ValueState::new(site(i), ValOrigin::Field(StmtRef::new(i)), 0, null);
            v.owner = Some(Site::param(0));
            s.put_value(v);
            s.set_field(
                FieldBase::value(Site::param(0)),
                NameId(0),
                FieldVal::Obj(site(i)),
            );
            s
        };
        let (mut a, mut b) = (read_at(5, Nullness::Maybe), read_at(9, Nullness::Maybe));
        assert!(!a.same_property(&b));
        a.collect_garbage();
        b.collect_garbage();
        assert!(a.same_property(&b));
        assert!(a.fields.is_empty());
        // What a test established about it is kept.
        let mut c = read_at(5, Nullness::NonNull);
        c.collect_garbage();
        assert_eq!(c.fields.len(), 1);
        // So is a field value a variable still holds.
        let mut d = read_at(5, Nullness::Maybe);
        d.set_binding(VarId(1), Binding::Obj(site(5)));
        d.collect_garbage();
        assert_eq!(d.fields.len(), 1);
    }
}
