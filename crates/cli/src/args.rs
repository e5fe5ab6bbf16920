//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Tidemark: offline-first records for border-guard patrols, plans and exchanges.
#[derive(Debug, Parser)]
#[command(name = "tidemark", version, about)]
pub struct Cli {
    /// Where the device store lives (default: the OS data directory, e.g. ~/.local/share/tidemark).
    #[arg(long, global = true, env = "TIDEMARK_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Language of messages: vi (default) or en.
    #[arg(long, global = true, env = "TIDEMARK_LANG", default_value = "vi")]
    pub lang: String,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Output options shared by read commands.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Output {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Export formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// JSON Lines (importable).
    Jsonl,
    /// CSV.
    Csv,
}

/// Report formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportFormatArg {
    /// Markdown tables.
    Md,
    /// CSV, each table under its title.
    Csv,
    /// Excel workbook, one sheet per table.
    Xlsx,
    /// One printable page with charts.
    Html,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a device store for a unit.
    Init {
        /// The unit this device belongs to.
        #[arg(long)]
        unit: String,
        /// The person using this device (default: the login name).
        #[arg(long, env = "TIDEMARK_USER")]
        user: Option<String>,
        /// Keep the store unencrypted (not recommended). By default it is encrypted with a
        /// passphrase from TIDEMARK_PASSPHRASE or typed at the prompt.
        #[arg(long)]
        unencrypted: bool,
    },
    /// Encrypt an unencrypted store in place (passphrase from TIDEMARK_PASSPHRASE or the prompt).
    Encrypt,
    /// Change the store's passphrase (old from TIDEMARK_PASSPHRASE, new from
    /// TIDEMARK_NEW_PASSPHRASE, or both at the prompt).
    Passphrase,
    /// Show this device's identity and what the store holds.
    Info {
        #[command(flatten)]
        out: Output,
    },
    /// Import records from a JSON Lines file.
    Import {
        /// The file.
        file: PathBuf,
        #[command(flatten)]
        out: Output,
    },
    /// Export records.
    Export {
        /// jsonl or csv.
        #[arg(long, value_enum, default_value = "jsonl")]
        format: Format,
        /// Only this record type.
        #[arg(long = "type")]
        kind: Option<String>,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// List records, newest first.
    List {
        /// Only this record type (patrol, plan_item, info_exchange…).
        #[arg(long = "type")]
        kind: Option<String>,
        /// Only this unit (name or code).
        #[arg(long)]
        unit: Option<String>,
        /// From this day (YYYY-MM-DD).
        #[arg(long)]
        from: Option<String>,
        /// To this day (YYYY-MM-DD).
        #[arg(long)]
        to: Option<String>,
        /// At most this many rows (0 = all).
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Skip this many rows.
        #[arg(long, default_value_t = 0)]
        offset: usize,
        #[command(flatten)]
        out: Output,
    },
    /// Show one record with its conflicts.
    Show {
        /// Record id.
        id: String,
        #[command(flatten)]
        out: Output,
    },
    /// Search all text, ignoring case and diacritics.
    Search {
        /// Words to find ("kieng phuoc" finds "Kiểng Phước").
        text: String,
        /// Only this record type.
        #[arg(long = "type")]
        kind: Option<String>,
        /// At most this many results.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[command(flatten)]
        out: Output,
    },
    /// Set one field of a record (VALUE is JSON, or plain text).
    Edit {
        /// Record id.
        id: String,
        /// Field name as in the interchange format.
        field: String,
        /// New value.
        value: String,
    },
    /// Edit a text field at a character position.
    Splice {
        /// Record id.
        id: String,
        /// Text field (notes, content, body…).
        field: String,
        /// Character position.
        pos: usize,
        /// Characters to delete.
        delete: usize,
        /// Text to insert.
        text: String,
    },
    /// Who changed what, when: old → new.
    History {
        /// Record id.
        id: String,
        #[command(flatten)]
        out: Output,
    },
    /// Every field holding concurrent values.
    Conflicts {
        #[command(flatten)]
        out: Output,
    },
    /// Resolve a conflict by writing one value over all concurrent ones.
    Resolve {
        /// Record id.
        id: String,
        /// Conflicted field.
        field: String,
        /// The value to keep (JSON, or plain text).
        value: String,
    },
    /// Enrol this device with a relay using a one-time code from its administrator.
    Enroll {
        /// The relay's address (https://relay.example.vn:8443).
        #[arg(long)]
        server: String,
        /// The one-time enrolment code.
        #[arg(long)]
        code: String,
        #[command(flatten)]
        out: Output,
    },
    /// Sync with the relay: once, or keep syncing until interrupted (Ctrl-C).
    Sync {
        /// One session, then exit.
        #[arg(long)]
        once: bool,
        #[command(flatten)]
        out: Output,
    },
    /// Sync state: the relay, the last successful sync, changes not yet at the relay.
    Status {
        #[command(flatten)]
        out: Output,
    },
    /// Review-meeting report: what each unit did over a period, from the merged records.
    Report {
        /// First day of the period (YYYY-MM-DD).
        #[arg(long)]
        from: String,
        /// Last day of the period (YYYY-MM-DD).
        #[arg(long)]
        to: String,
        /// Only this unit (name or code) and the units under it; repeat for several.
        #[arg(long = "unit")]
        units: Vec<String>,
        /// md (default), csv, xlsx or html (a printable page with charts).
        #[arg(long, value_enum, default_value = "md")]
        format: ReportFormatArg,
        /// Write here instead of standard output (required for xlsx).
        #[arg(long)]
        out: Option<PathBuf>,
        /// List the records behind every figure.
        #[arg(long)]
        details: bool,
        /// Judge plan items overdue as of this day (default: today, or the last day of the
        /// period if that is earlier).
        #[arg(long)]
        as_of: Option<String>,
    },
    /// File bundles for carrying changes where no link exists.
    Bundle {
        /// export, import or upload.
        #[command(subcommand)]
        action: BundleAction,
    },
    /// A narrated run of the whole story on this machine: a relay, a province's units, a day
    /// without signal, conflicts, a USB bundle.
    Demo {
        /// Keep the demo's files here (default: a temporary directory, removed at the end).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// After the story, keep the relay running (until Ctrl-C) so the desktop app can open
        /// a device of the province (`DIR/hq`, `DIR/tt`…); writes `DIR/relay.url` when ready.
        #[arg(long, requires = "dir")]
        serve: bool,
    },
    /// GPS tracks.
    Track {
        /// What to do.
        #[command(subcommand)]
        action: TrackAction,
    },
    /// Attach a photo or file to a patrol (or one of its inspections or violations), an
    /// exchange or an activity. The file is stored once, by its SHA-256.
    Attach {
        /// Record id.
        id: String,
        /// The file.
        file: PathBuf,
        /// Attach to the patrol's inspection number N (from 1, as `show` lists them).
        #[arg(long, conflicts_with = "violation")]
        inspection: Option<usize>,
        /// Attach to the patrol's violation number N (from 1).
        #[arg(long)]
        violation: Option<usize>,
        #[command(flatten)]
        out: Output,
    },
    /// List or get a record's attached files.
    Attachment {
        /// What to do.
        #[command(subcommand)]
        action: AttachmentAction,
    },
    /// Low-level document transfer between stores (before sync and bundles exist).
    Doc {
        /// What to do.
        #[command(subcommand)]
        action: DocAction,
    },
}

/// Bundle subcommands.
#[derive(Debug, Subcommand)]
pub enum BundleAction {
    /// Write the changes a recipient lacks to a file (for a USB stick).
    Export {
        /// The bundle file to write.
        #[arg(long)]
        out: PathBuf,
        /// Only what this unit may read (default: everything).
        #[arg(long = "for-unit")]
        for_unit: Option<String>,
        /// A receipt the recipient wrote: only changes after what it already has.
        #[arg(long)]
        since: Option<PathBuf>,
        #[command(flatten)]
        out_fmt: Output,
    },
    /// Merge a bundle (and write a receipt for its sender), or take in a receipt.
    Import {
        /// A bundle file, or a receipt file that came back from a recipient.
        file: PathBuf,
        /// Where to write the receipt (default: FILE.receipt.json).
        #[arg(long)]
        receipt: Option<PathBuf>,
        #[command(flatten)]
        out: Output,
    },
    /// Hand a bundle to the relay (when a station's stick reaches a connected machine).
    Upload {
        /// The bundle file.
        file: PathBuf,
        /// Where to write the relay's receipt (default: FILE.receipt.json).
        #[arg(long)]
        receipt: Option<PathBuf>,
        #[command(flatten)]
        out: Output,
    },
}

/// Attachment subcommands.
#[derive(Debug, Subcommand)]
pub enum AttachmentAction {
    /// The files of a record: name, type, size, hash, and whether each is on this device.
    List {
        /// Record id.
        id: String,
        #[command(flatten)]
        out: Output,
    },
    /// Write one file of a record out.
    Get {
        /// Record id.
        id: String,
        /// The file's name (or the start of its hash, at least 8 digits).
        name: String,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
        /// Write its thumbnail instead.
        #[arg(long)]
        thumb: bool,
    },
}

/// Track subcommands.
#[derive(Debug, Subcommand)]
pub enum TrackAction {
    /// Import a GPX or NMEA 0183 file into a patrol.
    Import {
        /// Patrol id.
        id: String,
        /// The .gpx or .nmea file.
        file: PathBuf,
        #[command(flatten)]
        out: Output,
    },
}

/// Document subcommands.
#[derive(Debug, Subcommand)]
pub enum DocAction {
    /// Write a record's whole Automerge document to a file.
    Save {
        /// Record id.
        id: String,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Merge an Automerge document file into the record with this id.
    Merge {
        /// Record id.
        id: String,
        /// The file written by `doc save` on another device.
        file: PathBuf,
    },
}
