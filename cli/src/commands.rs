//! The commands.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use parity_scale_codec::{Decode, Encode};
use serde_json::{Value, json};

use keel_chain::{Outcome, storage_key};
use keel_engine::{Action, Transaction};
use keel_state::Proof;

use crate::args::{encode_arg, encode_args, parse_address, parse_hex};
use crate::block::{ActionSpec, parse_block};
use crate::datadir::{DataDir, kit_failure};
use crate::output::{ReceiptView, hx, print_json};
use crate::{CallArgs, Cli, Command, Failure, KeyArgs, StateCommand, out, outln};
use keel_chain::Durability;

/// Exit code for a transaction that ran but did not succeed.
const TX_FAILED: u8 = 3;
/// Exit code for a module `keel check` rejects.
const REJECTED: u8 = 4;

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<(), Failure> {
    let ctx = Ctx {
        json: cli.json,
        sender_text: cli.sender.clone(),
        gas: cli.gas,
    };
    if let Command::Node { args } = &cli.command {
        return match keel_node::cli_main_with(args, &|x| example(x).map(<[u8]>::to_vec)) {
            0 => Ok(()),
            code => Err(Failure {
                message: "keel node failed".into(),
                code: u8::try_from(code).unwrap_or(1),
            }),
        };
    }
    if let Some(url) = cli.node.clone() {
        return crate::remote::run(cli, &url);
    }
    match cli.command {
        Command::Check { file } => check(&ctx, &file),
        Command::Examples => list_examples(&ctx),
        Command::Bench => bench(&ctx),
        Command::New { name, keel, dir } => {
            crate::project::cmd_new(ctx.json, &name, &dir, keel.as_deref())
        }
        Command::Build {
            crate_dir,
            out,
            names,
        } => crate::project::cmd_build(ctx.json, &crate_dir, out.as_deref(), names),
        Command::State {
            command:
                StateCommand::Verify {
                    key,
                    root,
                    proof,
                    value,
                },
        } => verify(&ctx, &key, &root, &proof, value.as_deref(), &cli.data_dir),
        command => {
            let how = Durability {
                sync: cli.sync,
                accept_rollback: cli.accept_rollback,
            };
            let mut dd = DataDir::open(&cli.data_dir, how)?;
            dd.chain.set_gas_limit(cli.gas);
            if let Some(t) = cli.timestamp {
                dd.chain
                    .set_timestamp(t)
                    .map_err(|e| kit_failure(e, &cli.data_dir))?;
            }
            match command {
                Command::Deploy {
                    file,
                    args,
                    salt,
                    name,
                } => deploy(
                    &ctx,
                    &mut dd,
                    &file,
                    &args,
                    salt.as_deref(),
                    name.as_deref(),
                ),
                Command::Call(c) => call(&ctx, &mut dd, &c, true),
                Command::Query(c) => call(&ctx, &mut dd, &c, false),
                Command::Profile {
                    call,
                    svg,
                    folded,
                    names,
                } => profile(&ctx, &dd, &call, &svg, folded.as_deref(), &names),
                Command::Run { file } => run_block(&ctx, &mut dd, &file),
                Command::State { command } => state(&ctx, &dd, command),
                Command::Demo {
                    blocks,
                    txs,
                    accounts,
                } => demo(&ctx, &mut dd, blocks, txs, accounts),
                Command::Check { .. }
                | Command::Examples
                | Command::Bench
                | Command::New { .. }
                | Command::Build { .. }
                | Command::Node { .. } => Ok(()),
            }
        }
    }
}

struct Ctx {
    json: bool,
    sender_text: String,
    gas: u64,
}

impl Ctx {
    fn sender(&self) -> Result<[u8; 32], Failure> {
        sender_account(&self.sender_text)
    }
}

/// The account `--sender` names: `@name` or `name` (a named account), or `0x<64 hex>`.
pub fn sender_account(text: &str) -> Result<[u8; 32], Failure> {
    {
        let s = text.trim();
        let is_hex =
            s.starts_with("0x") || (s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()));
        if is_hex || s.starts_with('@') {
            parse_address(s).map_err(|e| Failure::new(format!("--sender: {e}")))
        } else if s.is_empty() {
            Err(Failure::new("--sender: empty account"))
        } else {
            Ok(keel_chain::account(s))
        }
    }
}

impl Ctx {
    /// A spinner on stderr for one long step (hidden like [`Ctx::progress`]).
    fn spinner(&self, msg: &str) -> ProgressBar {
        if self.json || !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let pb = ProgressBar::new_spinner();
        pb.set_message(msg.to_string());
        pb.enable_steady_tick(std::time::Duration::from_millis(100));
        pb
    }

    fn progress(&self, len: u64) -> ProgressBar {
        if self.json || !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {msg}")
        {
            pb.set_style(style);
        }
        pb
    }
}

/// [`read_code`] for the `--node` commands.
pub fn read_code_pub(file: &str) -> Result<(Vec<u8>, String), Failure> {
    read_code(file)
}

