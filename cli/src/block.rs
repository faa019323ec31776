//! The JSON block format read by `keel run`.
//!
//! ```json
//! {
//!   "height": 7,
//!   "timestamp": 7000,
//!   "transactions": [
//!     { "sender": "@alice", "action": { "deploy": { "file": "token.wasm" } } },
//!     { "sender": "@alice", "action": { "instantiate": {
//!         "code_hash": "0x…64 hex…", "salt": "0x01", "args": ["u128:1000000"] } } },
//!     { "sender": "@alice", "gas_limit": 1000000, "action": { "call": {
//!         "contract": "0x…64 hex…", "method": "transfer", "args": ["addr:@bob", "u128:5"] } } }
//!   ]
//! }
//! ```
//!
//! - `height`, `timestamp` (optional): default to the data dir's next height, and
//!   `height × 1000` ms.
//! - `sender`: `0x<64 hex>` or `@name`.
//! - `nonce` (optional): defaults to the nonce the engine expects next from the sender (see
//!   cli/README.md).
//! - `gas_limit` (optional): defaults to the CLI's default (`--gas`).
//! - `deploy`: exactly one of `file` (a path, relative to the block file), `hex` (the wasm
//!   bytes) or `example` (a contract built into the CLI, e.g. `"token"`).
//! - `call`: `contract` is an address or the name of a contract deployed in the data dir.
//! - `instantiate`, `call`: `args` is a list in the argument syntax of `keel call`;
//!   `args_hex` gives the SCALE bytes directly instead.

use std::path::Path;

use serde::Deserialize;

use crate::args::{encode_args, parse_address, parse_hex};

/// A block as written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockFile {
    /// Block height.
    pub height: Option<u64>,
    /// Block timestamp (ms).
    pub timestamp: Option<u64>,
    /// The transactions, in order.
    pub transactions: Vec<TxFile>,
}

/// A transaction as written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TxFile {
    /// `@name` or hex.
    pub sender: String,
    /// Explicit nonce.
    pub nonce: Option<u64>,
    /// Gas limit.
    pub gas_limit: Option<u64>,
    /// What to do.
    pub action: ActionFile,
}

/// An action as written in the file.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionFile {
    /// Upload code.
    Deploy(CodeFile),
    /// Instantiate uploaded code.
    Instantiate {
        /// Hex code hash.
        code_hash: String,
        /// Hex salt.
        #[serde(default)]
        salt: Option<String>,
        /// Argument-syntax args.
        #[serde(default)]
        args: Vec<String>,
        /// SCALE args as hex.
        #[serde(default)]
        args_hex: Option<String>,
    },
    /// Call a method.
    Call {
        /// Contract address (hex).
        contract: String,
        /// Method name.
        method: String,
        /// Argument-syntax args.
        #[serde(default)]
        args: Vec<String>,
        /// SCALE args as hex.
        #[serde(default)]
        args_hex: Option<String>,
    },
}

/// Where deploy code comes from.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeFile {
    /// A path relative to the block file.
    pub file: Option<String>,
    /// Hex wasm.
    pub hex: Option<String>,
    /// A built-in example contract name.
    pub example: Option<String>,
}

/// A resolved action, ready to become an engine transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionSpec {
    /// Upload code.
    Deploy(Vec<u8>),
    /// Instantiate.
    Instantiate {
        /// Code hash.
        code_hash: [u8; 32],
        /// Salt.
        salt: Vec<u8>,
        /// SCALE args.
        args: Vec<u8>,
    },
    /// Call.
    Call {
        /// Contract.
        contract: [u8; 32],
        /// Method.
        method: String,
        /// SCALE args.
        args: Vec<u8>,
    },
}

/// A resolved transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxSpec {
    /// Sender.
    pub sender: [u8; 32],
    /// Explicit nonce.
    pub nonce: Option<u64>,
    /// Gas limit.
    pub gas_limit: Option<u64>,
    /// Action.
    pub action: ActionSpec,
}

/// A resolved block.
#[derive(Debug, Clone)]
pub struct BlockSpec {
    /// Height.
    pub height: Option<u64>,
    /// Timestamp.
    pub timestamp: Option<u64>,
    /// Transactions.
    pub transactions: Vec<TxSpec>,
}

fn args_of(args: &[String], args_hex: &Option<String>) -> Result<Vec<u8>, String> {
    match args_hex {
        Some(h) if args.is_empty() => parse_hex(h).map_err(|e| format!("args_hex: {e}")),
        Some(_) => Err("give either args or args_hex, not both".into()),
        None => encode_args(args),
    }
}

fn hash32(s: &str, what: &str) -> Result<[u8; 32], String> {
    let b = parse_hex(s).map_err(|e| format!("{what}: {e}"))?;
    <[u8; 32]>::try_from(b.as_slice())
        .map_err(|_| format!("{what}: expected 32 bytes, got {}", b.len()))
}

