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
}

pub fn run(args: DebugIrArgs) -> Result<ExitCode> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let lang = driver::language_for(&args.file).context("not a C, C++ or Cython file")?;
    let module = driver::lower(&driver::display_path(&args.file), &bytes, lang);
    for f in &module.functions {
        if args.function.as_deref().is_none_or(|n| n == f.name) {
            print!("{}", f.dump());
        }
    }
    for p in &module.problems {
        println!("problem at {}:{}: {}", p.span.line, p.span.col, p.message);
    }
    Ok(ExitCode::SUCCESS)
}
