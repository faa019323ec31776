//! `--node URL`: `deploy`, `call`, `query` and `state get/prove` against a running keel-node
//! over its JSON API, signing transactions with `--key FILE` (a key file as `keel node
//! testnet` writes: `{"secret": HEX}`).
//!
//! Contracts are named as in the local mode: `NAME`, `addr:NAME` in arguments and `--contract
//! NAME` resolve through the node (`GET /contract/{name}`: the chain's genesis contracts), or
//! are given as `0x<64 hex>`. The node also serves each contract's code, so arguments,
//! results and typed errors go through the same metadata (`keel:meta`) code as the local mode
//! ([`crate::commands::call_args`], [`crate::commands::add_typed_result`]), and receipts print
//! the same way (the node returns each receipt's SCALE bytes).

use std::time::{Duration, Instant};

use keel_chain::Outcome;
use keel_chain::tx::{SignedTx, TxPayload};
use keel_engine::{Action, Receipt};
use keel_node::http;
use parity_scale_codec::{DecodeAll, Encode};
use serde_json::{Value, json};

use crate::args::{encode_args, parse_address};
use crate::commands::{
    add_typed_result, call_args, code_methods, key_words, read_code_pub, sender_account, tx_failure,
};
use crate::output::{ReceiptView, print_json};
use crate::typed::Meta;
use crate::{CallArgs, Cli, Command, Failure, KeyArgs, StateCommand, out, outln};

struct Remote {
    url: String,
    key: Option<ed25519_dalek::SigningKey>,
    sender: String,
    gas: u64,
    json: bool,
}

/// A contract as the node describes it.
struct Contract {
    address: [u8; 32],
    name: Option<String>,
    code: Vec<u8>,
}

fn req(url: &str, method: &str, path: &str, body: Option<Value>) -> Result<Value, Failure> {
    let b = body.map(|b| b.to_string());
    let r = http::request(
        url,
        method,
        path,
        b.as_deref(),
        &[],
        Duration::from_secs(30),
    )
    .map_err(Failure::new)?;
    let v = r.json().map_err(Failure::new)?;
    if r.status >= 400 && r.status != 404 {
        let msg = v["error"].as_str().unwrap_or("request failed");
        return Err(Failure::new(format!("node refused: {msg}")));
    }
    Ok(v)
}

impl Remote {
    fn key(&self) -> Result<&ed25519_dalek::SigningKey, Failure> {
        self.key
            .as_ref()
            .ok_or_else(|| Failure::new("--node needs --key FILE to sign transactions"))
    }

    fn chain_id(&self) -> Result<String, Failure> {
        Ok(req(&self.url, "GET", "/status", None)?["chain_id"]
            .as_str()
            .unwrap_or("")
            .to_string())
    }

    /// The contract named `which` (a genesis name, or `0x<64 hex>`), or `None` if the node
    /// knows no such contract.
    fn contract(&self, which: &str) -> Result<Option<Contract>, Failure> {
        let which = which.trim();
        let path = match parse_address(which) {
            Ok(a) if which.starts_with("0x") => hex::encode(a),
            _ => which.to_string(),
        };
        if path.is_empty()
            || !path
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
        {
            return Ok(None);
        }
        let v = req(&self.url, "GET", &format!("/contract/{path}"), None)?;
        let Some(address) = v["address"].as_str() else {
            return Ok(None);
        };
        let address = parse_address(&format!("0x{address}")).map_err(Failure::new)?;
        let code = hex::decode(v["code"].as_str().unwrap_or(""))
            .map_err(|_| Failure::new("the node sent code that is not hex"))?;
        Ok(Some(Contract {
            address,
            name: v["name"].as_str().map(str::to_string),
            code,
        }))
    }

    /// Resolves `which` or fails naming the node.
    fn resolve(&self, which: &str) -> Result<Contract, Failure> {
        self.contract(which)?.ok_or_else(|| {
            Failure::new(format!(
                "contract {which:?}: the node at {} knows no contract by that name or address",
                self.url
            ))
        })
    }