/// Reads a wasm file, or a built-in example for `example:NAME`.
fn read_code(file: &str) -> Result<(Vec<u8>, String), Failure> {
    if let Some(name) = file.strip_prefix("example:") {
        return example(name)
            .map(|c| (c.to_vec(), name.to_string()))
            .ok_or_else(|| {
                Failure::new(format!(
                    "no example contract named {name:?}; known: {}",
                    examples().join(", ")
                ))
            });
    }
    let p = Path::new(file);
    let code = std::fs::read(p).map_err(|e| Failure::new(format!("cannot read {file}: {e}")))?;
    let name = p
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "contract".into());
    Ok((code, name))
}

fn list_examples(ctx: &Ctx) -> Result<(), Failure> {
    let names = examples();
    if ctx.json {
        print_json(&json!({ "examples": names }));
    } else {
        for n in names {
            outln!("{n}");
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ check

fn check(ctx: &Ctx, file: &str) -> Result<(), Failure> {
    let (code, _) = read_code(file)?;
    let (info, problems) =
        match keel_engine::check_code(&code, &keel_engine::EngineConfig::default()) {
            Ok(info) => (Some(info), Vec::new()),
            Err(e) => (
                None,
                e.problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>(),
            ),
        };
    let ok = problems.is_empty();
    let (metadata, warnings) = crate::project::check_extras(&code);
    if ctx.json {
        print_json(&json!({
            "file": file,
            "valid": ok,
            "metadata": metadata,
            "warnings": warnings,
            "size": code.len(),
            "code_hash": info.as_ref().map(|i| hx(&i.code_hash)),
            "methods": info.as_ref().map(|i| i.methods.clone()).unwrap_or_default(),
            "has_init": info.as_ref().map(|i| i.has_init),
            "reentrant": info.as_ref().map(|i| i.reentrant),
            "initial_pages": info.as_ref().map(|i| i.initial_pages),
            "problems": problems,
        }));
    } else if let Some(info) = &info {
        outln!("{file}: valid ({} bytes)", code.len());
        outln!("code hash:     {}", hx(&info.code_hash));
        outln!("methods:       {}", info.methods.join(", "));
        outln!(
            "init:          {}",
            if info.has_init { "yes" } else { "no" }
        );
        outln!(
            "reentrant:     {}",
            if info.reentrant { "yes" } else { "no" }
        );
        outln!("memory pages:  {}", info.initial_pages);
        outln!(
            "metadata:      {}",
            crate::project::metadata_summary(metadata.as_ref())
        );
        for w in &warnings {
            outln!("warning:       {w}");
        }
    } else {
        outln!("{file}: rejected, {} problem(s):", problems.len());
        for p in &problems {
            outln!("  - {p}");
        }
    }
    if ok {
        Ok(())
    } else {
        Err(Failure {
            message: format!(
                "{file} is not a valid Keel contract ({} problem(s))",
                problems.len()
            ),
            code: REJECTED,
        })
    }
}

// ------------------------------------------------------------------ deploy / call

/// The failure of a transaction that ran but did not succeed (exit code 3).
pub fn tx_failure(o: &Outcome) -> Failure {
    Failure {
        message: format!("{} did not succeed: {}", o.label, o.status_text()),
        code: TX_FAILED,
    }
}

fn deploy(
    ctx: &Ctx,
    dd: &mut DataDir,
    file: &str,
    args: &[String],
    salt: Option<&str>,
    name: Option<&str>,
) -> Result<(), Failure> {
    let (code, stem) = read_code(file)?;
    let name = name.unwrap_or(&stem).to_string();
    let args = encode_args(args)?;
    let sender = ctx.sender()?;
    let salt = salt
        .map(|s| parse_hex(s).map_err(|e| Failure::new(format!("--salt: {e}"))))
        .transpose()?;
    let path = dd.path.clone();
    let kit = |e| kit_failure(e, &path);

    let height = dd.chain.height();
    // The names go into the same commits as the code and the contract.
    dd.chain.name_next_blocks(Some(&name));
    let up = dd.chain.execute(sender, Action::Deploy { code });
    let up = up.map_err(kit);
    if up.is_err() {
        dd.chain.name_next_blocks(None);
    }
    let up = up?;
    let up_view = ReceiptView::new(&up, None);
    dd.chain.advance(1);
    if !up.is_success() {
        emit_receipts(ctx, &[up_view], dd, None);
        return Err(tx_failure(&up));
    }
    let code_hash: [u8; 32] = up
        .decode()
        .map_err(|e| Failure::new(format!("unexpected deploy return data: {e}")))?;
    let salt = match salt {
        Some(s) => s,
        None => dd.chain.nonce(sender).map_err(kit)?.to_le_bytes().to_vec(),
    };
    let inst = dd
        .chain
        .execute(
            sender,
            Action::Instantiate {
                code_hash,
                salt,
                args,
            },
        )
        .map_err(kit)?;
    dd.chain.advance(1);
    let inst_view = ReceiptView::new(&inst, None);
    let address = if inst.is_success() {
        let a: [u8; 32] = inst
            .decode()
            .map_err(|e| Failure::new(format!("unexpected instantiate return data: {e}")))?;
        Some(a)
    } else {
        None
    };
    dd.chain.name_next_blocks(None);
    if ctx.json {
        print_json(&json!({
            "name": name,
            "code_hash": hx(&code_hash),
            "address": address.map(|a| hx(&a)),
            "heights": [height, height + 1],
            "receipts": [up_view.json(), inst_view.json()],
            "version": dd.chain.version(),
            "root": hx(&dd.chain.root()),
        }));
    } else {
        out!("{}", up_view.human(0));
        out!("{}", inst_view.human(0));
        outln!("code hash: {}", hx(&code_hash));
        if let Some(a) = address {
            outln!("address:   {}", hx(&a));
        }
        outln!(
            "root:      {} (version {})",
            hx(&dd.chain.root()),
            dd.chain.version()
        );
    }
    if inst.is_success() {
        Ok(())
    } else {
        Err(tx_failure(&inst))
    }
}

fn emit_receipts(ctx: &Ctx, views: &[ReceiptView], dd: &DataDir, extra: Option<Value>) {
    if ctx.json {
        let mut v = json!({
            "receipts": views.iter().map(ReceiptView::json).collect::<Vec<_>>(),
            "version": dd.chain.version(),
            "root": hx(&dd.chain.root()),
        });
        if let (Some(Value::Object(extra)), Value::Object(map)) = (extra, &mut v) {
            map.extend(extra);
        }
        print_json(&v);
    } else {
        for r in views {
            out!("{}", r.human(0));
        }
        outln!(
            "root: {} (version {})",
            hx(&dd.chain.root()),
            dd.chain.version()
        );
    }
}

fn call(ctx: &Ctx, dd: &mut DataDir, c: &CallArgs, commit: bool) -> Result<(), Failure> {
    let contract = dd.resolve_contract(&c.address)?;
    let sender = ctx.sender()?;
    // With the contract's metadata, plain words typed by the method's signature
    // (`deposit 1 @bob 15000`); a call with any `TYPE:VALUE` word keeps the explicit syntax.
    let meta = method_meta(dd, &contract, &c.method)?;
    // `addr:NAME` (and, typed by metadata, a bare NAME) names a contract deployed here.
    let resolve = |name: &str| dd.resolve_contract(name).ok();
    let args = call_args(meta.as_ref(), &c.method, &c.args, &resolve)?;
    let path = dd.path.clone();
    let kit = |e| kit_failure(e, &path);
    check_method(dd, &contract, &c.method)?;
    let out = if commit {
        let o = dd
            .chain
            .call(sender, contract, &c.method, args)
            .map_err(kit)?;
        dd.chain.advance(1);
        o
    } else {
        dd.chain
            .simulate(sender, contract, &c.method, args)
            .map_err(kit)?
    };
    let view = ReceiptView::new(&out, c.decode.as_deref());
    let mut extra = json!({ "committed": commit });
    let decoded_line = add_typed_result(&mut extra, meta.as_ref(), c, &out);
    emit_receipts(ctx, &[view], dd, Some(extra));
    if let (false, Some(line)) = (ctx.json, decoded_line) {
        outln!("{line}");
    }
    if out.is_success() {
        Ok(())
    } else {
        Err(tx_failure(&out))
    }
}

/// A call's arguments: typed by the method's signature in the contract's metadata (plain
/// words, `deposit 1 @bob 15000`), unless there is none or any word is an explicit
/// `TYPE:VALUE` one. `resolve` turns a contract name into its address. Shared by the local
/// and the `--node` modes.
pub fn call_args(
    meta: Option<&crate::typed::Meta>,
    method: &str,
    words: &[String],
    resolve: &dyn Fn(&str) -> Option<[u8; 32]>,
) -> Result<Vec<u8>, Failure> {
    let explicit = words.iter().any(|a| crate::typed::is_explicit(a));
    Ok(match meta {
        Some(m) if !explicit => m.encode_args(method, words, resolve)?,
        _ => encode_args(&crate::typed::resolve_contract_words(words, resolve))?,
    })
}

/// Adds the result (or the typed error) of a call, decoded by the contract's metadata, to
/// `extra` as `result`/`error`, and returns it as the line human output ends with. Shared by
/// the local and the `--node` modes.
pub fn add_typed_result(
    extra: &mut Value,
    meta: Option<&crate::typed::Meta>,
    c: &CallArgs,
    out: &Outcome,
) -> Option<String> {
    if let (Some(m), None) = (meta, &c.decode)
        && let Some(sig) = m.method(&c.method)
    {
        let decoded = match &out.receipt.status {
            keel_engine::Status::Success if sig.returns != crate::typed::Ty::Unit => {
                Some(("result", m.decode(&sig.returns, out.return_data())))
            }
            keel_engine::Status::Reverted(data) => sig
                .error
                .as_ref()
                .map(|e| ("error", m.decode(e, data)))
                .filter(|(_, r)| r.is_ok()),
            _ => None,
        };
        if let (Some((key, Ok(text))), Value::Object(map)) = (decoded, &mut *extra) {
            map.insert(key.to_string(), Value::String(text));
        }
    }
    ["result", "error"].into_iter().find_map(|k| {
        extra
            .get(k)
            .and_then(Value::as_str)
            .map(|v| format!("{k}: {v}"))
    })
}

/// The exported methods of `code` (empty if it does not validate).
pub fn code_methods(code: &[u8]) -> Vec<String> {
    keel_engine::check_code(code, &keel_engine::EngineConfig::default())
        .map(|i| i.methods)
        .unwrap_or_default()
}

/// `keel profile`: the call simulated with the function profiler; a flamegraph SVG, the
/// folded stacks, and the functions by their own gas.
fn profile(
    ctx: &Ctx,
    dd: &DataDir,
    c: &CallArgs,
    svg: &std::path::Path,
    folded: Option<&std::path::Path>,
    names: &[PathBuf],
) -> Result<(), Failure> {
    let contract = dd.resolve_contract(&c.address)?;
    let sender = ctx.sender()?;
    let meta = method_meta(dd, &contract, &c.method)?;
    let resolve = |name: &str| dd.resolve_contract(name).ok();
    let args = call_args(meta.as_ref(), &c.method, &c.args, &resolve)?;
    check_method(dd, &contract, &c.method)?;
    let kit = |e| kit_failure(e, &dd.path);
    let mut builds = Vec::new();
    for path in names {
        let bytes = std::fs::read(path)
            .map_err(|e| Failure::new(format!("cannot read {}: {e}", path.display())))?;
        builds.push((path.clone(), bytes));
    }
    let (plain, traced, trace) = dd
        .chain
        .simulate_profiled(sender, contract, &c.method, args)
        .map_err(kit)?;
    let functions = |a: &[u8; 32]| {
        let code = contract_code(dd, a).ok().flatten();
        let mut n = keel_testkit::names_of_code(code.as_deref());
        if let Some(code) = &code {
            for (_, build) in &builds {
                if let Ok(named) = keel_testkit::FunctionNames::matching(build, code) {
                    n = named;
                }
            }
        }
        n
    };
    let label = |a: &[u8; 32]| dd.chain.label_of(a);
    let p = keel_testkit::checked_profile(plain, traced, &trace, &label, &functions)
        .map_err(|e| Failure::new(format!("profile: {e}")))?;
    let title = format!("{}.{}", dd.chain.label_of(&contract), c.method);
    let write = |path: &std::path::Path, text: &str| {
        std::fs::write(path, text)
            .map_err(|e| Failure::new(format!("cannot write {}: {e}", path.display())))
    };
    write(svg, &p.svg(&title))?;
    if let Some(f) = folded {
        write(f, &p.folded())?;
    }
    let top = p.functions();
    if ctx.json {
        let stacks: Vec<Value> = p
            .stacks
            .iter()
            .map(|(s, g)| json!({ "stack": s, "gas": g }))
            .collect();
        outln!(
            "{}",
            json!({
                "gas_used": p.receipt.gas_used,
                "status": format!("{:?}", p.receipt.status),
                "svg": svg.display().to_string(),
                "stacks": stacks,
            })
        );
    } else {
        outln!(
            "{title}: {} gas ({:?}), profiled exactly; flamegraph: {}",
            p.receipt.gas_used,
            p.receipt.status,
            svg.display()
        );
        if let Some(f) = folded {
            outln!("folded stacks: {}", f.display());
        }
        outln!("{:>10}  {:>10}  function (by own gas)", "own", "inclusive");
        for (name, own, incl) in top.iter().take(15) {
            outln!("{own:>10}  {incl:>10}  {name}");
        }
    }
    if p.receipt.status == keel_engine::Status::Success {
        Ok(())
    } else {
        Err(Failure {
            message: format!("the profiled call did not succeed: {:?}", p.receipt.status),
            code: TX_FAILED,
        })
    }
}

/// Fails early, with the list of methods, if the contract is unknown or lacks the method.
fn check_method(dd: &DataDir, contract: &[u8; 32], method: &str) -> Result<(), Failure> {
    let Some(methods) = contract_methods(dd, contract)? else {
        return Err(Failure::new(format!(
            "no contract at {} in data dir {}",
            hx(contract),
            dd.path.display()
        )));
    };
    if methods.is_empty() || methods.iter().any(|m| m == method) {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "contract {} has no method {method:?}; its methods: {}",
            dd.chain.label_of(contract),
            methods.join(", ")
        )))
    }
}

