//! The client API: JSON over HTTP (axum).
//!
//! | route | |
//! |---|---|
//! | `POST /tx` `{"tx": HEX}` | submit a SCALE `SignedTx`; `{"hash"}` or 400 `{"error", "kind"}` |
//! | `GET /tx/{hash}` | `{"status": "pending"｜"committed"｜"unknown", "height", "index", "receipt"}` |
//! | `POST /query` `{"caller"?, "contract", "method", "args"?, "gas_limit"?}` | a read-only call's receipt |
//! | `GET /state/{key}?height=H` | a raw state value with its Merkle proof (SCALE hex) and root |
//! | `GET /block/{height}` | a committed block, its hash, state and receipts roots |
//! | `GET /nonce/{address}` | an account's next nonce |
//! | `GET /contract/{name or address}` | `{"address", "name", "code_hash", "code"}` of a contract (names: the genesis contracts') |
//! | `GET /status` | chain id, height, root, peers, mempool size |
//!
//! A transaction admitted from a client is forwarded to every other validator's API (marked
//! with `x-keel-forwarded`, so it is not forwarded again): whoever proposes next has it.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use keel_chain::tx::TxError;
use keel_engine::{Receipt, Status};
use parity_scale_codec::Encode;
use serde_json::{Value, json};

use crate::app::{Shared, lock};
use crate::state::NodeState;

/// The API's state.
#[derive(Clone)]
pub struct Api {
    /// The node.
    pub shared: Shared,
    /// Other validators' API addresses.
    pub forward_to: Vec<String>,
}

type Reply = (StatusCode, Json<Value>);

fn bad(kind: &str, error: impl ToString) -> Reply {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": error.to_string(), "kind": kind})),
    )
}

fn internal(error: impl ToString) -> Reply {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({"error": error.to_string(), "kind": "Internal"})),
    )
}

fn hex32(s: &str) -> Result<[u8; 32], Reply> {
    let b = hex::decode(s.trim_start_matches("0x")).map_err(|e| bad("BadRequest", e))?;
    <[u8; 32]>::try_from(b.as_slice()).map_err(|_| bad("BadRequest", "expected 32 bytes of hex"))
}

/// The kind name of a transaction rejection (stable, for clients).
pub fn tx_error_kind(e: &TxError) -> &'static str {
    match e {
        TxError::Oversized { .. } => "Oversized",
        TxError::Undecodable => "Undecodable",
        TxError::WrongChainId { .. } => "WrongChainId",
        TxError::BadSignature => "BadSignature",
        TxError::Replayed { .. } => "Replayed",
        TxError::NonceTooFarAhead { .. } => "NonceTooFarAhead",
        TxError::Duplicate => "Duplicate",
        TxError::GasLimitTooHigh { .. } => "GasLimitTooHigh",
        TxError::MempoolFull => "MempoolFull",
        TxError::State(_) => "State",
    }
}

/// A receipt as JSON.
pub fn receipt_json(r: &Receipt) -> Value {
    let (status, message) = match &r.status {
        Status::Success => ("success".to_string(), None),
        Status::Reverted(m) => ("reverted".to_string(), Some(keel_chain::revert_text(m))),
        Status::OutOfGas => ("out_of_gas".to_string(), None),
        Status::Trapped(k) => (format!("trapped: {k:?}"), None),
        Status::Invalid(why) => (format!("invalid: {why:?}"), None),
    };
    json!({
        "status": status,
        "message": message,
        "gas_used": r.gas_used,
        "return_data": hex::encode(&r.return_data),
        "events": r.events.iter().map(|e| json!({
            "contract": hex::encode(e.contract),
            "topics": e.topics.iter().map(hex::encode).collect::<Vec<_>>(),
            "data": hex::encode(&e.data),
        })).collect::<Vec<_>>(),
        "scale": hex::encode(r.encode()),
    })
}

