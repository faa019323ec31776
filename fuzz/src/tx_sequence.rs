//! Target `tx_sequence`: arbitrary sequences of transactions against the example contracts.
//!
//! A fixed prologue deploys the token and the counter and instantiates one of each; then the
//! input drives deploys (example contracts or garbage), instantiations with salts, token and
//! counter calls with arbitrary senders, amounts, nonces (right, stale or future) and gas
//! limits, calls with arbitrary method names and arguments, and block boundaries.
//! Invariants:
//!
//! - no panic; every receipt has `gas_used <= gas_limit` (out of gas: equal; invalid: 0);
//! - a model of every token (balances, allowances, supply, admin) and counter, updated only
//!   by successful receipts, agrees with the contracts: a success never breaks a
//!   precondition (enough balance or allowance, admin-only mint, no supply overflow), a typed
//!   `TokenError` revert names a reason the model confirms, and after every block
//!   `balance_of` of every holder and `total_supply` equal the model, whose balances sum to the
//!   supply (tokens are conserved and no balance goes below zero);
//! - replaying the same blocks on a fresh store, as SCALE bytes through
//!   `execute_block_raw` (with the module cache off for one input in four), gives identical
//!   receipts and roots;
//! - the same transactions as one block, or one block each, give the same receipts and the
//!   same final root (none of these contracts reads the height or the time).

use std::collections::BTreeMap;

use arbitrary::{Arbitrary, Unstructured};
use keel_engine::{
    Action, Address, BlockContext, BlockOutcome, Engine, EngineConfig, Receipt, Status, Transaction,
};
use keel_state::{MemStore, StateStore};
use parity_scale_codec::{Decode, Encode};

/// The accounts that send transactions.
pub const ACCOUNTS: [Address; 4] = [[0x11; 32], [0x22; 32], [0x33; 32], [0x44; 32]];

const PROLOGUE_GAS: u64 = 50_000_000;

/// Which example contract.
#[derive(Debug, Clone, Copy, Arbitrary, PartialEq, Eq)]
pub enum Code {
    /// `keel_contracts::TOKEN`.
    Token,
    /// `keel_contracts::COUNTER`.
    Counter,
}

impl Code {
    fn bytes(self) -> &'static [u8] {
        match self {
            Code::Token => keel_contracts::TOKEN,
            Code::Counter => keel_contracts::COUNTER,
        }
    }
}

/// An amount: mostly small, sometimes near `u128::MAX` (overflow), or anything.
#[derive(Debug, Clone, Copy)]
pub enum Amount {
    /// 0..=255 (the generator picks 0..=63).
    Small(u8),
    /// `u128::MAX - n`.
    Huge(u8),
    /// Any value.
    Any(u128),
}

impl<'a> Arbitrary<'a> for Amount {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(match u8::arbitrary(u)? {
            0..=179 => Amount::Small(u8::arbitrary(u)? % 64),
            180..=209 => Amount::Huge(u.arbitrary()?),
            _ => Amount::Any(u.arbitrary()?),
        })
    }
}

impl Amount {
    fn value(self) -> u128 {
        match self {
            Amount::Small(n) => u128::from(n),
            Amount::Huge(n) => u128::MAX - u128::from(n),
            Amount::Any(n) => n,
        }
    }
}

/// A token method with typed arguments; addresses index the holder set.
#[derive(Debug, Clone, Arbitrary)]
pub enum TokenOp {
    /// `init()`.
    Init,
    /// `mint(to, amount)`.
    Mint(u8, Amount),
    /// `transfer(to, amount)`.
    Transfer(u8, Amount),
    /// `approve(spender, amount)`.
    Approve(u8, Amount),
    /// `transfer_from(from, to, amount)`.
    TransferFrom(u8, u8, Amount),
    /// `transfer_and_call(to, amount)`.
    TransferAndCall(u8, Amount),
    /// `balance_of(who)`.
    BalanceOf(u8),
    /// `total_supply()`.
    TotalSupply,
}