/// The code of a deployed contract, or `None` if there is no contract there.
fn contract_code(dd: &DataDir, contract: &[u8; 32]) -> Result<Option<Vec<u8>>, Failure> {
    keel_engine::contract_code(dd.chain.store(), contract)
        .map(|c| c.map(|(_, code)| code))
        .map_err(|e| kit_failure(e.into(), &dd.path))
}

/// The metadata of a deployed contract if it describes `method` (then plain argument words are
/// typed by the method's signature).
fn method_meta(
    dd: &DataDir,
    contract: &[u8; 32],
    method: &str,
) -> Result<Option<crate::typed::Meta>, Failure> {
    Ok(contract_code(dd, contract)?
        .as_deref()
        .and_then(crate::typed::Meta::from_code)
        .filter(|m| m.method(method).is_some()))
}

/// The exported methods of a deployed contract, or `None` if there is no contract there.
fn contract_methods(dd: &DataDir, contract: &[u8; 32]) -> Result<Option<Vec<String>>, Failure> {
    Ok(contract_code(dd, contract)?.map(|code| code_methods(&code)))
}

// ------------------------------------------------------------------ run

fn run_block(ctx: &Ctx, dd: &mut DataDir, file: &Path) -> Result<(), Failure> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::new(format!("cannot read {}: {e}", file.display())))?;
    let base = file.parent().unwrap_or(Path::new("."));
    let example = |n: &str| example(n).map(<[u8]>::to_vec);
    let contract = |c: &str| dd.resolve_contract(c).map_err(|f| f.message);
    let spec = parse_block(&text, base, &example, &contract)
        .map_err(|e| Failure::new(format!("{}: {e}", file.display())))?;
    let path = dd.path.clone();
    let kit = |e| kit_failure(e, &path);
    if let Some(h) = spec.height {
        dd.chain.set_height(h);
        // `height × 1000` unless the clock is already past it (it never goes backwards).
        let t = h.saturating_mul(1000).max(dd.chain.timestamp());
        dd.chain.set_timestamp(t).map_err(kit)?;
    }
    if let Some(t) = spec.timestamp {
        dd.chain.set_timestamp(t).map_err(kit)?;
    }
    let height = dd.chain.height();
    let timestamp = dd.chain.timestamp();
    // Nonces: explicit, or the sender's next one counting earlier transactions in this block.
    let mut next: std::collections::BTreeMap<[u8; 32], u64> = Default::default();
    let mut txs = Vec::with_capacity(spec.transactions.len());
    let mut labels = Vec::with_capacity(spec.transactions.len());
    for t in &spec.transactions {
        // The nonce the engine expects next from this sender: its state nonce, plus one for
        // each earlier transaction in this block that carries the expected nonce (a wrong
        // explicit nonce makes that transaction invalid, which does not bump it).
        let expected = match next.get(&t.sender) {
            Some(n) => *n,
            None => dd.chain.nonce(t.sender).map_err(kit)?,
        };
        let nonce = t.nonce.unwrap_or(expected);
        if nonce == expected {
            next.insert(t.sender, expected.saturating_add(1));
        } else {
            next.insert(t.sender, expected);
        }
        let (action, label) = match &t.action {
            ActionSpec::Deploy(code) => {
                (Action::Deploy { code: code.clone() }, "deploy".to_string())
            }
            ActionSpec::Instantiate {
                code_hash,
                salt,
                args,
            } => (
                Action::Instantiate {
                    code_hash: *code_hash,
                    salt: salt.clone(),
                    args: args.clone(),
                },
                "instantiate".to_string(),
            ),
            ActionSpec::Call {
                contract,
                method,
                args,
            } => (
                Action::Call {
                    contract: *contract,
                    method: method.clone(),
                    args: args.clone(),
                },
                format!("{}.{method}", dd.chain.label_of(contract)),
            ),
        };
        txs.push(Transaction {
            sender: t.sender,
            nonce,
            gas_limit: t.gas_limit.unwrap_or(ctx.gas),
            action,
        });
        labels.push(label);
    }
    let spinner = ctx.spinner(&format!("executing {} transaction(s)", txs.len()));
    let receipts = dd.chain.execute_block(&txs).map_err(kit);
    spinner.finish_and_clear();
    let receipts = receipts?;
    dd.chain.advance(1);
    let views: Vec<ReceiptView> = receipts
        .into_iter()
        .zip(labels)
        .map(|(receipt, label)| ReceiptView::new(&Outcome { receipt, label }, None))
        .collect();
    let failed = views.iter().filter(|v| v.status != "success").count();
    if ctx.json {
        print_json(&json!({
            "height": height,
            "timestamp": timestamp,
            "receipts": views.iter().map(ReceiptView::json).collect::<Vec<_>>(),
            "version": dd.chain.version(),
            "root": hx(&dd.chain.root()),
        }));
    } else {
        outln!(
            "block {height} (timestamp {timestamp}): {} transaction(s), {failed} failed",
            views.len()
        );
        for (i, v) in views.iter().enumerate() {
            outln!("[{i}]");
            out!("{}", v.human(2));
        }
        outln!(
            "root: {} (version {})",
            hx(&dd.chain.root()),
            dd.chain.version()
        );
    }
    Ok(())
}

