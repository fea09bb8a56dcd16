//! Typed identities the analysis works with: statements of a function,
//! abstract values (sites), interned names and the bases of remembered
//! fields. Each is a `u32` inside, packed so that states stay small to copy
//! and compare; the packing is private to this module.

use refsan_ir::VarId;
use std::num::NonZeroU32;

/// A statement of the function being analysed, by its global index
/// (blocks one after another, each block's terminator counted as one more
/// statement).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StmtRef(u32);

impl StmtRef {
    pub fn new(index: u32) -> StmtRef {
        StmtRef(index)
    }

    pub fn index(self) -> usize {
        self.0 as usize
    }

    pub fn raw(self) -> u32 {
        self.0
    }
}

/// Which value of a statement a site denotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubPos {
    /// The call's result.
    Result,
    /// What the call wrote through out-pointer argument `n`.
    Out(usize),
    /// What operand `n` of the statement read from a field.
    Field(usize),
}

/// Identity of an abstract value: the statement (and sub-position) that
/// produced it, a parameter, or a global name. A site always denotes the
/// same abstract value, which keeps states finite in loops and makes their
/// equality structural.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Site(NonZeroU32);

const PARAM_SITE: u32 = 0xF000_0000;
const GLOBAL_SITE: u32 = 0xE000_0000;
/// Values made by a statement: `(stmt + 1) << SUB_BITS | sub`.
const SUB_BITS: u32 = 4;
const SUB_RESULT: u32 = 0;
/// Sub-positions 1..=6: out-pointer arguments 0..=5.
const SUB_OUT_FIRST: u32 = 1;
const SUB_OUT_LAST: u32 = 6;
/// Sub-positions 7..=15: field reads of operands 0..=8.
const SUB_FIELD_FIRST: u32 = 7;
const SUB_FIELD_LAST: u32 = 15;
/// Field-map bases that are not values.
const GLOBALS_BASE: u32 = 0xC000_0000;
const VAR_BASE: u32 = 0xD000_0000;

impl Site {
    fn from_raw(raw: u32) -> Site {
        // Every constructor below makes a non-zero value.
        Site(NonZeroU32::new(raw).unwrap_or(NonZeroU32::MIN))
    }

    /// The value of parameter `index` at entry.
    pub fn param(index: u32) -> Site {
        Site::from_raw(PARAM_SITE | (index & 0x0FFF_FFFF))
    }

    /// The object a global name denotes.
    pub fn global(name: NameId) -> Site {
        Site::from_raw(GLOBAL_SITE | (name.0 & 0x0FFF_FFFF))
    }

    /// The value statement `stmt` makes at `sub`; `None` when the function
    /// or the statement's operand list is too large to number it.
    pub fn of_stmt(stmt: StmtRef, sub: SubPos) -> Option<Site> {
        let (first, n, limit) = match sub {
            SubPos::Result => (SUB_RESULT, 0, SUB_RESULT),
            SubPos::Out(n) => (SUB_OUT_FIRST, n, SUB_OUT_LAST),
            SubPos::Field(n) => (SUB_FIELD_FIRST, n, SUB_FIELD_LAST),
        };
        let sub = first.checked_add(u32::try_from(n).ok()?)?;
        if sub > limit || stmt.0 + 1 >= (GLOBAL_SITE >> SUB_BITS) {
            return None;
        }
        Some(Site::from_raw(((stmt.0 + 1) << SUB_BITS) | sub))
    }

    /// The statement that made the value, for values made by statements.
    pub fn stmt(self) -> Option<StmtRef> {
        let raw = self.0.get();
        ((1 << SUB_BITS)..GLOBAL_SITE)
            .contains(&raw)
            .then(|| StmtRef((raw >> SUB_BITS) - 1))
    }

    /// The packed value, for hashing.
    pub fn raw(self) -> u32 {
        self.0.get()
    }
}

/// An interned name: a field (`.x`), a global, or an accessor's memo key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NameId(pub u32);

/// What a remembered field belongs to: a tracked value, a variable whose
/// value is not tracked (a C struct pointer), or file scope (globals).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldBase(u32);

impl FieldBase {
    pub const GLOBALS: FieldBase = FieldBase(GLOBALS_BASE);

    pub fn value(site: Site) -> FieldBase {
        FieldBase(site.raw())
    }

    pub fn var(v: VarId) -> FieldBase {
        FieldBase(VAR_BASE | v.0)
    }

    /// The value this base is, when it is one.
    pub fn site(self) -> Option<Site> {
        match self.0 {
            GLOBALS_BASE => None,
            raw if raw & 0xF000_0000 == VAR_BASE => None,
            raw => NonZeroU32::new(raw).map(Site),
        }
    }

    /// The variable this base is, when it is one.
    pub fn as_var(self) -> Option<VarId> {
        (self.0 != GLOBALS_BASE && self.0 & 0xF000_0000 == VAR_BASE)
            .then_some(VarId(self.0 & !0xF000_0000))
    }

    pub fn raw(self) -> u32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_round_trip_their_statement() {
        let s = Site::of_stmt(StmtRef::new(41), SubPos::Out(2)).expect("numbered");
        assert_eq!(s.stmt(), Some(StmtRef::new(41)));
        assert_eq!(Site::param(3).stmt(), None);
        assert_eq!(Site::global(NameId(7)).stmt(), None);
        assert!(Site::of_stmt(StmtRef::new(0), SubPos::Field(9)).is_none());
        assert!(Site::of_stmt(StmtRef::new(0), SubPos::Out(6)).is_none());
        assert!(Site::of_stmt(StmtRef::new(0), SubPos::Out(5)).is_some());
    }

    #[test]
    fn field_bases_are_distinct() {
        let site = Site::of_stmt(StmtRef::new(0), SubPos::Result).expect("numbered");
        assert_eq!(FieldBase::value(site).site(), Some(site));
        assert_eq!(FieldBase::var(VarId(3)).site(), None);
        assert_eq!(FieldBase::var(VarId(3)).as_var(), Some(VarId(3)));
        assert_eq!(FieldBase::value(site).as_var(), None);
        assert_eq!(FieldBase::GLOBALS.as_var(), None);
        assert_eq!(FieldBase::GLOBALS.site(), None);
        assert_ne!(FieldBase::var(VarId(0)), FieldBase::GLOBALS);
    }
}
