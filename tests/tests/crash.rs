//! Writes reported as saved survive `kill -9` at any moment.
//!
//! Runs the `crash_writer` binary of this package (`src/bin/crash_writer.rs`; cargo builds it
//! with the same profile and features as this test) and kills it with SIGKILL
//! after a random delay, so kills land while the store is created and migrated, between
//! transactions and inside them. After each kill the store is reopened and must be sound, hold
//! every acknowledged write exactly, hold nothing that was never attempted, and keep its index in
//! step with its documents. At most one write (the one after the last acknowledgement) may or
//! may not have landed.
//!
//! The random delays come from a seeded generator; the seed is printed at the start and in every
//! failure. Rerun a failure with `TIDEMARK_CRASH_SEED=<seed>`.
#![cfg(unix)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use rand::{rngs::StdRng, Rng, SeedableRng};
use tidemark_client::{Client, ClientError};
use tidemark_store::ListFilter;
use tidemark_testkit::crash::{edit_of, patrol_line};

/// Iterations that each start in a new, empty data directory.
const FRESH_DIR_ITERATIONS: u64 = 15;
/// The passphrase of the fresh directories that are encrypted.
const CRASH_PASSPHRASE: &str = "Đồn Biên phòng — thử mất điện";
/// Iterations that all share one data directory, each reopening what the last kill left.
const SHARED_DIR_ITERATIONS: u64 = 45;
/// Records a killed writer is asked for: more than it can write before the longest delay.
const KILLED_WRITER_COUNT: u64 = 100_000;
/// Records written by the writer run to completion after a kill in a fresh directory.
const RECOVERY_WRITER_COUNT: u64 = 4;
/// Reading a record back takes milliseconds in a debug build, so between full checks (every
/// `FULL_CHECK_EVERY` shared-directory runs, and after the last) only the records the run touched
/// and this many older ones, picked at random, are read in full.
const SAMPLE_OLDER: usize = 16;
const FULL_CHECK_EVERY: u64 = 9;
/// How long a writer that is not killed on purpose may take.
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(60);

// ---- Running the writer. ----

/// One line the writer printed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Ready,
    Try(String),
    Ack(String),
    TryEdit(String, String),
    AckEdit(String, String),
}

fn parse_event(line: &str) -> Option<Event> {
    let line = line.strip_suffix('\n')?;
    if line == "READY" {
        return Some(Event::Ready);
    }
    let mut parts = line.splitn(3, ' ');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("TRY"), Some(id), None) => Some(Event::Try(id.into())),
        (Some("ACK"), Some(id), None) => Some(Event::Ack(id.into())),
        (Some("TRYEDIT"), Some(id), Some(vessel)) => Some(Event::TryEdit(id.into(), vessel.into())),
        (Some("ACKEDIT"), Some(id), Some(vessel)) => Some(Event::AckEdit(id.into(), vessel.into())),
        _ => None,
    }
}

/// What one writer run did.
#[derive(Debug)]
struct Run {
    events: Vec<Event>,
    /// A line cut off by the kill (no newline): not an acknowledgement.
    partial_line: Option<String>,
    status: ExitStatus,
    stderr: String,
}

impl Run {
    fn killed(&self) -> bool {
        self.status.signal() == Some(9)
    }

    fn acks(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::Ack(_) | Event::AckEdit(..)))
            .count()
    }

    /// Ids of every record this run tried to create or edit.
    fn touched(&self) -> BTreeSet<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Ready => None,
                Event::Try(id) | Event::Ack(id) | Event::TryEdit(id, _) | Event::AckEdit(id, _) => {
                    Some(id.clone())
                }
            })
            .collect()
    }

    fn summary(&self) -> String {
        let tail: Vec<String> = self
            .events
            .iter()
            .rev()
            .take(4)
            .rev()
            .map(|e| format!("{e:?}"))
            .collect();
        format!(
            "status {:?}, {} lines, last {:?}, partial line {:?}, stderr {:?}",
            self.status,
            self.events.len(),
            tail,
            self.partial_line,
            self.stderr
        )
    }
}

