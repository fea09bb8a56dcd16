//! The `refsan` command line.
//!
//! Each subcommand lives in its own `cmd_*.rs` module; this file only
//! declares the arguments and dispatches. Exit status: 0 clean, 1 findings
//! (or a crash/leak for the runtime commands), 2 usage or I/O error.

use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

mod add_ignore;
mod baseline;
mod c_context;
mod cache;
mod cmd_build;
mod cmd_check;
mod cmd_debug_ir;
mod cmd_doctor;
mod cmd_explain;
mod cmd_leaks;
mod cmd_run;
mod cmd_server;
mod config;
mod driver;
mod project;
mod skip;

#[derive(Parser)]
#[command(
    name = "refsan",
    version,
    about = "Finds reference-counting bugs in Python extensions written in C, C++ and Cython",
    long_about = None,
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Statically check C/C++ and Cython sources for reference-counting bugs.
    Check(cmd_check::CheckArgs),
    /// Print the documentation of a rule (or --list all rules).
    Explain(cmd_explain::ExplainArgs),
    /// Print the ownership IR of a source file (for debugging refsan).
    #[command(hide = true)]
    DebugIr(cmd_debug_ir::DebugIrArgs),
    /// Find reference and memory leaks by calling functions or tests repeatedly.
    Leaks(cmd_leaks::LeaksArgs),
    /// Run a Python program with crash instrumentation; report a crash as one
    /// actionable report (classification, stacks, .pyx lines, static findings).
    Run(cmd_run::RunArgs),
    /// Rebuild an extension project in place with debug info (and ASan).
    Build(cmd_build::BuildArgs),
    /// Show which runtime tools (debug Python, gdb, ASan, valgrind, Cython,
    /// compiler) this machine has, and how to install the missing ones.
    Doctor(cmd_doctor::DoctorArgs),
    /// Run a language server (LSP) on standard input and output: editors
    /// show the findings of the C, C++ and Cython files being edited.
    Server(cmd_server::ServerArgs),
    /// Remove the results cache of `refsan check`.
    Clean {
        /// The cache directory (default: as `refsan check` finds it).
        #[arg(long, value_name = "DIR", env = "REFSAN_CACHE_DIR")]
        cache_dir: Option<std::path::PathBuf>,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish,
    /// powershell): `refsan completions bash > ~/.local/share/bash-completion/completions/refsan`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

// Most of a run's allocations are short-lived copies of analysis states
// and syntax trees; mimalloc serves them faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => cmd_check::run(args),
        Command::Explain(args) => cmd_explain::run(args),
        Command::DebugIr(args) => cmd_debug_ir::run(args),
        Command::Leaks(args) => cmd_leaks::run(args),
        Command::Run(args) => cmd_run::run(args),
        Command::Build(args) => cmd_build::run(args),
        Command::Doctor(args) => cmd_doctor::run(args),
        Command::Server(args) => cmd_server::run(args),
        Command::Clean { cache_dir } => {
            let dir = cache_dir.unwrap_or_else(cache::default_dir);
            match cache::clean(&dir) {
                Ok(true) => {
                    println!("removed {}", dir.display());
                    Ok(ExitCode::SUCCESS)
                }
                Ok(false) => {
                    println!("no refsan cache at {}", dir.display());
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => Err(anyhow::anyhow!("cannot remove {}: {e}", dir.display())),
            }
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "refsan", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("refsan: error: {err:#}");
            ExitCode::from(2)
        }
    }
}
