//! The results table (markdown, so it pastes into BENCHMARKS.md as is), its
//! JSON form, and the machine description line.

use std::{fs, process::Command};

use serde_json::{json, Value};

use crate::stats::Summary;

/// The unit of a figure, which also says how to print it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Ms,
    MiB,
    MiBPerSec,
    Percent,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Unit::Ms => "ms",
            Unit::MiB => "MiB",
            Unit::MiBPerSec => "MiB/s",
            Unit::Percent => "%",
        }
    }

    /// A target's bound with its unit, as written in the issue ("5 ms").
    pub fn bound(self, value: f64) -> String {
        format!("{value} {}", self.name())
    }

    /// `value` with its unit, to a sensible precision.
    pub fn show(self, value: f64) -> String {
        if !value.is_finite() {
            return "—".into();
        }
        let digits = match self {
            Unit::Ms if value < 10.0 => 3,
            Unit::Ms if value < 100.0 => 2,
            Unit::Ms => 1,
            Unit::MiB | Unit::Percent => 1,
            Unit::MiBPerSec => 0,
        };
        format!("{value:.digits$} {}", self.name())
    }
}

/// Whether a figure meets its target.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Met,
    /// Missed, and by how much.
    Missed(String),
    /// No target for this row (a reference row).
    None,
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// The figure's number in the issue, with a letter for variants ("3b").
    pub id: String,
    pub figure: String,
    pub unit: Unit,
    pub summary: Summary,
    pub target: String,
    /// What it is compared with, measured on this machine now.
    pub floor: String,
    pub verdict: Verdict,
    /// Anything the numbers alone don't say.
    pub note: String,
}

impl Row {
    pub fn new(id: &str, figure: impl Into<String>, unit: Unit, summary: Summary) -> Self {
        Self {
            id: id.to_string(),
            figure: figure.into(),
            unit,
            summary,
            target: String::new(),
            floor: String::new(),
            verdict: Verdict::None,
            note: String::new(),
        }
    }

    /// Target: median at most `max` (in the row's unit).
    pub fn median_at_most(mut self, max: f64) -> Self {
        self.target = format!("≤ {} median", self.unit.bound(max));
        self.verdict = at_most("median", self.summary.median, max, self.unit);
        self
    }

    /// Target: p99 at most `max`; combined with any earlier target.
    pub fn p99_at_most(mut self, max: f64) -> Self {
        let extra = format!("≤ {} p99", self.unit.bound(max));
        self.target = if self.target.is_empty() {
            extra
        } else {
            format!("{}, {extra}", self.target)
        };
        let verdict = at_most("p99", self.summary.p99, max, self.unit);
        self.verdict = combine(self.verdict, verdict);
        self
    }

    /// Target: a value (the median) at most `max` (for single measurements like RSS).
    pub fn value_at_most(mut self, max: f64) -> Self {
        self.target = format!("≤ {}", self.unit.bound(max));
        self.verdict = at_most("value", self.summary.median, max, self.unit);
        self
    }

    pub fn floor(mut self, floor: impl Into<String>) -> Self {
        self.floor = floor.into();
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        let note = note.into();
        self.note = if self.note.is_empty() {
            note
        } else {
            format!("{}; {note}", self.note)
        };
        self
    }

    pub fn target(mut self, target: impl Into<String>, verdict: Verdict) -> Self {
        self.target = target.into();
        self.verdict = verdict;
        self
    }

    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "figure": self.figure,
            "unit": self.unit.name(),
            "n": self.summary.n,
            "median": finite(self.summary.median),
            "p99": finite(self.summary.p99),
            "min": finite(self.summary.min),
            "max": finite(self.summary.max),
            "target": self.target,
            "floor": self.floor,
            "met": match &self.verdict { Verdict::Met => json!(true), Verdict::Missed(_) => json!(false), Verdict::None => Value::Null },
            "missed_by": match &self.verdict { Verdict::Missed(by) => json!(by), _ => Value::Null },
            "note": self.note,
        })
    }
}

fn finite(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        Value::Null
    }
}

fn at_most(what: &str, value: f64, max: f64, unit: Unit) -> Verdict {
    if !value.is_finite() {
        Verdict::Missed("not measured".into())
    } else if value <= max {
        Verdict::Met
    } else {
        Verdict::Missed(format!(
            "{what} {} over ({:.1}×)",
            unit.show(value - max),
            value / max
        ))
    }
}

/// Both must be met; the misses are listed.
pub fn combine(a: Verdict, b: Verdict) -> Verdict {
    match (a, b) {
        (Verdict::Missed(x), Verdict::Missed(y)) => Verdict::Missed(format!("{x}; {y}")),
        (Verdict::Missed(x), _) | (_, Verdict::Missed(x)) => Verdict::Missed(x),
        (Verdict::Met, _) | (_, Verdict::Met) => Verdict::Met,
        _ => Verdict::None,
    }
}

/// The markdown table of `rows`.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| # | figure | n | median | p99 | target | floor / baseline | verdict | note |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let verdict = match &row.verdict {
            Verdict::Met => "met".to_string(),
            Verdict::Missed(by) => format!("**missed**: {by}"),
            Verdict::None => String::new(),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            row.id,
            row.figure,
            row.summary.n,
            row.unit.show(row.summary.median),
            row.unit.show(row.summary.p99),
            row.target,
            row.floor,
            verdict,
            row.note
        ));
    }
    out
}

/// The machine, in one line: CPU, cores, kernel, rustc, load.
#[derive(Debug, Clone)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub kernel: String,
    pub rustc: String,
    pub memory: String,
}

impl Machine {
    pub fn describe() -> Self {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| {
                let (key, value) = l.split_once(':')?;
                (key.trim() == "model name").then(|| value.trim().to_string())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0);
        let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| format!("Linux {}", s.trim()))
            .unwrap_or_else(|_| std::env::consts::OS.to_string());
        let rustc = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
            .arg("--version")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|| "rustc (version unknown)".into());
        let memory = fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                let kib: f64 = m
                    .lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()?;
                Some(format!("{:.1} GiB RAM", kib / 1024.0 / 1024.0))
            })
            .unwrap_or_default();
        Self {
            cpu,
            cores,
            kernel,
            rustc,
            memory,
        }
    }

    pub fn line(&self) -> String {
        format!(
            "{} · {} cores · {} · {} · {}",
            self.cpu, self.cores, self.kernel, self.memory, self.rustc
        )
    }
}

/// The 1, 5 and 15 minute load averages, as /proc/loadavg says.
pub fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
