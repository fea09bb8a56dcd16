//! `refsan explain`: a rule's documentation.

use anyhow::{bail, Result};
use clap::Args;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// The rule code (RS101) or name (leaked-reference).
    pub rule: Option<String>,

    /// List every rule with its one-line summary.
    #[arg(long)]
    pub list: bool,
}

pub fn run(args: ExplainArgs) -> Result<ExitCode> {
    let rules = refsan_engine::rules();
    if args.list || args.rule.is_none() {
        for r in rules {
            println!(
                "{}  {:<28} {:<8} {}",
                r.code,
                r.name,
                r.severity.as_str(),
                r.summary
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let wanted = args.rule.unwrap_or_default();
    let Some(rule) = rules
        .iter()
        .find(|r| r.code.eq_ignore_ascii_case(&wanted) || r.name.eq_ignore_ascii_case(&wanted))
    else {
        bail!("unknown rule `{wanted}` (see `refsan explain --list`)");
    };
    println!("{}", rule.doc.trim_end());
    println!();
    println!("Severity: {}", rule.severity);
    Ok(ExitCode::SUCCESS)
}
