//! `keel`: Keel's command-line tool.
//!
//! Keeps a chain in a local data dir (RocksDB) between commands: check, deploy, call and query
//! contracts, apply blocks from JSON files, read and prove state, and run the demo.
//! See `cli/README.md` for the argument syntax and the block file format.

mod args;
mod block;
mod commands;
mod datadir;
mod output;
mod project;
mod remote;
mod typed;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Keel: a deterministic smart-contract execution engine.
#[derive(Debug, Parser)]
#[command(
    name = "keel",
    version,
    about = "Keel's command-line tool: a local chain in a data dir (RocksDB) between commands.",
    after_help = "Examples:\n  \
      keel check token.wasm\n  \
      keel deploy example:token\n  \
      keel call token mint addr:@alice u128:1000\n  \
      keel --sender bob query token balance_of addr:@alice --decode u128\n  \
      keel state prove --contract token text:S\n  \
      keel --data-dir .keel-demo demo\n\n\
      Arguments are TYPE:VALUE words (u8..u128, i8..i128, bool, str, bytes, addr, [u8;N],\n\
      compact, raw, text); see cli/README.md."
)]
pub struct Cli {
    /// The data dir holding the chain state (RocksDB) between commands.
    #[arg(long, global = true, default_value = ".keel", value_name = "DIR")]
    pub data_dir: PathBuf,
    /// Print machine-readable JSON instead of human text.
    #[arg(long, global = true)]
    pub json: bool,
    /// The account sending transactions: `@name` or `name` (a named account, hashed to an
    /// address) or `0x<64 hex>`.
    #[arg(long, global = true, default_value = "@alice", value_name = "ACCOUNT")]
    pub sender: String,
    /// Gas limit per transaction.
    #[arg(long, global = true, default_value_t = keel_chain::DEFAULT_GAS_LIMIT, value_name = "GAS")]
    pub gas: u64,
    /// fsync every commit, so that what keel reports committed survives a power loss (two
    /// fsyncs per block). `off` keeps commits safe against crashes of keel only.
    #[arg(
        long,
        global = true,
        default_value = "on",
        value_name = "on|off",
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub sync: bool,
    /// Open a data dir that holds an earlier version than it acknowledged (its write-ahead
    /// log lost commits) and continue from the version it holds.
    #[arg(long, global = true)]
    pub accept_rollback: bool,
    /// The timestamp (ms) of the next block this command runs (later blocks follow 1000 ms
    /// apart). Refused if it is before the data dir's last block: the clock never goes
    /// backwards. Default: after the last block, at least `height × 1000`.
    #[arg(long, global = true, value_name = "MS")]
    pub timestamp: Option<u64>,
    /// Send deploy, call, query and state get/prove to a running keel-node's API
    /// (`http://127.0.0.1:PORT`) instead of the local data dir.
    #[arg(long, global = true, value_name = "URL")]
    pub node: Option<String>,
    /// The key file that signs transactions sent with `--node` (`{"secret": HEX}`).
    #[arg(long = "key", id = "key_file", global = true, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a wasm module as the engine would on upload; list every problem.
    Check {
        /// The wasm file (or `example:NAME` for a built-in example contract).
        file: String,
    },
    /// Upload and instantiate a contract; print the receipts and its address.
    Deploy {
        /// The wasm file (or `example:NAME` for a built-in example contract).
        file: String,
        /// Constructor arguments, `TYPE:VALUE` each (e.g. `u128:1000 addr:@bob`).
        args: Vec<String>,
        /// Salt for the address (hex); defaults to the sender's nonce.
        #[arg(long)]
        salt: Option<String>,
        /// Name this contract in later output (defaults to the file's stem).
        #[arg(long)]
        name: Option<String>,
    },
    /// Call a method in a new block and print the receipt.
    Call(CallArgs),
    /// Run a method read-only (nothing is committed) and print the receipt.
    Query(CallArgs),
    /// Profile a method read-only: gas per wasm function, across the contracts it calls and
    /// the host functions, as a flamegraph SVG and folded stacks (the total is exactly the
    /// call's production gas).
    Profile {
        /// The call, as for `keel query`.
        #[command(flatten)]
        call: CallArgs,
        /// Write the flamegraph SVG here (default: `profile.svg`).
        #[arg(long, value_name = "FILE", default_value = "profile.svg")]
        svg: PathBuf,
        /// Also write the folded stacks (`a;b;c gas` per line) here.
        #[arg(long, value_name = "FILE")]
        folded: Option<PathBuf>,
        /// A build of a called contract that keeps its name section (`keel build --names`
        /// writes `NAME.names.wasm`): names its functions if its code is exactly the deployed
        /// code. Repeatable.
        #[arg(long, value_name = "WASM")]
        names: Vec<PathBuf>,
    },
    /// Apply a block of transactions from a JSON file; print the receipts and the root.
    Run {
        /// The block file (format: see cli/README.md).
        file: PathBuf,
    },
    /// Read, prove and verify state.
    State {
        /// What to do.
        #[command(subcommand)]
        command: StateCommand,
    },
    /// Deploy the example token and run blocks of transfers, printing tx/s, gas and roots.
    Demo {
        /// Number of blocks of transfers.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        blocks: u64,
        /// Transfers per block.
        #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        txs: u64,
        /// Number of accounts the transfers go between.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        accounts: u64,
    },
    /// List the example contracts built into this binary (usable as `example:NAME`).
    Examples,
    /// Run a quick version of the benchmark suite (a few seconds in a release build), each
    /// figure next to its peer measured in the same run. `cargo bench -p keel-benches` runs
    /// the full suite.
    Bench,
    /// Create a contract project NAME (a contract crate and a test crate) that tests on its
    /// first `cargo test`, with no network and no C++ to compile.
    New {
        /// The project (and contract crate) name: lower-case letters, digits, `-`, `_`.
        name: String,
        /// The Keel checkout the project uses (linked as `NAME/keel`); defaults to the one
        /// this binary was built from.
        #[arg(long, value_name = "DIR")]
        keel: Option<PathBuf>,
        /// Where to create the project directory (default: the current directory).
        #[arg(long, value_name = "DIR", default_value = ".")]
        dir: PathBuf,
    },
    /// Build a contract crate to wasm exactly as the testkit's `build_wasm` does (release
    /// profile, Keel's wasm flags, machine paths remapped) and write it, with its metadata as
    /// JSON, to `target/keel/`.
    Build {
        /// The contract crate's directory.
        #[arg(default_value = "contract")]
        crate_dir: PathBuf,
        /// Where to write the `.wasm` (default: `target/keel`).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Also write `NAME.names.wasm`: the same build with its name section kept, whose
        /// code is checked equal to the `.wasm`'s (`keel profile --names` names functions
        /// from it). Deploy the `.wasm`.
        #[arg(long)]
        names: bool,
    },
    /// Run a validator of a replicated chain under Malachite BFT: `keel node testnet
    /// --validators N --home DIR`, `keel node start --home DIR/nodeK` (README, "Run a local
    /// 4-validator network").
    Node {
        /// `testnet ...` or `start ...`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// Arguments of `call` and `query`.
#[derive(Debug, Args)]
pub struct CallArgs {
    /// The contract: `0x<64 hex>`, or the name it was deployed under (`keel deploy` names a
    /// contract after its file, or `--name`).
    pub address: String,
    /// The method name.
    pub method: String,
    /// Arguments, `TYPE:VALUE` each (e.g. `addr:@bob u128:5`).
    pub args: Vec<String>,
    /// Decode the return data as these comma-separated types (e.g. `u128` or `u64,bool`).
    #[arg(long, value_name = "TYPES")]
    pub decode: Option<String>,
}

/// `keel state ...`.
#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Print the latest version and state root.
    Root,
    /// Check the whole latest state: every tree node and every value against the root;
    /// report the first inconsistency.
    Check,
    /// Print the value at a key.
    Get(KeyArgs),
    /// Print a Merkle proof of a key's value (or absence) against the latest root.
    Prove(KeyArgs),
    /// Verify a proof (from `keel state prove`) without the data dir.
    Verify {
        /// The key.
        #[command(flatten)]
        key: KeyArgs,
        /// The root to verify against (hex).
        #[arg(long)]
        root: String,
        /// The proof (hex, as printed by `keel state prove`).
        #[arg(long)]
        proof: String,
        /// The claimed value (hex); omit to claim the key is absent.
        #[arg(long)]
        value: Option<String>,
    },
}

/// A state key: raw, or a contract's storage key.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// Address the key within this contract's storage (`0x04 ‖ address ‖ key`).
    #[arg(long, value_name = "ADDRESS")]
    pub contract: Option<String>,
    /// The key: words concatenated, each `0x<hex>` or `TYPE:VALUE` (`text:balance` for raw
    /// UTF-8, `addr:@bob`, ...).
    #[arg(required = true)]
    pub key: Vec<String>,
    /// Decode the value as these comma-separated types.
    #[arg(long, value_name = "TYPES")]
    pub decode: Option<String>,
}

