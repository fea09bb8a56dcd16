//! Lowers every `.pyx/.pxd/.pxi` file under the given directories and
//! reports files, lines, time, parse problems and approximate functions;
//! fails (exit 1) when a function does not validate.
//!
//!     cargo run --release -p refsan_cython --example pyx_lower_corpus -- DIR...

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn visit(p: &Path, files: &mut Vec<PathBuf>) {
    if p.is_dir() {
        if let Ok(rd) = std::fs::read_dir(p) {
            let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
            entries.sort();
            for e in entries {
                visit(&e, files);
            }
        }
    } else if refsan_cython::is_cython_path(p) {
        files.push(p.to_path_buf());
    }
}

fn main() -> ExitCode {
    let mut files = Vec::new();
    for a in std::env::args().skip(1) {
        visit(Path::new(&a), &mut files);
    }
    let mut lines = 0usize;
    let mut bytes = 0usize;
    let mut functions = 0usize;
    let mut approximate = 0usize;
    let mut problems = 0usize;
    let mut invalid = 0usize;
    let mut total = Duration::ZERO;
    let mut slowest: Vec<(Duration, String)> = Vec::new();
    for f in &files {
        let Ok(src) = std::fs::read(f) else { continue };
        lines += src.iter().filter(|b| **b == b'\n').count();
        bytes += src.len();
        let name = f.to_string_lossy().to_string();
        let start = Instant::now();
        let m = refsan_cython::lower_file(&name, &src);
        let took = start.elapsed();
        total += took;
        slowest.push((took, name.clone()));
        functions += m.functions.len();
        problems += m.problems.len();
        for p in &m.problems {
            eprintln!("{name}:{}: {}", p.span.line, p.message);
        }
        for func in &m.functions {
            if !func.approximate.is_empty() {
                approximate += 1;
                for (sp, why) in &func.approximate {
                    eprintln!("{name}:{}: approximate `{}`: {why}", sp.line, func.name);
                }
            }
            if let Err(e) = func.validate() {
                invalid += 1;
                eprintln!("{name}: INVALID {e}");
            }
        }
    }
    slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
    println!(
        "files {}  lines {}  bytes {}  functions {}  approximate {}  problems {}  invalid {}",
        files.len(),
        lines,
        bytes,
        functions,
        approximate,
        problems,
        invalid
    );
    println!(
        "lowering time {:.1} ms total, {:.2} ms per 1000 lines",
        total.as_secs_f64() * 1000.0,
        total.as_secs_f64() * 1000.0 / (lines.max(1) as f64 / 1000.0)
    );
    for (d, n) in slowest.iter().take(3) {
        println!("  slowest: {:.2} ms {n}", d.as_secs_f64() * 1000.0);
    }
    if invalid > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
