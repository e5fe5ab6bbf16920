//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) and every input that once
//! crashed a target (`fuzz/regressions/<target>/`) through the same functions the fuzz targets
//! call, on stable Rust, in the normal test suite. A crash found by `scripts/fuzz.sh` is fixed
//! and its input copied into `fuzz/regressions/<target>/`, so it stays fixed.

use std::path::{Path, PathBuf};

use tidemark_fuzzing::TARGETS;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    out.sort();
    out
}

#[test]
fn every_corpus_and_regression_input_is_handled_without_a_panic() {
    let mut total = 0;
    for (name, target) in TARGETS {
        let corpus = files(&root().join("corpus").join(name));
        assert!(!corpus.is_empty(), "no seed corpus for {name}");
        let regressions = files(&root().join("regressions").join(name));
        for path in corpus.iter().chain(&regressions) {
            let data = std::fs::read(path).expect("read input");
            let run = std::panic::catch_unwind(|| target(&data));
            assert!(run.is_ok(), "{name}: {} panics", path.display());
            total += 1;
        }
    }
    eprintln!("{total} inputs replayed over {} targets", TARGETS.len());
}

/// Writes the hand-made seeds (`cargo test -p tidemark-fuzzing -- --ignored`); the bundle seed
/// comes from `tidemark bundle export` (see `scripts/fuzz.sh`).
#[test]
#[ignore]
fn write_seeds() {
    use tidemark_domain::track::{codec, TrackPoint};
    use tidemark_sync_protocol::{encode, encode_response, DocMessage, Envelope};
    let put = |target: &str, name: &str, bytes: &[u8]| {
        let dir = root().join("corpus").join(target);
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join(name), bytes).expect("write seed");
    };
    let env = Envelope {
        items: vec![
            DocMessage {
                doc_id: "patrol:TT:20250101:01".into(),
                message: vec![0x42, 0x01, 0x00, 0x00],
                signatures: Vec::new(),
            },
            DocMessage {
                doc_id: "plan:item:kham-benh".into(),
                message: b"tu\xe1\xba\xa7n tra".to_vec(),
                signatures: Vec::new(),
            },
        ],
    };
    put("envelope", "two-docs", &encode(&env));
    put("envelope", "empty", &encode(&Envelope::default()));
    put(
        "response",
        "status-and-reply",
        &encode_response(
            br#"{"items":[{"doc_id":"patrol:TT:20250101:01","code":"ok","accepted":1}]}"#,
            &env,
        ),
    );
    let demo = std::fs::read_to_string(root().join("../fixtures/demo.jsonl")).expect("demo");
    for (i, line) in demo.lines().enumerate() {
        put("interchange", &format!("demo-{i:02}"), line.as_bytes());
    }
    put(
        "gpx",
        "track",
        br#"<?xml version="1.0"?><gpx version="1.1" creator="m&#225;y"><trk><name>Tu&#7847;n tra</name><trkseg>
<trkpt lat="10.2841" lon="106.7788"><time>2025-01-01T22:40:00Z</time></trkpt>
<trkpt lat="10.2850" lon="106.7801"><time>2025-01-01T22:50:00Z</time></trkpt>
</trkseg></trk><wpt lat="10.3" lon="106.8"><time>2025-01-01T23:00:00+07:00</time></wpt></gpx>"#,
    );
    put(
        "nmea",
        "rmc-gga",
        b"$GPRMC,231000,A,1017.0512,N,10646.7321,E,5.0,90.0,010125,,*4B\n$GPGGA,231500,1017.1000,N,10646.8000,E,1,08,0.9,2.0,M,0.0,M,,*47\ngarbage line\n",
    );
    let points: Vec<TrackPoint> = (0..50)
        .map(|i| TrackPoint {
            lat: 10.28 + i as f64 * 0.0007,
            lon: 106.77 + i as f64 * 0.0011,
            time: 1_735_687_181 + i * 30,
        })
        .collect();
    put("track", "fifty-points", &codec::encode(&points));
}