// ------------------------------------------------------------------ state

/// A key's words concatenated, each `0x<hex>` or `TYPE:VALUE` (shared with `--node`).
pub fn key_words(words: &[String]) -> Result<Vec<u8>, Failure> {
    let mut key = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let part = if w.contains(':') {
            encode_arg(w)
        } else {
            parse_hex(w)
        }
        .map_err(|e| Failure::new(format!("key word {} ({w:?}): {e}", i + 1)))?;
        key.extend_from_slice(&part);
    }
    Ok(key)
}

fn key_bytes(k: &KeyArgs, dd: Option<&DataDir>) -> Result<Vec<u8>, Failure> {
    let key = key_words(&k.key)?;
    match &k.contract {
        Some(c) => {
            let a = match dd {
                Some(dd) => dd.resolve_contract(c)?,
                None => parse_address(c).map_err(|e| Failure::new(format!("--contract: {e}")))?,
            };
            Ok(storage_key(&a, &key))
        }
        None => Ok(key),
    }
}

fn decode_opt(types: Option<&str>, value: Option<&[u8]>) -> Option<String> {
    match (types, value) {
        (Some(t), Some(v)) => Some(
            crate::args::decode_value(t, v).unwrap_or_else(|e| format!("(does not decode: {e})")),
        ),
        _ => None,
    }
}

