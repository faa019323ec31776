//! Golden vectors: fixed scenarios over the WAT fixtures and the SDK's example contracts (frozen
//! as wasm in `tests/golden/wasm/`, so only the engine can move these vectors),
//! with everything consensus per transaction: status, gas, return data, the state root after
//! its block, and every event's contract, topics and data. Any change fails the test, so every
//! change is deliberate. (Deploy and Instantiate return data is left out, but the roots and
//! the event topics that hold addresses do depend on the contracts' wasm bytes.) To accept a change: `KEEL_BLESS=1 cargo test -p
//! keel-engine --test golden`, and review the diff of `tests/golden/*.txt`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use keel_engine::{Action, Address, EngineConfig, Hash, Receipt, Status, TraceDetail};
use parity_scale_codec::Encode;

const CAROL: Address = [0xCA; 32];

fn hex(bytes: &[u8]) -> String {
    let mut s: String = bytes.iter().take(40).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > 40 {
        s.push_str(&format!("..({} bytes)", bytes.len()));
    }
    s
}

fn full_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The receipt's line, the state root after its block, then one line per event with its
/// topics and data in full (data over 256 bytes as its length and blake3 digest).
fn lines(label: &str, r: &Receipt, root: &Hash) -> Vec<String> {
    let status = match &r.status {
        Status::Success => "success".to_string(),
        Status::Reverted(m) => format!("reverted:{}", hex(m)),
        Status::OutOfGas => "out_of_gas".to_string(),
        Status::Trapped(k) => format!("trapped:{k:?}"),
        Status::Invalid(i) => format!("invalid:{i:?}"),
    };
    let mut out = vec![format!(
        "{label:<34} {status:<28} gas={:>10} events={} ret={}",
        r.gas_used,
        r.events.len(),
        hex(&r.return_data)
    )];
    out.push(format!("    root={}", full_hex(root)));
    for (i, e) in r.events.iter().enumerate() {
        let topics: Vec<String> = e.topics.iter().map(|t| full_hex(t)).collect();
        let data = if e.data.len() <= 256 {
            full_hex(&e.data)
        } else {
            format!(
                "({} bytes, blake3 {})",
                e.data.len(),
                blake3::hash(&e.data).to_hex()
            )
        };
        out.push(format!(
            "    event[{i}] contract={} topics=[{}] data={data}",
            full_hex(&e.contract),
            topics.join(",")
        ));
    }
    out
}

fn compare(name: &str, lines: &[String]) {
    expect_file(&format!("golden/{name}.txt"), "gas golden vectors", lines);
}

struct Script {
    chain: Chain,
    lines: Vec<String>,
    /// Executes each block again, traced, on a copy of the store.
    twin: keel_engine::Engine,
}

impl Script {
    /// With the instance pool on or off: the vectors must be the same either way.
    fn new(pool: bool) -> Self {
        Self {
            chain: Chain::with_config(EngineConfig {
                instance_pool: pool,
                ..EngineConfig::default()
            }),
            lines: Vec::new(),
            twin: keel_engine::Engine::default(),
        }
    }

    /// Compares with the golden file, and checks that the pool was used exactly when on.
    fn finish(self, name: &str, pool: bool) {
        let stats = self.chain.engine.stats();
        if pool {
            assert!(stats.instance_reuses > 0, "{stats:?}");
        } else {
            assert_eq!(stats.instance_reuses, 0, "{stats:?}");
        }
        compare(name, &self.lines);
    }

    fn run(&mut self, label: &str, sender: Address, gas: u64, action: Action) -> Receipt {
        // Deploy and Instantiate return a code hash or an address: content-derived, so they
        // are left out (a rebuild of an example that keeps its gas must not fail this test).
        let hide = !matches!(action, Action::Call { .. });
        let traced = self.traced(sender, gas, &action);
        let (r, root) = self.chain.run_with_root(sender, gas, action);
        // Tracing never changes gas, receipts or roots (ARCHITECTURE.md, "Traces").
        assert_eq!(traced, (r.clone(), root), "{label}: a traced run differs");
        let mut shown = r.clone();
        if hide && shown.status == Status::Success {
            shown.return_data.clear();
        }
        self.lines.extend(lines(label, &shown, &root));
        r
    }

