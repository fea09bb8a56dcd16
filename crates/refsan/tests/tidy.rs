//! Keeps ARCHITECTURE.md true to the code and the code within its limits:
//! the document names every crate and every engine module, the engine's
//! modules import each other without cycles, and no hand-written source
//! file is longer than 1,500 lines.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 1_500;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn architecture() -> String {
    std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md")
}

fn dir_entries(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("readable directory")
        .map(|e| e.expect("entry").path())
        .collect();
    out.sort();
    out
}

#[test]
fn architecture_names_every_crate() {
    let doc = architecture();
    for path in dir_entries(&root().join("crates")) {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            doc.contains(&format!("`crates/{name}`")),
            "ARCHITECTURE.md has no section for `crates/{name}`"
        );
    }
}

/// The engine's top-level modules (`analyze`, `rules`, `state`...) and the
/// files of `analyze/`.
fn engine_modules() -> Vec<String> {
    let src = root().join("crates/refsan_engine/src");
    let mut out = Vec::new();
    for path in dir_entries(&src) {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if name != "lib" {
            out.push(name);
        }
    }
    for path in dir_entries(&src.join("analyze")) {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        out.push(format!("analyze/{name}"));
    }
    out
}

#[test]
fn architecture_names_every_engine_module() {
    let doc = architecture();
    for module in engine_modules() {
        assert!(
            doc.contains(&format!("`{module}`")) || doc.contains(&format!("`{module}/")),
            "ARCHITECTURE.md's engine table does not name `{module}`"
        );
    }
}

#[test]
fn engine_modules_import_each_other_without_cycles() {
    let src = root().join("crates/refsan_engine/src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut files = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for path in dir_entries(&dir) {
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if top == "lib" || top == "test_support" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        // Imports of tests do not count.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let deps = graph.entry(top.clone()).or_default();
        for (i, _) in code.match_indices("crate::") {
            let name: String = code[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name != top && !name.is_empty() {
                deps.insert(name);
            }
        }
    }
    for start in graph.keys() {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&String> = graph[start].iter().collect();
        while let Some(m) = todo.pop() {
            assert!(
                m != start,
                "engine modules import each other in a cycle through `{start}`: {graph:?}"
            );
            if seen.insert(m.clone()) {
                todo.extend(graph.get(m).into_iter().flatten());
            }
        }
    }
}

#[test]
fn no_source_file_is_too_long() {
    let mut long = Vec::new();
    let mut stack = vec![root().join("crates"), root().join("fuzz/fuzz_targets")];
    while let Some(dir) = stack.pop() {
        if !dir.is_dir() {
            continue;
        }
        for path in dir_entries(&dir) {
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let lines = std::fs::read_to_string(&path).unwrap().lines().count();
                if lines > MAX_LINES {
                    long.push(format!("{} ({lines} lines)", path.display()));
                }
            }
        }
    }
    assert!(
        long.is_empty(),
        "split these by concern (at most {MAX_LINES} lines): {long:?}"
    );
}
