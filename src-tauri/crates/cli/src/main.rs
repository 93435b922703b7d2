//! `clinicdesk`: the ClinicDesk core from a terminal, for scripting and support. Every command goes
//! through the same core functions (and the same role checks and audit) as the desktop app.

mod args;
mod commands;
mod inbox;
mod messaging;
mod output;

use clap::Parser;
use clinicdesk_core::CoreError;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    // Quiet by default: the person reads our sentences, not the core's log. RUST_LOG turns it on.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "off".into()))
        .with_writer(std::io::stderr)
        .init();
    let json = cli.json;
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            output::error(json, &err);
            ExitCode::from(exit_code(&err))
        }
    }
}

/// Distinct exit codes for the outcomes a script may branch on (the core's one table).
fn exit_code(err: &CoreError) -> u8 {
    err.code().exit_code()
}
