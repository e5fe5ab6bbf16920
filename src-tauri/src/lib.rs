//! The Tidemark desktop app: a thin Tauri 2 shell over `tidemark-client`.
//!
//! Commands are adapters (deserialize, call the client, map errors to `{kind, message}`); a
//! background task runs the sync engine and forwards its status to the window as events.
//! Every save is local and immediate: no command waits on the network.

mod commands;
mod files;
mod shell;

pub use commands::CmdError;
pub use shell::Shell;

use tauri::{Builder, Manager, Runtime};

/// Registers the shell's state and commands on `builder` (shared by `run` and the tests).
pub fn configure<R: Runtime>(builder: Builder<R>, shell: Shell) -> Builder<R> {
    builder
        .manage(shell)
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::set_up,
            commands::enroll,
            commands::set_lang,
            commands::units,
            commands::list_records,
            commands::search_records,
            commands::get_record,
            commands::save_record,
            commands::edit_field,
            commands::splice_text,
            commands::record_history,
            commands::list_conflicts,
            commands::resolve_conflict,
            commands::import_track,
            commands::acknowledge_exchange,
            commands::dashboard,
            commands::sync_status,
            commands::sync_summary,
            commands::sync_now,
            commands::report,
            commands::export_report,
            commands::attachments,
            commands::attach_file,
            commands::attachment_data,
            commands::save_attachment,
            commands::open_attachment,
        ])
}

/// The data directory: `--data-dir DIR`, else `TIDEMARK_DATA_DIR`, else the OS data directory
/// (the same store the `tidemark` command line uses by default).
pub fn data_dir() -> std::path::PathBuf {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--data-dir" {
            if let Some(d) = args.next() {
                return d.into();
            }
        } else if let Some(d) = a.strip_prefix("--data-dir=") {
            return d.into();
        }
    }
    if let Some(d) = std::env::var_os("TIDEMARK_DATA_DIR") {
        return d.into();
    }
    directories::ProjectDirs::from("vn", "Tidemark", "tidemark")
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| std::path::PathBuf::from(".tidemark"))
}

/// Runs the app.
#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
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
    let shell = Shell::new(data_dir());
    let app = configure(tauri::Builder::default(), shell)
        .setup(|app| {
            // Sync starts in the background if this device is set up and enrolled.
            let handle = app.handle().clone();
            app.state::<Shell>().start_sync(handle);
            Ok(())
        })
        .build(tauri::generate_context!());
    match app {
        Ok(app) => app.run(|_, _| {}),
        Err(e) => {
            eprintln!("Tidemark could not start: {e}");
            std::process::exit(2);
        }
    }
}