/// How the transaction's nonce is chosen (mostly the right one).
#[derive(Debug, Clone, Copy)]
pub enum NonceMode {
    /// The sender's next nonce.
    Next,
    /// An already-used nonce (or 0).
    Stale,
    /// A future nonce.
    Future(u8),
}

/// The gas limit (mostly plenty).
#[derive(Debug, Clone, Copy)]
pub enum Gas {
    /// Plenty.
    Enough,
    /// Scaled into 0..=400_000: often out of gas somewhere.
    Tight(u32),
}

impl<'a> Arbitrary<'a> for NonceMode {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(match u8::arbitrary(u)? {
            0..=229 => NonceMode::Next,
            230..=239 => NonceMode::Stale,
            n => NonceMode::Future(n),
        })
    }
}

impl<'a> Arbitrary<'a> for Gas {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(match u8::arbitrary(u)? {
            0..=191 => Gas::Enough,
            _ => Gas::Tight(u.arbitrary()?),
        })
    }
}

/// What one transaction does.
#[derive(Debug, Clone, Arbitrary)]
pub enum Op {
    /// A token method on the token chosen by index.
    Token(u8, TokenOp),
    /// `increment()` (true) or `get()` on the counter chosen by index.
    Counter(u8, bool),
    /// Deploy an example contract (already deployed by the prologue: must be idempotent).
    Deploy(Code),
    /// Deploy arbitrary bytes.
    DeployGarbage(Vec<u8>),
    /// Instantiate an example contract with a salt.
    Instantiate(Code, u8),
    /// Any method name and argument bytes on the contract chosen by index.
    RawCall(u8, String, Vec<u8>),
}

/// One step of the input.
#[derive(Debug, Clone, Arbitrary)]
pub enum Step {
    /// A transaction.
    Tx {
        /// Index into [`ACCOUNTS`].
        sender: u8,
        /// The nonce choice.
        nonce: NonceMode,
        /// The gas limit.
        gas: Gas,
        /// The action.
        op: Op,
    },
    /// End the block; the next one starts `dt` milliseconds later.
    EndBlock(u16),
}

/// The model of one token.
#[derive(Debug, Clone, Default)]
struct TokenModel {
    admin: Option<Address>,
    supply: u128,
    balances: BTreeMap<Address, u128>,
    allowances: BTreeMap<(Address, Address), u128>,
    /// False once a call the model cannot interpret may have changed the token.
    tracked: bool,
}

/// What the model knows about the chain.
#[derive(Debug, Default)]
struct Model {
    nonces: BTreeMap<Address, u64>,
    tokens: Vec<(Address, TokenModel)>,
    counters: Vec<(Address, u64)>,
}

impl Model {
    /// Every address a token op can name: the accounts, then the contracts.
    fn holders(&self) -> Vec<Address> {
        let mut h = ACCOUNTS.to_vec();
        h.extend(self.tokens.iter().map(|(a, _)| *a));
        h.extend(self.counters.iter().map(|(a, _)| *a));
        h
    }
}

fn gas_limit(g: Gas) -> u64 {
    match g {
        Gas::Enough => 5_000_000,
        Gas::Tight(n) => u64::from(n) % 400_001,
    }
}

fn check_receipt(r: &Receipt, gas_limit: u64) {
    assert!(
        r.gas_used <= gas_limit,
        "gas_used {} > limit {gas_limit}",
        r.gas_used
    );
    match &r.status {
        Status::OutOfGas => assert_eq!(r.gas_used, gas_limit, "out of gas below the limit"),
        Status::Invalid(_) => assert_eq!(r.gas_used, 0, "invalid tx used gas"),
        _ => {}
    }
}

/// The token error index in a revert message, if it is one.
fn token_error(r: &Receipt) -> Option<u8> {
    match &r.status {
        Status::Reverted(msg) if msg.len() == 1 && msg[0] <= 5 => Some(msg[0]),
        _ => None,
    }
}

const NOT_ADMIN: u8 = 1;
const INSUFFICIENT_BALANCE: u8 = 2;
const INSUFFICIENT_ALLOWANCE: u8 = 3;
const OVERFLOW: u8 = 4;
const CALLBACK_FAILED: u8 = 5;
const ALREADY_INITIALIZED: u8 = 0;

