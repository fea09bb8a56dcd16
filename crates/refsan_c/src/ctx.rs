//! What the lowering of one file shares: the text, the types and macros it
//! declares, and a cache of parsed macro expansions. A leaf of the crate:
//! the file walk (`items`), the function bodies (`body`) and the tables
//! (`tables`) all read it.

use crate::prepare::MacroDef;
use crate::syntax::Txt;
use crate::types::TypeTable;
use refsan_ir::{Language, TypeClass};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use tree_sitter::Tree;

/// Everything the lowering of one file shares.
pub(crate) struct FileCtx<'f> {
    pub txt: Txt<'f>,
    /// The unpatched source (same offsets as `txt.src`).
    pub orig: &'f [u8],
    pub language: Language,
    pub cpp: bool,
    pub types: TypeTable,
    pub macros: &'f HashMap<String, MacroDef>,
    /// Return classes of functions defined or declared in the file.
    pub returns: HashMap<String, TypeClass>,
    /// Parsed macro expansions by text: the same invocation is common.
    pub expansions: RefCell<HashMap<Vec<u8>, Option<Tree>>>,
    /// Bytes of macro expansion parsed so far; past
    /// [`MAX_EXPANSION_BYTES_PER_FILE`] invocations stay ordinary calls.
    pub expansion_bytes: Cell<usize>,
}

/// Expansion text a file may have parsed (a bound on time for files that
/// expand big macros thousands of times).
const MAX_EXPANSION_BYTES_PER_FILE: usize = 8 * 1024 * 1024;

impl FileCtx<'_> {
    /// The parse tree of a macro expansion's text (cached per file).
    pub fn parse_expansion(&self, text: &[u8]) -> Option<Tree> {
        if let Some(cached) = self
            .expansions
            .try_borrow()
            .ok()
            .and_then(|c| c.get(text).cloned())
        {
            return cached;
        }
        let spent = self.expansion_bytes.get() + text.len();
        if spent > MAX_EXPANSION_BYTES_PER_FILE {
            return None;
        }
        self.expansion_bytes.set(spent);
        let tree = crate::parse::parse(self.language, text);
        if let Ok(mut cache) = self.expansions.try_borrow_mut() {
            cache.insert(text.to_vec(), tree.clone());
        }
        tree
    }
}
