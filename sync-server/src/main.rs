//! `tidemark-server`: parses settings and flags, then serves or runs one admin command.
//!
//! Settings precedence: defaults < `--config FILE` < `TIDEMARK_*` environment < flags.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tidemark_sync_protocol::{bundle_sha256_hex, decode_bundle, BundleLimits};
use tidemark_sync_server::cache::DocCache;
use tidemark_sync_server::db::Db;
use tidemark_sync_server::import::{import_bundle, Importer};
use tidemark_sync_server::Settings;

/// The Tidemark relay server and its admin commands.
#[derive(Debug, Parser)]
#[command(name = "tidemark-server", version)]
struct Cli {
    /// TOML config file.
    #[arg(long, global = true, env = "TIDEMARK_CONFIG")]
    config: Option<PathBuf>,
    /// Directory of the relay's database (overrides config and TIDEMARK_DATA_DIR).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the relay until SIGTERM or Ctrl-C.
    Serve {
        /// Address and port to listen on.
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// PEM certificate chain for HTTPS (with --tls-key).
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key for HTTPS (with --tls-cert).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Allow plain HTTP on a non-loopback address (behind a TLS-terminating proxy).
        #[arg(long)]
        allow_insecure: bool,
    },
    /// Manage units.
    Unit {
        #[command(subcommand)]
        command: UnitCommand,
    },
    /// Manage devices.
    Device {
        #[command(subcommand)]
        command: DeviceCommand,
    },
    /// Import file bundles (USB transfer) into the relay's database.
    Bundle {
        #[command(subcommand)]
        command: BundleCommand,
    },
    /// Changes held back for review: made by a revoked device after its revocation (or built
    /// on such a change) and brought later by another device or a bundle. One a line: hash,
    /// document, reason, made at, via, device that made it, device that brought it, bytes.
    Held {
        /// Print JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// Print a configuration file with every setting at its default.
    ExampleConfig,
}

#[derive(Debug, Subcommand)]
enum BundleCommand {
    /// Import a bundle as the administrator (creation and write rights are trusted; every
    /// change must still be made by a registered device of a unit that may write it) and write
    /// its receipt for the sender.
    Import {
        /// The bundle file.
        file: PathBuf,
        /// Where to write the receipt (default: FILE.receipt.json).
        #[arg(long)]
        receipt: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum UnitCommand {
    /// Add a unit, under a parent unit or as a root.
    Add {
        /// Unit name (its id on the relay).
        name: String,
        /// Parent unit.
        #[arg(long)]
        parent: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// Register a device and print its one-time enrolment code on the last line.
    Enroll {
        /// The device's unit.
        #[arg(long)]
        unit: String,
        /// A label for the device.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// One device a line, its id first.
    List,
    /// Revoke a device: its token stops working at once.
    Revoke {
        /// Device id.
        device: String,
    },
}

/// mimalloc instead of the system allocator: under a province-year's load, glibc's per-thread
/// arenas kept the relay at 1.8 GB resident for a document cache budgeted at 256 MB
/// (`BENCHMARKS.md`, "Relay memory").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    tidemark_sync_server::tune_process();
    tracing_subscriber::fmt()
        .with_env_filter(
            // Automerge traces every commit with its message (user and unit names): it is
            // never let below `warn`, whatever TIDEMARK_LOG asks for.
            tracing_subscriber::EnvFilter::try_new(format!(
                "{},automerge=warn",
                std::env::var("TIDEMARK_LOG").unwrap_or_else(|_| "info".into())
            ))
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,automerge=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let mut settings = Settings::load(cli.config.as_deref(), |k| std::env::var(k).ok())?;
    if let Some(dir) = cli.data_dir {
        settings.data_dir = dir;
    }
    match cli.command {
        Command::Serve {
            listen,
            tls_cert,
            tls_key,
            allow_insecure,
        } => {
            if let Some(addr) = listen {
                settings.listen = addr;
            }
            if tls_cert.is_some() {
                settings.tls_cert = tls_cert;
                settings.tls_key = tls_key;
            }
            settings.allow_insecure |= allow_insecure;
            serve(settings)
        }
        Command::ExampleConfig => {
            print!("{}", Settings::example_toml());
            Ok(())
        }
        Command::Unit { command } => unit(&open(&settings)?, command),
        Command::Device { command } => device(&open(&settings)?, &settings, command),
        Command::Bundle { command } => bundle(&open(&settings)?, &settings, command),
        Command::Held { json } => held(&open(&settings)?, json),
    }
}

fn open(settings: &Settings) -> anyhow::Result<Db> {
    let path = settings.database_path();
    Db::open(&path).with_context(|| format!("opening {}", path.display()))
}

fn unit(db: &Db, command: UnitCommand) -> anyhow::Result<()> {
    match command {
        UnitCommand::Add { name, parent } => {
            db.add_unit(&name, parent.as_deref())?;
            println!("unit added: {name}");
        }
    }
    Ok(())
}

fn held(db: &Db, json: bool) -> anyhow::Result<()> {
    let rows = db.held_changes()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    for h in &rows {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            h.hash,
            h.doc_id,
            h.reason,
            h.made_at,
            h.via,
            h.device_id.as_deref().unwrap_or("-"),
            h.via_device.as_deref().unwrap_or("admin"),
            h.size
        );
    }
    if rows.is_empty() {
        eprintln!("no changes held");
    }
    Ok(())
}

fn device(db: &Db, settings: &Settings, command: DeviceCommand) -> anyhow::Result<()> {
    match command {
        DeviceCommand::Enroll { unit, name } => {
            let (id, code) = db.create_enrolment(&unit, &name, settings.enrol_code_ttl_secs)?;
            println!("device {id} registered for unit {unit}; one-time enrolment code:");
            println!("{code}");
        }
        DeviceCommand::List => {
            for d in db.list_devices()? {
                let status = match (d.revoked_at, d.enrolled) {
                    (Some(_), _) => "revoked",
                    (None, true) => "active",
                    (None, false) => "pending",
                };
                println!("{}\t{}\t{}\t{}", d.id, d.unit, status, d.name);
            }
        }
        DeviceCommand::Revoke { device } => {
            db.revoke(&device)?;
            println!("revoked {device}");
        }
    }
    Ok(())
}

fn bundle(db: &Db, settings: &Settings, command: BundleCommand) -> anyhow::Result<()> {
    let BundleCommand::Import { file, receipt } = command;
    let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    let limits = BundleLimits {
        max_bytes: BundleLimits::default()
            .max_bytes
            .max(settings.max_bundle_bytes),
        ..BundleLimits::default()
    };
    let decoded = decode_bundle(&bytes, &limits).map_err(|e| {
        anyhow::anyhow!("{} cannot be imported: {e} ({})", file.display(), e.code())
    })?;
    let sha256 = bundle_sha256_hex(&bytes);
    // A throwaway cache: a running relay notices the new chunks by their version and reloads.
    let mut cache = DocCache::new(0, Duration::ZERO);
    let max_doc_id = settings.limits().max_doc_id;
    let written = import_bundle(
        db,
        &mut cache,
        Importer::Admin,
        &decoded,
        &sha256,
        max_doc_id,
    )?;
    let out = receipt.unwrap_or_else(|| {
        let mut name = file.clone().into_os_string();
        name.push(".receipt.json");
        PathBuf::from(name)
    });
    std::fs::write(&out, written.to_json())
        .with_context(|| format!("writing the receipt {}", out.display()))?;
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    for d in &written.documents {
        *by_status.entry(d.status.as_str()).or_default() += 1;
    }
    let accepted: usize = written.documents.iter().map(|d| d.accepted).sum();
    let counts: Vec<String> = by_status.iter().map(|(s, n)| format!("{s} {n}")).collect();
    println!(
        "bundle {}: {} documents ({}), {accepted} changes accepted",
        written.bundle_id,
        written.documents.len(),
        counts.join(", ")
    );
    println!("receipt written to {}", out.display());
    Ok(())
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("binding {}", settings.listen))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        // Scripts and tests wait for this line instead of sleeping.
        eprintln!("tidemark-server listening on {addr}");
        tidemark_sync_server::serve(listener, settings, shutdown_signal()).await?;
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}