/// The writer: a binary of this package, which cargo builds before running this test.
fn writer_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_crash_writer"))
}

/// Starts the writer and, unless its stdout closes first, kills it with SIGKILL after `kill_after`.
fn run_writer(
    bin: &Path,
    dir: &Path,
    count: u64,
    seed: u64,
    kill_after: Duration,
    pass: Option<&str>,
) -> Run {
    let mut cmd = Command::new(bin);
    match pass {
        Some(p) => cmd.env("TIDEMARK_PASSPHRASE", p),
        None => cmd.env_remove("TIDEMARK_PASSPHRASE"),
    };
    let mut child = cmd
        .arg(dir)
        .arg(count.to_string())
        .arg(seed.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting crash_writer");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let (closed_tx, closed_rx) = mpsc::channel::<()>();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        let mut reader = BufReader::new(stdout);
        loop {
            // Bytes, not `read_line`: a kill can cut a line inside a multi-byte character.
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => lines.push(String::from_utf8_lossy(&line).into_owned()),
            }
        }
        // The writer has exited (or been killed): its stdout is closed.
        let _ = closed_tx.send(());
        lines
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    // The random delay is the only wait: stop early only if the writer finished by itself.
    if closed_rx.recv_timeout(kill_after).is_err() {
        child.kill().expect("sending SIGKILL to crash_writer");
    }
    let status = child.wait().expect("waiting for crash_writer");
    let lines = reader.join().expect("stdout reader");
    let stderr = err_reader.join().expect("stderr reader");
    let mut events = Vec::new();
    let mut partial_line = None;
    for line in lines {
        match parse_event(&line) {
            Some(e) => events.push(e),
            None if !line.ends_with('\n') => partial_line = Some(line),
            None => panic!("crash_writer printed an unexpected line {line:?}"),
        }
    }
    Run {
        events,
        partial_line,
        status,
        stderr,
    }
}

// ---- What the store must hold. ----

/// The write that was started but not acknowledged when the writer died: it may or may not
/// have landed, but only whole.
#[derive(Debug, Clone)]
enum InFlight {
    Create(String),
    Edit(String, String),
}

/// A patrol the store must hold.
#[derive(Debug, Clone)]
struct Expected {
    seed: u64,
    index: u64,
    /// The vessel set by the last edit; `None` while unedited.
    vessel: Option<String>,
}

impl Expected {
    fn from_id(id: &str) -> Expected {
        let rest = id
            .strip_prefix("patrol:TT:crash:")
            .expect("writer ids start with patrol:TT:crash:");
        let (seed, index) = rest
            .split_once(':')
            .expect("writer ids end with SEED:INDEX");
        Expected {
            seed: seed.parse().expect("numeric seed in id"),
            index: index.parse().expect("numeric index in id"),
            vessel: None,
        }
    }

    fn json(&self) -> serde_json::Value {
        let record = tidemark_domain::interchange::parse_line(&patrol_line(self.seed, self.index))
            .expect("writer patrols parse")
            .record;
        let mut json = serde_json::to_value(&record).expect("records serialise");
        if let Some(vessel) = &self.vessel {
            json["vessel"] = serde_json::Value::String(vessel.clone());
        }
        json
    }
}

/// What one data directory must hold.
#[derive(Debug, Default)]
struct DirModel {
    /// Whether the writer ever reported the store open (`READY`).
    ready: bool,
    records: BTreeMap<String, Expected>,
}

