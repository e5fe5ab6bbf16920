//! S3 shared plan: HQ, a station and a district committee — all parties to the plan — hold its
//! 50 items, go offline, each make their edits (statuses, deadlines, titles set whole; notes,
//! content and measures typed into), then sync until quiet. Every edit must survive, and every
//! field two units set to different values must show up as a conflict.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use anyhow::{anyhow, Result};
use serde::Serialize;
use serde_json::Value;
use tidemark_client::Client;

use super::Ctx;
use crate::edits::{boundaries, plan_edits, PlanEdit};
use crate::harness::{bench_opts, measured_sync, settle, Device, Relay, Wire};
use crate::measure::human_bytes;
use crate::report::{Outcome, Table, Target};
use crate::workload::{plan, plan_item_id, unit_lines, COMMITTEES, HQ, STATIONS};

/// The three editing units.
pub fn editors() -> [&'static str; 3] {
    [HQ, STATIONS[0].1, COMMITTEES[0]]
}

/// What S3 checked.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PlanCheck {
    /// Edits that changed something (all units).
    pub edits: usize,
    /// Sets to the value the field already had: nothing written, nothing to find.
    pub no_ops: usize,
    /// Of which text insertions.
    pub inserts: usize,
    /// Of which whole-value sets.
    pub sets: usize,
    /// Sets overwritten later by the same unit (not concurrent, so not expected anywhere).
    pub superseded: usize,
    /// Edits missing on some device: an insertion not found exactly once, or a unit's last value
    /// of a field neither shown nor among the field's concurrent values.
    pub lost: usize,
    /// Fields that two or more units set to different values concurrently.
    pub same_field_conflicts: usize,
    /// Of those, the ones every device lists as a conflict with all the values.
    pub surfaced: usize,
    /// Fields two or more units set to the same value (not a conflict, by design).
    pub same_value: usize,
    /// Conflicts listed that no concurrent sets explain.
    pub spurious: usize,
    /// Whether all devices hold the same heads of every item.
    pub converged: bool,
}

/// Applies one edit on `c`; returns whether it changed anything (setting a field to the value
/// it already has writes nothing).
pub fn apply(c: &mut Client, e: &PlanEdit) -> Result<bool> {
    match e {
        PlanEdit::Set { item, field, value } => {
            let outcome = c.edit(item, field, value)?;
            return Ok(outcome != tidemark_client::WriteOutcome::Unchanged);
        }
        PlanEdit::Insert {
            item,
            field,
            text,
            at,
        } => {
            let current = field_text(c, item, field)?;
            let b = boundaries(&current);
            let pos = b[(*at % b.len() as u64) as usize];
            c.splice(item, field, pos, 0, text)?;
        }
    }
    Ok(true)
}

fn record_json(c: &Client, item: &str) -> Result<Value> {
    Ok(serde_json::to_value(c.show(item)?.record)?)
}

fn field_text(c: &Client, item: &str, field: &str) -> Result<String> {
    Ok(record_json(c, item)?[field]
        .as_str()
        .unwrap_or_default()
        .to_string())
}

/// Same value as the unit wrote? Statuses compare by code.
fn same(field: &str, a: &str, b: &str) -> bool {
    if field == "status" {
        let code =
            |s: &str| tidemark_domain::records::PlanStatus::parse(s).map(|p| p.code().to_string());
        code(a) == code(b)
    } else {
        a == b
    }
}

