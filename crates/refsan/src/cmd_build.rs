//! `refsan build`: rebuilds an extension with debug info (in place), or
//! with ASan (into build/refsan-asan, for `refsan run --asan`).

use clap::Args;
use refsan_runtime::build::{self, BuildOptions};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
#[command(after_help = "\
Runs the project's own build (`setup.py build_ext --inplace --force`, or \
`pip install --no-build-isolation -e .` for a pyproject-only project) with \
CFLAGS='-g -O0 -fno-omit-frame-pointer' so crash reports show every frame and line. \
Cython's .pyx line markers are kept in the generated C.

With --asan the in-place modules are left alone (an ASan module imports only with \
the ASan runtime preloaded): the build goes to build/refsan-asan/ and its \
manifest.json, and `refsan run --asan` run from the project (or below it) \
imports those modules instead. --debug builds in place: a debug build's modules \
carry their own ABI tag (.cpython-311d-...so), loaded by the debug interpreter only.

The project's build requirements ([build-system] requires of pyproject.toml) \
must be installed in the interpreter (the build runs without isolation): a \
missing one is named, with the command that installs it, before building.

Examples:
  refsan build                 # release interpreter, debug info
  refsan build --asan          # for `refsan run --asan`
  refsan build --debug         # against python3-dbg's headers")]
pub struct BuildArgs {
    /// Compile and link with -fsanitize=address (for `refsan run --asan`).
    #[arg(long)]
    pub asan: bool,

    /// Build for the debug interpreter (python3-dbg) so the extension's own
    /// Py_INCREF/Py_DECREF keep the debug accounting; enables assert().
    #[arg(long)]
    pub debug: bool,

    /// The interpreter to build for (default: python3, or python3-dbg with --debug).
    #[arg(long, value_name = "PY")]
    pub python: Option<PathBuf>,

    /// The project directory (with setup.py or pyproject.toml).
    #[arg(default_value = ".")]
    pub path: PathBuf,
}

pub fn run(args: BuildArgs) -> anyhow::Result<ExitCode> {
    let plan = build::plan(&BuildOptions {
        path: args.path,
        asan: args.asan,
        debug: args.debug,
        python: args.python,
    })?;
    if let Err(missing) = build::check_requirements(&plan) {
        eprintln!("refsan: {missing}");
        return Ok(ExitCode::from(2));
    }
    eprintln!("refsan: building in {}", plan.dir.display());
    eprintln!("refsan: {}", plan.display());
    let outcome = build::run(&plan)?;
    if !outcome.success {
        eprintln!(
            "refsan: the build failed (exit status {})",
            outcome
                .exit_code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "unknown".into())
        );
        return Ok(ExitCode::from(
            outcome.exit_code.unwrap_or(1).clamp(1, 255) as u8
        ));
    }
    if outcome.built.is_empty() {
        eprintln!("refsan: the build succeeded but wrote no extension module under the project");
    }
    for module in &outcome.built {
        eprintln!("refsan: built {}", module.display());
    }
    Ok(ExitCode::SUCCESS)
}