    /// The transaction simulated with and without each trace detail (all must agree, and the
    /// profile's hooks must refund exactly what they cost), then executed with a trace on a
    /// copy of the store: its receipt and root.
    fn traced(&mut self, sender: Address, gas: u64, action: &Action) -> (Receipt, Hash) {
        let c = &self.chain;
        let tx = c.make_tx(sender, gas, action.clone());
        let plain = c.engine.simulate(&c.store, &c.ctx, &tx).unwrap();
        for detail in [TraceDetail::Calls, TraceDetail::Functions] {
            let (r, trace) = c
                .engine
                .simulate_traced(&c.store, &c.ctx, &tx, detail)
                .unwrap();
            assert_eq!(r, plain, "{detail:?}");
            assert_eq!(trace.gas_used, plain.gas_used);
            if let Some(frame) = &trace.frame {
                assert!(frame.gas_used <= plain.gas_used);
            }
        }
        let mut twin = c.store.clone();
        let (mut out, traces) = self
            .twin
            .execute_block_traced(&mut twin, &c.ctx, std::slice::from_ref(&tx))
            .unwrap();
        assert_eq!(traces.len(), 1);
        (out.receipts.pop().unwrap(), out.state_root)
    }

    fn deploy(&mut self, label: &str, code: &[u8], args: Vec<u8>) -> Address {
        let r = self.run(
            &format!("{label}.deploy"),
            ALICE,
            GAS * 50,
            Action::Deploy {
                code: code.to_vec(),
            },
        );
        assert_eq!(r.status, Status::Success, "{label}: {r:?}");
        let r = self.run(
            &format!("{label}.instantiate"),
            ALICE,
            GAS,
            Action::Instantiate {
                code_hash: r.return_data.try_into().unwrap(),
                salt: label.as_bytes().to_vec(),
                args,
            },
        );
        assert_eq!(r.status, Status::Success, "{label}: {r:?}");
        r.return_data.try_into().unwrap()
    }

    fn call(
        &mut self,
        label: &str,
        sender: Address,
        contract: Address,
        method: &str,
        args: Vec<u8>,
    ) -> Receipt {
        self.run(
            label,
            sender,
            GAS * 10,
            Action::Call {
                contract,
                method: method.into(),
                args,
            },
        )
    }
}

#[test]
fn fixture_gas_is_unchanged() {
    fixture_gas(true);
}

#[test]
fn fixture_gas_is_unchanged_without_the_instance_pool() {
    fixture_gas(false);
}

#[test]
fn example_contract_gas_is_unchanged() {
    example_contract_gas(true);
}

#[test]
fn example_contract_gas_is_unchanged_without_the_instance_pool() {
    example_contract_gas(false);
}

fn fixture_gas(pool: bool) {
    let mut s = Script::new(pool);
    let token = s.deploy("token", &fixture("token"), 1_000u64.to_le_bytes().to_vec());
    s.call(
        "token.transfer",
        ALICE,
        token,
        "transfer",
        transfer_args(BOB, 10),
    );
    s.call(
        "token.transfer.again",
        ALICE,
        token,
        "transfer",
        transfer_args(BOB, 10),
    );
    s.call(
        "token.transfer.insufficient",
        CAROL,
        token,
        "transfer",
        transfer_args(BOB, 1),
    );
    s.call("token.balance", BOB, token, "balance", BOB.to_vec());
    let probe = s.deploy("probe", &fixture("probe"), vec![]);
    s.call("probe.probe", BOB, probe, "probe", vec![]);
    let proxy = s.deploy("proxy", &fixture("proxy"), vec![]);
    let inner = s.deploy("proxy.inner", &fixture("proxy"), vec![]);
    for m in [
        "write",
        "write_then_revert",
        "write_then_trap",
        "spin",
        "nope",
    ] {
        let mut a = inner.to_vec();
        a.extend_from_slice(m.as_bytes());
        s.call(&format!("proxy.proxy({m})"), ALICE, proxy, "proxy", a);
    }
    s.call("proxy.reenter", ALICE, proxy, "reenter", vec![]);
    let depth = s.deploy("call_depth", &fixture("call_depth"), vec![]);
    s.call("call_depth.down", ALICE, depth, "down", vec![]);
    let burn = s.deploy("burn", &fixture("burn"), vec![]);
    s.call("burn.run", ALICE, burn, "run", vec![]);
    let bomb = s.deploy("memory_grow_bomb", &fixture("memory_grow_bomb"), vec![]);
    s.call("memory_grow_bomb.run", ALICE, bomb, "run", vec![]);
    let rec = s.deploy("deep_recursion", &fixture("deep_recursion"), vec![]);
    s.call("deep_recursion.run", ALICE, rec, "run", vec![]);
    let oob = s.deploy("host_oob", &fixture("host_oob"), vec![]);
    s.call(
        "host_oob.return_past_end",
        ALICE,
        oob,
        "return_past_end",
        vec![],
    );
    s.finish("fixtures", pool);
}