/// A transaction the model has planned, with what to do with its receipt.
struct Planned {
    tx: Transaction,
    effect: Effect,
}

enum Effect {
    None,
    /// A raw call on token `i` the model cannot interpret: if it succeeds with a method that
    /// can change balances, the token stops being checked.
    Opaque(usize, String),
    Token(usize, TokenOp, Vec<Address>),
    Counter(usize, bool),
    Instantiate(Code),
}

/// Builds the transactions of `steps` (a block list), updating the model from the receipts
/// as the blocks run on `engine`/`store`. Returns the blocks actually run and their outcomes.
struct Chain {
    engine: Engine,
    store: MemStore,
    model: Model,
    height: u64,
    timestamp: u64,
    blocks: Vec<(BlockContext, Vec<Transaction>)>,
    outcomes: Vec<BlockOutcome>,
}

impl Chain {
    fn new() -> Self {
        Chain {
            engine: Engine::new(EngineConfig::default()),
            store: MemStore::new(),
            model: Model::default(),
            height: 1,
            timestamp: 1_000,
            blocks: Vec::new(),
            outcomes: Vec::new(),
        }
    }

    fn next_nonce(&mut self, sender: Address) -> u64 {
        *self.model.nonces.get(&sender).unwrap_or(&0)
    }

    /// Runs one block, checks receipts, applies effects, checks the contracts against the model.
    fn run_block(&mut self, planned: Vec<Planned>) {
        let ctx = BlockContext {
            height: self.height,
            timestamp: self.timestamp,
        };
        let txs: Vec<Transaction> = planned.iter().map(|p| p.tx.clone()).collect();
        let out = self
            .engine
            .execute_block(&mut self.store, &ctx, &txs)
            .unwrap();
        assert_eq!(out.receipts.len(), txs.len());
        assert_eq!(out.state_root, self.store.root());
        for (p, r) in planned.into_iter().zip(&out.receipts) {
            check_receipt(r, p.tx.gas_limit);
            let expected_nonce = self.next_nonce(p.tx.sender);
            if p.tx.nonce != expected_nonce {
                assert!(
                    matches!(r.status, Status::Invalid(_)),
                    "bad nonce accepted: {r:?}"
                );
            }
            if matches!(r.status, Status::Invalid(_)) {
                continue;
            }
            self.model.nonces.insert(p.tx.sender, expected_nonce + 1);
            self.apply(p.tx.sender, p.effect, r);
        }
        self.blocks.push((ctx, txs));
        self.outcomes.push(out);
        self.check_contracts(&ctx);
        self.height += 1;
    }

