//! `keel-node`: runs a Keel validator (the same as `keel node …`).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(keel_node::cli_main(&args));
}
