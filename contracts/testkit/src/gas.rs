//! The per-method gas report.

use std::collections::BTreeMap;
use std::fmt;

/// Gas statistics of one (contract, method) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GasStats {
    /// Number of calls.
    pub calls: u64,
    /// Smallest gas used.
    pub min: u64,
    /// Largest gas used.
    pub max: u64,
    /// Sum of gas used.
    pub total: u128,
}

impl GasStats {
    fn new(gas: u64) -> Self {
        Self {
            calls: 1,
            min: gas,
            max: gas,
            total: u128::from(gas),
        }
    }

    fn merge(&mut self, other: &GasStats) {
        self.calls += other.calls;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.total += other.total;
    }

    fn add(&mut self, gas: u64) {
        self.calls += 1;
        self.min = self.min.min(gas);
        self.max = self.max.max(gas);
        self.total += u128::from(gas);
    }

    /// Mean gas per call, rounded down.
    pub fn mean(&self) -> u64 {
        if self.calls == 0 {
            return 0;
        }
        u64::try_from(self.total / u128::from(self.calls)).unwrap_or(u64::MAX)
    }
}

/// How a transaction ended, for the gas report (a receipt's status without its details).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GasOutcome {
    /// `Success`.
    Success,
    /// `Reverted`.
    Reverted,
    /// `OutOfGas`.
    OutOfGas,
    /// `Trapped`.
    Trapped,
    /// `Invalid` (not executed, 0 gas).
    Invalid,
}

impl GasOutcome {
    /// The outcome of a receipt status.
    pub fn of(status: &keel_engine::Status) -> Self {
        use keel_engine::Status;
        match status {
            Status::Success => GasOutcome::Success,
            Status::Reverted(_) => GasOutcome::Reverted,
            Status::OutOfGas => GasOutcome::OutOfGas,
            Status::Trapped(_) => GasOutcome::Trapped,
            Status::Invalid(_) => GasOutcome::Invalid,
        }
    }

    /// Its name in tables, JSON and baselines.
    pub fn name(self) -> &'static str {
        match self {
            GasOutcome::Success => "success",
            GasOutcome::Reverted => "reverted",
            GasOutcome::OutOfGas => "out_of_gas",
            GasOutcome::Trapped => "trapped",
            GasOutcome::Invalid => "invalid",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            GasOutcome::Success,
            GasOutcome::Reverted,
            GasOutcome::OutOfGas,
            GasOutcome::Trapped,
            GasOutcome::Invalid,
        ]
        .into_iter()
        .find(|o| o.name() == s)
    }
}

/// What a row is about: a contract (by address), or code not yet instantiated (by hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Subject {
    Contract([u8; 32]),
    Code([u8; 32]),
}

/// Gas used per (contract, method, outcome), collected by a [`crate::TestChain`].
///
/// Reverts, traps, out-of-gas and `Invalid` attempts each get their own row, so they never mix
/// with the successes. A deploy is two rows of the contract it made: `(upload)` (the code) and
/// `(instantiate)`. A contract is shown by its label ([`crate::TestChain::set_label`], the
/// example name) or its short address; uploaded code by the label of the first contract
/// instantiated from it, else `code:0x…`.
///
/// Its `Display` is a table (`println!("{}", chain.gas_report())`, `cargo test -- --nocapture`);
/// [`GasReport::to_json`] is the same as JSON; [`GasReport::check_baseline`] compares it with a
/// saved snapshot, like `forge snapshot --check`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GasReport {
    rows: BTreeMap<(Subject, String, GasOutcome), GasStats>,
    /// Nested calls: (top-level contract, its method, the call path below it, the nested
    /// frame's outcome) -> the nested frame's gas, its children included.
    nested: BTreeMap<NestedKey, GasStats>,
    labels: BTreeMap<[u8; 32], String>,
    /// Code hash -> the first contract instantiated from it.
    code_owner: BTreeMap<[u8; 32], [u8; 32]>,
}

type NestedKey = (Subject, String, Vec<([u8; 32], String)>, GasOutcome);

/// One row of a [`GasReport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GasRow {
    /// The contract's label.
    pub contract: String,
    /// The method, `(upload)` or `(instantiate)`; for a nested call, the top-level method and
    /// the calls below it: `release -> token.transfer` (the gas is the nested call's, its own
    /// nested calls included, and the outcome is the nested call's).
    pub method: String,
    /// How the transactions ended.
    pub outcome: GasOutcome,
    /// Their statistics.
    pub stats: GasStats,
}