fn state(ctx: &Ctx, dd: &DataDir, cmd: StateCommand) -> Result<(), Failure> {
    let kit = |e| kit_failure(e, &dd.path);
    match cmd {
        StateCommand::Root => {
            let (v, r) = (dd.chain.version(), dd.chain.root());
            if ctx.json {
                print_json(
                    &json!({ "version": v, "root": hx(&r), "next_height": dd.chain.height() }),
                );
            } else {
                outln!("version: {v}");
                outln!("root:    {}", hx(&r));
            }
        }
        StateCommand::Check => {
            let store = dd.chain.store();
            let pb = ctx.progress(store.check_estimate().max(1));
            pb.set_message("checking the tree, then every value");
            let report = store.check(&mut |done, total| {
                pb.set_length(total.max(1));
                pb.set_position(done);
            });
            pb.finish_and_clear();
            let report = report.map_err(|e| crate::datadir::state_failure(e, &dd.path))?;
            if ctx.json {
                print_json(&json!({
                    "ok": true,
                    "version": report.version,
                    "root": hx(&report.root),
                    "groups": report.groups,
                    "entries": report.entries,
                }));
            } else {
                outln!(
                    "ok: version {} (root {}): {} tree nodes and {} values agree with the root",
                    report.version,
                    hx(&report.root),
                    report.groups,
                    report.entries
                );
            }
        }
        StateCommand::Get(k) => {
            let key = key_bytes(&k, Some(dd))?;
            let value = dd.chain.get_raw(&key).map_err(kit)?;
            let decoded = decode_opt(k.decode.as_deref(), value.as_deref());
            if ctx.json {
                print_json(&json!({
                    "key": hx(&key),
                    "value": value.as_deref().map(hx),
                    "decoded": decoded,
                    "version": dd.chain.version(),
                }));
            } else {
                outln!("key:   {}", hx(&key));
                match &value {
                    Some(v) => outln!("value: {}", hx(v)),
                    None => outln!("value: (absent)"),
                }
                if let Some(d) = decoded {
                    outln!("decoded: {d}");
                }
            }
        }
        StateCommand::Prove(k) => {
            let key = key_bytes(&k, Some(dd))?;
            let value = dd.chain.get_raw(&key).map_err(kit)?;
            let (proof, root, version) = dd.chain.prove_raw(&key).map_err(kit)?;
            let verified = proof.verify(&root, &key, value.as_deref()).is_ok();
            let proof_hex = hx(&proof.encode());
            if ctx.json {
                print_json(&json!({
                    "key": hx(&key),
                    "value": value.as_deref().map(hx),
                    "version": version,
                    "root": hx(&root),
                    "proof": proof_hex,
                    "depth": proof.siblings.len(),
                    "verified": verified,
                }));
            } else {
                outln!("key:     {}", hx(&key));
                match &value {
                    Some(v) => outln!("value:   {}", hx(v)),
                    None => outln!("value:   (absent)"),
                }
                outln!("version: {version}");
                outln!("root:    {}", hx(&root));
                outln!("depth:   {}", proof.siblings.len());
                outln!("proof:   {proof_hex}");
                outln!(
                    "verified against the root: {}",
                    if verified { "yes" } else { "NO" }
                );
            }
            if !verified {
                return Err(Failure::new(
                    "the store produced a proof that does not verify",
                ));
            }
        }
        StateCommand::Verify { .. } => {}
    }
    Ok(())
}

