//! `nbi`: watch per-application network usage, store it, and look at it.

mod args;
mod cmd;
mod context;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Before any thread exists.
    nbi_core::runtime::init_process();
    init_logging(&cli.global.log);
    // One thread for the async parts: they mostly wait, and a second
    // worker would wake with the first on every timer (a battery's cost).
    // Blocking work (the socket table, SQLite, training) runs on the
    // blocking pool.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("nbi: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nbi: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let global = cli.global;
    match cli.command {
        Command::Run(a) => cmd::run::run(&global, a).await,
        Command::Watch(a) => cmd::run::watch(&global, a).await,
        Command::Collect(a) => cmd::run::collect(&global, a).await,
        Command::Replay(a) => cmd::run::replay(&global, a).await,
        Command::Import(a) => cmd::import::import(&global, a).await,
        Command::Today(a) => cmd::query::today(&global, a),
        Command::History(a) => cmd::usage::history(&global, a),
        Command::Destinations(a) => cmd::usage::destinations(&global, a),
        Command::Export(a) => cmd::usage::export(&global, a),
        Command::Networks(a) => cmd::networks::networks(&global, a),
        Command::Status(a) => cmd::query::status(&global, a),
        Command::Config => cmd::query::config(&global),
        Command::Demo(a) => cmd::demo::demo(&global, a),
        Command::Detect(a) => cmd::intel::detect(&global, a),
        Command::Verdicts(a) => cmd::intel::verdicts(&global, a),
        Command::MarkNormal(a) => cmd::intel::mark_normal(&global, a),
        Command::NewNormal(a) => cmd::intel::new_normal(&global, a),
        Command::Eval(a) => cmd::intel::eval(a),
    }
}

fn init_logging(filter: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    // Logs go to stderr so stdout stays clean for NDJSON and --json output.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}
