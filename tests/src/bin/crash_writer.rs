//! Crash-test writer for `tests/tests/crash.rs`: `crash_writer DATA_DIR COUNT SEED`.
//!
//! Opens the store in `DATA_DIR` (creating it for “Đồn Biên phòng Tân Thành” if it has none),
//! prints `READY`, then saves `COUNT` patrols with ids `patrol:TT:crash:{SEED}:{i}` one by one,
//! and every third record also changes the `vessel` of an earlier record of this run, so both
//! creates and updates are in flight when the test kills it. Before each write it prints
//! `TRY {id}` / `TRYEDIT {id} {vessel}`, and after the write returned `Ok` it prints
//! `ACK {id}` / `ACKEDIT {id} {vessel}`, flushing stdout each time: an acknowledged line means
//! the write was reported as saved.
//!
//! The records are a pure function of `SEED` and `i`; `tests/tests/crash.rs` rebuilds them with a copy
//! of [`patrol_line`] and [`edit_of`], which must stay identical to the ones here.

use std::io::Write;
use std::path::Path;

use tidemark_client::{Client, ClientError, Passphrase};
use tidemark_testkit::crash::{edit_of, patrol_id, patrol_line, UNIT};

fn say(out: &mut std::io::Stdout, line: &str) -> std::io::Result<()> {
    let mut lock = out.lock();
    writeln!(lock, "{line}")?;
    lock.flush()
}

/// Opens the store, encrypted under `TIDEMARK_PASSPHRASE` when that is set.
fn open_or_init(dir: &Path) -> Result<Client, ClientError> {
    let pass = std::env::var("TIDEMARK_PASSPHRASE")
        .ok()
        .map(Passphrase::new);
    match Client::open_with(dir, pass.as_ref()) {
        // No store yet, or a store whose creation was interrupted before the identity was
        // complete: (re)create it, as `tidemark init` would.
        Err(ClientError::NotInitialised(_)) => {
            Client::init_with(dir, UNIT, "crash-writer", pass.as_ref())
        }
        other => other,
    }
}

fn run(dir: &Path, count: u64, seed: u64) -> Result<(), Box<dyn std::error::Error>> {
    let mut out = std::io::stdout();
    let mut client = open_or_init(dir)?;
    say(&mut out, "READY")?;
    for i in 0..count {
        let id = patrol_id(seed, i);
        let record = tidemark_domain::interchange::parse_line(&patrol_line(seed, i))
            .map_err(|e| format!("patrol {i} does not parse: {}", e.reason))?
            .record;
        say(&mut out, &format!("TRY {id}"))?;
        client.save(&record)?;
        say(&mut out, &format!("ACK {id}"))?;
        if let Some((target, vessel)) = edit_of(seed, i) {
            let target = patrol_id(seed, target);
            say(&mut out, &format!("TRYEDIT {target} {vessel}"))?;
            client.edit(&target, "vessel", &vessel)?;
            say(&mut out, &format!("ACKEDIT {target} {vessel}"))?;
        }
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let parsed = match args.as_slice() {
        [_, dir, count, seed] => count
            .parse::<u64>()
            .ok()
            .zip(seed.parse::<u64>().ok())
            .map(|(c, s)| (dir, c, s)),
        _ => None,
    };
    let Some((dir, count, seed)) = parsed else {
        eprintln!("usage: crash_writer DATA_DIR COUNT SEED");
        return std::process::ExitCode::from(2);
    };
    match run(Path::new(dir), count, seed) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crash_writer: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