    fn apply(&mut self, sender: Address, effect: Effect, r: &Receipt) {
        match effect {
            Effect::None => {}
            Effect::Opaque(i, method) => {
                let mutating = ["init", "mint", "transfer", "approve", "transfer_from"];
                if r.is_success()
                    && (mutating.contains(&method.as_str()) || method == "transfer_and_call")
                {
                    self.model.tokens[i].1.tracked = false;
                }
            }
            Effect::Counter(i, increment) => {
                let (_, count) = &mut self.model.counters[i];
                if r.is_success() {
                    if increment {
                        *count = count.wrapping_add(1);
                    }
                    assert_eq!(r.return_data, count.encode(), "counter value");
                }
            }
            Effect::Instantiate(code) => {
                if r.is_success() {
                    let addr: Address = r.return_data.clone().try_into().unwrap();
                    match code {
                        Code::Token => {
                            let model = TokenModel {
                                admin: Some(sender),
                                tracked: true,
                                ..TokenModel::default()
                            };
                            self.model.tokens.push((addr, model));
                        }
                        Code::Counter => self.model.counters.push((addr, 0)),
                    }
                }
            }
            Effect::Token(i, op, holders) => {
                let pick = |n: u8| holders[usize::from(n) % holders.len()];
                let t = &mut self.model.tokens[i].1;
                if !t.tracked {
                    return;
                }
                let ok = r.is_success();
                let err = token_error(r);
                match op {
                    TokenOp::Init => {
                        if ok {
                            assert!(t.admin.is_none(), "init succeeded twice");
                            t.admin = Some(sender);
                        } else if err == Some(ALREADY_INITIALIZED) {
                            assert!(t.admin.is_some(), "AlreadyInitialized without admin");
                        }
                    }
                    TokenOp::Mint(to, amount) => {
                        let (to, amount) = (pick(to), amount.value());
                        let overflow = t.supply.checked_add(amount).is_none();
                        if ok {
                            assert_eq!(t.admin, Some(sender), "mint by a non-admin succeeded");
                            assert!(!overflow, "minting past u128::MAX succeeded");
                            t.supply += amount;
                            *t.balances.entry(to).or_default() += amount;
                        } else if err == Some(NOT_ADMIN) {
                            assert_ne!(t.admin, Some(sender), "NotAdmin for the admin");
                        } else if err == Some(OVERFLOW) {
                            assert!(overflow, "Overflow without overflow");
                        }
                    }
                    TokenOp::Transfer(to, amount) | TokenOp::TransferAndCall(to, amount) => {
                        let (to, amount) = (pick(to), amount.value());
                        let from_balance = *t.balances.get(&sender).unwrap_or(&0);
                        if ok {
                            assert!(from_balance >= amount, "transfer beyond the balance");
                            *t.balances.entry(sender).or_default() -= amount;
                            *t.balances.entry(to).or_default() += amount;
                        } else if err == Some(INSUFFICIENT_BALANCE) {
                            assert!(from_balance < amount, "InsufficientBalance with enough");
                        } else if err == Some(CALLBACK_FAILED) {
                            assert!(from_balance >= amount, "callback ran without balance");
                        }
                    }
                    TokenOp::Approve(spender, amount) => {
                        if ok {
                            t.allowances.insert((sender, pick(spender)), amount.value());
                        }
                    }
                    TokenOp::TransferFrom(from, to, amount) => {
                        let (from, to, amount) = (pick(from), pick(to), amount.value());
                        let allowed = *t.allowances.get(&(from, sender)).unwrap_or(&0);
                        let balance = *t.balances.get(&from).unwrap_or(&0);
                        if ok {
                            assert!(allowed >= amount, "transfer_from beyond the allowance");
                            assert!(balance >= amount, "transfer_from beyond the balance");
                            t.allowances.insert((from, sender), allowed - amount);
                            *t.balances.entry(from).or_default() -= amount;
                            *t.balances.entry(to).or_default() += amount;
                        } else if err == Some(INSUFFICIENT_ALLOWANCE) {
                            assert!(allowed < amount, "InsufficientAllowance with enough");
                        } else if err == Some(INSUFFICIENT_BALANCE) {
                            assert!(balance < amount, "InsufficientBalance with enough");
                        }
                    }
                    TokenOp::BalanceOf(who) => {
                        if ok {
                            let want = *t.balances.get(&pick(who)).unwrap_or(&0);
                            assert_eq!(r.return_data, want.encode(), "balance_of");
                        }
                    }
                    TokenOp::TotalSupply => {
                        if ok {
                            assert_eq!(r.return_data, t.supply.encode(), "total_supply");
                        }
                    }
                }
            }
        }
    }

    fn query(&self, ctx: &BlockContext, contract: Address, method: &str, args: Vec<u8>) -> Receipt {
        let r = self
            .engine
            .query(
                &self.store,
                ctx,
                ACCOUNTS[0],
                contract,
                method,
                args,
                5_000_000,
            )
            .unwrap();
        assert!(r.is_success(), "query {method} failed: {r:?}");
        r
    }

