//! Lowers every .c/.h (and C++) file under a directory and prints totals:
//! `cargo run --release -p refsan_c --example lower_corpus -- DIR [--verbose] [--list]`.
//!
//! Parse time is measured separately (a plain tree-sitter parse of each
//! file) so the cost of lowering itself is visible.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if refsan_c::language_for_path(&path).is_some() {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.iter().find(|a| !a.starts_with("--")) else {
        eprintln!("usage: lower_corpus DIR [--verbose] [--list]");
        return ExitCode::from(2);
    };
    let verbose = args.iter().any(|a| a == "--verbose");
    let list = args.iter().any(|a| a == "--list");
    let mut files = Vec::new();
    if let Err(e) = collect(Path::new(dir), &mut files) {
        eprintln!("{dir}: {e}");
        return ExitCode::from(1);
    }
    files.sort();
    let mut sources = Vec::new();
    for f in &files {
        match std::fs::read(f) {
            Ok(s) => sources.push(s),
            Err(e) => {
                eprintln!("{}: {e}", f.display());
                return ExitCode::from(1);
            }
        }
    }
    let lines: usize = sources
        .iter()
        .map(|s| s.iter().filter(|b| **b == b'\n').count())
        .sum();
    let bytes: usize = sources.iter().map(|s| s.len()).sum();

    let mut parse_time = Duration::ZERO;
    for (f, src) in files.iter().zip(&sources) {
        let mut parser = tree_sitter::Parser::new();
        let lang: tree_sitter::Language = match refsan_c::language_for_path(f) {
            Some(refsan_ir::Language::Cpp) => tree_sitter_cpp::LANGUAGE.into(),
            _ => tree_sitter_c::LANGUAGE.into(),
        };
        if parser.set_language(&lang).is_err() {
            eprintln!("tree-sitter language version mismatch");
            return ExitCode::from(1);
        }
        let start = Instant::now();
        let tree = parser.parse(src, None);
        parse_time += start.elapsed();
        drop(tree);
    }

    let (mut functions, mut approximate, mut problems, mut invalid) =
        (0usize, 0usize, 0usize, 0usize);
    let start = Instant::now();
    for (f, src) in files.iter().zip(&sources) {
        let name = f.display().to_string();
        let language = refsan_c::language_for_path(f).unwrap_or(refsan_ir::Language::C);
        let module = refsan_c::lower_file(&name, src, language);
        functions += module.functions.len();
        problems += module.problems.len();
        for func in &module.functions {
            if list {
                println!("fn {name}:{} {}", func.span.line, func.name);
            }
            if !func.approximate.is_empty() {
                approximate += 1;
                if verbose {
                    for (span, why) in &func.approximate {
                        println!("approx {name}:{}: {} {why}", span.line, func.name);
                    }
                }
            }
            if let Err(e) = func.validate() {
                invalid += 1;
                println!("INVALID {name}: {e}");
            }
        }
        if verbose {
            for p in &module.problems {
                println!("problem {name}:{}: {}", p.span.line, p.message);
            }
        }
    }
    let total = start.elapsed();
    println!("files: {}", files.len());
    println!("lines: {lines} ({} MB)", bytes / 1_000_000);
    println!("functions: {functions} ({approximate} approximate, {invalid} invalid)");
    println!("problems: {problems}");
    println!("tree-sitter parse only: {:.2} s", parse_time.as_secs_f64());
    println!(
        "lower_file (prepare + parse + lower): {:.2} s, lowering alone ~{:.2} s",
        total.as_secs_f64(),
        (total.saturating_sub(parse_time)).as_secs_f64()
    );
    if invalid > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
