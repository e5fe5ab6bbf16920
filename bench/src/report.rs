//! What a scenario reports — its figures as tables, its targets with ✓/✗, notes — and the
//! whole run written as JSON and as a markdown page.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::measure::Machine;

/// A table of figures: a header row and rows of cells, already formatted.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Table {
    /// What the table shows.
    pub title: String,
    /// Column headings.
    pub headers: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these headings.
    pub fn new(title: &str, headers: &[&str]) -> Table {
        Table {
            title: title.to_string(),
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn markdown(&self, out: &mut String) {
        if !self.title.is_empty() {
            let _ = writeln!(out, "{}\n", self.title);
        }
        let _ = writeln!(out, "| {} |", self.headers.join(" | "));
        let rule: Vec<&str> = self.headers.iter().map(|_| "---").collect();
        let _ = writeln!(out, "|{}|", rule.join("|"));
        for r in &self.rows {
            let _ = writeln!(out, "| {} |", r.join(" | "));
        }
        out.push('\n');
    }
}

/// A target of the issue, checked against a measured figure.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// What is measured (`station session: HTTP round trips`).
    pub what: String,
    /// The target (`≤ 2`).
    pub target: String,
    /// The measured figure, formatted.
    pub measured: String,
    /// Whether the target is met.
    pub met: bool,
}

impl Target {
    /// A target line.
    pub fn new(what: &str, target: &str, measured: String, met: bool) -> Target {
        Target {
            what: what.to_string(),
            target: target.to_string(),
            measured,
            met,
        }
    }
}

/// What one scenario found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    /// `S1`…`S6`.
    pub id: String,
    /// One line saying what ran.
    pub title: String,
    /// The sizes it ran with.
    pub params: BTreeMap<String, serde_json::Value>,
    /// Raw figures for machines (bytes, milliseconds, counts).
    pub metrics: BTreeMap<String, f64>,
    /// Figures for people.
    pub tables: Vec<Table>,
    /// The targets.
    pub targets: Vec<Target>,
    /// Remarks: what the figures mean, what was scaled down.
    pub notes: Vec<String>,
    /// Wall time of the whole scenario (setup included), seconds.
    pub scenario_secs: f64,
    /// Set when the scenario ran below the sizes (`--quick`, `--set`): what was smaller.
    /// Its targets are then marked: they do not speak for the sizes.
    pub reduced: Option<String>,
}

impl Outcome {
    /// An empty outcome for scenario `id`.
    pub fn new(id: &str, title: &str) -> Outcome {
        Outcome {
            id: id.to_string(),
            title: title.to_string(),
            ..Outcome::default()
        }
    }

    /// Records a parameter.
    pub fn param(&mut self, name: &str, value: impl Serialize) {
        self.params.insert(
            name.to_string(),
            serde_json::to_value(value).unwrap_or_default(),
        );
    }

    /// Records a raw figure.
    pub fn metric(&mut self, name: &str, value: f64) {
        self.metrics.insert(name.to_string(), value);
    }
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// `quick` or `full`.
    pub mode: String,
    /// The machine.
    pub machine: Machine,
    /// The command that reproduces it.
    pub command: String,
    /// When it started (UTC, RFC 3339).
    pub started: String,
    /// Wall time of the run, seconds.
    pub total_secs: f64,
    /// Each scenario's outcome, in order.
    pub scenarios: Vec<Outcome>,
}

/// `✓` or `✗`.
pub fn mark(met: bool) -> &'static str {
    if met {
        "✓"
    } else {
        "✗"
    }
}

impl Run {
    /// The run as a markdown page: the targets first, then every scenario's tables and notes.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let _ = writeln!(
            out,
            "Mode `{}`; {} CPUs ({}), {:.1} GB memory, {}, kernel {}; started {}, {:.0} s in all.\n",
            self.mode,
            m.cpus,
            m.cpu,
            m.memory as f64 / 1e9,
            m.os,
            m.kernel,
            self.started,
            self.total_secs
        );
        let _ = writeln!(out, "Reproduce: `{}`\n", self.command);
        let mut targets = Table::new(
            "### Targets",
            &["scenario", "measure", "target", "measured", "met"],
        );
        for s in &self.scenarios {
            for t in &s.targets {
                let star = if s.reduced.is_some() { "*" } else { "" };
                targets.row(vec![
                    s.id.clone(),
                    t.what.clone(),
                    t.target.clone(),
                    t.measured.clone(),
                    format!("{}{star}", mark(t.met)),
                ]);
            }
        }
        targets.markdown(&mut out);
        let reduced: Vec<String> = self
            .scenarios
            .iter()
            .filter_map(|s| Some(format!("{} {}", s.id, s.reduced.as_ref()?)))
            .collect();
        if !reduced.is_empty() {
            let _ = writeln!(
                out,
                "\\* Below the issue's sizes, so not a verdict on its targets: {}.\n",
                reduced.join("; ")
            );
        }
        for s in &self.scenarios {
            let _ = writeln!(
                out,
                "### {} — {} ({:.0} s with setup)\n",
                s.id, s.title, s.scenario_secs
            );
            for t in &s.tables {
                t.markdown(&mut out);
            }
            for n in &s.notes {
                let _ = writeln!(out, "- {n}");
            }
            if !s.notes.is_empty() {
                out.push('\n');
            }
        }
        out
    }
}
