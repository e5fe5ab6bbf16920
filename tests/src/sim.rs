//! A deterministic multi-replica simulation: six device stores (HQ, three stations, two district
//! committees) and the relay, driven by one seed through random work — patrols created and
//! edited, Vietnamese text typed concurrently into a shared plan item, concurrent status changes
//! and their resolution, attachments — while devices drop off the network and come back, the
//! relay restarts, and USB bundles carry a station's records to HQ.
//!
//! After the network heals, every device must hold identical heads and identical records for
//! every document it may read, and HQ (which reads everything) must hold every write any device
//! acknowledged. The same seed replays the same run: every random choice comes from it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{anyhow, ensure, Result};
use serde::Serialize;
use tidemark_domain::AttachPlace;
use tidemark_testkit::Rng;

use crate::story::{self, convergence, record_patrols};
use crate::{Province, KEYS};

/// Devices of the stations (their patrols), in [`crate::ALL_STATIONS`] order.
const STATION_KEYS: [&str; 3] = ["tt", "kp", "vl"];
/// The plan item everyone types into and changes the status of.
const ITEM: &str = "plan:item:kham-benh";
/// Devices of the parties to the plan that write the item.
const PARTIES: [&str; 3] = ["hq", "gcd", "tpd"];
const STATUSES: [&str; 4] = ["new", "in_progress", "done", "postponed"];

/// What one run did, for the report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SimReport {
    /// The seed.
    pub seed: u64,
    /// Writes acknowledged by a device (each must be at HQ in the end).
    pub writes: usize,
    /// Sync sessions, and how many of them were to a device that had been cut off.
    pub syncs: usize,
    /// Times a device went off the network.
    pub partitions: usize,
    /// Bundles carried from a station to HQ.
    pub bundles: usize,
    /// Relay restarts.
    pub restarts: usize,
    /// Files attached.
    pub files: usize,
    /// Documents in the end, summed over devices.
    pub documents: usize,
    /// Sessions needed to heal.
    pub healing_syncs: usize,
}

/// What must be true at HQ in the end.
#[derive(Default)]
struct Expected {
    patrols: BTreeSet<String>,
    vessel: BTreeMap<String, String>,
    markers: Vec<String>,
    files: BTreeSet<String>,
}

/// Runs the simulation for `seed` with `steps` random steps in `root` (a fresh directory).
pub async fn run(seed: u64, root: &Path, steps: usize) -> Result<SimReport> {
    let mut p = Province::start(root).await?;
    let mut rng = Rng::new(seed);
    let mut report = SimReport {
        seed,
        ..SimReport::default()
    };
    p.dev("hq").with(|c| {
        story::import_lines(c, &story::unit_lines())?;
        story::import_lines(c, &story::plan_lines())
    })?;
    p.settle(&KEYS).await?;

    let mut expected = Expected::default();
    let mut own: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut offline: BTreeSet<&str> = BTreeSet::new();
    for step in 0..steps {
        match rng.below(100) {
            0..=19 => {
                let i = rng.below(3) as usize;
                let key = STATION_KEYS[i];
                let ids = p
                    .dev(key)
                    .with(|c| record_patrols(c, &mut rng, i, 200 + step as u32, 1))?;
                report.writes += ids.len();
                expected.patrols.extend(ids.iter().cloned());
                own.entry(key).or_default().extend(ids);
            }
            20..=29 => {
                let key = STATION_KEYS[rng.below(3) as usize];
                let Some(id) = pick(&mut rng, own.get(key)) else {
                    continue;
                };
                let vessel = format!("Xuồng CQ-{:02} đợt {step}", rng.below(40));
                p.dev(key).with(|c| c.edit(&id, "vessel", &vessel))?;
                report.writes += 1;
                expected.vessel.insert(id, vessel);
            }
            30..=49 => {
                let key = PARTIES[rng.below(3) as usize];
                let marker = format!("«{key} {step}: đã khám cho ngư dân ấp Đèn Đỏ» ");
                let len = p.dev(key).with(|c| json_of(c, ITEM))?["progress_notes"]
                    .as_str()
                    .map_or(0, |s| s.chars().count());
                let at = if rng.below(2) == 0 { 0 } else { len };
                p.dev(key)
                    .with(|c| c.splice(ITEM, "progress_notes", at, 0, &marker))?;
                report.writes += 1;
                expected.markers.push(marker);
            }
            50..=57 => {
                let key = PARTIES[rng.below(3) as usize];
                let status = STATUSES[rng.below(4) as usize];
                p.dev(key).with(|c| c.edit(ITEM, "status", status))?;
                report.writes += 1;
            }
            58..=61 => {
                let conflicted = p.dev("hq").with(|c| c.conflicts())?;
                if conflicted.iter().any(|(id, _)| id == ITEM) {
                    p.dev("hq")
                        .with(|c| c.resolve(ITEM, "status", "in_progress"))?;
                    report.writes += 1;
                }
            }
            62..=67 => {
                let key = STATION_KEYS[rng.below(3) as usize];
                let Some(id) = pick(&mut rng, own.get(key)) else {
                    continue;
                };
                let len = 1 + rng.below(40 * 1024) as usize;
                let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
                let name = format!("ảnh hiện trường {step}.jpg");
                let done = p
                    .dev(key)
                    .with(|c| c.attach(&id, AttachPlace::Record, &name, &bytes))?;
                report.writes += 1;
                report.files += 1;
                expected.files.insert(done.attachment.hash);
            }
            68..=75 => {
                let key = KEYS[rng.below(KEYS.len() as u64) as usize];
                if offline.insert(key) {
                    report.partitions += 1;
                }
            }
            76..=81 => {
                if let Some(&key) = offline
                    .iter()
                    .nth(rng.below(offline.len().max(1) as u64) as usize)
                {
                    offline.remove(key);
                }
            }
            82..=84 => {
                let key = STATION_KEYS[rng.below(3) as usize];
                carry_bundle(&p, key, root, step)?;
                report.bundles += 1;
            }
            85 => {
                p.restart_relay().await?;
                report.restarts += 1;
            }
            _ => {
                let key = KEYS[rng.below(KEYS.len() as u64) as usize];
                if !offline.contains(key) {
                    p.sync(key)
                        .await
                        .map_err(|e| anyhow!("seed {seed} step {step}: sync of {key}: {e}"))?;
                    report.syncs += 1;
                }
            }
        }
    }

    // The network heals: everyone syncs until nothing moves.
    let mut order: Vec<&str> = KEYS.to_vec();
    order.extend(KEYS);
    for _ in 0..4 {
        let sessions = p.settle(&order).await?;
        report.healing_syncs += sessions.len();
        if convergence(&p)?.0 {
            break;
        }
    }
    check(&p, &expected, seed)?;
    report.documents = convergence(&p)?.1.values().sum();
    p.stop().await?;
    Ok(report)
}