    /// Balances, supply and counters read from the contracts equal the model.
    fn check_contracts(&self, ctx: &BlockContext) {
        let holders = self.model.holders();
        for (addr, t) in self.model.tokens.iter().filter(|(_, t)| t.tracked) {
            let supply = self.query(ctx, *addr, "total_supply", Vec::new());
            assert_eq!(supply.return_data, t.supply.encode(), "total supply");
            let mut sum: u128 = 0;
            for h in &holders {
                let r = self.query(ctx, *addr, "balance_of", h.encode());
                let got = u128::decode(&mut r.return_data.as_slice()).unwrap();
                assert_eq!(got, *t.balances.get(h).unwrap_or(&0), "balance of {h:?}");
                sum = sum.checked_add(got).expect("balances sum past u128");
            }
            assert_eq!(sum, t.supply, "tokens not conserved");
            let model_sum: u128 = t.balances.values().sum();
            assert_eq!(model_sum, t.supply, "model not conserved");
        }
        for (addr, count) in &self.model.counters {
            let r = self.query(ctx, *addr, "get", Vec::new());
            assert_eq!(r.return_data, count.encode(), "counter");
        }
    }

    /// Turns one input transaction into a planned transaction.
    fn plan(&mut self, sender: u8, nonce: NonceMode, gas: Gas, op: &Op) -> Planned {
        let sender = ACCOUNTS[usize::from(sender) % ACCOUNTS.len()];
        let next = self.next_nonce(sender);
        let nonce = match nonce {
            NonceMode::Next => next,
            NonceMode::Stale => next.saturating_sub(1),
            NonceMode::Future(n) => next + 1 + u64::from(n % 4),
        };
        let holders = self.model.holders();
        let pick = |n: u8| holders[usize::from(n) % holders.len()];
        let (action, effect) = match op {
            Op::Token(i, top) if !self.model.tokens.is_empty() => {
                let idx = usize::from(*i) % self.model.tokens.len();
                let contract = self.model.tokens[idx].0;
                let (method, args) = match *top {
                    TokenOp::Init => ("init", Vec::new()),
                    TokenOp::Mint(to, a) => ("mint", (pick(to), a.value()).encode()),
                    TokenOp::Transfer(to, a) => ("transfer", (pick(to), a.value()).encode()),
                    TokenOp::Approve(s, a) => ("approve", (pick(s), a.value()).encode()),
                    TokenOp::TransferFrom(f, to, a) => {
                        ("transfer_from", (pick(f), pick(to), a.value()).encode())
                    }
                    TokenOp::TransferAndCall(to, a) => {
                        ("transfer_and_call", (pick(to), a.value()).encode())
                    }
                    TokenOp::BalanceOf(w) => ("balance_of", pick(w).encode()),
                    TokenOp::TotalSupply => ("total_supply", Vec::new()),
                };
                let action = Action::Call {
                    contract,
                    method: method.into(),
                    args,
                };
                (action, Effect::Token(idx, top.clone(), holders.clone()))
            }
            Op::Counter(i, increment) if !self.model.counters.is_empty() => {
                let idx = usize::from(*i) % self.model.counters.len();
                let action = Action::Call {
                    contract: self.model.counters[idx].0,
                    method: if *increment { "increment" } else { "get" }.into(),
                    args: Vec::new(),
                };
                (action, Effect::Counter(idx, *increment))
            }
            Op::Deploy(code) => (
                Action::Deploy {
                    code: code.bytes().to_vec(),
                },
                Effect::None,
            ),
            Op::DeployGarbage(bytes) => (
                Action::Deploy {
                    code: bytes.clone(),
                },
                Effect::None,
            ),
            Op::Instantiate(code, salt) => (
                Action::Instantiate {
                    code_hash: keel_engine::code_hash(code.bytes()),
                    salt: vec![*salt],
                    args: Vec::new(),
                },
                Effect::Instantiate(*code),
            ),
            Op::RawCall(i, method, args) => {
                let contract = pick(*i);
                let action = Action::Call {
                    contract,
                    method: method.clone(),
                    args: args.clone(),
                };
                // A raw call can move tokens or bump a counter: model it when it names a
                // known method with well-formed arguments, otherwise require it to fail.
                let effect = self.raw_effect(contract, method, args);
                (action, effect)
            }
            // No token or counter yet: a harmless call.
            Op::Token(..) | Op::Counter(..) => (
                Action::Call {
                    contract: [0xee; 32],
                    method: "none".into(),
                    args: Vec::new(),
                },
                Effect::None,
            ),
        };
        Planned {
            tx: Transaction {
                sender,
                nonce,
                gas_limit: gas_limit(gas),
                action,
            },
            effect,
        }
    }