impl GasReport {
    pub(crate) fn record_subject(
        &mut self,
        subject: Subject,
        method: &str,
        outcome: GasOutcome,
        gas: u64,
    ) {
        self.rows
            .entry((subject, method.to_string(), outcome))
            .and_modify(|s| s.add(gas))
            .or_insert_with(|| GasStats::new(gas));
    }

    /// Records every nested call of a top-level call's trace under that call.
    pub(crate) fn record_nested(
        &mut self,
        top: [u8; 32],
        method: &str,
        frame: &keel_engine::CallTrace,
    ) {
        fn walk(
            report: &mut GasReport,
            top: [u8; 32],
            method: &str,
            path: &mut Vec<([u8; 32], String)>,
            frame: &keel_engine::CallTrace,
        ) {
            for child in frame.calls() {
                path.push((child.contract, child.method.clone()));
                let outcome = match child.status {
                    keel_engine::FrameStatus::Success => GasOutcome::Success,
                    keel_engine::FrameStatus::Reverted => GasOutcome::Reverted,
                    keel_engine::FrameStatus::Trapped(_) => GasOutcome::Trapped,
                    keel_engine::FrameStatus::OutOfGas => GasOutcome::OutOfGas,
                };
                report
                    .nested
                    .entry((
                        Subject::Contract(top),
                        method.to_string(),
                        path.clone(),
                        outcome,
                    ))
                    .and_modify(|s| s.add(child.gas_used))
                    .or_insert_with(|| GasStats::new(child.gas_used));
                walk(report, top, method, path, child);
                path.pop();
            }
        }
        walk(self, top, method, &mut Vec::new(), frame);
    }

    pub(crate) fn set_label(&mut self, contract: [u8; 32], label: &str) {
        self.labels.insert(contract, label.to_string());
    }

    pub(crate) fn instantiated(&mut self, code_hash: [u8; 32], contract: [u8; 32]) {
        self.code_owner.entry(code_hash).or_insert(contract);
    }

    /// Records one successful call of `contract`'s `method` under a label (for tools that run
    /// transactions themselves).
    pub fn record(&mut self, contract: &str, method: &str, gas: u64) {
        let key = crate::account(&format!("gas-report-label:{contract}")).0;
        self.labels.insert(key, contract.to_string());
        self.record_subject(Subject::Contract(key), method, GasOutcome::Success, gas);
    }

    fn label(&self, subject: &Subject) -> String {
        let contract = match subject {
            Subject::Contract(a) => Some(*a),
            Subject::Code(h) => self.code_owner.get(h).copied(),
        };
        match (contract, subject) {
            (Some(a), _) => self
                .labels
                .get(&a)
                .cloned()
                .unwrap_or_else(|| crate::short_hex(&a)),
            (None, Subject::Code(h)) => format!("code:{}", crate::short_hex(h)),
            (None, Subject::Contract(a)) => crate::short_hex(a),
        }
    }

    /// Every row, ordered by contract label, method, outcome.
    pub fn rows(&self) -> Vec<GasRow> {
        let mut merged: BTreeMap<(String, String, GasOutcome), GasStats> = BTreeMap::new();
        for ((subject, method, outcome), s) in &self.rows {
            let key = (self.label(subject), method.clone(), *outcome);
            merged.entry(key).and_modify(|m| m.merge(s)).or_insert(*s);
        }
        for ((subject, method, path, outcome), s) in &self.nested {
            let mut name = method.clone();
            for (callee, m) in path {
                name.push_str(&format!(
                    " -> {}.{m}",
                    self.label(&Subject::Contract(*callee))
                ));
            }
            let key = (self.label(subject), name, *outcome);
            merged.entry(key).and_modify(|m| m.merge(s)).or_insert(*s);
        }
        merged
            .into_iter()
            .map(|((contract, method, outcome), stats)| GasRow {
                contract,
                method,
                outcome,
                stats,
            })
            .collect()
    }

