//! Widening at the state budget.
//!
//! A block keeps at most `max_states_per_block` distinct states. When it is
//! full, a new state is not dropped (that would leave its paths
//! unexplored) if it has the *shape* of one already kept: the same
//! ownership facts once the values made in this function are renumbered in
//! order of first appearance and the statements behind the facts are
//! forgotten. Paths that reached the block through different calls with the
//! same outcome (a new reference in `x` from line 10 or from line 20, each
//! on its way to the error exit) have one shape; the kept state stands for
//! both, and its statements are the ones findings name.
//!
//! Before comparing, what a path stored in a global without keeping a
//! reference of its own is forgotten (`cache = PyUnicode_FromString(..)` on
//! the first call only): the global holds it either way, and no finding is
//! ever about it.

use crate::state::*;
use refsan_ir::VarId;

/// A state's ownership facts with renumbered sites (see the module doc).
#[derive(PartialEq, Eq, Debug)]
pub struct Shape {
    head: (Exc, bool),
    vars: Vec<(u32, u64)>,
    values: Vec<[u64; 6]>,
    fields: Vec<(u64, NameId, u64)>,
}

struct Renumber {
    seen: Vec<(Site, u64)>,
}

impl Renumber {
    /// Parameters and globals keep their identity; values made by a
    /// statement are numbered in order of first appearance.
    fn get(&mut self, s: Site) -> u64 {
        if s.stmt().is_none() {
            return (1 << 40) | u64::from(s.raw());
        }
        if let Some((_, n)) = self.seen.iter().find(|(x, _)| *x == s) {
            return *n;
        }
        let n = self.seen.len() as u64 + 1;
        self.seen.push((s, n));
        n
    }

    fn known(&self, s: Site) -> bool {
        s.stmt().is_none() || self.seen.iter().any(|(x, _)| *x == s)
    }
}

fn origin_code(o: ValOrigin) -> u64 {
    match o {
        ValOrigin::New(_) => 1,
        ValOrigin::Borrowed(_) => 2,
        ValOrigin::Param(i) => 3 | (u64::from(i) << 8),
        ValOrigin::Global(n) => 4 | (u64::from(n.0) << 8),
        ValOrigin::Field(_) => 5,
        ValOrigin::OutNew(_, a) => 6 | (u64::from(a) << 8),
        ValOrigin::OutBorrowed(_, a) => 7 | (u64::from(a) << 8),
    }
}

fn status_code(s: Status) -> u64 {
    match s {
        Status::Live => 0,
        Status::Released(_) => 1,
        Status::Stolen(_) => 2,
        Status::Stored(_) => 3,
        Status::OwnerGone(_) => 4,
        Status::Escaped => 5,
    }
}

fn flags(v: &ValueState) -> u64 {
    let bits = [
        v.steal_failed.is_some(),
        v.reported,
        v.field_stolen.is_some(),
        v.cast_incref.is_some(),
        v.user_incref.is_some(),
        v.volatile,
        v.exposed.is_some(),
        v.shared,
        v.array_item,
        v.slot_released.is_some(),
        v.left_slot,
        v.kept,
        v.passed_unknown,
        v.store_debt.is_some(),
    ];
    let null = match v.null {
        Nullness::NonNull => 0,
        Nullness::Maybe => 1,
        Nullness::MaybeOut(_) => 2,
    };
    bits.iter()
        .enumerate()
        .fold(null << 32, |acc, (i, b)| acc | (u64::from(*b) << i))
}

fn field_code(r: &mut Renumber, val: FieldVal) -> u64 {
    match val {
        FieldVal::Obj(s) => (4 << 48) | r.get(s),
        FieldVal::Null(_) => 1,
        FieldVal::Ptr => 2,
        FieldVal::Unknown => 3,
    }
}

fn val_kind(val: FieldVal) -> u8 {
    match val {
        FieldVal::Obj(_) => 0,
        FieldVal::Null(_) => 1,
        FieldVal::Ptr => 2,
        FieldVal::Unknown => 3,
    }
}

/// The shape of a state.
pub fn shape(st: &State) -> Shape {
    shape_map(st).0
}

