//! Regenerates `data/capi.toml` from refcounts.dat, stable_abi.toml and
//! overrides.toml.
//!
//! Usage: `refsan-capi-gen [DATA_DIR]` (default: this crate's `data/`).
//! With `--check`, writes nothing and exits 1 when `capi.toml` is stale.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use refsan_capi::{generate, Sources};

fn read(dir: &Path, file: &str) -> Result<String> {
    let path = dir.join(file);
    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
}

fn run() -> Result<ExitCode> {
    let mut check_only = false;
    let mut data_dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data"));
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--check" => check_only = true,
            "-h" | "--help" => {
                println!("usage: refsan-capi-gen [--check] [DATA_DIR]");
                return Ok(ExitCode::SUCCESS);
            }
            dir => data_dir = PathBuf::from(dir),
        }
    }
    let refcounts = read(&data_dir, "refcounts-3.11.dat")?;
    let stable_abi = read(&data_dir, "stable_abi-3.11.toml")?;
    let overrides = read(&data_dir, "overrides.toml")?;
    let text = generate(&Sources {
        refcounts: &refcounts,
        stable_abi: &stable_abi,
        overrides: &overrides,
    })
    .context("merging the knowledge base")?;
    let out = data_dir.join("capi.toml");
    let current = std::fs::read_to_string(&out).unwrap_or_default();
    let entries = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count();
    if current == text {
        eprintln!("{} is up to date ({entries} entries)", out.display());
        return Ok(ExitCode::SUCCESS);
    }
    if check_only {
        eprintln!("{} is out of date", out.display());
        return Ok(ExitCode::FAILURE);
    }
    std::fs::write(&out, &text).with_context(|| format!("writing {}", out.display()))?;
    eprintln!("wrote {} ({entries} entries)", out.display());
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("refsan-capi-gen: {error:#}");
            ExitCode::FAILURE
        }
    }
}
