//! The host ABI: import module `keel` (see ARCHITECTURE.md, "Host ABI").
//!
//! Every function validates its pointers and lengths against the caller's memory, then charges
//! gas, then does the work. Failures are wasmi host errors carrying an [`Abort`], turned into
//! receipt statuses by the executor; nothing here can panic.

use std::fmt;
use std::ops::Bound;

use parity_scale_codec::Encode;
use sha2::Digest;
use wasmi::{Caller, Extern, Func, Store};

use crate::exec::{Frame, run_call, with_ctx};
use crate::types::{CallStatus, Event, TrapKind};

/// A wasm value type in the host ABI table ([`HOST_ABI`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbiType {
    /// `i32`.
    I32,
    /// `i64`.
    I64,
}

use AbiType::{I32, I64};

/// The host ABI, import module `keel`: (name, params, results), exactly the table in
/// ARCHITECTURE.md. The single definition: validation checks imports against it, and tools
/// that generate modules (the adversarial fixtures) read it from here.
pub const HOST_ABI: &[(&str, &[AbiType], &[AbiType])] = &[
    ("input", &[I32, I32], &[I32]),
    ("set_return", &[I32, I32], &[]),
    ("revert", &[I32, I32], &[]),
    ("storage_get", &[I32, I32, I32, I32], &[I64]),
    ("storage_set", &[I32, I32, I32, I32], &[]),
    ("storage_remove", &[I32, I32], &[]),
    ("storage_has", &[I32, I32], &[I32]),
    ("storage_next", &[I32, I32, I32, I32], &[I64]),
    ("sha256", &[I32, I32, I32], &[]),
    ("blake3", &[I32, I32, I32], &[]),
    ("caller", &[I32], &[]),
    ("self_address", &[I32], &[]),
    ("block_height", &[], &[I64]),
    ("block_timestamp", &[], &[I64]),
    ("gas_left", &[], &[I64]),
    ("emit_event", &[I32, I32, I32, I32], &[]),
    ("call", &[I32, I32, I32, I32, I32, I64], &[I32]),
    ("call_result", &[I32, I32], &[I32]),
    ("debug_log", &[I32, I32], &[]),
];

/// Why a frame stopped early. Carried through wasmi as a host error.
#[derive(Debug)]
pub(crate) enum Abort {
    /// Out of gas: ends the whole transaction.
    OutOfGas,
    /// `revert` was called with this message.
    Revert(Vec<u8>),
    /// A host function trapped.
    Trap(TrapKind),
    /// The node's store failed: becomes an `EngineError`.
    Store(keel_state::StateError),
    /// An engine bug (e.g. re-borrowed state); becomes an `EngineError`.
    Internal(&'static str),
}

impl fmt::Display for Abort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

impl wasmi::errors::HostError for Abort {}

type HostResult<T> = Result<T, wasmi::Error>;
type C<'a> = Caller<'a, Frame>;

fn abort(a: Abort) -> wasmi::Error {
    wasmi::Error::host(a)
}

fn trap(kind: TrapKind) -> wasmi::Error {
    abort(Abort::Trap(kind))
}

/// Charges `amount` gas from the frame's fuel; out of gas ends the transaction.
pub(crate) fn charge(caller: &mut C<'_>, amount: u64) -> HostResult<()> {
    let left = caller.get_fuel()?;
    match left.checked_sub(amount) {
        Some(rest) => caller.set_fuel(rest),
        None => {
            caller.set_fuel(0)?;
            Err(abort(Abort::OutOfGas))
        }
    }
}

/// The byte range `[ptr, ptr + len)` of the caller's memory, or a `MemoryOutOfBounds` trap.
fn range(caller: &C<'_>, ptr: i32, len: u64) -> HostResult<std::ops::Range<usize>> {
    let memory = caller
        .data()
        .memory
        .ok_or_else(|| trap(TrapKind::AbiViolation))?;
    let size = memory.data_size(caller) as u64;
    let start = u64::from(ptr as u32);
    match start.checked_add(len) {
        Some(end) if end <= size => Ok(start as usize..end as usize),
        _ => Err(trap(TrapKind::MemoryOutOfBounds)),
    }
}

fn read(caller: &C<'_>, r: std::ops::Range<usize>) -> HostResult<Vec<u8>> {
    let memory = caller
        .data()
        .memory
        .ok_or_else(|| trap(TrapKind::AbiViolation))?;
    memory
        .data(caller)
        .get(r)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| trap(TrapKind::MemoryOutOfBounds))
}