/// The shape of a state, and the number each site got.
fn shape_map(st: &State) -> (Shape, Vec<(Site, u64)>) {
    let mut r = Renumber { seen: Vec::new() };
    let mut vars = Vec::new();
    for (k, b) in &st.vars {
        match b {
            Binding::Null(_) => vars.push((*k, 1)),
            Binding::Obj(s) => vars.push((*k, (4 << 48) | r.get(*s))),
            _ => {}
        }
    }
    // Fields in rounds: those of bases numbered so far, in the order of the
    // bases' numbers, so that the order does not depend on site numbers.
    let mut fields = Vec::new();
    let mut done = vec![false; st.fields.len()];
    loop {
        let mut ready: Vec<(u64, usize)> = Vec::new();
        for (i, f) in st.fields.iter().enumerate() {
            if done[i] {
                continue;
            }
            let base = f.base.site();
            if base.is_none_or(|s| r.known(s)) {
                let key = match base {
                    Some(s) => r.get(s),
                    None => (2 << 48) | u64::from(f.base.raw()),
                };
                ready.push((key, i));
            }
        }
        if ready.is_empty() {
            break;
        }
        ready.sort_unstable_by_key(|(key, i)| (*key, st.fields[*i].field));
        for (key, i) in ready {
            done[i] = true;
            let f = st.fields[i];
            fields.push((key, f.field, field_code(&mut r, f.val)));
        }
    }
    // Fields of bases nothing above reaches: numbered by what they hold.
    let mut rest: Vec<usize> = (0..st.fields.len()).filter(|i| !done[*i]).collect();
    rest.sort_unstable_by_key(|i| (st.fields[*i].field, val_kind(st.fields[*i].val)));
    for i in rest {
        let f = st.fields[i];
        let base = f.base.site().map_or(0, |s| r.get(s));
        fields.push((base, f.field, field_code(&mut r, f.val)));
    }
    // Values nothing refers to: numbered by their facts.
    let mut unnamed: Vec<&ValueState> = st.values.iter().filter(|v| !r.known(v.site)).collect();
    unnamed.sort_by_key(|v| {
        (
            origin_code(v.origin),
            v.owned,
            status_code(v.status),
            flags(v),
        )
    });
    for v in unnamed {
        r.get(v.site);
    }
    let mut values: Vec<[u64; 6]> = st
        .values
        .iter()
        .map(|v| {
            let owner = v.owner.map_or(0, |o| r.get(o));
            [
                r.get(v.site),
                origin_code(v.origin),
                (v.owned as u16 as u64) | (status_code(v.status) << 16),
                owner,
                flags(v),
                u64::from(v.name.map_or(u32::MAX, |n| n.0)),
            ]
        })
        .collect();
    values.sort_unstable();
    fields.sort_unstable();
    let shape = Shape {
        head: (st.exc, st.gil_released),
        vars,
        values,
        fields,
    };
    (shape, r.seen)
}

/// A looser copy for the second try: the exception state, which variables
/// are known to be NULL, and the facts that only keep findings away (the
/// value was passed to unknown code, is kept by a container or a C struct,
/// is an array item, was reported) are forgotten.
pub fn loosened(st: &State) -> State {
    let mut l = st.clone();
    l.exc = Exc::Unknown;
    l.vars.retain(|(_, b)| !matches!(b, Binding::Null(_)));
    for v in &mut l.values {
        v.passed_unknown = false;
        v.kept = false;
        v.shared = false;
        v.array_item = false;
        v.reported = false;
    }
    l
}

/// Folds a state of the same loosened shape into `into`, which forgets
/// what the two do not share of the exception state and of NULL variables,
/// and takes on the other's facts that keep findings away. Returns true
/// when `into` changed.
pub fn fold_loose(into: &mut State, other: &State) -> bool {
    let before = into.clone();
    into.exc = into.exc.join(other.exc);
    into.vars.retain(|(k, b)| {
        !matches!(b, Binding::Null(_)) || matches!(other.binding(VarId(*k)), Binding::Null(_))
    });
    // Pair the values by the numbers the shapes gave them.
    let (_, mine) = shape_map(&loosened(&before));
    let (_, theirs) = shape_map(&loosened(other));
    for (site, n) in theirs {
        let Some(o) = other.value(site).copied() else {
            continue;
        };
        let Some(&(at, _)) = mine.iter().find(|(_, m)| *m == n) else {
            continue;
        };
        if let Some(v) = into.value_mut(at) {
            v.passed_unknown |= o.passed_unknown;
            v.kept |= o.kept;
            v.shared |= o.shared;
            v.array_item |= o.array_item;
            v.reported |= o.reported;
        }
    }
    let folded = fold(into, other);
    folded || *into != before
}

/// Forgets what the path stored in globals without keeping a reference:
/// returns true when something was forgotten.
pub fn forget_stored_globals(st: &mut State) -> bool {
    let held_by_var = |st: &State, s: Site| st.vars.iter().any(|(_, b)| *b == Binding::Obj(s));
    let weak: Vec<usize> = st
        .fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.base == FieldBase::GLOBALS)
        .filter(|(_, f)| match f.val {
            FieldVal::Obj(s) => st.value(s).is_some_and(|v| {
                v.owned == 0
                    && matches!(v.status, Status::Stored(_))
                    && !v.reported
                    && !held_by_var(st, s)
                    && !st.values.iter().any(|w| w.owner == Some(s))
            }),
            FieldVal::Null(_) | FieldVal::Ptr | FieldVal::Unknown => false,
        })
        .map(|(i, _)| i)
        .collect();
    if weak.is_empty() {
        return false;
    }
    for i in weak.into_iter().rev() {
        st.fields.remove(i);
    }
    st.collect_garbage();
    true
}

