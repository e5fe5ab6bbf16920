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
    },
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
    /// GPS tracks.
    Track {
        /// What to do.
        #[command(subcommand)]
        action: TrackAction,
    },
    /// Low-level document transfer between stores (before sync and bundles exist).
    Doc {
        /// What to do.
        #[command(subcommand)]
        action: DocAction,
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