impl DirModel {
    /// Takes in the acknowledged writes of `run`; returns the write in flight at the kill.
    fn absorb(&mut self, run: &Run, context: &str) -> Option<InFlight> {
        let mut in_flight = None;
        let mut last_created: Option<Expected> = None;
        for event in &run.events {
            match event {
                Event::Ready => self.ready = true,
                Event::Try(id) => {
                    last_created = Some(Expected::from_id(id));
                    in_flight = Some(InFlight::Create(id.clone()));
                }
                Event::TryEdit(id, vessel) => {
                    // The writer follows the schedule of `edit_of`, so the model can trust it.
                    let after = last_created
                        .as_ref()
                        .unwrap_or_else(|| panic!("{context}: an edit before any create"));
                    let (target, scheduled) = edit_of(after.seed, after.index)
                        .unwrap_or_else(|| panic!("{context}: an edit after patrol {} of run {}, which schedules none", after.index, after.seed));
                    assert_eq!(
                        (Expected::from_id(id).index, scheduled.as_str()),
                        (target, vessel.as_str()),
                        "{context}: the writer edited something else than scheduled"
                    );
                    in_flight = Some(InFlight::Edit(id.clone(), vessel.clone()));
                }
                Event::Ack(id) => {
                    self.records.insert(id.clone(), Expected::from_id(id));
                    in_flight = None;
                }
                Event::AckEdit(id, vessel) => {
                    let record = self.records.get_mut(id).unwrap_or_else(|| {
                        panic!("{context}: edit acknowledged for {id}, never created")
                    });
                    record.vessel = Some(vessel.clone());
                    in_flight = None;
                }
            }
        }
        in_flight
    }
}

fn json_of(view_record: &tidemark_domain::Record) -> serde_json::Value {
    serde_json::to_value(view_record).expect("records serialise")
}

/// What reopening the data directory after a kill found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reopened {
    /// No store file yet.
    NoStoreFile,
    /// A store file without a complete identity (killed in migrations or `init`).
    Uninitialised,
    /// A working store.
    Store,
}

/// Which records `verify` reads in full.
enum Scope {
    /// Every record the model holds.
    All,
    /// These ids (the ones the last run touched and a sample of older ones).
    Only(BTreeSet<String>),
}

/// Reopens the store in `dir` and checks it against `model`, settling the write in flight: the
/// store must be sound, hold exactly the acknowledged records (plus at most the one in flight),
/// and every record in `scope` must read back as written, in its document and its index row.
fn verify(
    dir: &Path,
    model: &mut DirModel,
    in_flight: Option<InFlight>,
    scope: &Scope,
    context: &str,
    pass: Option<&str>,
) -> Reopened {
    let pass = pass.map(tidemark_client::Passphrase::new);
    let client = match Client::open_with(dir, pass.as_ref()) {
        Ok(client) => client,
        // Killed while the store was being created: the next `init` finishes the job.
        Err(ClientError::NotInitialised(_)) if !model.ready && model.records.is_empty() => {
            return if dir.join(tidemark_client::STORE_FILE).exists() {
                Reopened::Uninitialised
            } else {
                Reopened::NoStoreFile
            };
        }
        Err(e) => panic!("{context}: the store does not reopen after the kill: {e} ({e:?})"),
    };
    model.ready = true;
    client
        .store()
        .integrity_check()
        .unwrap_or_else(|e| panic!("{context}: integrity check failed: {e}"));
    match in_flight {
        Some(InFlight::Create(id)) => match client.show(&id) {
            Ok(view) => {
                let expected = Expected::from_id(&id);
                assert_eq!(
                    json_of(&view.record),
                    expected.json(),
                    "{context}: the unacknowledged create of {id} landed, but not as written"
                );
                model.records.insert(id, expected);
            }
            Err(ClientError::NotFound(_)) => {}
            Err(e) => panic!("{context}: reading {id} (create in flight at the kill): {e}"),
        },
        Some(InFlight::Edit(id, vessel)) => {
            let view = client.show(&id).unwrap_or_else(|e| {
                panic!("{context}: reading {id} (edit in flight at the kill): {e}")
            });
            if vessel_of(&view.record).as_deref() == Some(vessel.as_str()) {
                if let Some(record) = model.records.get_mut(&id) {
                    record.vessel = Some(vessel);
                }
            }
        }
        None => {}
    }

    for (id, expected) in &model.records {
        if let Scope::Only(ids) = scope {
            if !ids.contains(id) {
                continue;
            }
        }
        let view = client.show(id).unwrap_or_else(|e| {
            panic!("{context}: acknowledged record {id} is unreadable or gone: {e}")
        });
        let want = expected.json();
        assert_eq!(
            json_of(&view.record),
            want,
            "{context}: acknowledged record {id} differs"
        );
        assert!(
            view.conflicts.is_empty(),
            "{context}: {id} has conflicts {:?}",
            view.conflicts
        );
        let indexed = client
            .store()
            .record_json(id)
            .unwrap_or_else(|e| panic!("{context}: reading the index row of {id}: {e}"))
            .unwrap_or_else(|| panic!("{context}: {id} has a document but no index row"));
        let indexed: serde_json::Value =
            serde_json::from_str(&indexed).expect("index rows hold JSON");
        assert_eq!(
            indexed, want,
            "{context}: the index row of {id} disagrees with its document"
        );
    }

    let docs: BTreeSet<String> = client
        .store()
        .doc_ids()
        .unwrap_or_else(|e| panic!("{context}: listing documents: {e}"))
        .into_iter()
        .filter(|id| !id.starts_with("unit:")) // the unit record `init` creates
        .collect();
    let expected: BTreeSet<String> = model.records.keys().cloned().collect();
    assert_eq!(
        docs, expected,
        "{context}: the store holds other records than the acknowledged ones (plus at most the one in flight)"
    );
    let (_, total) = client
        .store()
        .list(&ListFilter {
            kind: Some(tidemark_domain::RecordKind::Patrol),
            ..ListFilter::default()
        })
        .unwrap_or_else(|e| panic!("{context}: listing records: {e}"));
    assert_eq!(
        total,
        docs.len(),
        "{context}: the index lists {total} records for {} documents",
        docs.len()
    );
    Reopened::Store
}

