//! `refsan doctor`: the runtime tools this machine has, and how to get the
//! missing ones.

use clap::Args;
use refsan_runtime::doctor;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct DoctorArgs {}

pub fn run(_args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let checks = doctor::diagnose();
    print!("{}", doctor::render(&checks));
    Ok(ExitCode::SUCCESS)
}