fn write(caller: &mut C<'_>, r: std::ops::Range<usize>, bytes: &[u8]) -> HostResult<()> {
    let memory = caller
        .data()
        .memory
        .ok_or_else(|| trap(TrapKind::AbiViolation))?;
    match memory.data_mut(caller).get_mut(r) {
        Some(dst) if dst.len() == bytes.len() => {
            dst.copy_from_slice(bytes);
            Ok(())
        }
        _ => Err(trap(TrapKind::MemoryOutOfBounds)),
    }
}

fn len_of(len: i32) -> u64 {
    u64::from(len as u32)
}

fn within(len: u64, max: u32) -> HostResult<()> {
    if len > u64::from(max) {
        return Err(trap(TrapKind::LimitExceeded));
    }
    Ok(())
}

fn gas<'c>(caller: &'c C<'_>) -> &'c crate::gas::GasSchedule {
    &caller.data().config.gas
}

fn per(bytes: u64, price: u64) -> u64 {
    bytes.saturating_mul(price)
}

/// Adds prices without overflow (a schedule with huge prices must not panic or wrap).
fn sum(parts: &[u64]) -> u64 {
    parts.iter().fold(0u64, |a, b| a.saturating_add(*b))
}

/// The namespaced state key of a contract storage key: `0x04 ‖ address ‖ key`.
pub(crate) fn storage_key(address: &[u8; 32], key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(33 + key.len());
    k.push(0x04);
    k.extend_from_slice(address);
    k.extend_from_slice(key);
    k
}

/// Charges a storage read: the host base, the read base and the key bytes.
fn charge_storage_read(caller: &mut C<'_>, key_bytes: u64) -> HostResult<()> {
    let g = gas(caller);
    charge(
        caller,
        sum(&[
            g.host_base,
            g.storage_read_base,
            per(key_bytes, g.storage_key_byte),
        ]),
    )
}

/// Copies `min(len, out_cap)` bytes of a host-held buffer (`which`) into guest memory at
/// `out_ptr`, charging for the bytes copied; returns the buffer's full length.
fn copy_out(
    caller: &mut C<'_>,
    which: for<'f> fn(&'f Frame) -> &'f [u8],
    out_ptr: i32,
    out_cap: i32,
) -> HostResult<i32> {
    let total = which(caller.data()).len() as u64;
    let n = total.min(len_of(out_cap));
    let r = range(caller, out_ptr, n)?;
    let g = gas(caller);
    charge(caller, sum(&[g.host_base, per(n, g.copy_byte)]))?;
    // Straight from the frame data into guest memory, without a temporary copy.
    let memory = caller
        .data()
        .memory
        .ok_or_else(|| trap(TrapKind::AbiViolation))?;
    let (mem, frame) = memory.data_and_store_mut(&mut *caller);
    let bytes = which(frame).get(..n as usize).unwrap_or(&[]);
    match mem.get_mut(r) {
        Some(dst) if dst.len() == bytes.len() => dst.copy_from_slice(bytes),
        _ => return Err(trap(TrapKind::MemoryOutOfBounds)),
    }
    Ok(total as i32)
}

fn host_input(mut caller: C<'_>, out_ptr: i32, out_cap: i32) -> HostResult<i32> {
    copy_out(&mut caller, |f| &f.input, out_ptr, out_cap)
}

fn host_set_return(mut caller: C<'_>, ptr: i32, len: i32) -> HostResult<()> {
    let len = len_of(len);
    within(len, caller.data().config.limits.max_return_len)?;
    let r = range(&caller, ptr, len)?;
    let cost = {
        let g = gas(&caller);
        sum(&[g.host_base, per(len, g.copy_byte)])
    };
    charge(&mut caller, cost)?;
    let bytes = read(&caller, r)?;
    caller.data_mut().return_data = bytes;
    Ok(())
}

fn host_revert(mut caller: C<'_>, ptr: i32, len: i32) -> HostResult<()> {
    let len = len_of(len);
    within(len, caller.data().config.limits.max_return_len)?;
    let r = range(&caller, ptr, len)?;
    let cost = {
        let g = gas(&caller);
        sum(&[g.host_base, per(len, g.copy_byte)])
    };
    charge(&mut caller, cost)?;
    let bytes = read(&caller, r)?;
    Err(abort(Abort::Revert(bytes)))
}

