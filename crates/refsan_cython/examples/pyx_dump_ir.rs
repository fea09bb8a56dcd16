//! Prints the IR of Cython files: functions, classes, declarations and
//! parse problems (`cargo run -p refsan_cython --example pyx_dump_ir -- FILE...`).

fn main() {
    for path in std::env::args().skip(1) {
        let src = match std::fs::read(&path) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{path}: {e}");
                continue;
            }
        };
        let m = refsan_cython::lower_file(&path, &src);
        println!("== {path}");
        for s in &m.structs {
            let fields: Vec<String> = s
                .fields
                .iter()
                .map(|f| {
                    format!(
                        "{}: {:?}{}",
                        f.name,
                        f.ty,
                        if f.managed { " managed" } else { "" }
                    )
                })
                .collect();
            println!("struct {} {{{}}}", s.names.join("/"), fields.join(", "));
        }
        for t in &m.type_defs {
            let slots: Vec<String> = t
                .slots
                .iter()
                .map(|s| format!("{}={}", s.slot, s.value))
                .collect();
            println!("type {} [{}]", t.name, slots.join(", "));
        }
        for d in &m.declarations {
            if d.name.starts_with("__pyx_") {
                continue;
            }
            println!(
                "decl {} -> {:?} ({} params) {:?} @{}",
                d.name,
                d.returns,
                d.param_count,
                d.contract
                    .as_ref()
                    .map(|(c, s)| (c.returns, c.failure, c.args.clone(), *s)),
                d.span.line
            );
        }
        for p in &m.problems {
            println!("problem @{}: {}", p.span.line, p.message);
        }
        for s in &m.suppressions {
            println!("suppression @{}: {:?}", s.line, s.codes);
        }
        for f in &m.functions {
            if let Err(e) = f.validate() {
                println!("INVALID: {e}");
            }
            for (sp, why) in &f.approximate {
                println!("approximate {} @{}: {why}", f.name, sp.line);
            }
        }
        print!("{}", m.dump());
    }
}