/// A record as its device has it, as JSON.
fn json_of(c: &tidemark_client::Client, id: &str) -> Result<serde_json::Value> {
    let text = c
        .store()
        .record_json(id)?
        .ok_or_else(|| anyhow!("{id} is not on this device"))?;
    Ok(serde_json::from_str(&text)?)
}

fn pick(rng: &mut Rng, ids: Option<&Vec<String>>) -> Option<String> {
    let ids = ids.filter(|v| !v.is_empty())?;
    Some(ids[rng.below(ids.len() as u64) as usize].clone())
}

/// A station writes a bundle for HQ; HQ imports it (no relay involved).
fn carry_bundle(p: &Province, key: &str, root: &Path, step: usize) -> Result<()> {
    let file = root.join(format!("{key}-{step}.tmb"));
    p.dev(key)
        .with(|c| c.export_bundle(&file, Some(crate::HQ), None))?;
    let bytes = std::fs::read(&file)?;
    p.dev("hq").with(|c| c.import_bundle(&bytes))?;
    Ok(())
}

/// Every device agrees on every document it holds, and HQ holds every acknowledged write.
fn check(p: &Province, e: &Expected, seed: u64) -> Result<()> {
    let (agree, _) = convergence(p)?;
    ensure!(agree, "seed {seed}: heads differ after healing");
    // Same heads must mean the same records: compare what each device materialised.
    let mut seen: BTreeMap<String, (String, String)> = BTreeMap::new();
    for d in &p.devices {
        for id in d.with(|c| c.store().doc_ids())? {
            let json = d.with(|c| c.store().record_json(&id))?.unwrap_or_default();
            if let Some((other, first)) = seen.get(&id) {
                ensure!(
                    *first == json,
                    "seed {seed}: {id} reads differently on {} and {other}",
                    d.key
                );
            } else {
                seen.insert(id, (d.key.to_string(), json));
            }
        }
    }
    let hq = p.dev("hq");
    for id in &e.patrols {
        ensure!(
            hq.with(|c| c.store().record_json(id))?.is_some(),
            "seed {seed}: patrol {id} never reached HQ"
        );
    }
    for (id, vessel) in &e.vessel {
        let v = hq.with(|c| json_of(c, id))?;
        ensure!(
            v["vessel"].as_str() == Some(vessel.as_str()),
            "seed {seed}: {id}'s last vessel edit is missing at HQ: {:?} there, {vessel:?} expected",
            v["vessel"]
        );
    }
    let notes = hq.with(|c| json_of(c, ITEM))?["progress_notes"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for m in &e.markers {
        ensure!(
            notes.contains(m.as_str()),
            "seed {seed}: a typed note is missing at HQ"
        );
    }
    for h in &e.files {
        ensure!(
            hq.with(|c| c.attachment_bytes(h))?.is_some(),
            "seed {seed}: file {} never reached HQ",
            &h[..12]
        );
    }
    Ok(())
}
