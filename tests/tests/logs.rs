//! Logs carry ids, counts, sizes and durations, never what a record says: the whole demo story
//! (relay, six devices, sync, conflicts, bundles), attachments and the simulation run with every
//! log line captured at TRACE level, and no text of any record — names, notes, places, crews,
//! vessels, file names — appears in them.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex};

use tidemark_domain::{AttachPlace, Lang};
use tidemark_province::story::{self, Silent};
use tidemark_province::{sim, Province, KEYS};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every string value in a record's JSON, recursively.
fn strings(v: &serde_json::Value, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::String(s) => {
            out.insert(s.clone());
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_record_content_reaches_the_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    // The binaries' filter at its most verbose (TIDEMARK_LOG=trace).
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace,automerge=warn"))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let dir = tempfile::tempdir().expect("tempdir");
    let p = Province::start(&dir.path().join("story"))
        .await
        .expect("province");
    story::run(&p, &mut Silent, Lang::Vi).await.expect("story");
    let patrol = p
        .dev("tt")
        .with(|c| c.store().doc_ids())
        .expect("ids")
        .into_iter()
        .find(|id| id.starts_with("patrol:"))
        .expect("a patrol");
    p.dev("tt")
        .with(|c| {
            c.attach(
                &patrol,
                AttachPlace::Record,
                "ảnh tàu cá của ông Nguyễn Văn Bảy.jpg",
                b"\xFF\xD8\xFF not decodable",
            )
        })
        .expect("attach");
    p.settle(&KEYS).await.expect("settle");
    sim::run(7, &dir.path().join("sim"), 40)
        .await
        .expect("simulation");

    // What the records say, as every device has them.
    let mut secrets = BTreeSet::new();
    for d in &p.devices {
        for id in d.with(|c| c.store().doc_ids()).expect("ids") {
            let json = d
                .with(|c| c.store().record_json(&id))
                .expect("json")
                .unwrap_or_default();
            strings(
                &serde_json::from_str(&json).expect("record json"),
                &mut secrets,
            );
            for a in d.with(|c| c.attachments(&id)).unwrap_or_default() {
                secrets.insert(a.name);
            }
        }
    }
    p.stop().await.expect("stop");
    // Ids and codes are what logs are for; dates, times, hashes and short codes say nothing.
    let content: Vec<&String> = secrets
        .iter()
        .filter(|s| s.chars().count() >= 6)
        .filter(|s| !s.contains(':') || s.contains(' '))
        .filter(|s| !s.is_ascii() || s.contains(' '))
        .collect();
    assert!(
        content.len() > 50,
        "too few texts to check: {}",
        content.len()
    );
    let logs = String::from_utf8(captured.0.lock().expect("logs").clone()).expect("utf8 logs");
    let lines = logs.lines().count();
    assert!(lines > 200, "the run logged only {lines} lines");
    let leaks: Vec<_> = content
        .iter()
        .filter(|s| logs.contains(s.as_str()))
        .take(10)
        .collect();
    eprintln!(
        "{lines} log lines checked against {} record texts",
        content.len()
    );
    let examples: Vec<&str> = logs
        .lines()
        .filter(|l| leaks.iter().any(|s| l.contains(s.as_str())))
        .take(5)
        .collect();
    assert!(
        leaks.is_empty(),
        "record content in the logs: {leaks:?}\n{}",
        examples.join("\n")
    );
}