    fn send(&self, action: Action) -> Result<Value, Failure> {
        let key = self.key()?;
        let me = hex::encode(key.verifying_key().to_bytes());
        let nonce = req(&self.url, "GET", &format!("/nonce/{me}"), None)?["nonce"]
            .as_u64()
            .unwrap_or(0);
        let tx = SignedTx::sign(
            TxPayload {
                chain_id: self.chain_id()?,
                nonce,
                gas_limit: self.gas,
                action,
            },
            key,
        );
        let v = req(
            &self.url,
            "POST",
            "/tx",
            Some(json!({"tx": hex::encode(tx.encode())})),
        )?;
        let hash = v["hash"].as_str().unwrap_or("").to_string();
        let t = Instant::now();
        loop {
            let s = req(&self.url, "GET", &format!("/tx/{hash}"), None)?;
            if s["status"] == "committed" {
                return Ok(s);
            }
            if t.elapsed() > Duration::from_secs(60) {
                return Err(Failure::new(format!(
                    "transaction {hash} not committed after 60 s"
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn print(&self, v: &Value) {
        if self.json {
            outln!("{v}");
        } else {
            outln!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
        }
    }

    /// The account queries run as: the key's, else `--sender`'s.
    fn caller(&self) -> Result<[u8; 32], Failure> {
        match &self.key {
            Some(k) => Ok(k.verifying_key().to_bytes()),
            None => sender_account(&self.sender),
        }
    }

    fn call(&self, c: &CallArgs, commit: bool) -> Result<(), Failure> {
        let target = self.resolve(&c.address)?;
        let label = target
            .name
            .clone()
            .unwrap_or_else(|| keel_chain::short_hex(&target.address));
        let methods = code_methods(&target.code);
        if !methods.is_empty() && !methods.contains(&c.method) {
            return Err(Failure::new(format!(
                "contract {label} has no method {:?}; its methods: {}",
                c.method,
                methods.join(", ")
            )));
        }
        let meta = Meta::from_code(&target.code).filter(|m| m.method(&c.method).is_some());
        let resolve = |name: &str| self.contract(name).ok().flatten().map(|c| c.address);
        let args = call_args(meta.as_ref(), &c.method, &c.args, &resolve)?;
        let v = if commit {
            self.send(Action::Call {
                contract: target.address,
                method: c.method.clone(),
                args,
            })?
        } else {
            req(
                &self.url,
                "POST",
                "/query",
                Some(json!({
                    "caller": hex::encode(self.caller()?),
                    "contract": hex::encode(target.address),
                    "method": c.method,
                    "args": hex::encode(args),
                    "gas_limit": self.gas,
                })),
            )?
        };
        let receipt = hex::decode(v["receipt"]["scale"].as_str().unwrap_or(""))
            .ok()
            .and_then(|b| Receipt::decode_all(&mut b.as_slice()).ok())
            .ok_or_else(|| Failure::new(format!("the node sent no receipt: {v}")))?;
        let out = Outcome {
            receipt,
            label: format!("{label}.{}", c.method),
        };
        let view = ReceiptView::new(&out, c.decode.as_deref());
        let mut extra = json!({ "committed": commit, "height": v["height"], "node": self.url });
        let line = add_typed_result(&mut extra, meta.as_ref(), c, &out);
        if self.json {
            let mut all = json!({ "receipts": [view.json()] });
            if let (Value::Object(all), Value::Object(extra)) = (&mut all, extra) {
                all.extend(extra);
            }
            print_json(&all);
        } else {
            out!("{}", view.human(0));
            outln!(
                "height: {} ({}, node {})",
                v["height"],
                if commit { "committed" } else { "read-only" },
                self.url
            );
            if let Some(line) = line {
                outln!("{line}");
            }
        }
        if out.is_success() {
            Ok(())
        } else {
            Err(tx_failure(&out))
        }
    }

    fn key_hex(&self, k: &KeyArgs) -> Result<String, Failure> {
        let user = key_words(&k.key)?;
        Ok(match &k.contract {
            Some(c) => hex::encode(keel_chain::storage_key(&self.resolve(c)?.address, &user)),
            None => hex::encode(user),
        })
    }
}

fn load_key(path: &std::path::Path) -> Result<ed25519_dalek::SigningKey, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::new(format!("cannot read {}: {e}", path.display())))?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| Failure::new(format!("{} is not a key file: {e}", path.display())))?;
    let secret = hex::decode(v["secret"].as_str().unwrap_or(""))
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .ok_or_else(|| Failure::new(format!("{}: no 32-byte \"secret\"", path.display())))?;
    Ok(ed25519_dalek::SigningKey::from_bytes(&secret))
}

/// Runs `cli.command` against the node at `url`.
pub fn run(cli: Cli, url: &str) -> Result<(), Failure> {
    let key = cli.key.as_deref().map(load_key).transpose()?;
    let r = Remote {
        url: url.to_string(),
        key,
        sender: cli.sender.clone(),
        gas: cli.gas,
        json: cli.json,
    };
    match cli.command {
        Command::Deploy {
            file, args, salt, ..
        } => {
            r.key()?;
            let (code, _) = read_code_pub(&file)?;
            let code_hash = keel_engine::code_hash(&code);
            let args = encode_args(&args).map_err(Failure::new)?;
            let up = r.send(Action::Deploy { code })?;
            receipt_ok(&up)?;
            let inst = r.send(Action::Instantiate {
                code_hash,
                salt: salt.map(|s| s.into_bytes()).unwrap_or_default(),
                args,
            })?;
            receipt_ok(&inst)?;
            r.print(&json!({
                "code_hash": hex::encode(code_hash),
                "address": inst["receipt"]["return_data"],
                "height": inst["height"],
            }));
            Ok(())
        }
        Command::Call(c) => r.call(&c, true),
        Command::Query(c) => r.call(&c, false),
        Command::State {
            command: StateCommand::Get(k) | StateCommand::Prove(k),
        } => {
            let mut v = req(url, "GET", &format!("/state/{}", r.key_hex(&k)?), None)?;
            if let (Some(types), Some(value)) = (&k.decode, v["value"].as_str()) {
                let text = hex::decode(value)
                    .map_err(|_| "the node sent a value that is not hex".to_string())
                    .and_then(|b| crate::args::decode_value(types, &b));
                v["decoded"] =
                    Value::String(text.unwrap_or_else(|e| format!("(does not decode: {e})")));
            }
            r.print(&v);
            Ok(())
        }
        _ => Err(Failure::new(
            "with --node, only deploy, call, query and state get/prove are available",
        )),
    }
}

fn receipt_ok(v: &Value) -> Result<(), Failure> {
    let r = &v["receipt"];
    if r["status"] == "success" {
        Ok(())
    } else {
        Err(Failure {
            message: format!(
                "transaction did not succeed: {} {}",
                r["status"].as_str().unwrap_or("?"),
                r["message"].as_str().unwrap_or("")
            ),
            code: 3,
        })
    }
}