/// Reads and validates a contract storage key, returning the namespaced state key.
fn key_arg(caller: &C<'_>, ptr: i32, len: i32) -> HostResult<(Vec<u8>, u64)> {
    let len = len_of(len);
    within(len, caller.data().config.limits.max_key_len)?;
    let r = range(caller, ptr, len)?;
    let memory = caller
        .data()
        .memory
        .ok_or_else(|| trap(TrapKind::AbiViolation))?;
    let key = memory
        .data(caller)
        .get(r)
        .ok_or_else(|| trap(TrapKind::MemoryOutOfBounds))?;
    // Namespaced straight from guest memory: one allocation.
    Ok((storage_key(&caller.data().address, key), len))
}

/// Runs `f` on the block's environment (the frame's context, [`with_ctx`]).
fn env_mut<R>(f: impl FnOnce(&mut crate::exec::TxEnv<'_>) -> R) -> HostResult<R> {
    with_ctx(|ctx| {
        let mut env = ctx
            .env
            .try_borrow_mut()
            .map_err(|_| abort(Abort::Internal("state borrowed")))?;
        Ok(f(&mut env))
    })
    .map_err(abort)?
}

fn state_get(key: &[u8]) -> HostResult<Option<Vec<u8>>> {
    use keel_state::StateRead;
    with_ctx(|ctx| {
        let env = ctx
            .env
            .try_borrow()
            .map_err(|_| abort(Abort::Internal("state borrowed")))?;
        env.overlay.get(key).map_err(|e| abort(Abort::Store(e)))
    })
    .map_err(abort)?
}

fn host_storage_get(
    mut caller: C<'_>,
    key_ptr: i32,
    key_len: i32,
    out_ptr: i32,
    out_cap: i32,
) -> HostResult<i64> {
    let (key, klen) = key_arg(&caller, key_ptr, key_len)?;
    charge_storage_read(&mut caller, klen)?;
    let Some(value) = state_get(&key)? else {
        return Ok(-1);
    };
    let n = (value.len() as u64).min(len_of(out_cap));
    let r = range(&caller, out_ptr, n)?;
    let cost = {
        let g = gas(&caller);
        per(value.len() as u64, g.storage_read_byte)
    };
    charge(&mut caller, cost)?;
    write(&mut caller, r, value.get(..n as usize).unwrap_or(&[]))?;
    Ok(value.len() as i64)
}

fn host_storage_set(
    mut caller: C<'_>,
    key_ptr: i32,
    key_len: i32,
    val_ptr: i32,
    val_len: i32,
) -> HostResult<()> {
    let (key, klen) = key_arg(&caller, key_ptr, key_len)?;
    let vlen = len_of(val_len);
    within(vlen, caller.data().config.limits.max_value_len)?;
    let r = range(&caller, val_ptr, vlen)?;
    let cost = {
        let g = gas(&caller);
        sum(&[
            g.host_base,
            g.storage_write_base,
            per(klen, g.storage_key_byte),
            per(vlen, g.storage_write_byte),
        ])
    };
    charge(&mut caller, cost)?;
    let value = read(&caller, r)?;
    env_mut(|env| env.overlay.put(key, value))
}

fn host_storage_remove(mut caller: C<'_>, key_ptr: i32, key_len: i32) -> HostResult<()> {
    let (key, klen) = key_arg(&caller, key_ptr, key_len)?;
    let cost = {
        let g = gas(&caller);
        sum(&[
            g.host_base,
            g.storage_write_base,
            per(klen, g.storage_key_byte),
        ])
    };
    charge(&mut caller, cost)?;
    env_mut(|env| env.overlay.delete(key))
}

fn host_storage_has(mut caller: C<'_>, key_ptr: i32, key_len: i32) -> HostResult<i32> {
    let (key, klen) = key_arg(&caller, key_ptr, key_len)?;
    charge_storage_read(&mut caller, klen)?;
    // The store reads the value to answer: its bytes are paid as `storage_get` pays them.
    let Some(value) = state_get(&key)? else {
        return Ok(0);
    };
    let cost = {
        let g = gas(&caller);
        per(value.len() as u64, g.storage_read_byte)
    };
    charge(&mut caller, cost)?;
    Ok(1)
}

/// Decodes one SCALE `Bound<Vec<u8>>` from `input`.
fn decode_bound(input: &mut &[u8]) -> Option<Bound<Vec<u8>>> {
    use parity_scale_codec::Decode;
    let (&tag, rest) = input.split_first()?;
    *input = rest;
    match tag {
        0 => Some(Bound::Included(Vec::<u8>::decode(input).ok()?)),
        1 => Some(Bound::Excluded(Vec::<u8>::decode(input).ok()?)),
        2 => Some(Bound::Unbounded),
        _ => None,
    }
}

fn host_storage_next(
    mut caller: C<'_>,
    query_ptr: i32,
    query_len: i32,
    out_ptr: i32,
    out_cap: i32,
) -> HostResult<i64> {
    use keel_state::Skipped;
    let qlen = len_of(query_len);
    let max_key = caller.data().config.limits.max_key_len;
    within(qlen, max_key.saturating_mul(2).saturating_add(16))?;
    let r = range(&caller, query_ptr, qlen)?;
    charge_storage_read(&mut caller, qlen)?;
    let cost = {
        let g = gas(&caller);
        g.storage_next_base
    };
    charge(&mut caller, cost)?;
    let query = read(&caller, r)?;
    let mut q = query.as_slice();
    let (Some(lower), Some(upper)) = (decode_bound(&mut q), decode_bound(&mut q)) else {
        return Err(trap(TrapKind::InvalidHostArgument));
    };
    if !q.is_empty() {
        return Err(trap(TrapKind::InvalidHostArgument));
    }
    let address = caller.data().address;
    let prefix = storage_key(&address, &[]);
    let ns = |b: Bound<Vec<u8>>| b.map(|k| storage_key(&address, &k));
    let lower = match lower {
        Bound::Unbounded => Bound::Included(prefix.clone()),
        b => ns(b),
    };
    let upper = match upper {
        Bound::Unbounded => match prefix_successor(&prefix) {
            Some(s) => Bound::Excluded(s),
            None => Bound::Unbounded,
        },
        b => ns(b),
    };
    // Every entry passed over is paid: a deletion made earlier in the block costs
    // `storage_skip`, a committed entry it hides a whole read on top. The search may spend at
    // most the fuel left, so its work is bounded by what the frame can pay.
    let g = gas(&caller);
    let budget = caller.get_fuel()?;
    let seek = env_mut(|env| {
        env.overlay
            .next_entry_metered(
                lower.as_ref().map(Vec::as_slice),
                upper.as_ref().map(Vec::as_slice),
                budget,
                |skipped| match skipped {
                    Skipped::Tombstone => g.storage_skip,
                    Skipped::Hidden { key_len, value_len } => sum(&[
                        g.storage_skip,
                        g.storage_read_base,
                        per((key_len + value_len) as u64, g.storage_read_byte),
                    ]),
                },
            )
            .map_err(|e| abort(Abort::Store(e)))
    })??;
    if seek.exhausted {
        caller.set_fuel(0)?;
        return Err(abort(Abort::OutOfGas));
    }
    charge(&mut caller, seek.spent)?;
    let Some((key, value)) = seek.entry else {
        return Ok(-1);
    };
    let Some(user_key) = key.strip_prefix(prefix.as_slice()) else {
        // The range stays inside the namespace; anything else is a store bug.
        return Err(abort(Abort::Internal("storage_next left the namespace")));
    };
    let encoded = (user_key, value.as_slice()).encode();
    let n = (encoded.len() as u64).min(len_of(out_cap));
    let r = range(&caller, out_ptr, n)?;
    let cost = {
        let g = gas(&caller);
        per(encoded.len() as u64, g.storage_read_byte)
    };
    charge(&mut caller, cost)?;
    write(&mut caller, r, encoded.get(..n as usize).unwrap_or(&[]))?;
    Ok(encoded.len() as i64)
}

/// The smallest key greater than every key starting with `prefix`.
fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut s = prefix.to_vec();
    while let Some(last) = s.pop() {
        if last < 0xff {
            s.push(last + 1);
            return Some(s);
        }
    }
    None
}