/// The vessel a record shows, as the interchange format writes it.
fn vessel_of(record: &tidemark_domain::Record) -> Option<String> {
    json_of(record)
        .get("vessel")
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

/// Where kills landed, for the summary.
#[derive(Debug, Default)]
struct Landings {
    before_store_file: usize,
    during_creation: usize,
    before_ready: usize,
    before_first_ack: usize,
    mid_stream: usize,
    exited_by_itself: usize,
}

impl Landings {
    fn count(&mut self, run: &Run, reopened: Reopened) {
        if !run.killed() {
            self.exited_by_itself += 1;
        } else if reopened == Reopened::NoStoreFile {
            self.before_store_file += 1;
        } else if reopened == Reopened::Uninitialised {
            self.during_creation += 1;
        } else if !run.events.contains(&Event::Ready) {
            self.before_ready += 1;
        } else if run.acks() == 0 {
            self.before_first_ack += 1;
        } else {
            self.mid_stream += 1;
        }
    }
}

/// A delay spread evenly on a log scale between `lo_ms` and `hi_ms`, so short delays (store
/// creation, migrations) are hit about as often as long ones (mid-stream).
fn log_uniform_delay(rng: &mut StdRng, lo_ms: f64, hi_ms: f64) -> Duration {
    let x: f64 = rng.random_range(lo_ms.ln()..hi_ms.ln());
    Duration::from_secs_f64(x.exp() / 1000.0)
}

fn master_seed() -> u64 {
    match std::env::var("TIDEMARK_CRASH_SEED") {
        Ok(s) => s.parse().expect("TIDEMARK_CRASH_SEED must be a number"),
        Err(_) => {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .expect("clock after 1970")
                .as_nanos() as u64
                % 1_000_000_000
        }
    }
}

#[test]
fn acknowledged_writes_survive_sigkill_at_random_points() {
    let bin = writer_binary();
    let seed = master_seed();
    eprintln!("crash test seed {seed} (rerun with TIDEMARK_CRASH_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    // Sampling draws a number of times that depends on timing; keep it off the delays' generator.
    let mut sample_rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let root = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    let mut landings = Landings::default();
    let mut acks = 0;
    let mut run_seed = seed * 1000;

    // Fresh directories: short delays, so kills land while the store is created and migrated;
    // then a writer run to completion must be able to use whatever the kill left.
    // Every other one is encrypted: kills then also land while the key is derived, while the
    // key file is written, and in SQLCipher's encrypted WAL.
    for k in 0..FRESH_DIR_ITERATIONS {
        let dir = root.path().join(format!("fresh-{k}"));
        let pass = (k % 2 == 0).then_some(CRASH_PASSPHRASE);
        let mut model = DirModel::default();
        let delay = if pass.is_some() {
            log_uniform_delay(&mut rng, 1.0, 600.0)
        } else {
            log_uniform_delay(&mut rng, 1.0, 30.0)
        };
        run_seed += 1;
        let run = run_writer(&bin, &dir, KILLED_WRITER_COUNT, run_seed, delay, pass);
        let context = format!(
            "seed {seed}, fresh dir {k}, kill after {delay:?}: {}",
            run.summary()
        );
        assert!(
            run.killed() || run.status.success(),
            "{context}: the writer failed before it was killed"
        );
        acks += run.acks();
        let in_flight = model.absorb(&run, &context);
        let reopened = verify(&dir, &mut model, in_flight, &Scope::All, &context, pass);
        landings.count(&run, reopened);

        run_seed += 1;
        let run = run_writer(
            &bin,
            &dir,
            RECOVERY_WRITER_COUNT,
            run_seed,
            RECOVERY_TIMEOUT,
            pass,
        );
        let context = format!(
            "seed {seed}, fresh dir {k}, writer after the kill: {}",
            run.summary()
        );
        assert!(
            run.status.success(),
            "{context}: the writer fails on the store a kill left behind"
        );
        let in_flight = model.absorb(&run, &context);
        assert!(
            in_flight.is_none(),
            "{context}: a completed run left a write unacknowledged"
        );
        let reopened = verify(&dir, &mut model, None, &Scope::All, &context, pass);
        assert_eq!(
            reopened,
            Reopened::Store,
            "{context}: a completed run left no working store"
        );
    }

    // One shared directory: every run reopens what the previous kill left.
    let dir = root.path().join("shared");
    let mut model = DirModel::default();
    for k in 0..SHARED_DIR_ITERATIONS {
        let delay = log_uniform_delay(&mut rng, 5.0, 300.0);
        run_seed += 1;
        let run = run_writer(&bin, &dir, KILLED_WRITER_COUNT, run_seed, delay, None);
        let context = format!(
            "seed {seed}, shared dir run {k}, kill after {delay:?}: {}",
            run.summary()
        );
        assert!(
            run.killed(),
            "{context}: the writer stopped before it was killed"
        );
        acks += run.acks();
        let in_flight = model.absorb(&run, &context);
        let scope =
            if k % FULL_CHECK_EVERY == FULL_CHECK_EVERY - 1 || k == SHARED_DIR_ITERATIONS - 1 {
                Scope::All
            } else {
                let mut ids = run.touched();
                let older: Vec<&String> = model
                    .records
                    .keys()
                    .filter(|id| !ids.contains(*id))
                    .collect();
                for _ in 0..SAMPLE_OLDER.min(older.len()) {
                    ids.insert(older[sample_rng.random_range(0..older.len())].clone());
                }
                Scope::Only(ids)
            };
        let reopened = verify(&dir, &mut model, in_flight, &scope, &context, None);
        landings.count(&run, reopened);
    }

    eprintln!(
        "crash test seed {seed}: {} kills in {:.1?}: {} before the store file existed, {} while \
         it was created (migrations, identity), {} after that but before the writer reported it \
         open, {} after open but before the first acknowledged write, {} mid-stream, {} writers \
         exited by themselves; {acks} acknowledged writes checked, {} records in the shared store",
        FRESH_DIR_ITERATIONS + SHARED_DIR_ITERATIONS,
        started.elapsed(),
        landings.before_store_file,
        landings.during_creation,
        landings.before_ready,
        landings.before_first_ack,
        landings.mid_stream,
        landings.exited_by_itself,
        model.records.len(),
    );
}
