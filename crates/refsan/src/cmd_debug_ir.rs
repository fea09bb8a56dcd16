//! `refsan debug-ir FILE`: the lowered IR of a file, for debugging.

use crate::driver;
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct DebugIrArgs {
    pub file: PathBuf,
    /// Only this function.
    #[arg(long)]
    pub function: Option<String>,
    /// Print the contract the engine computed for each function instead.
    #[arg(long)]
    pub summaries: bool,
}

pub fn run(args: DebugIrArgs) -> Result<ExitCode> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let lang = driver::language_for(&args.file).context("not a C, C++ or Cython file")?;
    let projects = crate::project::Projects::default();
    let context = projects.context(&args.file, lang, &bytes);
    let module =
        driver::lower_in_context(&driver::display_path(&args.file), &bytes, lang, &context);
    let facts = refsan_capi::KnowledgeBase::builtin();
    let external = driver::project_summaries(
        &module,
        &args.file,
        &projects,
        facts,
        &mut driver::Reads::default(),
    );
    let report = refsan_engine::check_module_with(&module, facts, &Default::default(), &external);
    let unreached = |name: &str| {
        report
            .unreached
            .iter()
            .find(|(f, _, _)| f == name)
            .map_or(0, |(_, n, _)| *n)
    };
    if args.summaries {
        for (name, c) in &report.summaries {
            if args.function.as_deref().is_none_or(|n| n == name) {
                println!("{name}: {c:?} (unreached statements: {})", unreached(name));
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    for f in &module.functions {
        if args.function.as_deref().is_none_or(|n| n == f.name) {
            print!("{}", f.dump());
            println!("  unreached statements: {}", unreached(&f.name));
        }
    }
    for p in &module.problems {
        println!("problem at {}:{}: {}", p.span.line, p.span.col, p.message);
    }
    Ok(ExitCode::SUCCESS)
}
