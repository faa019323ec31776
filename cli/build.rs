//! Records which build this is, for `keel demo` to print beside its throughput.
fn main() {
    let get = |k: &str| std::env::var(k).unwrap_or_else(|_| "?".into());
    // PROFILE is "debug" for the dev and test profiles, "release" for release and bench.
    println!("cargo:rustc-env=KEEL_BUILD_PROFILE={}", get("PROFILE"));
    println!("cargo:rustc-env=KEEL_BUILD_OPT_LEVEL={}", get("OPT_LEVEL"));
    println!("cargo:rerun-if-changed=build.rs");
}
