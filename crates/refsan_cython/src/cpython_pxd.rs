//! What Cython's own `cpython/*.pxd` declare: for each C-API function,
//! whether it returns `object` (Cython takes ownership of a new reference
//! and checks for NULL), `PyObject *` (a raw pointer: the C-API knowledge
//! base says whether it is new or borrowed) or a C value, its `except`
//! clause, and which parameters are `object` (Cython passes a borrowed
//! reference) or `PyObject *`.
//!
//! The table is generated from the installed Cython's
//! `Cython/Includes/cpython/*.pxd` (`cargo run -p refsan_cython --example
//! gen_cpython_pxd -- DIR`), checked in as `data/cpython_pxd.tsv` and
//! embedded; when the CLI finds an installed Cython it can prefer the
//! declarations of that version.

use crate::ast::{ExcValue, ExceptSpec, StmtKind, TypeDeclKind};
use crate::parser;
use crate::types::{TypeEnv, VClass};
use refsan_ir::TypeClass;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// One declared function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PxdFunc {
    pub name: String,
    /// `cpython.list`...
    pub module: String,
    pub ret: VClass,
    pub except: ExceptSpec,
    pub params: Vec<VClass>,
    pub varargs: bool,
}

impl PxdFunc {
    /// True when Cython checks the result for an exception.
    pub fn can_raise(&self) -> bool {
        self.ret == VClass::Managed
            || matches!(
                self.except,
                ExceptSpec::Value { .. } | ExceptSpec::Star | ExceptSpec::Cpp
            )
    }
}

#[derive(Clone, Debug, Default)]
pub struct CpythonPxd {
    funcs: HashMap<String, PxdFunc>,
    /// Where the table came from ("embedded table generated from Cython
    /// 3.x", or a directory).
    pub origin: String,
}

const EMBEDDED: &str = include_str!("../data/cpython_pxd.tsv");

impl CpythonPxd {
    /// The table checked into the crate.
    pub fn embedded() -> &'static CpythonPxd {
        static TABLE: OnceLock<CpythonPxd> = OnceLock::new();
        TABLE.get_or_init(|| CpythonPxd::parse_tsv(EMBEDDED, "embedded table"))
    }

    /// A digest of the table's declarations (for the results cache: the
    /// same origin may hold another Cython's declarations tomorrow).
    pub fn fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut names: Vec<&String> = self.funcs.keys().collect();
        names.sort();
        let mut h = std::hash::DefaultHasher::new();
        self.origin.hash(&mut h);
        for n in names {
            n.hash(&mut h);
            format!("{:?}", self.funcs[n]).hash(&mut h);
        }
        h.finish()
    }

    pub fn get(&self, name: &str) -> Option<&PxdFunc> {
        self.funcs.get(name)
    }

    pub fn len(&self) -> usize {
        self.funcs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.funcs.is_empty()
    }

    /// Reads every `*.pxd` of a `Cython/Includes/cpython` directory.
    pub fn from_includes_dir(dir: &Path) -> std::io::Result<CpythonPxd> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("pxd"))
            .collect();
        files.sort();
        let mut table = CpythonPxd {
            funcs: HashMap::new(),
            origin: dir.display().to_string(),
        };
        for f in files {
            let src = std::fs::read(&f)?;
            let stem = f
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string();
            table.add_pxd(&format!("cpython.{stem}"), &src);
        }
        Ok(table)
    }

    fn add_pxd(&mut self, module: &str, src: &[u8]) {
        let parsed = parser::parse(src);
        let mut env = TypeEnv::default();
        // Typedef names first, so `PyObject*` typedefs and enums classify.
        for s in &parsed.stmts {
            if let StmtKind::Extern(e) = &s.kind {
                for it in &e.items {
                    if let StmtKind::TypeDecl(t) = &it.kind {
                        if let Some(n) = &t.name {
                            let class = match (t.kind, &t.underlying) {
                                (TypeDeclKind::Typedef, Some(u)) => env.classify(u),
                                (TypeDeclKind::Enum, _) => VClass::C(TypeClass::Int),
                                _ => VClass::C(TypeClass::Other),
                            };
                            env.c_types.insert(n.clone(), class);
                        }
                    }
                }
            }
        }
        // `PyObject` is forward-declared as a struct; its pointers are the
        // raw references, which `classify` knows by name.
        env.c_types.remove("PyObject");
        env.c_types.remove("PyTypeObject");
        for s in &parsed.stmts {
            let StmtKind::Extern(e) = &s.kind else {
                continue;
            };
            for it in &e.items {
                let StmtKind::Func(f) = &it.kind else {
                    continue;
                };
                if self.funcs.contains_key(&f.name) {
                    continue;
                }
                let ret = match &f.ret {
                    Some(t) => env.classify(t),
                    None => VClass::Managed,
                };
                let mut params = Vec::new();
                let mut varargs = false;
                for p in &f.params {
                    if p.star == 1 && p.name == "..." {
                        varargs = true;
                        continue;
                    }
                    params.push(match &p.ty {
                        Some(t) => env.classify(t),
                        None => VClass::Managed,
                    });
                }
                self.funcs.insert(
                    f.name.clone(),
                    PxdFunc {
                        name: f.name.clone(),
                        module: module.to_string(),
                        ret,
                        except: f.except.clone(),
                        params,
                        varargs,
                    },
                );
            }
        }
    }

    /// The checked-in text form: one function per line.
    pub fn to_tsv(&self, header: &str) -> String {
        let mut names: Vec<&String> = self.funcs.keys().collect();
        names.sort();
        let mut out = String::new();
        for line in header.lines() {
            out.push_str("# ");
            out.push_str(line);
            out.push('\n');
        }
        out.push_str("# name\tmodule\treturns\texcept\tparams\n");
        for n in names {
            let f = &self.funcs[n];
            let mut params: Vec<&str> = f.params.iter().map(|c| class_code(*c)).collect();
            if f.varargs {
                params.push("...");
            }
            out.push_str(&format!(
                "{}\t{}\t{}\t{}\t{}\n",
                f.name,
                f.module,
                class_code(f.ret),
                except_code(&f.except),
                params.join(",")
            ));
        }
        out
    }

    pub fn parse_tsv(text: &str, origin: &str) -> CpythonPxd {
        let mut funcs = HashMap::new();
        for line in text.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let cols: Vec<&str> = line.split('\t').collect();
            if cols.len() < 5 {
                continue;
            }
            let Some(ret) = class_from_code(cols[2]) else {
                continue;
            };
            let mut params = Vec::new();
            let mut varargs = false;
            for p in cols[4].split(',').filter(|p| !p.is_empty()) {
                if p == "..." {
                    varargs = true;
                } else if let Some(c) = class_from_code(p) {
                    params.push(c);
                }
            }
            funcs.insert(
                cols[0].to_string(),
                PxdFunc {
                    name: cols[0].to_string(),
                    module: cols[1].to_string(),
                    ret,
                    except: except_from_code(cols[3]),
                    params,
                    varargs,
                },
            );
        }
        CpythonPxd {
            funcs,
            origin: origin.to_string(),
        }
    }
}