    /// The effect of a raw call: decoded into a typed op when it targets a token or counter
    /// method with exactly decodable arguments naming known holders.
    fn raw_effect(&self, contract: Address, method: &str, args: &[u8]) -> Effect {
        let holders = self.model.holders();
        let index = |a: Address| holders.iter().position(|h| *h == a).map(|i| i as u8);
        if let Some(i) = self.model.counters.iter().position(|(a, _)| *a == contract) {
            return match method {
                "increment" => Effect::Counter(i, true),
                "get" => Effect::Counter(i, false),
                _ => Effect::None,
            };
        }
        let Some(i) = self.model.tokens.iter().position(|(a, _)| *a == contract) else {
            return Effect::None;
        };
        use parity_scale_codec::DecodeAll;
        let amount = Amount::Any;
        let op = match method {
            "init" => Some(TokenOp::Init),
            "mint" | "transfer" | "approve" | "transfer_and_call" => {
                <(Address, u128)>::decode_all(&mut &args[..])
                    .ok()
                    .and_then(|(to, a)| {
                        let to = index(to)?;
                        Some(match method {
                            "mint" => TokenOp::Mint(to, amount(a)),
                            "transfer" => TokenOp::Transfer(to, amount(a)),
                            "approve" => TokenOp::Approve(to, amount(a)),
                            _ => TokenOp::TransferAndCall(to, amount(a)),
                        })
                    })
            }
            "transfer_from" => <(Address, Address, u128)>::decode_all(&mut &args[..])
                .ok()
                .and_then(|(f, to, a)| {
                    Some(TokenOp::TransferFrom(index(f)?, index(to)?, amount(a)))
                }),
            _ => None,
        };
        match op {
            Some(op) => Effect::Token(i, op, holders),
            None => Effect::Opaque(i, method.to_string()),
        }
    }
}

/// Decodes the steps from fuzzer bytes (at most 64).
pub fn steps_from_bytes(data: &[u8]) -> Vec<Step> {
    let mut u = Unstructured::new(data);
    let mut steps = Vec::new();
    while !u.is_empty() && steps.len() < 64 {
        match Step::arbitrary(&mut u) {
            Ok(s) => steps.push(s),
            Err(_) => break,
        }
    }
    steps
}

/// Runs `steps` with the model, then the replays (the fresh-store replay with the module
/// cache off when `uncached_replay`: it recompiles the token for every call, which makes it
/// the most expensive part). Returns the chain's outcomes.
pub fn run_steps(steps: &[Step], uncached_replay: bool) -> Vec<BlockOutcome> {
    let mut chain = Chain::new();
    // Prologue: one token and one counter, by account 0.
    let prologue = [
        Op::Deploy(Code::Token),
        Op::Deploy(Code::Counter),
        Op::Instantiate(Code::Token, 0),
        Op::Instantiate(Code::Counter, 0),
    ];
    let mut pending: BTreeMap<Address, u64> = BTreeMap::new();
    let mut block: Vec<Planned> = Vec::new();
    let plan = |chain: &mut Chain,
                pending: &mut BTreeMap<Address, u64>,
                sender: u8,
                nonce: NonceMode,
                gas: Gas,
                op: &Op| {
        let mut p = chain.plan(sender, nonce, gas, op);
        // Within a block the model's nonces lag: count this block's planned transactions.
        let base = chain.next_nonce(p.tx.sender);
        let next = pending.entry(p.tx.sender).or_insert(base);
        match nonce {
            NonceMode::Next => {
                p.tx.nonce = *next;
                *next += 1;
            }
            NonceMode::Stale => p.tx.nonce = next.saturating_sub(1),
            NonceMode::Future(n) => p.tx.nonce = *next + 1 + u64::from(n % 4),
        }
        p
    };
    for op in &prologue {
        let mut p = plan(
            &mut chain,
            &mut pending,
            0,
            NonceMode::Next,
            Gas::Enough,
            op,
        );
        p.tx.gas_limit = PROLOGUE_GAS;
        block.push(p);
    }
    chain.run_block(std::mem::take(&mut block));
    pending.clear();
    // The admin (account 0) mints to every account, so that transfers have something to move.
    for to in 0..ACCOUNTS.len() as u8 {
        let op = Op::Token(0, TokenOp::Mint(to, Amount::Small(200 + to)));
        block.push(plan(
            &mut chain,
            &mut pending,
            0,
            NonceMode::Next,
            Gas::Enough,
            &op,
        ));
    }
    chain.run_block(std::mem::take(&mut block));
    pending.clear();
    for step in steps {
        match step {
            Step::Tx {
                sender,
                nonce,
                gas,
                op,
            } => {
                let p = plan(&mut chain, &mut pending, *sender, *nonce, *gas, op);
                block.push(p);
            }
            Step::EndBlock(dt) => {
                chain.run_block(std::mem::take(&mut block));
                pending.clear();
                chain.timestamp += u64::from(*dt);
            }
        }
    }
    if !block.is_empty() {
        chain.run_block(block);
    }
    replay(&chain, uncached_replay);
    if std::env::var_os("KEEL_FUZZ_TRACE").is_some() {
        for ((_, txs), out) in chain.blocks.iter().zip(&chain.outcomes) {
            for (tx, r) in txs.iter().zip(&out.receipts) {
                let what = match &tx.action {
                    Action::Call { method, .. } => method.clone(),
                    Action::Deploy { .. } => "deploy".into(),
                    Action::Instantiate { .. } => "instantiate".into(),
                };
                eprintln!("tx_sequence: {what} {:?}", r.status);
            }
        }
    }
    chain.outcomes
}