fn verify(
    ctx: &Ctx,
    k: &KeyArgs,
    root: &str,
    proof: &str,
    value: Option<&str>,
    _data_dir: &Path,
) -> Result<(), Failure> {
    let key = key_bytes(k, None)?;
    let root_b = parse_hex(root).map_err(|e| Failure::new(format!("--root: {e}")))?;
    let root: [u8; 32] = root_b
        .as_slice()
        .try_into()
        .map_err(|_| Failure::new(format!("--root: expected 32 bytes, got {}", root_b.len())))?;
    let proof_b = parse_hex(proof).map_err(|e| Failure::new(format!("--proof: {e}")))?;
    let proof = Proof::decode(&mut proof_b.as_slice())
        .map_err(|e| Failure::new(format!("--proof: not a Keel proof: {e}")))?;
    let value = value
        .map(|v| parse_hex(v).map_err(|e| Failure::new(format!("--value: {e}"))))
        .transpose()?;
    let result = proof.verify(&root, &key, value.as_deref());
    let claim = match &value {
        Some(v) => format!("{} = {}", hx(&key), hx(v)),
        None => format!("{} is absent", hx(&key)),
    };
    if ctx.json {
        print_json(&json!({
            "key": hx(&key),
            "value": value.as_deref().map(hx),
            "root": hx(&root),
            "valid": result.is_ok(),
            "reason": result.as_ref().err().map(|e| e.to_string()),
        }));
    } else {
        match &result {
            Ok(()) => outln!("valid: {claim} under root {}", hx(&root)),
            Err(e) => outln!("INVALID: {claim}: {e}"),
        }
    }
    result.map_err(|e| Failure::new(format!("proof does not verify: {e}")))
}

