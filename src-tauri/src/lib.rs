//! The Tidemark desktop app: a thin Tauri 2 shell over `tidemark-client`.
//!
//! Commands are adapters (deserialize, call the client, map errors to `{kind, message}`); a
//! background task runs the sync engine and forwards its status to the window as events.
//! Every save is local and immediate: no command waits on the network.

mod commands;
mod files;
mod shell;

pub use commands::CmdError;
pub use shell::{idle_lock_from, Shell, DEFAULT_IDLE_LOCK, IDLE_LOCK_ENV};

use tauri::ipc::Invoke;
use tauri::{Builder, Manager, Runtime};

/// Commands only a person causes (writes and explicit actions): each postpones the idle lock,
/// as the window's `activity` pings do. Reads do not: the window also makes them on its own
/// when sync brings news (the sync bar's summary, the conflict count, a screen re-reading),
/// and those must not keep an unattended store open.
const USER_ACTIONS: &[&str] = &[
    "set_up",
    "enroll",
    "set_lang",
    "save_record",
    "edit_field",
    "splice_text",
    "resolve_conflict",
    "import_track",
    "acknowledge_exchange",
    "sync_now",
    "export_report",
    "attach_file",
    "save_attachment",
    "open_attachment",
];

/// Gives `generate_handler!`'s closure its type.
fn handler<R: Runtime, F: Fn(Invoke<R>) -> bool + Send + Sync + 'static>(f: F) -> F {
    f
}

/// Registers the shell's state and commands on `builder` (shared by `run` and the tests).
pub fn configure<R: Runtime>(builder: Builder<R>, shell: Shell) -> Builder<R> {
    let commands = handler::<R, _>(tauri::generate_handler![
        commands::app_info,
        commands::set_up,
        commands::unlock,
        commands::lock,
        commands::activity,
        commands::enroll,
        commands::set_lang,
        commands::records::units,
        commands::records::list_records,
        commands::records::search_records,
        commands::records::get_record,
        commands::records::save_record,
        commands::records::edit_field,
        commands::records::splice_text,
        commands::records::record_history,
        commands::records::list_conflicts,
        commands::records::resolve_conflict,
        commands::records::import_track,
        commands::records::acknowledge_exchange,
        commands::records::dashboard,
        commands::sync_status,
        commands::sync_summary,
        commands::sync_now,
        commands::reports::report,
        commands::reports::export_report,
        commands::attachments::attachments,
        commands::attachments::attach_file,
        commands::attachments::attachment_data,
        commands::attachments::save_attachment,
        commands::attachments::open_attachment,
    ]);
    builder
        .manage(shell)
        .invoke_handler(move |invoke: Invoke<R>| {
            if USER_ACTIONS.contains(&invoke.message.command()) {
                if let Some(shell) = invoke.message.webview_ref().try_state::<Shell>() {
                    shell.touch();
                }
            }
            commands(invoke)
        })
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
            // Sync starts in the background if this device is set up, unlocked (an encrypted
            // store starts locked: `unlock` starts it) and enrolled.
            let handle = app.handle().clone();
            let shell = app.state::<Shell>();
            shell.start_sync(handle.clone());
            shell.watch_idle(handle);
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