fn hash_fn(mut caller: C<'_>, ptr: i32, len: i32, out_ptr: i32, sha: bool) -> HostResult<()> {
    let len = len_of(len);
    let r = range(&caller, ptr, len)?;
    let out = range(&caller, out_ptr, 32)?;
    let cost = {
        let g = gas(&caller);
        let hash = if sha {
            sum(&[g.sha256_base, per(len, g.sha256_byte)])
        } else {
            sum(&[g.blake3_base, per(len, g.blake3_byte)])
        };
        sum(&[g.host_base, hash])
    };
    charge(&mut caller, cost)?;
    let digest: [u8; 32] = {
        let memory = caller
            .data()
            .memory
            .ok_or_else(|| trap(TrapKind::AbiViolation))?;
        let input = memory
            .data(&caller)
            .get(r)
            .ok_or_else(|| trap(TrapKind::MemoryOutOfBounds))?;
        if sha {
            sha2::Sha256::digest(input).into()
        } else {
            *blake3::hash(input).as_bytes()
        }
    };
    write(&mut caller, out, &digest)
}

fn host_sha256(caller: C<'_>, ptr: i32, len: i32, out_ptr: i32) -> HostResult<()> {
    hash_fn(caller, ptr, len, out_ptr, true)
}

fn host_blake3(caller: C<'_>, ptr: i32, len: i32, out_ptr: i32) -> HostResult<()> {
    hash_fn(caller, ptr, len, out_ptr, false)
}

