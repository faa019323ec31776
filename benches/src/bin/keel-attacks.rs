//! The adversarial bench of issue 10 (see `keel_benches::attacks`): every attack's gas, wall
//! time, ns/gas and ratio to the arithmetic loop of the same run, the wall time per `Invalid`
//! transaction, and (with `--rss N`) resident memory over N compiles.
//!
//! `cargo run --release -p keel-benches --no-default-features --bin keel-attacks -- [--quick]
//! [--rss N] [--no-attacks] [--append FILE] [--json FILE]`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;

use keel_benches::attacks::{self, AttackResult, Sizes};
use keel_engine::GasSchedule;

fn main() {
    let mut quick = false;
    let mut rss: Option<u32> = None;
    let mut attacks_on = true;
    let mut append: Option<String> = None;
    let mut json: Option<String> = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--quick" => quick = true,
            "--no-attacks" => attacks_on = false,
            "--rss" => rss = Some(it.next().and_then(|v| v.parse().ok()).expect("--rss N")),
            "--append" => append = it.next(),
            "--json" => json = it.next(),
            other => panic!("unknown flag {other}"),
        }
    }
    let mut file = append.as_ref().map(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .expect("open --append file")
    });
    let mut emit = |s: &str| {
        print!("{s}");
        let _ = std::io::stdout().flush();
        if let Some(f) = file.as_mut() {
            let _ = f.write_all(s.as_bytes());
            let _ = f.flush();
        }
    };
    let v = GasSchedule::default().version;
    emit(&format!(
        "# keel-attacks: GasSchedule v{v}, {} mode\n",
        if quick { "quick" } else { "full" }
    ));
    let mut json_rows = Vec::new();
    if attacks_on {
        let sizes = Sizes::new(quick);
        let (b0, b1, results) = attacks::run(sizes, |r| {
            eprintln!(
                "  {}: gas {}, {:.2} ms, {}",
                r.name,
                r.gas,
                r.ns / 1e6,
                r.note
            );
        });
        let baseline = (b0 + b1) / 2.0;
        let mut text = format!(
            "## attacks (baseline arith_loop {b0:.3} ns/gas at the start, {b1:.3} at the end; ratios use the mean {baseline:.3})\n{:<96} {:>12} {:>11} {:>10} {:>9}  {}\n",
            "attack", "gas", "wall ms", "ns/gas", "x base", "verdict; note"
        );
        for r in &results {
            text.push_str(&line(r, baseline));
            json_rows.push(json_row(r, baseline));
        }
        let worst = results
            .iter()
            .filter(|r| !r.invalid && r.ns > 0.0)
            .max_by(|a, b| a.ratio(baseline).total_cmp(&b.ratio(baseline)));
        if let Some(w) = worst {
            text.push_str(&format!(
                "# worst attack: {} at {} x the baseline\n",
                w.name,
                fmt_ratio(w.ratio(baseline))
            ));
        }
        emit(&text);
    }
    if let Some(n) = rss {
        emit(&format!(
            "## compile memory: VmRSS over {n} compiles per phase\n"
        ));
        attacks::rss_run(n, |phase, done, kib| {
            let s = format!(
                "rss {phase}: after {done}: {:.1} MiB\n",
                kib as f64 / 1024.0
            );
            print!("{s}");
            let _ = std::io::stdout().flush();
            json_rows.push(format!(
                "{{\"rss_phase\":{phase:?},\"compiles\":{done},\"vmrss_kib\":{kib}}}"
            ));
        });
    }
    let path = json.unwrap_or_else(|| {
        format!(
            "benches/results/attacks-v{v}-{}.json",
            if quick { "quick" } else { "full" }
        )
    });
    match std::fs::write(&path, format!("[\n{}\n]\n", json_rows.join(",\n"))) {
        Ok(()) => eprintln!("wrote {path}"),
        Err(e) => eprintln!("could not write {path}: {e}"),
    }
}

fn fmt_ratio(r: f64) -> String {
    if r.is_infinite() {
        "inf".into()
    } else {
        format!("{r:.2}")
    }
}

fn verdict(r: &AttackResult, baseline: f64) -> String {
    if r.invalid {
        let us = r.ns / r.txs.max(1) as f64 / 1e3;
        return format!(
            "{us:.1} us/tx: {} (target <= 20 us)",
            if us <= 20.0 { "met" } else { "MISSED" }
        );
    }
    if r.ns == 0.0 {
        return "outcome only".into();
    }
    let x = r.ratio(baseline);
    if x <= 3.0 {
        "met (<= 3x)".into()
    } else if x <= 5.0 {
        "over 3x, under 5x".into()
    } else {
        "MISSED (> 5x)".into()
    }
}

fn line(r: &AttackResult, baseline: f64) -> String {
    format!(
        "{:<96} {:>12} {:>11.2} {:>10} {:>9}  {}; {}\n",
        r.name,
        r.gas,
        r.ns / 1e6,
        r.ns_per_gas().map_or("-".into(), |x| format!("{x:.2}")),
        fmt_ratio(r.ratio(baseline)),
        verdict(r, baseline),
        r.note
    )
}

fn json_row(r: &AttackResult, baseline: f64) -> String {
    let ratio = r.ratio(baseline);
    format!(
        "{{\"attack\":{:?},\"gas\":{},\"wall_ns\":{:.0},\"txs\":{},\"ns_per_gas\":{},\"ratio\":{},\"invalid\":{},\"note\":{:?}}}",
        r.name,
        r.gas,
        r.ns,
        r.txs,
        r.ns_per_gas().map_or("null".into(), |x| format!("{x:.4}")),
        if ratio.is_finite() {
            format!("{ratio:.3}")
        } else {
            "null".into()
        },
        r.invalid,
        r.note
    )
}