fn example_contract_gas(pool: bool) {
    // The example contracts as built by the SDK of 2026-12-01 (commit 94b8817), frozen in
    // `tests/golden/wasm/`: these vectors pin the engine's gas and roots for fixed code, so they
    // move only with the engine (a new `GasSchedule` version), never with SDK codegen. The
    // examples as the current SDK builds them are tested in `tests/examples.rs` and by the
    // testkit's gas baseline.
    mod k {
        pub const COUNTER: &[u8] = include_bytes!("golden/wasm/counter.wasm");
        pub const TOKEN: &[u8] = include_bytes!("golden/wasm/token.wasm");
        pub const COMPUTE: &[u8] = include_bytes!("golden/wasm/compute.wasm");
        pub const NFT: &[u8] = include_bytes!("golden/wasm/nft.wasm");
        pub const MULTISIG: &[u8] = include_bytes!("golden/wasm/multisig.wasm");
        pub const SWAP: &[u8] = include_bytes!("golden/wasm/swap.wasm");
        pub const ADVERSARY: &[u8] = include_bytes!("golden/wasm/adversary.wasm");
    }
    let mut s = Script::new(pool);

    let counter = s.deploy("counter", k::COUNTER, vec![]);
    s.call("counter.increment", ALICE, counter, "increment", vec![]);
    s.call("counter.increment", BOB, counter, "increment", vec![]);
    s.call("counter.get", BOB, counter, "get", vec![]);

    let token = s.deploy("token", k::TOKEN, ().encode());
    s.call(
        "token.mint",
        ALICE,
        token,
        "mint",
        (BOB, 1_000u128).encode(),
    );
    s.call(
        "token.mint.not_admin",
        BOB,
        token,
        "mint",
        (BOB, 1u128).encode(),
    );
    s.call(
        "token.transfer",
        BOB,
        token,
        "transfer",
        (CAROL, 100u128).encode(),
    );
    s.call(
        "token.transfer.again",
        BOB,
        token,
        "transfer",
        (CAROL, 100u128).encode(),
    );
    s.call(
        "token.transfer.insufficient",
        CAROL,
        token,
        "transfer",
        (BOB, 10_000u128).encode(),
    );
    s.call(
        "token.approve",
        BOB,
        token,
        "approve",
        (ALICE, 50u128).encode(),
    );
    s.call(
        "token.transfer_from",
        ALICE,
        token,
        "transfer_from",
        (BOB, CAROL, 20u128).encode(),
    );
    s.call(
        "token.balance_of",
        ALICE,
        token,
        "balance_of",
        CAROL.encode(),
    );
    s.call(
        "token.allowance",
        ALICE,
        token,
        "allowance",
        (BOB, ALICE).encode(),
    );
    s.call(
        "token.total_supply",
        ALICE,
        token,
        "total_supply",
        ().encode(),
    );

    let compute = s.deploy("compute", k::COMPUTE, vec![]);
    s.call("compute.fib(30)", ALICE, compute, "fib", 30u32.encode());
    s.call(
        "compute.fib_recursive(15)",
        ALICE,
        compute,
        "fib_recursive",
        15u32.encode(),
    );
    s.call(
        "compute.mix_loop(1000)",
        ALICE,
        compute,
        "mix_loop",
        1000u32.encode(),
    );
    s.call(
        "compute.hash_loop(10)",
        ALICE,
        compute,
        "hash_loop",
        10u32.encode(),
    );
    s.call(
        "compute.sha256_loop(10)",
        ALICE,
        compute,
        "sha256_loop",
        10u32.encode(),
    );

    let nft = s.deploy("nft", k::NFT, ().encode());
    s.call("nft.mint", ALICE, nft, "mint", (1u64, BOB).encode());
    s.call("nft.mint.again", ALICE, nft, "mint", (1u64, BOB).encode());
    s.call("nft.mint(2)", ALICE, nft, "mint", (2u64, BOB).encode());
    s.call("nft.transfer", BOB, nft, "transfer", (1u64, CAROL).encode());
    s.call("nft.owner_of", BOB, nft, "owner_of", 1u64.encode());
    s.call("nft.list", BOB, nft, "list", (None::<u64>, 10u32).encode());

    let multisig = s.deploy("multisig", k::MULTISIG, (vec![ALICE, BOB], 2u32).encode());
    s.call(
        "token.mint(multisig)",
        ALICE,
        token,
        "mint",
        (multisig, 500u128).encode(),
    );
    let inner = (CAROL, 5u128).encode();
    s.call(
        "multisig.propose",
        ALICE,
        multisig,
        "propose",
        (token, "transfer".to_string(), inner).encode(),
    );
    s.call(
        "multisig.execute.early",
        ALICE,
        multisig,
        "execute",
        0u64.encode(),
    );
    s.call("multisig.approve", BOB, multisig, "approve", 0u64.encode());
    s.call(
        "multisig.execute",
        ALICE,
        multisig,
        "execute",
        0u64.encode(),
    );

    let token_b = s.deploy("token_b", k::TOKEN, ().encode());
    let swap = s.deploy("swap", k::SWAP, (token, token_b).encode());
    s.call(
        "token.mint(alice)",
        ALICE,
        token,
        "mint",
        (ALICE, 10_000u128).encode(),
    );
    s.call(
        "token_b.mint(alice)",
        ALICE,
        token_b,
        "mint",
        (ALICE, 10_000u128).encode(),
    );
    s.call(
        "token.approve(swap)",
        ALICE,
        token,
        "approve",
        (swap, 10_000u128).encode(),
    );
    s.call(
        "token_b.approve(swap)",
        ALICE,
        token_b,
        "approve",
        (swap, 10_000u128).encode(),
    );
    s.call(
        "swap.add_liquidity",
        ALICE,
        swap,
        "add_liquidity",
        (1_000u128, 2_000u128).encode(),
    );
    s.call(
        "swap.swap",
        ALICE,
        swap,
        "swap",
        (token, 100u128, 1u128).encode(),
    );
    s.call("swap.reserves", ALICE, swap, "reserves", ().encode());

    let adversary = s.deploy("adversary", k::ADVERSARY, vec![]);
    s.call("adversary.boom(0)", ALICE, adversary, "boom", 0u32.encode());
    s.call("adversary.boom(1)", ALICE, adversary, "boom", 1u32.encode());
    s.call(
        "adversary.spam(3,16)",
        ALICE,
        adversary,
        "spam",
        (3u32, 16u32).encode(),
    );
    s.call(
        "adversary.big_return(1000)",
        ALICE,
        adversary,
        "big_return",
        1000u32.encode(),
    );
    s.call(
        "adversary.snoop(token)",
        ALICE,
        adversary,
        "snoop",
        (token, b"A".to_vec()).encode(),
    );
    s.call(
        "adversary.scribble(token)",
        ALICE,
        adversary,
        "scribble",
        (token, b"A".to_vec(), b"x".to_vec()).encode(),
    );
    s.call(
        "token.transfer(adversary)",
        BOB,
        token,
        "transfer_and_call",
        (adversary, 1u128).encode(),
    );
    s.call(
        "adversary.last_reentry",
        ALICE,
        adversary,
        "last_reentry",
        ().encode(),
    );
    s.finish("examples", pool);
}
