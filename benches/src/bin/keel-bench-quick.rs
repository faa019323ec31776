//! Runs the quick side-by-side suite (`keel_benches::quick::run`) and prints one line per
//! figure: what `keel bench` shows.
//!
//! `cargo run --release -p keel-benches --bin keel-bench-quick`
fn main() {
    let results = keel_benches::quick::run(&mut |done, total, step| {
        eprintln!("[{done}/{total}] {step}");
    });
    for m in &results {
        println!("{m}");
    }
}
