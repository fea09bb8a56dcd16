//! Lowers every .c/.h (and C++) file under a directory and prints totals:
//! `cargo run --release -p refsan_c --example lower_corpus -- DIR [--verbose] [--list] [--lower-only] [--slowest N]`.
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
    let Some(dir) = args.first().filter(|a| !a.starts_with("--")) else {
        eprintln!("usage: lower_corpus DIR [--verbose] [--list] [--lower-only]");
        return ExitCode::from(2);
    };
    let verbose = args.iter().any(|a| a == "--verbose");
    let list = args.iter().any(|a| a == "--list");
    // For profiling the lowering: skip the separate parse-only pass.
    let lower_only = args.iter().any(|a| a == "--lower-only");
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
    let bytes: usize = sources.iter().map(Vec::len).sum();

    // Plain tree-sitter on the raw text, for reference, and the front-end's
    // own preparation + parse (which blanks big data tables first).
    let mut raw_parse = Duration::ZERO;
    let mut prepared_parse = Duration::ZERO;
    let mut per_file = Vec::new();
    // `--slowest N`: the N files whose prepare + parse took longest.
    let slowest: usize = args
        .iter()
        .position(|a| a == "--slowest")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    for (f, src) in files.iter().zip(&sources).filter(|_| !lower_only) {
        let language = refsan_c::detect_language(f, src).unwrap_or(refsan_ir::Language::C);
        let mut parser = tree_sitter::Parser::new();
        let lang: tree_sitter::Language = match language {
            refsan_ir::Language::Cpp => tree_sitter_cpp::LANGUAGE.into(),
            _ => tree_sitter_c::LANGUAGE.into(),
        };
        if parser.set_language(&lang).is_err() {
            eprintln!("tree-sitter language version mismatch");
            return ExitCode::from(1);
        }
        let start = Instant::now();
        drop(parser.parse(src, None));
        raw_parse += start.elapsed();
        let start = Instant::now();
        refsan_c::prepare_and_parse(src, language);
        let took = start.elapsed();
        prepared_parse += took;
        per_file.push((took, f.clone(), src.len()));
    }
    if slowest > 0 {
        per_file.sort_by_key(|b| std::cmp::Reverse(b.0));
        for (took, f, len) in per_file.iter().take(slowest) {
            println!(
                "slow {:8.1} ms {:6} KB {:6.2} ms/KB {}",
                took.as_secs_f64() * 1e3,
                len / 1024,
                took.as_secs_f64() * 1e3 / (*len as f64 / 1024.0),
                f.display()
            );
        }
    }

    let (mut functions, mut approximate, mut problems, mut invalid) =
        (0usize, 0usize, 0usize, 0usize);
    let start = Instant::now();
    for (f, src) in files.iter().zip(&sources) {
        let name = f.display().to_string();
        let language = refsan_c::detect_language(f, src).unwrap_or(refsan_ir::Language::C);
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
    if !lower_only {
        println!(
            "tree-sitter parse of the raw files: {:.2} s",
            raw_parse.as_secs_f64()
        );
        println!("prepare + parse: {:.2} s", prepared_parse.as_secs_f64());
    }
    println!(
        "lower_file (prepare + parse + lower): {:.2} s",
        total.as_secs_f64()
    );
    if !lower_only {
        println!(
            "lowering alone: {:.2} s",
            total.saturating_sub(prepared_parse).as_secs_f64()
        );
    }
    if invalid > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