fn class_code(c: VClass) -> &'static str {
    match c {
        VClass::Managed => "object",
        VClass::Raw => "PyObject*",
        VClass::RawPtrPtr => "PyObject**",
        VClass::C(TypeClass::Int) => "int",
        VClass::C(TypeClass::Pointer) => "pointer",
        VClass::C(TypeClass::Void) => "void",
        VClass::C(_) => "other",
    }
}

fn class_from_code(s: &str) -> Option<VClass> {
    Some(match s {
        "object" => VClass::Managed,
        "PyObject*" => VClass::Raw,
        "PyObject**" => VClass::RawPtrPtr,
        "int" => VClass::C(TypeClass::Int),
        "pointer" => VClass::C(TypeClass::Pointer),
        "void" => VClass::C(TypeClass::Void),
        "other" => VClass::C(TypeClass::Other),
        _ => return None,
    })
}

fn except_code(e: &ExceptSpec) -> String {
    match e {
        ExceptSpec::Default => "-".into(),
        ExceptSpec::NoExcept => "noexcept".into(),
        ExceptSpec::Star => "*".into(),
        ExceptSpec::Cpp => "+".into(),
        ExceptSpec::Value { value, maybe } => {
            let q = if *maybe { "?" } else { "" };
            match value {
                ExcValue::Int(i) => format!("{q}{i}"),
                ExcValue::Null => format!("{q}NULL"),
                ExcValue::Other => format!("{q}other"),
            }
        }
    }
}

fn except_from_code(s: &str) -> ExceptSpec {
    let (maybe, v) = match s.strip_prefix('?') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    match v {
        "-" => ExceptSpec::Default,
        "noexcept" => ExceptSpec::NoExcept,
        "*" => ExceptSpec::Star,
        "+" => ExceptSpec::Cpp,
        "NULL" => ExceptSpec::Value {
            value: ExcValue::Null,
            maybe,
        },
        other => match other.parse::<i64>() {
            Ok(i) => ExceptSpec::Value {
                value: ExcValue::Int(i),
                maybe,
            },
            Err(_) => ExceptSpec::Value {
                value: ExcValue::Other,
                maybe,
            },
        },
    }
}

/// The installed Cython's `Includes/cpython` directory, found by asking
/// `python3` once. Slow (it starts an interpreter): call it once per run,
/// not per file.
pub fn find_installed_cython_includes() -> Option<PathBuf> {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import Cython, os; print(os.path.dirname(Cython.__file__))",
        ])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let dir = String::from_utf8(out.stdout).ok()?;
    let p = Path::new(dir.trim()).join("Includes").join("cpython");
    p.join("ref.pxd").is_file().then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_table_knows_the_usual_declarations() {
        let t = CpythonPxd::embedded();
        assert!(t.len() > 300, "only {} functions", t.len());
        let incref = t.get("Py_INCREF").expect("Py_INCREF");
        assert_eq!(incref.params, vec![VClass::Managed]);
        let xincref = t.get("Py_XINCREF").expect("Py_XINCREF");
        assert_eq!(xincref.params, vec![VClass::Raw]);
        let new = t.get("PyList_New").expect("PyList_New");
        assert_eq!(new.ret, VClass::Managed);
        assert!(new.can_raise());
        let get = t.get("PyList_GetItem").expect("PyList_GetItem");
        assert_eq!(get.ret, VClass::Raw);
        let set = t.get("PyTuple_SET_ITEM").expect("PyTuple_SET_ITEM");
        assert_eq!(set.params[2], VClass::Managed);
        let size = t.get("PyList_Size").expect("PyList_Size");
        assert!(size.can_raise());
    }

    #[test]
    fn tsv_round_trips() {
        let t = CpythonPxd::embedded();
        let text = t.to_tsv("test");
        let back = CpythonPxd::parse_tsv(&text, "test");
        assert_eq!(back.len(), t.len());
        for (k, v) in &t.funcs {
            assert_eq!(back.get(k), Some(v));
        }
    }
}