/// Checks every device against the edits.
pub fn check(devices: &[&Device], edits: &[Vec<PlanEdit>]) -> Result<PlanCheck> {
    let mut out = PlanCheck {
        edits: edits.iter().map(Vec::len).sum(),
        ..PlanCheck::default()
    };
    // (item, field) → editor → that editor's last value.
    let mut last: BTreeMap<(String, &str), BTreeMap<usize, String>> = BTreeMap::new();
    let mut inserts: Vec<(String, &str, String)> = Vec::new();
    for (e, list) in edits.iter().enumerate() {
        for edit in list {
            match edit {
                PlanEdit::Set { item, field, value } => {
                    out.sets += 1;
                    let slot = last.entry((item.clone(), *field)).or_default();
                    if slot.insert(e, value.clone()).is_some() {
                        out.superseded += 1;
                    }
                }
                PlanEdit::Insert {
                    item, field, text, ..
                } => {
                    out.inserts += 1;
                    inserts.push((item.clone(), *field, text.clone()));
                }
            }
        }
    }
    let mut expected: BTreeSet<(String, &str)> = BTreeSet::new();
    for ((item, field), by) in &last {
        if by.len() < 2 {
            continue;
        }
        let values: Vec<&String> = by.values().collect();
        if values.iter().all(|v| same(field, v, values[0])) {
            out.same_value += 1;
        } else {
            expected.insert((item.clone(), *field));
        }
    }
    out.same_field_conflicts = expected.len();
    let items: BTreeSet<String> = edits
        .iter()
        .flatten()
        .map(|e| e.item().to_string())
        .collect();
    let mut lost: BTreeSet<String> = BTreeSet::new();
    let mut surfaced_everywhere: BTreeSet<(String, &str)> = expected.clone();
    let mut spurious = 0usize;
    let mut heads: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (d, dev) in devices.iter().enumerate() {
        dev.with(|c| -> Result<()> {
            for item in &items {
                let view = c.show(item)?;
                let json = serde_json::to_value(&view.record)?;
                let h = c.store().doc_heads(item)?.unwrap_or_default();
                heads.entry(item.clone()).or_default().insert(h);
                // Values of each conflicted field.
                let conflicts: BTreeMap<&str, Vec<String>> = view
                    .conflicts
                    .iter()
                    .map(|k| {
                        let vals = k
                            .values
                            .iter()
                            .map(|v| match &v.value {
                                Value::String(s) => s.clone(),
                                other => other.to_string(),
                            })
                            .collect();
                        (k.field.as_str(), vals)
                    })
                    .collect();
                for field in conflicts.keys() {
                    let known = expected.iter().any(|(i, f)| i == item && f == field);
                    if !known {
                        spurious += 1;
                    }
                }
                for ((i, field), by) in last.range((item.clone(), "")..) {
                    if i != item {
                        break;
                    }
                    let shown = json[*field].as_str().unwrap_or_default().to_string();
                    let listed = conflicts.get(field).cloned().unwrap_or_default();
                    for (e, v) in by {
                        let present =
                            same(field, &shown, v) || listed.iter().any(|l| same(field, l, v));
                        if !present {
                            lost.insert(format!("{d}:{item}:{field}:{e}"));
                        }
                    }
                    if expected.contains(&(item.clone(), *field)) {
                        let all = by
                            .values()
                            .all(|v| listed.iter().any(|l| same(field, l, v)));
                        if !all {
                            surfaced_everywhere.remove(&(item.clone(), *field));
                        }
                    }
                }
            }
            for (k, (item, field, text)) in inserts.iter().enumerate() {
                let t = json_text(c, item, field)?;
                if t.matches(text.as_str()).count() != 1 {
                    lost.insert(format!("{d}:insert:{k}"));
                }
            }
            Ok(())
        })?;
    }
    out.lost = lost.len();
    out.surfaced = surfaced_everywhere.len();
    out.spurious = spurious;
    out.converged = heads.values().all(|h| h.len() == 1);
    Ok(out)
}

fn json_text(c: &Client, item: &str, field: &str) -> Result<String> {
    field_text(c, item, field)
}

/// Everything S3 measured.
#[derive(Debug, Clone, Default)]
pub struct PlanRun {
    /// The checks.
    pub check: PlanCheck,
    /// Socket bytes up and down over the syncs after the offline edits.
    pub socket: (u64, u64),
    /// HTTP round trips over those syncs.
    pub requests: u64,
    /// Sessions until quiet.
    pub sessions: usize,
    /// Wall time of those syncs, seconds.
    pub sync_secs: f64,
    /// Wall time of the offline edits, seconds.
    pub edit_secs: f64,
}

/// Runs the shared-plan scenario with `per_unit` edits by each unit to `items` items.
pub async fn run_plan(ctx: &Ctx, per_unit: usize, items: usize) -> Result<PlanRun> {
    let dir = ctx.root.join("s3");
    let relay = Relay::start(&dir.join("relay"), &ctx.relay).await?;
    let wire = Wire::start(relay.addr).await?;
    let url = wire.url();
    let opts = bench_opts();
    let mut devices = Vec::new();
    for (i, unit) in editors().iter().enumerate() {
        let d = Device::enrol(
            &relay,
            &url,
            &dir.join(format!("u{i}")),
            unit,
            "Cán bộ kế hoạch",
        )
        .await?;
        d.import(&unit_lines())?;
        devices.push(d);
    }
    let plan_lines: Vec<String> = plan(ctx.seed).iter().map(Value::to_string).collect();
    devices[0].import(&plan_lines)?;
    let refs: Vec<&Device> = devices.iter().collect();
    settle(&refs, &opts).await?;
    for d in &devices {
        let last = plan_item_id(items.saturating_sub(1));
        d.with(|c| c.show(&last))
            .map_err(|e| anyhow!("the plan did not reach every unit: {e}"))?;
    }

    // Offline: every unit edits on its own.
    let edits = plan_edits(ctx.seed, devices.len(), per_unit, items);
    let started = Instant::now();
    let mut effective: Vec<Vec<PlanEdit>> = Vec::new();
    let mut no_ops = 0;
    for (d, list) in devices.iter().zip(&edits) {
        let mine = d.with(|c| -> Result<Vec<PlanEdit>> {
            let mut mine = Vec::new();
            for e in list {
                if apply(c, e)? {
                    mine.push(e.clone());
                }
            }
            Ok(mine)
        })?;
        no_ops += list.len() - mine.len();
        effective.push(mine);
    }
    let edit_secs = started.elapsed().as_secs_f64();

    // Back online: sync in turn until a whole pass moves nothing.
    let started = Instant::now();
    let (mut up, mut down, mut requests, mut sessions) = (0, 0, 0, 0);
    for _ in 0..5 {
        let mut moved = 0;
        for d in &devices {
            let m = measured_sync(d, &wire, &opts).await?;
            up += m.socket.up;
            down += m.socket.down;
            requests += m.report.wire.requests;
            sessions += 1;
            moved += m.report.changes_sent + m.report.changes_received;
        }
        if moved == 0 {
            break;
        }
    }
    let sync_secs = started.elapsed().as_secs_f64();
    let mut check = check(&refs, &effective)?;
    check.no_ops = no_ops;
    relay.stop().await?;
    Ok(PlanRun {
        check,
        socket: (up, down),
        requests,
        sessions,
        sync_secs,
        edit_secs,
    })
}