async fn submit(State(api): State<Api>, headers: HeaderMap, Json(body): Json<Value>) -> Reply {
    let Some(tx_hex) = body.get("tx").and_then(Value::as_str) else {
        return bad("BadRequest", "expected {\"tx\": HEX}");
    };
    let Ok(bytes) = hex::decode(tx_hex.trim_start_matches("0x")) else {
        return bad("Undecodable", "the tx is not hex");
    };
    let admitted = {
        let mut s = lock(&api.shared);
        let st = &mut *s;
        let store = &st.store;
        st.mempool.add(&bytes, |a| {
            keel_engine::nonce(store, a).map_err(|e| e.to_string())
        })
    };
    match admitted {
        Ok(v) => {
            if !headers.contains_key("x-keel-forwarded") {
                let peers = api.forward_to.clone();
                let body = json!({"tx": tx_hex}).to_string();
                tokio::task::spawn_blocking(move || {
                    for p in peers {
                        let _ = crate::http::request(
                            &p,
                            "POST",
                            "/tx",
                            Some(&body),
                            &[("x-keel-forwarded", "1")],
                            Duration::from_secs(5),
                        );
                    }
                });
            }
            (StatusCode::OK, Json(json!({"hash": hex::encode(v.hash)})))
        }
        Err(e) => bad(tx_error_kind(&e), e),
    }
}

async fn tx_status(State(api): State<Api>, Path(hash): Path<String>) -> Reply {
    let hash = match hex32(&hash) {
        Ok(h) => h,
        Err(r) => return r,
    };
    let s = lock(&api.shared);
    match s.tx_location(&hash) {
        Err(e) => internal(e),
        Ok(Some(loc)) => {
            let receipt = match s.receipts(loc.height) {
                Ok(r) => r.and_then(|r| r.get(loc.index as usize).map(receipt_json)),
                Err(e) => return internal(e),
            };
            (
                StatusCode::OK,
                Json(
                    json!({"status": "committed", "height": loc.height, "index": loc.index, "receipt": receipt}),
                ),
            )
        }
        Ok(None) if s.mempool.contains(&hash) => {
            (StatusCode::OK, Json(json!({"status": "pending"})))
        }
        Ok(None) => (StatusCode::NOT_FOUND, Json(json!({"status": "unknown"}))),
    }
}

async fn query(State(api): State<Api>, Json(body): Json<Value>) -> Reply {
    let field = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("");
    let contract = match hex32(field("contract")) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let caller = match body.get("caller").and_then(Value::as_str) {
        Some(c) => match hex32(c) {
            Ok(c) => c,
            Err(r) => return r,
        },
        None => [0; 32],
    };
    let Ok(args) = hex::decode(field("args").trim_start_matches("0x")) else {
        return bad("BadRequest", "args is not hex");
    };
    let gas = body
        .get("gas_limit")
        .and_then(Value::as_u64)
        .unwrap_or(keel_chain::DEFAULT_GAS_LIMIT);
    let method = field("method").to_string();
    let s = lock(&api.shared);
    let ctx = keel_engine::BlockContext {
        height: s.height() + 1,
        timestamp: s.last_timestamp().unwrap_or(0),
    };
    match s
        .engine
        .query(&s.store, &ctx, caller, contract, &method, args, gas)
    {
        Ok(r) => (
            StatusCode::OK,
            Json(json!({"receipt": receipt_json(&r), "height": s.height()})),
        ),
        Err(e) => internal(e),
    }
}

