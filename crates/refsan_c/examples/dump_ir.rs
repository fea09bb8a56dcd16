//! Prints the IR of one C/C++ file: `cargo run -p refsan_c --example dump_ir -- FILE`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: dump_ir FILE.c");
        return ExitCode::from(2);
    };
    let source = match std::fs::read(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::from(1);
        }
    };
    let language = refsan_c::detect_language(std::path::Path::new(&path), &source)
        .unwrap_or(refsan_ir::Language::C);
    let module = refsan_c::lower_file(&path, &source, language);
    let mut out = module.dump();
    for f in &module.functions {
        for (span, why) in &f.approximate {
            let _ = writeln!(
                out,
                "approximate {}:{}: {} ({why})",
                span.line, span.col, f.name
            );
        }
    }
    for s in &module.structs {
        let _ = writeln!(
            out,
            "struct {:?} object={} fields={:?}",
            s.names,
            s.is_object,
            s.fields
                .iter()
                .map(|f| format!("{}: {:?}", f.name, f.ty))
                .collect::<Vec<_>>()
        );
    }
    for t in &module.method_tables {
        for e in &t.entries {
            let _ = writeln!(
                out,
                "method {} {} -> {} {:?}",
                t.name, e.py_name, e.func, e.flags
            );
        }
    }
    for t in &module.type_defs {
        let _ = writeln!(
            out,
            "type {} {:?} struct={:?} flags={:?}",
            t.name, t.kind, t.object_struct, t.flags
        );
        for s in &t.slots {
            let _ = writeln!(out, "  {} = {}", s.slot, s.value);
        }
    }
    for m in &module.module_defs {
        let _ = writeln!(out, "module {}", m.name);
        for s in &m.slots {
            let _ = writeln!(out, "  {} = {}", s.slot, s.value);
        }
    }
    for d in &module.declarations {
        let _ = writeln!(
            out,
            "declaration {} -> {:?} params={} contract={:?}",
            d.name, d.returns, d.param_count, d.contract
        );
    }
    for s in &module.suppressions {
        let _ = writeln!(out, "suppression line {} {:?}", s.line, s.codes);
    }
    if module.free_threading {
        let _ = writeln!(out, "free-threading");
    }
    for p in &module.problems {
        let _ = writeln!(out, "problem {}:{}: {}", p.span.line, p.span.col, p.message);
    }
    // A closed pipe (`| head`) is not an error worth reporting.
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    ExitCode::SUCCESS
}
