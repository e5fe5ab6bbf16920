//! Declares every command, so each one needs an explicit grant in `capabilities/`.

/// The commands the shell offers the UI (see `ui/src/lib/api.ts`).
const COMMANDS: &[&str] = &[
    "app_info",
    "set_up",
    "unlock",
    "lock",
    "activity",
    "enroll",
    "set_lang",
    "units",
    "list_records",
    "search_records",
    "get_record",
    "save_record",
    "edit_field",
    "splice_text",
    "record_history",
    "list_conflicts",
    "resolve_conflict",
    "import_track",
    "acknowledge_exchange",
    "dashboard",
    "sync_status",
    "sync_summary",
    "sync_now",
    "report",
    "export_report",
    "attachments",
    "attach_file",
    "attachment_data",
    "save_attachment",
    "open_attachment",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri build configuration");
}