// ------------------------------------------------------------------ demo

fn demo(ctx: &Ctx, dd: &mut DataDir, blocks: u64, txs: u64, accounts: u64) -> Result<(), Failure> {
    if accounts == 0 {
        return Err(Failure::new("--accounts must be at least 1"));
    }
    let path = dd.path.clone();
    let kit = |e| kit_failure(e, &path);
    let alice = keel_chain::account("alice");
    let token = example("token")
        .ok_or_else(|| Failure::new("the token example is not built into this binary"))?;

    if !ctx.json {
        outln!(
            "Keel demo: data dir {}, {blocks} blocks × {txs} transfers between {accounts} accounts",
            dd.path.display()
        );
        outln!("build: {}; store: {}", build_info(), store_info(dd));
    }
    let t0 = Instant::now();
    dd.chain.name_next_blocks(Some("token"));
    let deployed = deploy_token(dd, alice, token).map_err(kit);
    dd.chain.name_next_blocks(None);
    let address = deployed?;
    dd.chain.advance(2);
    if !ctx.json {
        outln!(
            "deployed token at {} in {:.1} ms",
            hx(&address),
            t0.elapsed().as_secs_f64() * 1e3
        );
    }

    // Accounts: alice (the token's admin) mints to each of them in one block, then they pay
    // each other.
    let names: Vec<[u8; 32]> = (0..accounts)
        .map(|i| keel_chain::account(&format!("demo-{i}")))
        .collect();
    let mut nonces = std::collections::BTreeMap::new();
    for a in names.iter().chain(std::iter::once(&alice)) {
        nonces.insert(*a, dd.chain.nonce(*a).map_err(kit)?);
    }
    let mut mint_nonce = nonces.get(&alice).copied().unwrap_or(0);
    let mints: Vec<Transaction> = names
        .iter()
        .map(|to| {
            let t = Transaction {
                sender: alice,
                nonce: mint_nonce,
                gas_limit: ctx.gas,
                action: Action::Call {
                    contract: address,
                    method: "mint".into(),
                    args: (*to, 1_000_000_000u128).encode(),
                },
            };
            mint_nonce += 1;
            t
        })
        .collect();
    let receipts = dd.chain.execute_block(&mints).map_err(kit)?;
    dd.chain.advance(1);
    if let Some(bad) = receipts.iter().find(|r| !r.is_success()) {
        return Err(Failure::new(format!(
            "demo setup: minting failed: {:?}",
            bad.status
        )));
    }
    if !ctx.json {
        outln!(
            "minted to {accounts} accounts in one block, root {}",
            hx(&dd.chain.root())
        );
    }
    let pb = ctx.progress(blocks.saturating_mul(txs));
    pb.set_message("transfers");
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut step = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut per_block = Vec::new();
    let (mut total_txs, mut total_gas, mut failed) = (0u64, 0u128, 0u64);
    let mut exec_time = 0f64;
    for _ in 0..blocks {
        let mut block = Vec::with_capacity(usize::try_from(txs).unwrap_or(0));
        for _ in 0..txs {
            let n = names.len() as u64;
            let from = names[usize::try_from(step() % n).unwrap_or(0)];
            let to = names[usize::try_from(step() % n).unwrap_or(0)];
            let amount = u128::from(step() % 100 + 1);
            let nonce = nonces.entry(from).or_insert(0);
            block.push(Transaction {
                sender: from,
                nonce: *nonce,
                gas_limit: ctx.gas,
                action: Action::Call {
                    contract: address,
                    method: "transfer".into(),
                    args: (to, amount).encode(),
                },
            });
            *nonce += 1;
        }
        if crate::output::stdout_closed() {
            // Nobody reads the output any more: stop (main exits with the broken-pipe status).
            break;
        }
        let height = dd.chain.height();
        let t = Instant::now();
        let receipts = dd.chain.execute_block(&block).map_err(kit)?;
        let dt = t.elapsed().as_secs_f64();
        exec_time += dt;
        dd.chain.advance(1);
        let gas: u128 = receipts.iter().map(|r| u128::from(r.gas_used)).sum();
        let bad = receipts
            .iter()
            .filter(|r| !matches!(r.status, keel_engine::Status::Success))
            .count() as u64;
        total_txs += receipts.len() as u64;
        total_gas += gas;
        failed += bad;
        let root = hx(&dd.chain.root());
        pb.inc(txs);
        let line = format!(
            "block {height:>5}: {:>6} txs, {bad} failed, gas {gas:>12}, {:>8.0} tx/s, root {root}",
            receipts.len(),
            receipts.len() as f64 / dt.max(1e-9),
        );
        if ctx.json {
            per_block.push(json!({
                "height": height, "txs": receipts.len(), "failed": bad,
                "gas": gas.to_string(), "seconds": dt, "root": root,
            }));
        } else {
            pb.suspend(|| outln!("{line}"));
        }
    }
    pb.finish_and_clear();
    let tps = total_txs as f64 / exec_time.max(1e-9);
    let root = hx(&dd.chain.root());
    if ctx.json {
        print_json(&json!({
            "token": hx(&address),
            "blocks": per_block,
            "total_txs": total_txs,
            "failed": failed,
            "total_gas": total_gas.to_string(),
            "seconds": exec_time,
            "tx_per_s": tps,
            "build": build_info(),
            "store": store_info(dd),
            "version": dd.chain.version(),
            "root": root,
        }));
    } else {
        outln!(
            "total: {total_txs} transfers ({failed} failed) in {exec_time:.2} s: {tps:.0} tx/s, gas {total_gas}"
        );
        outln!("final root: {root} (version {})", dd.chain.version());
    }
    if failed > 0 {
        return Err(Failure::new(format!(
            "{failed} demo transfers did not succeed"
        )));
    }
    Ok(())
}

