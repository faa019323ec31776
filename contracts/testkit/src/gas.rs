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

/// Gas used per (contract label, method), collected by a [`crate::TestChain`].
///
/// Its `Display` is a table; print it at the end of a test with `println!("{}",
/// chain.gas_report())` and run `cargo test -- --nocapture`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GasReport {
    rows: BTreeMap<(String, String), GasStats>,
}

impl GasReport {
    /// Records one transaction's gas.
    pub fn record(&mut self, contract: &str, method: &str, gas: u64) {
        self.rows
            .entry((contract.to_string(), method.to_string()))
            .and_modify(|s| s.add(gas))
            .or_insert_with(|| GasStats::new(gas));
    }

    /// The statistics of one (contract, method) pair.
    pub fn get(&self, contract: &str, method: &str) -> Option<GasStats> {
        self.rows
            .get(&(contract.to_string(), method.to_string()))
            .copied()
    }

    /// All rows, ordered by contract then method.
    pub fn rows(&self) -> impl Iterator<Item = (&str, &str, GasStats)> {
        self.rows
            .iter()
            .map(|((c, m), s)| (c.as_str(), m.as_str(), *s))
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Forgets everything recorded so far.
    pub fn clear(&mut self) {
        self.rows.clear();
    }
}

impl fmt::Display for GasReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers = ["contract", "method", "calls", "min", "mean", "max"];
        let body: Vec<[String; 6]> = self
            .rows()
            .map(|(c, m, s)| {
                [
                    c.to_string(),
                    m.to_string(),
                    s.calls.to_string(),
                    s.min.to_string(),
                    s.mean().to_string(),
                    s.max.to_string(),
                ]
            })
            .collect();
        let mut widths = headers.map(str::len);
        for row in &body {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.len());
            }
        }
        let line = |f: &mut fmt::Formatter<'_>, cells: [&str; 6]| -> fmt::Result {
            for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
                if i > 0 {
                    f.write_str("  ")?;
                }
                if i < 2 {
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
            [&rule[0], &rule[1], &rule[2], &rule[3], &rule[4], &rule[5]],
        )?;
        for r in &body {
            line(f, [&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]])?;
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
    }
}
