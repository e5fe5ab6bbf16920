//! `tidemark`: the command line over the client crate. Parses arguments, runs one command,
//! maps errors to exit codes: 0 ok, 1 something the user can fix, 2 an internal error.

/// `println!` that ends the program quietly when standard output is closed (`tidemark list |
/// head`), instead of panicking on a broken pipe.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout(), $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}

mod args;
mod attachments;
mod commands;
mod demo;
mod output;
mod report;
mod secrets;
mod syncing;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tidemark_client::ClientError;
use tidemark_domain::Lang;

use args::Cli;

/// A failed command: what to print and with which exit code.
pub enum Failure {
    /// The user can fix it (exit 1).
    User(String),
    /// Something went wrong inside (exit 2).
    Internal(String),
}

impl Failure {
    fn from_client(e: ClientError, lang: Lang) -> Failure {
        if e.is_user_error() {
            Failure::User(e.localized(lang))
        } else {
            Failure::Internal(e.localized(lang))
        }
    }
}

/// The relay's allocator, so that a pull here costs what `BENCHMARKS.md` measures (S2's pulling
/// child runs on it): with the system's, a province-year's pull took 15–35 % more CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    tidemark_client::tune_process();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            // Automerge traces every commit with its message (user and unit names): it is
            // never let below `warn`, whatever TIDEMARK_LOG asks for.
            tracing_subscriber::EnvFilter::try_new(format!(
                "{},automerge=warn",
                std::env::var("TIDEMARK_LOG").unwrap_or_else(|_| "warn".into())
            ))
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,automerge=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let lang = Lang::parse(&cli.lang);
    let dir = cli.data_dir.clone().unwrap_or_else(default_data_dir);
    match commands::run(cli.command, &dir, lang) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::User(msg)) => {
            eprintln!("{}: {msg}", output::t(lang, "lỗi", "error"));
            ExitCode::from(1)
        }
        Err(Failure::Internal(msg)) => {
            eprintln!("{}: {msg}", output::t(lang, "lỗi nội bộ", "internal error"));
            ExitCode::from(2)
        }
    }
}

fn default_data_dir() -> PathBuf {
    directories::ProjectDirs::from("vn", "Tidemark", "tidemark")
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from(".tidemark"))
}