/// Which build this binary is: cargo profile, the workspace crates' opt-level, and whether
/// debug assertions are on in Keel's crates (so a reader knows what the demo's tx/s means). wasmi
/// is built without its debug assertions in every profile (the root Cargo.toml).
pub(crate) fn build_info() -> String {
    let profile = match env!("KEEL_BUILD_PROFILE") {
        "debug" => "dev",
        other => other,
    };
    format!(
        "{profile} profile, opt-level {}, debug assertions {} (wasmi: off)",
        env!("KEEL_BUILD_OPT_LEVEL"),
        if cfg!(debug_assertions) { "on" } else { "off" }
    )
}

fn store_info(dd: &DataDir) -> String {
    format!(
        "RocksDB Store, commit per block, fsync {}",
        if dd.chain.store().sync() { "on" } else { "off" }
    )
}

/// Uploads and instantiates the token (two blocks at the same height, salt: alice's nonce).
fn deploy_token(
    dd: &mut DataDir,
    alice: [u8; 32],
    token: &[u8],
) -> Result<[u8; 32], keel_chain::Error> {
    let up = dd.chain.execute(
        alice,
        Action::Deploy {
            code: token.to_vec(),
        },
    )?;
    if !up.is_success() {
        return Err(keel_chain::Error::Engine(format!(
            "demo setup: upload failed: {}",
            up.status_text()
        )));
    }
    let code_hash: [u8; 32] = up.decode()?;
    let salt = dd.chain.nonce(alice)?.to_le_bytes().to_vec();
    let inst = dd.chain.execute(
        alice,
        Action::Instantiate {
            code_hash,
            salt,
            args: ().encode(),
        },
    )?;
    if !inst.is_success() {
        return Err(keel_chain::Error::Engine(format!(
            "demo setup: instantiate failed: {}",
            inst.status_text()
        )));
    }
    inst.decode()
}

/// `keel bench`: the quick benchmark suite of keel-benches, with a progress bar. It works in
/// its own temporary directories and never touches the data dir.
fn bench(ctx: &Ctx) -> Result<(), Failure> {
    let steps = keel_benches::quick::steps();
    let pb = ctx.progress(steps.len() as u64);
    // The suite's fixtures treat a failure of their own setup (a temp dir, a store) as a bug
    // and panic; report that as an error, not a backtrace.
    let results = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        keel_benches::quick::run(&mut |done, _total, step| {
            pb.set_position(done as u64);
            pb.set_message(step.to_string());
        })
    }))
    .map_err(|panic| {
        let why = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("unknown failure");
        Failure::new(format!("benchmark setup failed: {why}"))
    })?;
    pb.finish_and_clear();
    if ctx.json {
        let rows: Vec<Value> = results
            .iter()
            .map(|m| {
                json!({
                    "name": m.name,
                    "ns_per_op": m.per_op.as_nanos() as u64,
                    "ops_per_sec": m.ops_per_sec,
                    "peer": m.peer.as_ref().map(|(name, d)| json!({
                        "name": name,
                        "ns_per_op": d.as_nanos() as u64,
                    })),
                    "ratio": m.ratio(),
                })
            })
            .collect();
        print_json(&Value::Array(rows));
    } else {
        if cfg!(debug_assertions) {
            outln!("note: a debug build of keel; build with --release for representative figures");
        }
        for m in &results {
            outln!("{m}");
        }
    }
    Ok(())
}

/// The example contract built into the binary under `name` (keel-contracts).
pub fn example(name: &str) -> Option<&'static [u8]> {
    keel_contracts::ALL
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| *c)
}

/// The names of the example contracts built into the binary.
pub fn examples() -> Vec<&'static str> {
    keel_contracts::ALL.iter().map(|(n, _)| *n).collect()
}