fn host_caller(mut caller: C<'_>, out_ptr: i32) -> HostResult<()> {
    let r = range(&caller, out_ptr, 32)?;
    let cost = {
        let g = gas(&caller);
        sum(&[g.host_base, per(32, g.copy_byte)])
    };
    charge(&mut caller, cost)?;
    let who = caller.data().caller;
    write(&mut caller, r, &who)
}

fn host_self_address(mut caller: C<'_>, out_ptr: i32) -> HostResult<()> {
    let r = range(&caller, out_ptr, 32)?;
    let cost = {
        let g = gas(&caller);
        sum(&[g.host_base, per(32, g.copy_byte)])
    };
    charge(&mut caller, cost)?;
    let who = caller.data().address;
    write(&mut caller, r, &who)
}

fn host_block_height(mut caller: C<'_>) -> HostResult<i64> {
    let cost = {
        let g = gas(&caller);
        g.host_base
    };
    charge(&mut caller, cost)?;
    Ok(caller.data().block.height as i64)
}

fn host_block_timestamp(mut caller: C<'_>) -> HostResult<i64> {
    let cost = {
        let g = gas(&caller);
        g.host_base
    };
    charge(&mut caller, cost)?;
    Ok(caller.data().block.timestamp as i64)
}

fn host_gas_left(mut caller: C<'_>) -> HostResult<i64> {
    let cost = {
        let g = gas(&caller);
        g.host_base
    };
    charge(&mut caller, cost)?;
    Ok(i64::try_from(caller.get_fuel()?).unwrap_or(i64::MAX))
}

fn host_emit_event(
    mut caller: C<'_>,
    topics_ptr: i32,
    topics_len: i32,
    data_ptr: i32,
    data_len: i32,
) -> HostResult<()> {
    let tlen = len_of(topics_len);
    let dlen = len_of(data_len);
    if !tlen.is_multiple_of(32) {
        return Err(trap(TrapKind::InvalidHostArgument));
    }
    let limits = &caller.data().config.limits;
    within(tlen / 32, limits.max_topics)?;
    within(dlen, limits.max_event_data)?;
    let max_events = limits.max_events;
    let count = env_mut(|env| env.events.len() as u64)?;
    within(count + 1, max_events)?;
    let tr = range(&caller, topics_ptr, tlen)?;
    let dr = range(&caller, data_ptr, dlen)?;
    let cost = {
        let g = gas(&caller);
        sum(&[
            g.host_base,
            g.event_base,
            per(tlen / 32, g.event_topic),
            per(dlen, g.event_byte),
        ])
    };
    charge(&mut caller, cost)?;
    let topics = read(&caller, tr)?
        .chunks_exact(32)
        .map(|c| {
            let mut t = [0u8; 32];
            t.copy_from_slice(c);
            t
        })
        .collect();
    let data = read(&caller, dr)?;
    let contract = caller.data().address;
    env_mut(|env| {
        env.events.push(Event {
            contract,
            topics,
            data,
        })
    })
}

