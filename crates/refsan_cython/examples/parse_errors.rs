//! Lists the statements the parser could not read in the given files
//! (a development aid for the parser; `pyx_lower_corpus` is the benchmark).

use refsan_cython::ast::{Stmt, StmtKind};
use std::path::Path;

fn walk(stmts: &[Stmt], src: &[u8], path: &str, idx: &refsan_ir::LineIndex, n: &mut usize) {
    for s in stmts {
        match &s.kind {
            StmtKind::Error { message, .. } => {
                *n += 1;
                let (line, _) = idx.line_col(s.rng.start);
                let end = (s.rng.start as usize + 80)
                    .min(src.len())
                    .max(s.rng.start as usize);
                let text = String::from_utf8_lossy(&src[s.rng.start as usize..end]);
                let first = text.lines().next().unwrap_or("");
                println!("{path}:{line}: {message}: {first}");
            }
            StmtKind::Func(f) => {
                if let Some(b) = &f.body {
                    walk(b, src, path, idx, n);
                }
            }
            StmtKind::Class(c) => walk(&c.body, src, path, idx, n),
            StmtKind::Extern(e) => walk(&e.items, src, path, idx, n),
            StmtKind::If { branches, orelse } => {
                for (_, b) in branches {
                    walk(b, src, path, idx, n);
                }
                walk(orelse, src, path, idx, n);
            }
            StmtKind::While { body, orelse, .. }
            | StmtKind::For { body, orelse, .. }
            | StmtKind::ForFrom { body, orelse, .. } => {
                walk(body, src, path, idx, n);
                walk(orelse, src, path, idx, n);
            }
            StmtKind::Try {
                body,
                handlers,
                orelse,
                finalbody,
            } => {
                walk(body, src, path, idx, n);
                for h in handlers {
                    walk(&h.body, src, path, idx, n);
                }
                walk(orelse, src, path, idx, n);
                if let Some(f) = finalbody {
                    walk(f, src, path, idx, n);
                }
            }
            StmtKind::With { body, .. }
            | StmtKind::Gil { body, .. }
            | StmtKind::Property { body, .. } => walk(body, src, path, idx, n),
            _ => {}
        }
    }
}

fn visit(p: &Path, files: &mut Vec<std::path::PathBuf>) {
    if p.is_dir() {
        if let Ok(rd) = std::fs::read_dir(p) {
            let mut entries: Vec<_> = rd.flatten().map(|e| e.path()).collect();
            entries.sort();
            for e in entries {
                visit(&e, files);
            }
        }
    } else if matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("pyx" | "pxd" | "pxi")
    ) {
        files.push(p.to_path_buf());
    }
}

fn main() {
    let mut files = Vec::new();
    for a in std::env::args().skip(1) {
        visit(Path::new(&a), &mut files);
    }
    let mut n = 0;
    for f in &files {
        let Ok(src) = std::fs::read(f) else { continue };
        let parsed = refsan_cython::parser::parse(&src);
        let idx = refsan_ir::LineIndex::new(&src);
        walk(&parsed.stmts, &src, &f.to_string_lossy(), &idx, &mut n);
    }
    eprintln!("{} files, {} error statements", files.len(), n);
}