/// A failure: the message printed after `error: `, and the exit code.
#[derive(Debug)]
pub struct Failure {
    /// What went wrong.
    pub message: String,
    /// The process exit code (1: error; 3: a transaction did not succeed; 4: check rejected;
    /// 5: the data dir was rolled back).
    pub code: u8,
}

impl Failure {
    /// An ordinary error (exit 1).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: 1,
        }
    }
}

impl From<String> for Failure {
    fn from(s: String) -> Self {
        Failure::new(s)
    }
}

impl From<&str> for Failure {
    fn from(s: &str) -> Self {
        Failure::new(s)
    }
}

fn main() -> ExitCode {
    // A last line of defence: keel handles every error it knows of, but if a bug panics, say
    // so in one line instead of printing a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let _ = writeln!(
            std::io::stderr(),
            "error: internal error (a bug in keel, please report it): {msg}{at}"
        );
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout and usage errors to stderr.
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let json = cli.json;
    let result = commands::run(cli);
    match output::stdout_failure() {
        // The reader of stdout went away (`keel ... | head -1`): end quietly, as a process
        // ended by SIGPIPE would.
        Some(None) => return ExitCode::from(output::BROKEN_PIPE),
        Some(Some(why)) => {
            let _ = writeln!(std::io::stderr(), "error: cannot write the output: {why}");
            return ExitCode::from(1);
        }
        None => {}
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            let line = if json {
                serde_json::json!({ "error": f.message, "exit_code": f.code }).to_string()
            } else {
                format!("error: {}", f.message)
            };
            let _ = writeln!(std::io::stderr(), "{line}");
            ExitCode::from(f.code)
        }
    }
}