fn host_call(
    mut caller: C<'_>,
    addr_ptr: i32,
    method_ptr: i32,
    method_len: i32,
    input_ptr: i32,
    input_len: i32,
    gas_limit: i64,
) -> HostResult<i32> {
    let mlen = len_of(method_len);
    let ilen = len_of(input_len);
    within(mlen, 256)?;
    within(ilen, caller.data().config.limits.max_return_len)?;
    let ar = range(&caller, addr_ptr, 32)?;
    let mr = range(&caller, method_ptr, mlen)?;
    let ir = range(&caller, input_ptr, ilen)?;
    let cost = {
        let g = gas(&caller);
        sum(&[g.host_base, g.call_base, per(32 + mlen + ilen, g.copy_byte)])
    };
    charge(&mut caller, cost)?;
    let target: [u8; 32] = read(&caller, ar)?
        .try_into()
        .map_err(|_| trap(TrapKind::MemoryOutOfBounds))?;
    let method = read(&caller, mr)?;
    let input = read(&caller, ir)?;
    caller.data_mut().last_call = Vec::new();
    let Ok(method) = String::from_utf8(method) else {
        return Ok(CallStatus::Refused as i32);
    };
    let remaining = caller.get_fuel()?;
    let forward = if gas_limit <= 0 {
        remaining
    } else {
        remaining.min(gas_limit as u64)
    };
    let (block, me) = (caller.data().block, caller.data().address);
    let (status, data, used) =
        with_ctx(|ctx| run_call(ctx, block, me, target, &method, input, forward))
            .map_err(abort)??;
    let left = remaining.saturating_sub(used);
    caller.set_fuel(left)?;
    caller.data_mut().last_call = data;
    Ok(status as i32)
}

fn host_call_result(mut caller: C<'_>, out_ptr: i32, out_cap: i32) -> HostResult<i32> {
    copy_out(&mut caller, |f| &f.last_call, out_ptr, out_cap)
}

fn host_debug_log(mut caller: C<'_>, ptr: i32, len: i32) -> HostResult<()> {
    let len = len_of(len);
    let r = range(&caller, ptr, len)?;
    let cost = {
        let g = gas(&caller);
        sum(&[g.host_base, g.debug_log_base, per(len, g.debug_log_byte)])
    };
    charge(&mut caller, cost)?;
    let config = &caller.data().config;
    if config.record_logs {
        let max = config.limits.max_log_len as usize;
        let bytes = read(&caller, r)?;
        let text = String::from_utf8_lossy(bytes.get(..max).unwrap_or(&bytes)).into_owned();
        env_mut(|env| env.logs.push(text))?;
    }
    Ok(())
}

/// The host function for import `keel.name`, created in `store`; `None` if not in the ABI.
pub(crate) fn resolve(store: &mut Store<Frame>, name: &str) -> Option<Extern> {
    let f = match name {
        "input" => Func::wrap(&mut *store, host_input),
        "set_return" => Func::wrap(&mut *store, host_set_return),
        "revert" => Func::wrap(&mut *store, host_revert),
        "storage_get" => Func::wrap(&mut *store, host_storage_get),
        "storage_set" => Func::wrap(&mut *store, host_storage_set),
        "storage_remove" => Func::wrap(&mut *store, host_storage_remove),
        "storage_has" => Func::wrap(&mut *store, host_storage_has),
        "storage_next" => Func::wrap(&mut *store, host_storage_next),
        "sha256" => Func::wrap(&mut *store, host_sha256),
        "blake3" => Func::wrap(&mut *store, host_blake3),
        "caller" => Func::wrap(&mut *store, host_caller),
        "self_address" => Func::wrap(&mut *store, host_self_address),
        "block_height" => Func::wrap(&mut *store, host_block_height),
        "block_timestamp" => Func::wrap(&mut *store, host_block_timestamp),
        "gas_left" => Func::wrap(&mut *store, host_gas_left),
        "emit_event" => Func::wrap(&mut *store, host_emit_event),
        "call" => Func::wrap(&mut *store, host_call),
        "call_result" => Func::wrap(&mut *store, host_call_result),
        "debug_log" => Func::wrap(&mut *store, host_debug_log),
        _ => return None,
    };
    Some(Extern::Func(f))
}