/// Parses and resolves a block file's text. `base` is the directory relative file paths are
/// resolved against; `example` looks up built-in contracts by name.
pub fn parse_block(
    text: &str,
    base: &Path,
    example: &dyn Fn(&str) -> Option<Vec<u8>>,
    contract: &dyn Fn(&str) -> Result<[u8; 32], String>,
) -> Result<BlockSpec, String> {
    let file: BlockFile =
        serde_json::from_str(text).map_err(|e| format!("invalid block file: {e}"))?;
    let mut transactions = Vec::with_capacity(file.transactions.len());
    for (i, tx) in file.transactions.into_iter().enumerate() {
        let ctx = |e: String| format!("transaction {i}: {e}");
        let sender = parse_address(&tx.sender).map_err(ctx)?;
        let action = match tx.action {
            ActionFile::Deploy(code) => {
                let bytes = match (code.file, code.hex, code.example) {
                    (Some(f), None, None) => {
                        let p = base.join(&f);
                        std::fs::read(&p)
                            .map_err(|e| ctx(format!("cannot read {}: {e}", p.display())))?
                    }
                    (None, Some(h), None) => parse_hex(&h).map_err(|e| ctx(format!("hex: {e}")))?,
                    (None, None, Some(name)) => example(&name)
                        .ok_or_else(|| ctx(format!("no example contract named {name:?}")))?,
                    _ => {
                        return Err(ctx(
                            "deploy needs exactly one of \"file\", \"hex\", \"example\"".into(),
                        ));
                    }
                };
                ActionSpec::Deploy(bytes)
            }
            ActionFile::Instantiate {
                code_hash,
                salt,
                args,
                args_hex,
            } => ActionSpec::Instantiate {
                code_hash: hash32(&code_hash, "code_hash").map_err(ctx)?,
                salt: match salt {
                    Some(s) => parse_hex(&s).map_err(|e| ctx(format!("salt: {e}")))?,
                    None => Vec::new(),
                },
                args: args_of(&args, &args_hex).map_err(ctx)?,
            },
            ActionFile::Call {
                contract: contract_text,
                method,
                args,
                args_hex,
            } => ActionSpec::Call {
                contract: contract(&contract_text).map_err(ctx)?,
                method,
                args: args_of(&args, &args_hex).map_err(ctx)?,
            },
        };
        transactions.push(TxSpec {
            sender,
            nonce: tx.nonce,
            gas_limit: tx.gas_limit,
            action,
        });
    }
    Ok(BlockSpec {
        height: file.height,
        timestamp: file.timestamp,
        transactions,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use parity_scale_codec::Encode;

    fn no_examples(_: &str) -> Option<Vec<u8>> {
        None
    }

    fn addr(s: &str) -> Result<[u8; 32], String> {
        parse_address(s)
    }

    #[test]
    fn parses_every_action() {
        let c = "ab".repeat(32);
        let text = format!(
            r#"{{"height": 3, "transactions": [
              {{"sender": "@alice", "action": {{"deploy": {{"hex": "0x0061736d"}}}}}},
              {{"sender": "@alice", "nonce": 1, "action": {{"instantiate": {{"code_hash": "0x{c}", "args": ["u64:1"]}}}}}},
              {{"sender": "0x{c}", "gas_limit": 5, "action": {{"call": {{"contract": "0x{c}", "method": "m", "args_hex": "0x01"}}}}}}
            ]}}"#
        );
        let b = parse_block(&text, Path::new("."), &no_examples, &addr).unwrap();
        assert_eq!(b.height, Some(3));
        assert_eq!(b.timestamp, None);
        assert_eq!(b.transactions.len(), 3);
        assert_eq!(
            b.transactions[0].action,
            ActionSpec::Deploy(vec![0, 0x61, 0x73, 0x6d])
        );
        assert_eq!(
            b.transactions[1].action,
            ActionSpec::Instantiate {
                code_hash: [0xab; 32],
                salt: vec![],
                args: 1u64.encode()
            }
        );
        assert_eq!(b.transactions[1].nonce, Some(1));
        assert_eq!(b.transactions[2].gas_limit, Some(5));
        assert_eq!(b.transactions[2].sender, [0xab; 32]);
    }

    #[test]
    fn errors_name_the_transaction() {
        let text = r#"{"transactions": [
            {"sender": "@a", "action": {"call": {"contract": "@x", "method": "m"}}},
            {"sender": "@a", "action": {"call": {"contract": "@x", "method": "m", "args": ["u8:300"]}}}
        ]}"#;
        let e = parse_block(text, Path::new("."), &no_examples, &addr).unwrap_err();
        assert!(e.starts_with("transaction 1:"), "{e}");
        let e =
            parse_block("{\"transactions\": 5}", Path::new("."), &no_examples, &addr).unwrap_err();
        assert!(e.contains("invalid block file"), "{e}");
        let e = parse_block(
            r#"{"transactions": [{"sender": "@a", "action": {"deploy": {}}}]}"#,
            Path::new("."),
            &no_examples,
            &addr,
        )
        .unwrap_err();
        assert!(e.contains("exactly one"), "{e}");
        let e = parse_block(
            r#"{"transactions": [], "bogus": 1}"#,
            Path::new("."),
            &no_examples,
            &addr,
        )
        .unwrap_err();
        assert!(e.contains("unknown field"), "{e}");
    }
}
