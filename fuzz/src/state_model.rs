//! Target `state_model`: the state store and the overlay against a `BTreeMap` model.
//!
//! The input is a sequence of [`Op`]s. Writes go through an [`Overlay`] over the store, with
//! nested checkpoints that are committed or reverted like call frames; `CommitBlock` commits
//! the overlay's changes to the store as a new version. Invariants checked:
//!
//! - every read and every range seek (`next_entry`, with arbitrary bounds, including empty
//!   and inverted ranges) through the overlay equals the model's;
//! - reverting a checkpoint restores exactly the view at the time it was opened;
//! - after each commit: version + 1, contents and full iteration equal the model, and the
//!   root equals [`reference::root`] of the model;
//! - proofs of present and absent keys verify against the root, at the latest version and at
//!   older ones while they are kept, and tampered proofs (changed value, flipped sibling,
//!   terminal or root bits, dropped or added siblings) are rejected;
//! - reopening the persistent store gives the same version, root and contents.

use std::collections::BTreeMap;
use std::ops::Bound;

use arbitrary::{Arbitrary, Unstructured};
use keel_state::proof::ProofTerminal;
use keel_state::{
    Checkpoint, Hash, MemStore, Overlay, Proof, StateError, StateRead, StateStore, reference,
};

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

/// A key: mostly from a small alphabet so that operations collide, sometimes raw bytes.
#[derive(Debug, Clone)]
pub struct Key(pub Vec<u8>);

impl<'a> Arbitrary<'a> for Key {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let tag: u8 = u.arbitrary()?;
        Ok(Key(match tag {
            // 16 one-byte keys, the empty key, and 16 two-byte keys sharing a prefix.
            0..=127 => vec![tag % 16],
            128..=135 => Vec::new(),
            136..=199 => vec![7, tag % 16],
            _ => {
                let len = u.int_in_range(0..=40)?;
                u.bytes(len)?.to_vec()
            }
        }))
    }
}

/// A range bound for a seek.
#[derive(Debug, Clone, Arbitrary)]
pub enum KeyBound {
    /// `Bound::Included`.
    Included(Key),
    /// `Bound::Excluded`.
    Excluded(Key),
    /// `Bound::Unbounded`.
    Unbounded,
}

impl KeyBound {
    fn as_bound(&self) -> Bound<&[u8]> {
        match self {
            KeyBound::Included(k) => Bound::Included(&k.0),
            KeyBound::Excluded(k) => Bound::Excluded(&k.0),
            KeyBound::Unbounded => Bound::Unbounded,
        }
    }
}

/// One step of a scenario.
#[derive(Debug, Clone, Arbitrary)]
pub enum Op {
    /// Put a value (possibly empty: an empty value is present, not absent).
    Put(Key, Vec<u8>),
    /// Delete a key (possibly absent).
    Delete(Key),
    /// Open a nested checkpoint.
    Checkpoint,
    /// Commit the open checkpoint chosen by the index (modulo the number open).
    CommitCheckpoint(u8),
    /// Revert the open checkpoint chosen by the index (modulo the number open).
    RevertCheckpoint(u8),
    /// Seek the first entry in a range, through the overlay.
    Seek(KeyBound, KeyBound),
    /// Commit the overlay to the store as a new version.
    CommitBlock,
    /// Prove a key at a version chosen by the index (modulo the number of versions).
    Prove(Key, u8),
    /// Commit the block, then close and reopen the persistent store (just the commit for the
    /// in-memory store).
    Reopen,
}