/// S3.
pub async fn s3(ctx: &Ctx) -> Result<Outcome> {
    let (per_unit, items) = (ctx.sizes.edits_per_unit, ctx.sizes.plan_items);
    let mut out = Outcome::new(
        "S3",
        "shared plan: 3 units edit the plan's items offline, then sync",
    );
    out.param("units", 3);
    out.param("edits_per_unit", per_unit);
    out.param("items", items);
    let full = super::Sizes::full();
    out.reduced = super::reduced(&[
        (
            "edits per unit",
            per_unit as f64,
            full.edits_per_unit as f64,
        ),
        ("items", items as f64, full.plan_items as f64),
    ]);
    let r = run_plan(ctx, per_unit, items).await?;
    let c = &r.check;
    let mut t = Table::new(
        &format!(
            "{} units × {per_unit} offline edits to {items} plan items:",
            3
        ),
        &[
            "edits",
            "text insertions",
            "whole-value sets",
            "edits lost",
            "same-field conflicts",
            "surfaced as conflicts",
            "same value (not a conflict)",
            "spurious conflicts",
            "converged",
            "sessions",
            "round trips",
            "socket ↑",
            "socket ↓",
            "sync wall",
        ],
    );
    t.row(vec![
        c.edits.to_string(),
        c.inserts.to_string(),
        c.sets.to_string(),
        c.lost.to_string(),
        c.same_field_conflicts.to_string(),
        c.surfaced.to_string(),
        c.same_value.to_string(),
        c.spurious.to_string(),
        if c.converged { "yes" } else { "no" }.to_string(),
        r.sessions.to_string(),
        r.requests.to_string(),
        human_bytes(r.socket.0 as f64),
        human_bytes(r.socket.1 as f64),
        format!("{:.2} s", r.sync_secs),
    ]);
    out.tables.push(t);
    for (k, v) in [
        ("edits", c.edits as f64),
        ("lost", c.lost as f64),
        ("same_field_conflicts", c.same_field_conflicts as f64),
        ("surfaced", c.surfaced as f64),
        ("same_value", c.same_value as f64),
        ("spurious", c.spurious as f64),
        ("superseded", c.superseded as f64),
        ("socket_up", r.socket.0 as f64),
        ("socket_down", r.socket.1 as f64),
        ("requests", r.requests as f64),
        ("sessions", r.sessions as f64),
        ("sync_secs", r.sync_secs),
        ("edit_secs", r.edit_secs),
    ] {
        out.metric(k, v);
    }
    out.targets.push(Target::new(
        "edits lost",
        "0",
        c.lost.to_string(),
        c.lost == 0,
    ));
    out.targets.push(Target::new(
        "same-field concurrent edits surfaced as conflicts",
        "all",
        format!("{} of {}", c.surfaced, c.same_field_conflicts),
        c.surfaced == c.same_field_conflicts,
    ));
    out.notes.push(format!(
        "An edit counts as lost if a text insertion is not found exactly once, or a unit's last \
         value of a field is neither shown nor listed among its concurrent values, on any of the \
         three devices. {} sets were overwritten later by the same unit (sequential, so no \
         conflict is expected); {} sets gave a field the value it already had (no change \
         written). Concurrent insertions into the same text merge (no conflict). Concurrent \
         sets of the same value are not listed as conflicts, by design.",
        c.superseded, c.no_ops
    ));
    Ok(out)
}
