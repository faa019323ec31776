//! Adversarial contract-level fixtures. Each method tries something a hostile contract would;
//! the tests in `contracts/wasm/tests/` assert the exact receipt the engine gives it:
//! - `snoop`/`scribble`/`dump`: read or write another contract's storage by naming its keys
//!   (with or without its address or the state prefix in front): only this contract's own
//!   namespace is ever reached;
//! - `on_token_received`: the callback of the token's `transfer_and_call`, which tries to
//!   re-enter the token (to move the tokens again) and records what happened;
//! - `spam`: emits many events; `big_return`: returns a huge value;
//! - `call_raw`: calls any method with any bytes (garbage arguments, missing methods);
//! - `stack_bomb`: overflows the 32 KiB shadow stack.
#![cfg_attr(target_arch = "wasm32", no_std)]

use keel_sdk::alloc::{string::String, vec, vec::Vec};
use keel_sdk::storage::{KeyBound, encode_range_query, split_entry};
use keel_sdk::{Address, CallError, Item, caller, contract, env};
use token_api::{TokenClient, TokenError};

static REENTRY: Item<Result<(), CallError<TokenError>>> = Item::new(b"\xffreentry");

/// The key forms a contract might try in order to reach `victim`'s key `key`.
fn disguises(victim: &Address, key: &[u8]) -> [Vec<u8>; 3] {
    let mut with_addr = victim.0.to_vec();
    with_addr.extend_from_slice(key);
    let mut with_prefix = vec![0x04];
    with_prefix.extend_from_slice(&with_addr);
    [key.to_vec(), with_addr, with_prefix]
}

fn read(key: &[u8]) -> Option<Vec<u8>> {
    let len = env::storage_read(key, &mut [])?;
    let mut v = vec![0u8; len];
    env::storage_read(key, &mut v);
    Some(v)
}

/// Recurses `depth` times with a 1 KiB frame on the shadow stack each time.
fn burn_stack(depth: u32) -> u32 {
    let mut frame = [0u8; 1024];
    frame[(depth as usize) % 1024] = depth as u8;
    let frame = core::hint::black_box(frame);
    let below = if depth == 0 { 0 } else { burn_stack(depth - 1) };
    below.wrapping_add(u32::from(frame[(depth as usize) % 1024]))
}

/// The adversary contract.
pub struct Adversary;

#[contract(reentrant)]
impl Adversary {
    /// Reads `victim`'s key `key` in three disguises: as is, behind the victim's address, and
    /// behind the state prefix and address. Returns what each read found.
    pub fn snoop(victim: Address, key: Vec<u8>) -> Vec<Option<Vec<u8>>> {
        disguises(&victim, &key).iter().map(|k| read(k)).collect()
    }

    /// Writes `value` at the three disguises of `victim`'s key `key`.
    pub fn scribble(victim: Address, key: Vec<u8>, value: Vec<u8>) {
        for k in disguises(&victim, &key) {
            env::storage_write(&k, &value);
        }
    }

    /// Every entry this contract can see, walking `storage_next` with no bounds at all.
    pub fn dump() -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        loop {
            let mut q = Vec::new();
            let lower = match out.last() {
                Some((k, _)) => KeyBound::Excluded(k),
                None => KeyBound::Unbounded,
            };
            encode_range_query(lower, KeyBound::Unbounded, &mut q);
            let Some(len) = env::storage_next_raw(&q, &mut []) else {
                break;
            };
            let mut buf = vec![0u8; len];
            env::storage_next_raw(&q, &mut buf);
            let Some((k, v)) = split_entry(&buf) else {
                env::revert_str("bad entry")
            };
            out.push((k.to_vec(), v.to_vec()));
        }
        out
    }

    /// The token's `transfer_and_call` callback: tries to re-enter the token (the caller) by
    /// transferring the received tokens on to `from` again, and records the outcome.
    pub fn on_token_received(from: Address, amount: u128) {
        let token = TokenClient::new(caller());
        REENTRY.set(&token.transfer(from, amount));
    }

    /// What the last re-entry attempt got.
    pub fn last_reentry() -> Option<Result<(), CallError<TokenError>>> {
        REENTRY.get()
    }

    /// Emits `n` events of `size` data bytes each.
    pub fn spam(n: u32, size: u32) {
        let data = vec![0x5au8; size as usize];
        let topic = [[0x5au8; 32]];
        for _ in 0..n {
            env::emit_raw(&topic, &data);
        }
    }

    /// Returns `len` bytes of return data (set directly, not SCALE-wrapped).
    pub fn big_return(len: u32) {
        env::set_return(&vec![0xabu8; len as usize]);
    }

    /// Calls `method` of `target` with raw `input`; returns the status code and the callee's
    /// return data or revert message.
    pub fn call_raw(target: Address, method: String, input: Vec<u8>) -> (i32, Vec<u8>) {
        let status = env::call_raw(&target, &method, &input, keel_sdk::ALL_GAS);
        let mut data = vec![0u8; env::call_result(&mut [])];
        env::call_result(&mut data);
        let code = match status {
            keel_sdk::CallStatus::Success => 0,
            keel_sdk::CallStatus::Reverted => 1,
            keel_sdk::CallStatus::Trapped => 2,
            keel_sdk::CallStatus::Refused => 3,
            keel_sdk::CallStatus::Unknown(c) => c,
        };
        (code, data)
    }

    /// Uses about `depth` KiB of the 32 KiB shadow stack. Past the stack's end the stack
    /// pointer leaves memory (the stack sits first, below the static data), so an overflow is
    /// an out-of-bounds trap, never a silent overwrite of static data.
    pub fn stack_bomb(depth: u32) -> u32 {
        burn_stack(depth)
    }

    /// What the host says about this call: (block height, block timestamp, gas left, caller,
    /// own address), after logging `note` with `debug_log`.
    pub fn env_info(note: String) -> (u64, u64, u64, Address, Address) {
        env::debug_log(&note);
        (
            env::block_height(),
            env::block_timestamp(),
            env::gas_left(),
            caller(),
            env::self_address(),
        )
    }

    /// Panics with a message (to show a panic becomes a revert that keeps it).
    pub fn boom(n: u32) -> u32 {
        if n > 0 {
            panic!("boom {n}");
        }
        n
    }
}