/// The model's answer to a seek: `BTreeMap::range` panics on inverted or empty-excluded
/// ranges, so those are answered `None` here, which is what the store must answer too.
fn model_seek(map: &Map, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> Option<(Vec<u8>, Vec<u8>)> {
    let empty = match (lower, upper) {
        (Bound::Included(l), Bound::Included(u)) => l > u,
        (Bound::Included(l), Bound::Excluded(u))
        | (Bound::Excluded(l), Bound::Included(u))
        | (Bound::Excluded(l), Bound::Excluded(u)) => l >= u,
        _ => false,
    };
    if empty {
        return None;
    }
    map.range::<[u8], _>((lower, upper))
        .next()
        .map(|(k, v)| (k.clone(), v.clone()))
}

/// Every entry of `state` in ascending order, by repeated `next_entry` seeks.
fn scan(state: &impl StateRead) -> Map {
    let mut out = Map::new();
    let mut lower: Option<Vec<u8>> = None;
    loop {
        let lo = match &lower {
            None => Bound::Unbounded,
            Some(k) => Bound::Excluded(k.as_slice()),
        };
        let Some((k, v)) = state.next_entry(lo, Bound::Unbounded).unwrap() else {
            break;
        };
        if let Some(prev) = &lower {
            assert!(k > *prev, "next_entry went backwards: {k:?} after {prev:?}");
        }
        assert!(
            out.insert(k.clone(), v).is_none(),
            "key {k:?} returned twice"
        );
        lower = Some(k);
    }
    out
}

/// A store under test: the trait plus how to reopen it.
pub trait Backend: StateStore {
    /// Closes and reopens the store from its durable form; a no-op for in-memory stores.
    fn reopen(&mut self);
    /// Whether versions older than the latest can be proven.
    fn keeps_history(&self) -> bool;
}

impl Backend for MemStore {
    fn reopen(&mut self) {}
    fn keeps_history(&self) -> bool {
        false
    }
}

/// Checks a proof of `key` under `root` where the model says `value`, and that tampering
/// with the proof or the claim makes verification fail.
fn check_proof(proof: &Proof, root: &Hash, key: &[u8], value: Option<&[u8]>) {
    if let Err(e) = proof.verify(root, key, value) {
        panic!("honest proof of {key:?} = {value:?} rejected: {e}");
    }
    // A wrong claim.
    let mut other = value.map(<[u8]>::to_vec).unwrap_or_default();
    other.push(0x5a);
    assert!(
        proof.verify(root, key, Some(&other)).is_err(),
        "wrong value accepted"
    );
    if value.is_some() {
        assert!(
            proof.verify(root, key, None).is_err(),
            "absence of a present key accepted"
        );
    }
    // A wrong root.
    let mut bad_root = *root;
    bad_root[31] ^= 1;
    assert!(
        proof.verify(&bad_root, key, value).is_err(),
        "wrong root accepted"
    );
    // Flipped sibling bits.
    for i in 0..proof.siblings.len().min(4) {
        let mut p = proof.clone();
        let idx = (i * 7) % p.siblings.len();
        p.siblings[idx][i % 32] ^= 0x80;
        assert!(
            p.verify(root, key, value).is_err(),
            "flipped sibling {idx} accepted"
        );
    }
    // Dropped or added siblings.
    if !proof.siblings.is_empty() {
        let mut p = proof.clone();
        p.siblings.pop();
        assert!(
            p.verify(root, key, value).is_err(),
            "dropped sibling accepted"
        );
        let mut p = proof.clone();
        p.siblings.remove(0);
        assert!(
            p.verify(root, key, value).is_err(),
            "dropped first sibling accepted"
        );
    }
    let mut p = proof.clone();
    p.siblings.push([1; 32]);
    assert!(
        p.verify(root, key, value).is_err(),
        "extra sibling accepted"
    );
    // A tampered terminal.
    match &proof.terminal {
        ProofTerminal::Empty => {
            let mut p = proof.clone();
            p.terminal = ProofTerminal::Leaf {
                key_hash: keel_state::proof::key_hash(key),
                value_hash: keel_state::proof::value_hash(b""),
            };
            assert!(
                p.verify(root, key, Some(b"")).is_err(),
                "forged leaf accepted"
            );
        }
        ProofTerminal::Leaf {
            key_hash,
            value_hash,
        } => {
            let mut p = proof.clone();
            let mut vh = *value_hash;
            vh[0] ^= 1;
            p.terminal = ProofTerminal::Leaf {
                key_hash: *key_hash,
                value_hash: vh,
            };
            assert!(
                p.verify(root, key, value).is_err(),
                "tampered value hash accepted"
            );
            let mut p = proof.clone();
            p.terminal = ProofTerminal::Empty;
            assert!(
                p.verify(root, key, None).is_err(),
                "leaf replaced by empty accepted"
            );
        }
    }
}

/// The scenario state: the store, the committed history and the overlay model.
struct Run<S: Backend> {
    store: S,
    /// `history[v]` is the model of version `v`; `roots[v]` its root.
    history: Vec<Map>,
    roots: Vec<Hash>,
}

impl<S: Backend> Run<S> {
    fn check_committed(&self) {
        let model = self.history.last().unwrap();
        let version = self.history.len() as u64 - 1;
        assert_eq!(self.store.version(), version, "version");
        assert_eq!(
            self.store.root(),
            reference::root(model),
            "root != reference root"
        );
        assert_eq!(
            self.store.root(),
            *self.roots.last().unwrap(),
            "root changed"
        );
        for (k, v) in model {
            assert_eq!(self.store.get(k).unwrap().as_ref(), Some(v), "get {k:?}");
        }
        assert_eq!(&scan(&self.store), model, "store iteration != model");
    }

    fn prove(&self, key: &[u8], pick: u8) {
        let latest = self.history.len() - 1;
        let version = if self.store.keeps_history() {
            usize::from(pick) % self.history.len()
        } else {
            latest
        };
        match self.store.prove(key, version as u64) {
            Ok(proof) => {
                let value = self.history[version].get(key).map(Vec::as_slice);
                check_proof(&proof, &self.roots[version], key, value);
            }
            Err(StateError::VersionUnavailable { .. }) if version != latest => {}
            Err(e) => panic!("prove({key:?}, {version}) failed: {e}"),
        }
    }
}

/// Runs `ops` against `store`, which must be empty at version 0.
pub fn run_ops<S: Backend>(store: S, ops: &[Op]) {
    let mut run = Run {
        store,
        history: vec![Map::new()],
        roots: vec![keel_state::proof::EMPTY],
    };
    assert_eq!(
        run.store.root(),
        keel_state::proof::EMPTY,
        "fresh store not empty"
    );
    let mut ops = ops.iter().peekable();
    while ops.peek().is_some() {
        // One block: an overlay over the committed store.
        let mut view = run.history.last().unwrap().clone();
        let mut saved: Vec<(Checkpoint, Map)> = Vec::new();
        let mut overlay = Overlay::new(&run.store);
        let mut end = None;
        for op in ops.by_ref() {
            match op {
                Op::Put(k, v) => {
                    overlay.put(k.0.clone(), v.clone());
                    view.insert(k.0.clone(), v.clone());
                    assert_eq!(overlay.get(&k.0).unwrap().as_ref(), Some(v), "read own put");
                }
                Op::Delete(k) => {
                    overlay.delete(k.0.clone());
                    view.remove(&k.0);
                    assert_eq!(overlay.get(&k.0).unwrap(), None, "read own delete");
                }
                Op::Checkpoint => {
                    saved.push((overlay.checkpoint(), view.clone()));
                    assert_eq!(overlay.depth(), saved.len(), "checkpoint depth");
                }
                Op::CommitCheckpoint(i) | Op::RevertCheckpoint(i) if !saved.is_empty() => {
                    let idx = usize::from(*i) % saved.len();
                    let (cp, snapshot) = saved[idx].clone();
                    saved.truncate(idx);
                    if matches!(op, Op::CommitCheckpoint(_)) {
                        overlay.commit(cp);
                    } else {
                        overlay.revert(cp);
                        view = snapshot;
                    }
                    assert_eq!(overlay.depth(), saved.len(), "depth after close");
                    assert_eq!(
                        scan(&overlay),
                        view,
                        "overlay view after closing a checkpoint"
                    );
                }
                Op::CommitCheckpoint(_) | Op::RevertCheckpoint(_) => {}
                Op::Seek(lo, hi) => {
                    let got = overlay.next_entry(lo.as_bound(), hi.as_bound()).unwrap();
                    let want = model_seek(&view, lo.as_bound(), hi.as_bound());
                    assert_eq!(got, want, "seek {lo:?}..{hi:?} through the overlay");
                    let base = run.history.last().unwrap();
                    let got = run.store.next_entry(lo.as_bound(), hi.as_bound()).unwrap();
                    let want = model_seek(base, lo.as_bound(), hi.as_bound());
                    assert_eq!(got, want, "seek {lo:?}..{hi:?} in the store");
                }
                Op::Prove(k, pick) => run.prove(&k.0, *pick),
                Op::CommitBlock | Op::Reopen => {
                    end = Some(op);
                    break;
                }
            }
        }
        assert_eq!(scan(&overlay), view, "overlay iteration != model");
        let changes = overlay.into_changes();
        let (version, root) = run.store.commit(&changes).unwrap();
        assert_eq!(version, run.history.len() as u64, "commit version");
        run.roots.push(root);
        run.history.push(view);
        run.check_committed();
        if matches!(end, Some(Op::Reopen)) {
            run.store.reopen();
            run.check_committed();
        }
    }
    // Prove every key ever written, plus one never written, at the latest version.
    let keys: std::collections::BTreeSet<Vec<u8>> =
        run.history.iter().flat_map(|m| m.keys().cloned()).collect();
    for k in keys.iter().take(64) {
        run.prove(k, u8::MAX);
    }
    run.prove(b"never-written-key", u8::MAX);
}

/// Decodes the operations from fuzzer bytes.
pub fn ops_from_bytes(data: &[u8]) -> Vec<Op> {
    let mut u = Unstructured::new(data);
    let mut ops = Vec::new();
    while !u.is_empty() && ops.len() < 256 {
        match Op::arbitrary(&mut u) {
            Ok(op) => ops.push(op),
            Err(_) => break,
        }
    }
    ops
}

/// The fuzz target: runs the operations against the in-memory store.
pub fn run(data: &[u8]) {
    let ops = ops_from_bytes(data);
    run_ops(MemStore::new(), &ops);
}
