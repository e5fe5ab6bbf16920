//! The deterministic multi-replica simulation (`tidemark_province::sim`) over many seeds.
//!
//! `TIDEMARK_SIM_SEEDS=N` runs N seeds (default 200; the long mode runs thousands) from
//! `TIDEMARK_SIM_FROM` (default 0),
//! `TIDEMARK_SIM_STEPS=N` steps each (default 40), `TIDEMARK_SIM_SEED=S` replays one seed.
//! Seeds run on two threads, each with its own runtime; a failure names its seed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tidemark_province::sim::{self, SimReport};

fn env(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn every_seed_converges_and_keeps_every_acknowledged_write() {
    let seeds: Vec<u64> = match env("TIDEMARK_SIM_SEED") {
        Some(s) => vec![s],
        None => {
            let from = env("TIDEMARK_SIM_FROM").unwrap_or(0);
            (from..from + env("TIDEMARK_SIM_SEEDS").unwrap_or(200)).collect()
        }
    };
    let steps = env("TIDEMARK_SIM_STEPS").unwrap_or(40) as usize;
    let next = Arc::new(AtomicU64::new(0));
    let reports: Arc<Mutex<Vec<SimReport>>> = Arc::default();
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();
    let seeds = Arc::new(seeds);
    let started = std::time::Instant::now();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (next, reports, failures, seeds) =
                (next.clone(), reports.clone(), failures.clone(), seeds.clone());
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .expect("runtime");
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some(&seed) = seeds.get(i) else { break };
                    let dir = tempfile::tempdir().expect("tempdir");
                    match rt.block_on(sim::run(seed, dir.path(), steps)) {
                        Ok(r) => reports.lock().expect("reports").push(r),
                        Err(e) => failures.lock().expect("failures").push(format!(
                            "seed {seed}: {e:#} (replay: TIDEMARK_SIM_SEED={seed} cargo test -p tidemark-province --test simulation)"
                        )),
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    let failures = failures.lock().expect("failures");
    let reports = reports.lock().expect("reports");
    let sum = |f: fn(&SimReport) -> usize| reports.iter().map(f).sum::<usize>();
    eprintln!(
        "simulation: {} seeds × {steps} steps in {:.1} s; {} writes acknowledged, {} syncs, {} partitions, {} bundles, {} relay restarts, {} files, {} healing syncs; {} failed",
        reports.len(),
        started.elapsed().as_secs_f64(),
        sum(|r| r.writes),
        sum(|r| r.syncs),
        sum(|r| r.partitions),
        sum(|r| r.bundles),
        sum(|r| r.restarts),
        sum(|r| r.files),
        sum(|r| r.healing_syncs),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
