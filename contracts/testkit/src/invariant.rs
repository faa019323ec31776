//! Invariant testing (feature `invariant`): random sequences of calls against a chain, with
//! the test's invariants checked after every call, and a failing sequence shrunk to a minimal
//! one, as Foundry's invariant tests do. Built on proptest.
//!
//! ```ignore
//! use keel_testkit::invariant::{self, Config};
//! use proptest::prelude::*;
//!
//! #[derive(Clone, Debug)]
//! enum Op { Mint(u8, u128), Transfer(u8, u8, u128) }
//!
//! invariant::check(
//!     &Config::default(),
//!     || { /* deploy; return (chain, your state) */ },
//!     prop_oneof![/* strategies for Op */],
//!     |chain, state, op| { /* run op with the typed client */ Ok(()) },
//!     |chain, state| { /* Err(message) if an invariant is broken */ Ok(()) },
//! );
//! ```
//!
//! The chain is set up once; each case starts from a snapshot of it. Runs are deterministic
//! (a fixed seed, [`Config::seed`]), so a failure reproduces on every machine.

use std::cell::RefCell;
use std::fmt::Debug;

use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, RngAlgorithm, TestCaseError, TestRng, TestRunner};

use crate::{Error, TestChain};

/// How many sequences, how long, and from which seed.
#[derive(Debug, Clone)]
pub struct Config {
    /// Random sequences to run (proptest cases).
    pub cases: u32,
    /// Longest sequence (calls per case).
    pub max_len: usize,
    /// The seed of the deterministic random generator.
    pub seed: [u8; 32],
    /// Shrinking steps allowed after a failure.
    pub max_shrink_iters: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            cases: 64,
            max_len: 16,
            seed: *b"keel-testkit invariant seed 0001",
            max_shrink_iters: 4096,
        }
    }
}

/// A broken invariant, after shrinking: the shortest failing sequence found and why it fails.
#[derive(Debug, Clone)]
pub struct Failure<A> {
    /// The minimal sequence of actions.
    pub actions: Vec<A>,
    /// The failure message (the invariant's, or an error applying an action).
    pub message: String,
}

impl<A: Debug> std::fmt::Display for Failure<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "invariant broken: {}", self.message)?;
        writeln!(f, "minimal sequence ({} calls):", self.actions.len())?;
        for (i, a) in self.actions.iter().enumerate() {
            writeln!(f, "  {}. {a:?}", i + 1)?;
        }
        Ok(())
    }
}

/// Runs random sequences of `actions` and checks `invariant` after each step (and once before
/// the first). Returns the minimal failing sequence, if any. `setup` builds the chain once
/// (deploys, initial mints); `apply` runs one action, typically one typed-client call whose
/// revert is an ordinary outcome (return `Err` only when the test itself cannot go on).
pub fn run<S, A, St>(
    config: &Config,
    setup: impl FnOnce() -> Result<(TestChain, S), Error>,
    actions: St,
    mut apply: impl FnMut(&mut TestChain, &S, &A) -> Result<(), Error>,
    mut invariant: impl FnMut(&TestChain, &S) -> Result<(), String>,
) -> Result<Option<Failure<A>>, Error>
where
    A: Clone + Debug,
    St: Strategy<Value = A>,
{
    let (chain, state) = setup()?;
    let start = chain.snapshot()?;
    let pt = PtConfig {
        cases: config.cases,
        max_shrink_iters: config.max_shrink_iters,
        failure_persistence: None,
        ..PtConfig::default()
    };
    let mut runner =
        TestRunner::new_with_rng(pt, TestRng::from_seed(RngAlgorithm::ChaCha, &config.seed));
    let strategy = proptest::collection::vec(actions, 1..=config.max_len.max(1));
    // proptest's runner takes an `Fn`: the mutable pieces live in cells.
    let chain = RefCell::new(chain);
    let cells = RefCell::new((&mut apply, &mut invariant, None::<Error>));
    let result = runner.run(&strategy, |seq| {
        let mut chain = chain.borrow_mut();
        let mut cells = cells.borrow_mut();
        let (apply, invariant, harness_error) = &mut *cells;
        chain
            .restore(&start)
            .map_err(|e| TestCaseError::fail(format!("restore: {e}")))?;
        invariant(&chain, &state)
            .map_err(|m| TestCaseError::fail(format!("before any call: {m}")))?;
        for (i, a) in seq.iter().enumerate() {
            if let Err(e) = apply(&mut chain, &state, a) {
                let msg = format!("applying call {} ({a:?}): {e}", i + 1);
                harness_error.get_or_insert(e);
                return Err(TestCaseError::fail(msg));
            }
            invariant(&chain, &state)
                .map_err(|m| TestCaseError::fail(format!("after call {} ({a:?}): {m}", i + 1)))?;
        }
        Ok(())
    });
    let harness_error = cells.into_inner().2;
    chain.into_inner().restore(&start)?;
    match result {
        Ok(()) => Ok(None),
        Err(proptest::test_runner::TestError::Fail(why, actions)) => Ok(Some(Failure {
            actions,
            message: why.to_string(),
        })),
        Err(proptest::test_runner::TestError::Abort(why)) => {
            Err(harness_error
                .unwrap_or_else(|| Error::Engine(format!("invariant run aborted: {why}"))))
        }
    }
}

/// [`run`], panicking with the minimal failing sequence if an invariant breaks.
#[track_caller]
pub fn check<S, A, St>(
    config: &Config,
    setup: impl FnOnce() -> Result<(TestChain, S), Error>,
    actions: St,
    apply: impl FnMut(&mut TestChain, &S, &A) -> Result<(), Error>,
    invariant: impl FnMut(&TestChain, &S) -> Result<(), String>,
) where
    A: Clone + Debug,
    St: Strategy<Value = A>,
{
    match run(config, setup, actions, apply, invariant) {
        Ok(None) => {}
        Ok(Some(f)) => panic!("{f}"),
        Err(e) => panic!("invariant run failed: {e}"),
    }
}