    /// The statistics of one (contract, method) pair over every outcome.
    pub fn get(&self, contract: &str, method: &str) -> Option<GasStats> {
        self.rows()
            .into_iter()
            .filter(|r| r.contract == contract && r.method == method)
            .map(|r| r.stats)
            .reduce(|mut a, b| {
                a.merge(&b);
                a
            })
    }

    /// The statistics of one (contract, method, outcome).
    pub fn get_outcome(
        &self,
        contract: &str,
        method: &str,
        outcome: GasOutcome,
    ) -> Option<GasStats> {
        self.rows()
            .into_iter()
            .find(|r| r.contract == contract && r.method == method && r.outcome == outcome)
            .map(|r| r.stats)
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Forgets the recorded gas (labels are kept).
    pub fn clear(&mut self) {
        self.rows.clear();
        self.nested.clear();
    }

    /// The report as JSON: `{"rows":[{"contract","method","outcome","calls","min","mean",
    /// "max","total"},…]}`, rows in [`GasReport::rows`] order (a nested call's `method` is its
    /// path, `release -> token.transfer`).
    pub fn to_json(&self) -> String {
        let mut out = String::from("{\"rows\":[");
        for (i, r) in self.rows().iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&format!(
                "{{\"contract\":{},\"method\":{},\"outcome\":\"{}\",\"calls\":{},\"min\":{},\"mean\":{},\"max\":{},\"total\":{}}}",
                json_str(&r.contract),
                json_str(&r.method),
                r.outcome.name(),
                r.stats.calls,
                r.stats.min,
                r.stats.mean(),
                r.stats.max,
                r.stats.total
            ));
        }
        out.push_str("]}");
        out
    }

    /// The baseline snapshot: one line per row, `contract method outcome calls min mean max`
    /// (tab-separated), in row order.
    pub fn snapshot(&self) -> String {
        self.rows()
            .iter()
            .map(|r| {
                format!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                    r.contract,
                    r.method,
                    r.outcome.name(),
                    r.stats.calls,
                    r.stats.min,
                    r.stats.mean(),
                    r.stats.max
                )
            })
            .collect()
    }

    /// The differences from a saved [`GasReport::snapshot`]: one line per added, removed or
    /// changed row (`~ token transfer success mean 51234 -> 51300 (+66)`); empty if equal.
    pub fn diff(&self, baseline: &str) -> Vec<String> {
        type Key = (String, String, String);
        let parse = |text: &str| -> BTreeMap<Key, Vec<String>> {
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .filter_map(|l| {
                    let f: Vec<&str> = l.split('\t').collect();
                    (f.len() == 7 && GasOutcome::parse(f[2]).is_some()).then(|| {
                        (
                            (f[0].to_string(), f[1].to_string(), f[2].to_string()),
                            f[3..].iter().map(|s| s.to_string()).collect(),
                        )
                    })
                })
                .collect()
        };
        let old = parse(baseline);
        let new = parse(&self.snapshot());
        let mut out = Vec::new();
        for (k, v) in &old {
            match new.get(k) {
                None => out.push(format!("- {} {} {} (was {})", k.0, k.1, k.2, v.join(" "))),
                Some(n) if n != v => {
                    let names = ["calls", "min", "mean", "max"];
                    let parts: Vec<String> = names
                        .iter()
                        .zip(v.iter().zip(n))
                        .filter(|(_, (a, b))| a != b)
                        .map(|(name, (a, b))| {
                            let delta = match (a.parse::<i128>(), b.parse::<i128>()) {
                                (Ok(x), Ok(y)) => format!(" ({:+})", y - x),
                                _ => String::new(),
                            };
                            format!("{name} {a} -> {b}{delta}")
                        })
                        .collect();
                    out.push(format!("~ {} {} {} {}", k.0, k.1, k.2, parts.join(", ")));
                }
                Some(_) => {}
            }
        }
        for (k, v) in &new {
            if !old.contains_key(k) {
                out.push(format!("+ {} {} {} ({})", k.0, k.1, k.2, v.join(" ")));
            }
        }
        out
    }

    /// Compares the report with the baseline file at `path` (a [`GasReport::snapshot`]):
    /// `Err` with every difference if they differ. With `KEEL_BLESS` set, or if the file does
    /// not exist, writes the snapshot there instead and returns `Ok`.
    pub fn check_baseline(&self, path: impl AsRef<std::path::Path>) -> Result<(), String> {
        let path = path.as_ref();
        if std::env::var_os("KEEL_BLESS").is_some() || !path.exists() {
            return std::fs::write(path, self.snapshot())
                .map_err(|e| format!("cannot write {}: {e}", path.display()));
        }
        let old = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let diff = self.diff(&old);
        if diff.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "gas differs from the baseline {} (rerun with KEEL_BLESS=1 to accept):\n{}",
                path.display(),
                diff.join("\n")
            ))
        }
    }
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl fmt::Display for GasReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers = [
            "contract", "method", "outcome", "calls", "min", "mean", "max",
        ];
        let body: Vec<[String; 7]> = self
            .rows()
            .into_iter()
            .map(|r| {
                [
                    r.contract,
                    r.method,
                    r.outcome.name().to_string(),
                    r.stats.calls.to_string(),
                    r.stats.min.to_string(),
                    r.stats.mean().to_string(),
                    r.stats.max.to_string(),
                ]
            })
            .collect();
        let mut widths = headers.map(str::len);
        for row in &body {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |f: &mut fmt::Formatter<'_>, cells: [&str; 7]| -> fmt::Result {
            for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
                if i > 0 {
                    f.write_str("  ")?;
                }
                if i < 3 {
                    write!(f, "{cell:<w$}")?;
                } else {
                    write!(f, "{cell:>w$}")?;
                }
            }
            writeln!(f)
        };
        line(f, headers)?;
        let rule = widths.map(|w| "-".repeat(w));
        line(
            f,
            [
                &rule[0], &rule[1], &rule[2], &rule[3], &rule[4], &rule[5], &rule[6],
            ],
        )?;
        for r in &body {
            line(f, [&r[0], &r[1], &r[2], &r[3], &r[4], &r[5], &r[6]])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn stats_and_table() {
        let mut r = GasReport::default();
        r.record("token", "transfer", 100);
        r.record("token", "transfer", 300);
        r.record("token", "mint", 50);
        let s = r.get("token", "transfer").unwrap();
        assert_eq!((s.calls, s.min, s.mean(), s.max), (2, 100, 200, 300));
        let table = r.to_string();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("contract"));
        assert!(lines[2].starts_with("token") && lines[2].contains("mint"));
        assert!(lines[3].ends_with("300"));
        assert_eq!(
            r.to_json(),
            r#"{"rows":[{"contract":"token","method":"mint","outcome":"success","calls":1,"min":50,"mean":50,"max":50,"total":50},{"contract":"token","method":"transfer","outcome":"success","calls":2,"min":100,"mean":200,"max":300,"total":400}]}"#
        );
    }

    #[test]
    fn outcomes_are_separate_rows_and_baselines_diff() {
        let mut r = GasReport::default();
        let t = [7u8; 32];
        r.set_label(t, "token");
        r.record_subject(Subject::Contract(t), "transfer", GasOutcome::Success, 100);
        r.record_subject(Subject::Contract(t), "transfer", GasOutcome::Reverted, 40);
        r.record_subject(Subject::Contract(t), "nope", GasOutcome::Invalid, 0);
        let code = [9u8; 32];
        r.record_subject(Subject::Code(code), "(upload)", GasOutcome::Success, 5000);
        assert!(r.rows().iter().any(|x| x.contract.starts_with("code:")));
        r.instantiated(code, t);
        let rows = r.rows();
        assert_eq!(rows.len(), 4, "{rows:?}");
        assert!(rows.iter().all(|x| x.contract == "token"), "{rows:?}");
        assert_eq!(
            r.get_outcome("token", "transfer", GasOutcome::Reverted)
                .unwrap()
                .max,
            40
        );
        assert_eq!(r.get("token", "transfer").unwrap().calls, 2);

        let base = r.snapshot();
        assert!(r.diff(&base).is_empty());
        r.record_subject(Subject::Contract(t), "transfer", GasOutcome::Success, 300);
        r.record_subject(Subject::Contract(t), "mint", GasOutcome::Success, 10);
        let d = r.diff(&base);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(
            d[0].starts_with("~ token transfer success calls 1 -> 2 (+1)"),
            "{d:?}"
        );
        assert!(d[1].starts_with("+ token mint success"), "{d:?}");
        assert!(r.diff("").iter().all(|l| l.starts_with('+')));
    }
}
