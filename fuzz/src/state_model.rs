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
    Checkpoint, Hash, MemStore, Overlay, Proof, StateError, StateRead, StateStore, Store, Version,
    reference,
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
    /// Prune every version before the one chosen by the index (modulo the number of versions).
    Prune(u8),
    /// Read a key at a version chosen by the index.
    GetAt(Key, u8),
    /// Scan a range with the store's own iterator.
    Scan(KeyBound, KeyBound),
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

/// A store under test: the state traits plus history, pruning and reopening.
pub trait Backend {
    /// The store type.
    type S: StateStore;
    /// The store.
    fn store(&self) -> &Self::S;
    /// The store, mutably.
    fn store_mut(&mut self) -> &mut Self::S;
    /// The value of `key` at `version`.
    fn get_at(&self, key: &[u8], version: Version) -> Result<Option<Vec<u8>>, StateError>;
    /// The root of `version`.
    fn root_at(&self, version: Version) -> Result<Hash, StateError>;
    /// Prunes every version before `up_to`.
    fn prune(&mut self, up_to: Version) -> Result<(), StateError>;
    /// The oldest readable version.
    fn oldest(&self) -> Version;
    /// The latest entries in a range, through the store's own scan.
    fn scan(&self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> Vec<(Vec<u8>, Vec<u8>)>;
    /// Closes and reopens the store from its durable form; a no-op for in-memory stores.
    fn reopen(&mut self);
}

impl Backend for MemStore {
    type S = MemStore;
    fn store(&self) -> &MemStore {
        self
    }
    fn store_mut(&mut self) -> &mut MemStore {
        self
    }
    fn get_at(&self, key: &[u8], version: Version) -> Result<Option<Vec<u8>>, StateError> {
        MemStore::get_at(self, key, version)
    }
    fn root_at(&self, version: Version) -> Result<Hash, StateError> {
        MemStore::root_at(self, version)
    }
    fn prune(&mut self, up_to: Version) -> Result<(), StateError> {
        MemStore::prune(self, up_to)
    }
    fn oldest(&self) -> Version {
        self.oldest_version()
    }
    fn scan(&self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> Vec<(Vec<u8>, Vec<u8>)> {
        MemStore::scan(self, lower, upper)
            .collect::<Result<_, _>>()
            .unwrap()
    }
    fn reopen(&mut self) {}
}

/// The RocksDB [`Store`] in a temporary directory.
pub struct Rocks {
    store: Option<Store>,
    dir: tempfile::TempDir,
}

impl Rocks {
    /// A fresh store in a new temporary directory, in `/dev/shm` when there is one: RocksDB
    /// fsyncs its directory and manifest on open, which on a real disk costs far more than
    /// the whole scenario.
    pub fn new() -> Self {
        let shm = std::path::Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            tempfile::tempdir_in(shm).unwrap()
        } else {
            tempfile::tempdir().unwrap()
        };
        let store = Store::open(dir.path()).unwrap();
        Rocks {
            store: Some(store),
            dir,
        }
    }
}

impl Default for Rocks {
    fn default() -> Self {
        Self::new()
    }
}

impl Backend for Rocks {
    type S = Store;
    fn store(&self) -> &Store {
        self.store.as_ref().unwrap()
    }
    fn store_mut(&mut self) -> &mut Store {
        self.store.as_mut().unwrap()
    }
    fn get_at(&self, key: &[u8], version: Version) -> Result<Option<Vec<u8>>, StateError> {
        self.store().get_at(key, version)
    }
    fn root_at(&self, version: Version) -> Result<Hash, StateError> {
        self.store().root_at(version)
    }
    fn prune(&mut self, up_to: Version) -> Result<(), StateError> {
        self.store_mut().prune(up_to)
    }
    fn oldest(&self) -> Version {
        self.store().oldest_version()
    }
    fn scan(&self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.store()
            .scan(lower, upper)
            .collect::<Result<_, _>>()
            .unwrap()
    }
    fn reopen(&mut self) {
        // Close first: RocksDB holds a lock on the directory.
        self.store = None;
        self.store = Some(Store::open(self.dir.path()).unwrap());
    }
}

/// Checks a proof of `key` under `root` where the model says `value`, and that tampering
/// with the proof or the claim makes verification fail.
fn check_proof(proof: &Proof, root: &Hash, key: &[u8], value: Option<&[u8]>) {
    if let Err(e) = proof.verify(root, key, value) {
        panic!("honest proof of {key:?} = {value:?} rejected: {e}");
    }
    let compressed = proof.compress();
    assert_eq!(
        compressed.decompress().as_ref(),
        Ok(proof),
        "compress/decompress"
    );
    assert!(
        compressed.verify(root, key, value).is_ok(),
        "compressed proof rejected"
    );
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
struct Run<B: Backend> {
    backend: B,
    /// `history[v]` is the model of version `v`; `roots[v]` its root.
    history: Vec<Map>,
    roots: Vec<Hash>,
    /// The oldest version the model says is readable.
    oldest: usize,
}

impl<B: Backend> Run<B> {
    fn latest(&self) -> usize {
        self.history.len() - 1
    }

    fn check_committed(&self) {
        let store = self.backend.store();
        let model = &self.history[self.latest()];
        assert_eq!(store.version(), self.latest() as u64, "version");
        assert_eq!(
            store.root(),
            reference::root(model),
            "root != reference root"
        );
        assert_eq!(store.root(), self.roots[self.latest()], "root changed");
        assert_eq!(self.backend.oldest(), self.oldest as u64, "oldest version");
        for (k, v) in model {
            assert_eq!(store.get(k).unwrap().as_ref(), Some(v), "get {k:?}");
        }
        assert_eq!(&scan(store), model, "store iteration != model");
        let all = self.backend.scan(Bound::Unbounded, Bound::Unbounded);
        assert!(
            all.into_iter()
                .eq(model.iter().map(|(k, v)| (k.clone(), v.clone()))),
            "scan != model"
        );
    }

    /// The version picked by `pick`, and whether the model says it is still readable.
    fn pick_version(&self, pick: u8) -> (usize, bool) {
        let v = usize::from(pick) % self.history.len();
        (v, v >= self.oldest)
    }

    fn prove(&self, key: &[u8], pick: u8) {
        let (version, readable) = self.pick_version(pick);
        match self.backend.store().prove(key, version as u64) {
            Ok(proof) => {
                assert!(readable, "prove at pruned version {version} succeeded");
                let value = self.history[version].get(key).map(Vec::as_slice);
                check_proof(&proof, &self.roots[version], key, value);
            }
            Err(StateError::VersionUnavailable { .. }) if !readable => {}
            Err(e) => panic!("prove({key:?}, {version}) failed: {e}"),
        }
    }

    fn get_at(&self, key: &[u8], pick: u8) {
        let (version, readable) = self.pick_version(pick);
        match self.backend.get_at(key, version as u64) {
            Ok(got) => {
                assert!(readable, "get_at pruned version {version} succeeded");
                assert_eq!(
                    got.as_ref(),
                    self.history[version].get(key),
                    "get_at {key:?} @{version}"
                );
            }
            Err(StateError::VersionUnavailable { .. }) if !readable => {}
            Err(e) => panic!("get_at({key:?}, {version}) failed: {e}"),
        }
        match self.backend.root_at(version as u64) {
            Ok(root) => {
                assert!(readable, "root_at pruned version {version} succeeded");
                assert_eq!(root, self.roots[version], "root_at {version}");
            }
            Err(StateError::VersionUnavailable { .. }) if !readable => {}
            Err(e) => panic!("root_at({version}) failed: {e}"),
        }
    }
}

/// Runs `ops` against `backend`, which must be empty at version 0.
pub fn run_ops<B: Backend>(backend: B, ops: &[Op]) {
    let mut run = Run {
        backend,
        history: vec![Map::new()],
        roots: vec![keel_state::proof::EMPTY],
        oldest: 0,
    };
    assert_eq!(
        run.backend.store().root(),
        keel_state::proof::EMPTY,
        "fresh store not empty"
    );
    let mut ops = ops.iter().peekable();
    while ops.peek().is_some() {
        // One block: an overlay over the committed store.
        let mut view = run.history[run.latest()].clone();
        let mut saved: Vec<(Checkpoint, Map)> = Vec::new();
        let mut overlay = Overlay::new(run.backend.store());
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
                    let base = &run.history[run.latest()];
                    let got = run
                        .backend
                        .store()
                        .next_entry(lo.as_bound(), hi.as_bound())
                        .unwrap();
                    let want = model_seek(base, lo.as_bound(), hi.as_bound());
                    assert_eq!(got, want, "seek {lo:?}..{hi:?} in the store");
                }
                Op::Scan(lo, hi) => {
                    let got = run.backend.scan(lo.as_bound(), hi.as_bound());
                    let base = &run.history[run.latest()];
                    let mut want = Vec::new();
                    let mut lower = lo.as_bound().map(<[u8]>::to_vec);
                    while let Some((k, v)) =
                        model_seek(base, lower.as_ref().map(Vec::as_slice), hi.as_bound())
                    {
                        lower = Bound::Excluded(k.clone());
                        want.push((k, v));
                    }
                    assert_eq!(got, want, "scan {lo:?}..{hi:?}");
                }
                Op::Prove(k, pick) => run.prove(&k.0, *pick),
                Op::GetAt(k, pick) => run.get_at(&k.0, *pick),
                Op::CommitBlock | Op::Reopen | Op::Prune(_) => {
                    end = Some(op);
                    break;
                }
            }
        }
        assert_eq!(scan(&overlay), view, "overlay iteration != model");
        let changes = overlay.into_changes();
        let (version, root) = run.backend.store_mut().commit(&changes).unwrap();
        assert_eq!(version, run.history.len() as u64, "commit version");
        run.roots.push(root);
        run.history.push(view);
        run.check_committed();
        match end {
            Some(Op::Reopen) => {
                run.backend.reopen();
                run.check_committed();
            }
            Some(Op::Prune(pick)) => {
                let up_to = usize::from(*pick) % run.history.len();
                run.backend.prune(up_to as u64).unwrap();
                run.oldest = run.oldest.max(up_to.min(run.latest()));
                run.check_committed();
                for v in 0..run.history.len() {
                    let pick = v as u8;
                    if v < 256 {
                        run.get_at(b"\x03", pick);
                    }
                }
            }
            _ => {}
        }
    }
    // Every key ever written, plus one never written: read and prove at every version.
    let keys: std::collections::BTreeSet<Vec<u8>> =
        run.history.iter().flat_map(|m| m.keys().cloned()).collect();
    let versions = run.history.len().min(256);
    for k in keys
        .iter()
        .take(48)
        .chain([b"never-written-key".to_vec()].iter())
    {
        for v in 0..versions {
            run.get_at(k, v as u8);
        }
        run.prove(k, (run.latest() % 256) as u8);
        run.prove(k, 0);
    }
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

/// The fuzz target: runs the operations against the in-memory store and, when the two low
/// bits of the first byte are set, against the RocksDB store too (opening a RocksDB store
/// costs far more than a scenario, so the fuzzer gets to choose).
pub fn run(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let ops = ops_from_bytes(rest);
    run_ops(MemStore::new(), &ops);
    if selector & 3 == 3 {
        run_ops(Rocks::new(), &ops);
    }
}

/// The same scenario against the in-memory store only, whatever the first byte says.
pub fn run_mem(data: &[u8]) {
    if let Some((_, rest)) = data.split_first() {
        run_ops(MemStore::new(), &ops_from_bytes(rest));
    }
}
