//! The six scenarios of issue 9, their sizes (full and `--quick`), and the baselines they share.

pub mod bulk;
pub mod catchup;
pub mod crypto;
pub mod load;
pub mod local;
pub mod plan;

use std::path::PathBuf;

use anyhow::{bail, Result};
use serde::Serialize;

use crate::harness::{Device, RelayMode};
use crate::measure::zstd3;

/// Everything a scenario needs to know about the run.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Small sizes, for CI.
    pub quick: bool,
    /// Where the relay runs.
    pub relay: RelayMode,
    /// A directory for everything the run writes (removed afterwards).
    pub root: PathBuf,
    /// A directory on a RAM disk, if there is one, for the stores of simulated devices whose
    /// disks are not what is measured (S5); else under `root`.
    pub ram_root: PathBuf,
    /// The workload's seed.
    pub seed: u64,
    /// Sizes.
    pub sizes: Sizes,
}

/// The sizes of every scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Sizes {
    /// S1/S6: days of history under the day offline.
    pub history_days: u32,
    /// S2: days of the province HQ pulls (365: a province-year).
    pub year_days: u32,
    /// S3: edits per unit (3 units).
    pub edits_per_unit: usize,
    /// S3: plan items edited.
    pub plan_items: usize,
    /// S4: records in the store.
    pub records: usize,
    /// S4: runs per query.
    pub query_runs: usize,
    /// S5: simulated devices.
    pub devices: usize,
    /// S5: sessions per device.
    pub sessions_per_device: usize,
    /// S6: whether HQ's pull also goes over the weak link (the station's push always does).
    pub weak_hq: bool,
}

impl Sizes {
    /// The sizes.
    pub fn full() -> Sizes {
        Sizes {
            history_days: 30,
            year_days: 365,
            edits_per_unit: 100,
            plan_items: 50,
            records: 100_000,
            query_runs: 200,
            devices: 200,
            sessions_per_device: 3,
            weak_hq: true,
        }
    }

    /// Small sizes: the whole run in a few minutes on two cores.
    pub fn quick() -> Sizes {
        Sizes {
            history_days: 3,
            year_days: 10,
            edits_per_unit: 100,
            plan_items: 50,
            records: 5_000,
            query_runs: 50,
            devices: 40,
            sessions_per_device: 2,
            weak_hq: false,
        }
    }

    /// Overrides one size from `name=value`.
    pub fn set(&mut self, assignment: &str) -> Result<()> {
        let Some((name, value)) = assignment.split_once('=') else {
            bail!("--set wants NAME=VALUE, got `{assignment}`");
        };
        let n = |v: &str| -> Result<usize> { Ok(v.trim().parse()?) };
        match name.trim() {
            "history_days" => self.history_days = n(value)? as u32,
            "year_days" => self.year_days = n(value)? as u32,
            "edits_per_unit" => self.edits_per_unit = n(value)?,
            "plan_items" => self.plan_items = n(value)?.clamp(1, crate::workload::PLAN_ITEMS),
            "records" => self.records = n(value)?,
            "query_runs" => self.query_runs = n(value)?.max(1),
            "devices" => self.devices = n(value)?.max(1),
            "sessions_per_device" => self.sessions_per_device = n(value)?.max(1),
            "weak_hq" => self.weak_hq = value.trim() == "true" || value.trim() == "1",
            other => bail!("unknown size `{other}`"),
        }
        Ok(())
    }
}

/// What ran below the sizes, as `name actual of full`, or `None` at full size.
pub fn reduced(sizes: &[(&str, f64, f64)]) -> Option<String> {
    let below: Vec<String> = sizes
        .iter()
        .filter(|(_, actual, full)| actual < full)
        .map(|(name, actual, full)| format!("{name} {actual} of {full}"))
        .collect();
    (!below.is_empty()).then(|| below.join(", "))
}

/// The two baselines of S1 and S2 for a set of records, as `holder` has them.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Baselines {
    /// Records.
    pub records: usize,
    /// The records as JSON Lines, bytes.
    pub jsonl: usize,
    /// The same, zstd level 3: the compressed-JSON baseline.
    pub jsonl_zst: usize,
    /// Each record's whole Automerge document (a full save), all in one zstd-3 stream: a
    /// whole-document transfer.
    pub whole_zst: usize,
}

/// Baselines for the records `ids` held by `holder`.
pub fn baselines(holder: &Device, ids: &[String]) -> Result<Baselines> {
    holder.with(|c| -> Result<Baselines> {
        let mut jsonl = String::new();
        let mut whole = Vec::new();
        for id in ids {
            let Some(json) = c.store().record_json(id)? else {
                bail!("a record to measure is missing");
            };
            jsonl.push_str(&json);
            jsonl.push('\n');
            whole.extend_from_slice(&c.document_bytes(id)?);
        }
        Ok(Baselines {
            records: ids.len(),
            jsonl: jsonl.len(),
            jsonl_zst: zstd3(jsonl.as_bytes())?,
            whole_zst: zstd3(&whole)?,
        })
    })
}

/// `a ÷ b` as `1.23×`.
pub fn ratio(a: f64, b: f64) -> String {
    format!("{:.2}×", a / b.max(1.0))
}