async fn state_value(
    State(api): State<Api>,
    Path(key): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Reply {
    let Ok(key) = hex::decode(key.trim_start_matches("0x")) else {
        return bad("BadRequest", "key is not hex");
    };
    let s = lock(&api.shared);
    let height = match q.get("height").map(|h| h.parse::<u64>()) {
        None => s.height(),
        Some(Ok(h)) => h,
        Some(Err(_)) => return bad("BadRequest", "height is not a number"),
    };
    let version = NodeState::version_of(height);
    let value = match s.store.get_at(&key, version) {
        Ok(v) => v,
        Err(e) => return bad("VersionUnavailable", e),
    };
    let root = match s.store.root_at(version) {
        Ok(r) => r,
        Err(e) => return bad("VersionUnavailable", e),
    };
    let proof = match keel_state::StateStore::prove(&s.store, &key, version) {
        Ok(p) => p,
        Err(e) => return internal(e),
    };
    (
        StatusCode::OK,
        Json(json!({
            "height": height,
            "key": hex::encode(&key),
            "value": value.map(hex::encode),
            "root": hex::encode(root),
            "proof": hex::encode(proof.encode()),
        })),
    )
}

async fn block(State(api): State<Api>, Path(height): Path<u64>) -> Reply {
    let s = lock(&api.shared);
    let b = match s.block(height) {
        Ok(Some(b)) => b,
        Ok(None) => {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({"error": "no such block"})),
            );
        }
        Err(e) => return internal(e),
    };
    let receipts = s.receipts(height).ok().flatten().unwrap_or_default();
    let root = s
        .store
        .root_at(NodeState::version_of(height))
        .ok()
        .map(hex::encode);
    (
        StatusCode::OK,
        Json(json!({
            "height": b.height,
            "hash": hex::encode(b.hash().0),
            "timestamp": b.timestamp,
            "prev_root": hex::encode(b.prev_root),
            "proposer": hex::encode(b.proposer),
            "txs": b.txs.iter().map(|t| hex::encode(keel_chain::tx::tx_hash(t))).collect::<Vec<_>>(),
            "state_root": root,
            "receipts_root": hex::encode(keel_engine::receipts_root(&receipts)),
            "receipts": receipts.iter().map(receipt_json).collect::<Vec<_>>(),
            "certificate": s.certificate(height).ok().flatten().map(hex::encode),
        })),
    )
}

async fn nonce(State(api): State<Api>, Path(addr): Path<String>) -> Reply {
    let a = match hex32(&addr) {
        Ok(a) => a,
        Err(r) => return r,
    };
    match lock(&api.shared).nonce(&a) {
        Ok(n) => (StatusCode::OK, Json(json!({"nonce": n}))),
        Err(e) => internal(e),
    }
}

async fn contract(State(api): State<Api>, Path(which): Path<String>) -> Reply {
    let s = lock(&api.shared);
    let address = match s.address_of(&which) {
        Err(e) => return internal(e),
        Ok(Some(a)) => a,
        Ok(None) => match hex32(&which) {
            Ok(a) => a,
            Err(_) => {
                return (
                    StatusCode::NOT_FOUND,
                    Json(json!({
                        "error": format!("no contract named {which:?} on this chain"),
                        "kind": "UnknownContract",
                    })),
                );
            }
        },
    };
    let code = match keel_engine::contract_code(&s.store, &address) {
        Err(e) => return internal(e),
        Ok(code) => code,
    };
    let Some((code_hash, code)) = code else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({
                "error": format!("no contract at {}", hex::encode(address)),
                "kind": "UnknownContract",
            })),
        );
    };
    let name = s.name_of(&address).ok().flatten();
    (
        StatusCode::OK,
        Json(json!({
            "address": hex::encode(address),
            "name": name,
            "code_hash": hex::encode(code_hash),
            "code": hex::encode(code),
        })),
    )
}

async fn status(State(api): State<Api>) -> Reply {
    let s = lock(&api.shared);
    (
        StatusCode::OK,
        Json(json!({
            "chain_id": s.genesis.chain_id,
            "validator": hex::encode(s.me.0),
            "height": s.height(),
            "root": hex::encode(keel_state::StateStore::root(&s.store)),
            "peers": s.peers,
            "mempool": s.mempool.len(),
            "halted": s.halted,
        })),
    )
}

/// The router.
pub fn router(api: Api) -> Router {
    Router::new()
        .route("/tx", post(submit))
        .route("/tx/{hash}", get(tx_status))
        .route("/query", post(query))
        .route("/state/{key}", get(state_value))
        .route("/block/{height}", get(block))
        .route("/nonce/{address}", get(nonce))
        .route("/contract/{which}", get(contract))
        .route("/status", get(status))
        .with_state(api)
}
