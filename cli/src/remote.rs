//! `--node URL`: `deploy`, `call`, `query` and `state get/prove` against a running keel-node
//! over its JSON API, signing transactions with `--key FILE` (a key file as `keel node
//! testnet` writes: `{"secret": HEX}`). Contracts are named by address here (names are local
//! to a data dir).

use std::time::{Duration, Instant};

use keel_chain::tx::{SignedTx, TxPayload};
use keel_engine::Action;
use keel_node::http;
use parity_scale_codec::Encode;
use serde_json::{Value, json};

use crate::args::{encode_args, parse_address};
use crate::commands::read_code_pub;
use crate::{CallArgs, Cli, Command, Failure, KeyArgs, StateCommand, outln};

struct Remote {
    url: String,
    key: ed25519_dalek::SigningKey,
    gas: u64,
    json: bool,
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
    fn chain_id(&self) -> Result<String, Failure> {
        Ok(req(&self.url, "GET", "/status", None)?["chain_id"]
            .as_str()
            .unwrap_or("")
            .to_string())
    }

    fn send(&self, action: Action) -> Result<Value, Failure> {
        let me = hex::encode(self.key.verifying_key().to_bytes());
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
            &self.key,
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

fn key_hex(k: &KeyArgs) -> Result<String, Failure> {
    let user = encode_args(&k.key).map_err(Failure::new)?;
    Ok(match &k.contract {
        Some(c) => {
            let a = parse_address(c).map_err(Failure::new)?;
            hex::encode(keel_chain::storage_key(&a, &user))
        }
        None => hex::encode(user),
    })
}

/// Runs `cli.command` against the node at `url`.
pub fn run(cli: Cli, url: &str) -> Result<(), Failure> {
    let key = match &cli.key {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Failure::new(format!("cannot read {}: {e}", path.display())))?;
            let v: Value = serde_json::from_str(&text)
                .map_err(|e| Failure::new(format!("{} is not a key file: {e}", path.display())))?;
            let secret = hex::decode(v["secret"].as_str().unwrap_or(""))
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
                .ok_or_else(|| {
                    Failure::new(format!("{}: no 32-byte \"secret\"", path.display()))
                })?;
            ed25519_dalek::SigningKey::from_bytes(&secret)
        }
        None => ed25519_dalek::SigningKey::from_bytes(&[0; 32]),
    };
    let r = Remote {
        url: url.to_string(),
        key,
        gas: cli.gas,
        json: cli.json,
    };
    match cli.command {
        Command::Deploy {
            file, args, salt, ..
        } => {
            if cli.key.is_none() {
                return Err(Failure::new("--node needs --key FILE to sign transactions"));
            }
            let (code, _) = read_code_pub(&file)?;
            let code_hash = keel_engine::code_hash(&code);
            let up = r.send(Action::Deploy { code })?;
            receipt_ok(&up)?;
            let inst = r.send(Action::Instantiate {
                code_hash,
                salt: salt.map(|s| s.into_bytes()).unwrap_or_default(),
                args: encode_args(&args).map_err(Failure::new)?,
            })?;
            receipt_ok(&inst)?;
            r.print(&json!({
                "code_hash": hex::encode(code_hash),
                "address": inst["receipt"]["return_data"],
                "height": inst["height"],
            }));
            Ok(())
        }
        Command::Call(CallArgs {
            address,
            method,
            args,
            ..
        }) => {
            if cli.key.is_none() {
                return Err(Failure::new("--node needs --key FILE to sign transactions"));
            }
            let contract = parse_address(&address).map_err(Failure::new)?;
            let v = r.send(Action::Call {
                contract,
                method,
                args: encode_args(&args).map_err(Failure::new)?,
            })?;
            r.print(&v);
            receipt_ok(&v)
        }
        Command::Query(CallArgs {
            address,
            method,
            args,
            ..
        }) => {
            let contract = parse_address(&address).map_err(Failure::new)?;
            let v = req(
                url,
                "POST",
                "/query",
                Some(json!({
                    "caller": hex::encode(r.key.verifying_key().to_bytes()),
                    "contract": hex::encode(contract),
                    "method": method,
                    "args": hex::encode(encode_args(&args).map_err(Failure::new)?),
                    "gas_limit": r.gas,
                })),
            )?;
            r.print(&v);
            receipt_ok(&v)
        }
        Command::State {
            command: StateCommand::Get(k) | StateCommand::Prove(k),
        } => {
            let v = req(url, "GET", &format!("/state/{}", key_hex(&k)?), None)?;
            r.print(&v);
            Ok(())
        }
        _ => Err(Failure::new(
            "with --node, only deploy, call, query and state get/prove are available",
        )),
    }
}