/// Folds a state of the same shape into `into`: execution facts (integers,
/// C pointers, what tests established) are joined; the object facts of
/// `into` stand, and so does its path, which findings narrate. Returns
/// true when `into` changed.
pub fn fold(into: &mut State, other: &State) -> bool {
    let mut changed = false;
    if into.exc_unseen && !other.exc_unseen {
        into.exc_unseen = false;
        changed = true;
    }
    let mut vars: Vec<(u32, Binding)> = Vec::with_capacity(into.vars.len());
    for (k, a) in &into.vars {
        let j = if a.is_execution() {
            a.join(other.binding(VarId(*k)))
        } else {
            *a
        };
        if j != *a {
            changed = true;
        }
        if j != Binding::Unknown {
            vars.push((*k, j));
        }
    }
    into.vars = vars;
    let known = join_known(&into.known, &other.known);
    if known != into.known {
        into.known = known;
        changed = true;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(stmt: u32) -> Site {
        Site::of_stmt(StmtRef::new(stmt), SubPos::Result).expect("numbered")
    }

    /// A path at an error exit: `x` (variable 1) holds a new reference made
    /// by the statement `made_at`; `exc` is its exception state.
    fn holding_new_ref(made_at: u32, exc: Exc) -> State {
        let mut st = State::new(4);
        st.exc = exc;
        let s = site(made_at);
        let mut v = ValueState::new(
            s,
            ValOrigin::New(StmtRef::new(made_at)),
            1,
            Nullness::NonNull,
        );
        v.name = Some(VarId(1));
        st.put_value(v);
        st.set_binding(VarId(1), Binding::Obj(s));
        st
    }

    #[test]
    fn references_made_by_different_calls_have_one_shape() {
        let a = holding_new_ref(10, Exc::Set);
        let b = holding_new_ref(20, Exc::Set);
        assert!(!a.same_property(&b));
        assert_eq!(shape(&a), shape(&b));
        // Another owner count is another shape.
        let mut c = holding_new_ref(30, Exc::Set);
        c.value_mut(site(30)).expect("value").owned = 2;
        assert_ne!(shape(&a), shape(&c));
        // And so is another variable holding it.
        let mut d = holding_new_ref(40, Exc::Set);
        d.set_binding(VarId(1), Binding::Unknown);
        d.set_binding(VarId(2), Binding::Obj(site(40)));
        assert_ne!(shape(&a), shape(&d));
    }

    #[test]
    fn fold_joins_integers_and_keeps_the_kept_objects() {
        let mut into = holding_new_ref(10, Exc::Set);
        into.set_binding(VarId(3), Binding::Int(0, 0));
        let mut other = holding_new_ref(20, Exc::Set);
        other.set_binding(VarId(3), Binding::Int(1, 1));
        assert!(fold(&mut into, &other));
        assert_eq!(into.binding(VarId(3)), Binding::Int(0, 1));
        assert_eq!(into.binding(VarId(1)), Binding::Obj(site(10)));
        // Nothing more to learn from the same state again.
        assert!(!fold(&mut into, &other));
    }

    #[test]
    fn loose_fold_forgets_what_the_paths_do_not_share() {
        let mut into = holding_new_ref(10, Exc::Set);
        into.set_binding(VarId(2), Binding::Null(NullWhy::Literal(StmtRef::new(1))));
        let mut other = holding_new_ref(20, Exc::Clear);
        other.value_mut(site(20)).expect("value").passed_unknown = true;
        assert_ne!(shape(&into), shape(&other));
        assert_eq!(shape(&loosened(&into)), shape(&loosened(&other)));
        assert!(fold_loose(&mut into, &other));
        assert_eq!(into.exc, Exc::Unknown);
        assert_eq!(into.binding(VarId(2)), Binding::Unknown);
        // A fact that keeps a finding away on one path holds for both.
        assert!(into.value(site(10)).expect("value").passed_unknown);
    }

    #[test]
    fn a_reference_stored_in_a_global_is_forgotten_unless_still_used() {
        let name = NameId(7);
        let mut st = State::new(4);
        let s = site(10);
        let mut v = ValueState::new(s, ValOrigin::New(StmtRef::new(10)), 0, Nullness::NonNull);
        v.status = Status::Stored(StmtRef::new(11));
        st.put_value(v);
        st.set_field(FieldBase::GLOBALS, name, FieldVal::Obj(s));
        let mut held = st.clone();
        held.set_binding(VarId(1), Binding::Obj(s));
        assert!(!forget_stored_globals(&mut held));
        assert!(forget_stored_globals(&mut st));
        assert!(st.fields.is_empty() && st.values.is_empty());
    }
}