/// The replays: the same blocks on a fresh store (raw SCALE bytes, module cache off), all
/// transactions as one block, and one block per transaction.
fn replay(chain: &Chain, uncached: bool) {
    let config = EngineConfig {
        module_cache_capacity: if uncached { 0 } else { 256 },
        ..EngineConfig::default()
    };
    let mut engine = Engine::new(config);
    let mut store = MemStore::new();
    for ((ctx, txs), want) in chain.blocks.iter().zip(&chain.outcomes) {
        let raw: Vec<Vec<u8>> = txs.iter().map(Encode::encode).collect();
        let got = engine.execute_block_raw(&mut store, ctx, &raw).unwrap();
        assert_eq!(&got, want, "replay on a fresh store differs");
    }
    let all_txs: Vec<Transaction> = chain.blocks.iter().flat_map(|(_, t)| t.clone()).collect();
    let all_receipts: Vec<&Receipt> = chain.outcomes.iter().flat_map(|o| &o.receipts).collect();
    let final_root = chain.outcomes.last().map(|o| o.state_root);
    let ctx = BlockContext {
        height: 1,
        timestamp: 1_000,
    };
    // One block.
    let mut engine = Engine::new(EngineConfig::default());
    let mut store = MemStore::new();
    let one = engine.execute_block(&mut store, &ctx, &all_txs).unwrap();
    assert!(
        one.receipts.iter().eq(all_receipts.iter().copied()),
        "receipts depend on block grouping (one block)"
    );
    assert_eq!(
        Some(one.state_root),
        final_root,
        "final root depends on block grouping (one block)"
    );
    // One block per transaction.
    let mut store = MemStore::new();
    let mut receipts = Vec::new();
    for (i, tx) in all_txs.iter().enumerate() {
        let ctx = BlockContext {
            height: 1 + i as u64,
            timestamp: 1_000 + i as u64,
        };
        let out = engine
            .execute_block(&mut store, &ctx, std::slice::from_ref(tx))
            .unwrap();
        receipts.extend(out.receipts);
    }
    assert!(
        receipts.iter().eq(all_receipts.iter().copied()),
        "receipts depend on block grouping (one tx per block)"
    );
    if !all_txs.is_empty() {
        assert_eq!(
            Some(store.root()),
            final_root,
            "final root depends on block grouping (one tx per block)"
        );
    }
}

/// The fuzz target. One input in four (by its length) replays with the module cache off.
pub fn run(data: &[u8]) {
    run_steps(&steps_from_bytes(data), data.len().is_multiple_of(4));
}
