//! Shared model-checking code for the MemStore and RocksDB Store tests.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::BTreeMap;
use std::ops::Bound;

use keel_state::proof::ProofTerminal;
use keel_state::{ChangeSet, Hash, MemStore, StateError, StateStore, Version, reference};

pub type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// What the tests need beyond `StateStore`: both stores implement these inherently.
pub trait Versioned: StateStore {
    fn get_at(&self, key: &[u8], v: Version) -> Result<Option<Vec<u8>>, StateError>;
    fn root_at(&self, v: Version) -> Result<Hash, StateError>;
    fn prune(&mut self, up_to: Version) -> Result<(), StateError>;
    fn all(&self) -> Vec<(Vec<u8>, Vec<u8>)>;
    fn prefix(&self, p: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)>;
}

impl Versioned for MemStore {
    fn get_at(&self, key: &[u8], v: Version) -> Result<Option<Vec<u8>>, StateError> {
        MemStore::get_at(self, key, v)
    }
    fn root_at(&self, v: Version) -> Result<Hash, StateError> {
        MemStore::root_at(self, v)
    }
    fn prune(&mut self, up_to: Version) -> Result<(), StateError> {
        MemStore::prune(self, up_to)
    }
    fn all(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.scan(Bound::Unbounded, Bound::Unbounded)
            .collect::<Result<_, _>>()
            .unwrap()
    }
    fn prefix(&self, p: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.scan_prefix(p).collect::<Result<_, _>>().unwrap()
    }
}

#[cfg(feature = "rocksdb")]
impl Versioned for keel_state::Store {
    fn get_at(&self, key: &[u8], v: Version) -> Result<Option<Vec<u8>>, StateError> {
        keel_state::Store::get_at(self, key, v)
    }
    fn root_at(&self, v: Version) -> Result<Hash, StateError> {
        keel_state::Store::root_at(self, v)
    }
    fn prune(&mut self, up_to: Version) -> Result<(), StateError> {
        keel_state::Store::prune(self, up_to)
    }
    fn all(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.scan(Bound::Unbounded, Bound::Unbounded)
            .collect::<Result<_, _>>()
            .unwrap()
    }
    fn prefix(&self, p: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.scan_prefix(p).collect::<Result<_, _>>().unwrap()
    }
}

/// A pool of keys with shared prefixes, the empty key and 0xff runs.
pub fn key_pool() -> Vec<Vec<u8>> {
    let mut keys = vec![
        vec![],
        vec![0],
        vec![0, 0],
        vec![0xff],
        vec![0xff, 0xff],
        b"a".to_vec(),
        b"ab".to_vec(),
        b"abc".to_vec(),
        b"b".to_vec(),
    ];
    for i in 0..31u32 {
        keys.push(format!("key-{i}").into_bytes());
    }
    keys
}

/// Applies `batch` to the model.
pub fn apply_model(model: &mut Model, batch: &ChangeSet) {
    for (k, v) in batch.iter() {
        match v {
            Some(v) => {
                model.insert(k.to_vec(), v.to_vec());
            }
            None => {
                model.remove(k);
            }
        }
    }
}

/// Checks a proof of `key` at a version whose root is `root` and contents `model`, and that
/// tampering with it, the value or the root makes it fail.
pub fn check_proof<S: StateStore>(store: &S, key: &[u8], v: Version, root: &Hash, model: &Model) {
    let proof = store.prove(key, v).unwrap();
    let value = model.get(key).map(Vec::as_slice);
    proof
        .verify(root, key, value)
        .unwrap_or_else(|e| panic!("proof of {key:?} at {v} failed: {e}"));
    // The compressed form is equivalent, survives SCALE, and is strict.
    let c = proof.compress();
    assert_eq!(c.decompress().unwrap(), proof);
    c.verify(root, key, value).unwrap();
    let bytes = parity_scale_codec::Encode::encode(&c);
    let full = parity_scale_codec::Encode::encode(&proof).len();
    let empties = proof
        .siblings
        .iter()
        .filter(|s| **s == keel_state::proof::EMPTY)
        .count();
    assert_eq!(
        bytes.len() + 32 * empties,
        full + 3 + proof.siblings.len().div_ceil(8)
    );
    let back: keel_state::proof::CompressedProof =
        parity_scale_codec::Decode::decode(&mut &bytes[..]).unwrap();
    assert_eq!(back, c);
    if c.depth > 0 {
        let mut bad = c.clone();
        bad.present[0] ^= 0x80;
        assert!(bad.verify(root, key, value).is_err());
        let mut bad = c.clone();
        bad.depth += 1;
        assert!(bad.decompress().is_err() || bad.verify(root, key, value).is_err());
    }
    // The wrong claim fails.
    match value {
        Some(val) => {
            assert!(proof.verify(root, key, None).is_err());
            let mut other = val.to_vec();
            other.push(1);
            assert!(proof.verify(root, key, Some(&other)).is_err());
        }
        None => assert!(proof.verify(root, key, Some(b"x")).is_err()),
    }
    // A wrong root fails.
    let mut bad_root = *root;
    bad_root[0] ^= 1;
    assert!(proof.verify(&bad_root, key, value).is_err());
    // A tampered sibling fails.
    if !proof.siblings.is_empty() {
        let mut p = proof.clone();
        let i = p.siblings.len() / 2;
        p.siblings[i][31] ^= 0x80;
        assert!(p.verify(root, key, value).is_err());
        // Dropping the last sibling fails.
        let mut p = proof.clone();
        p.siblings.pop();
        assert!(p.verify(root, key, value).is_err());
    }
    // A tampered terminal fails.
    let mut p = proof.clone();
    p.terminal = match p.terminal {
        ProofTerminal::Empty => ProofTerminal::Leaf {
            key_hash: keel_state::proof::key_hash(key),
            value_hash: keel_state::proof::value_hash(b"forged"),
        },
        ProofTerminal::Leaf {
            key_hash,
            mut value_hash,
        } => {
            value_hash[0] ^= 1;
            ProofTerminal::Leaf {
                key_hash,
                value_hash,
            }
        }
    };
    assert!(p.verify(root, key, value).is_err() && p.verify(root, key, None).is_err());
}

/// Runs `batches` through `store` and checks everything against the model, then prunes at
/// `prune_at` (a fraction of the history) and checks availability.
pub fn run_model<S: Versioned>(store: &mut S, batches: &[ChangeSet], prune_frac: f64) {
    let pool = key_pool();
    let mut model = Model::new();
    let mut models = vec![model.clone()];
    let mut roots = vec![reference::root(&model)];
    assert_eq!(store.root(), roots[0]);
    for batch in batches {
        apply_model(&mut model, batch);
        let (v, root) = store.commit(batch).unwrap();
        assert_eq!(v as usize, models.len());
        assert_eq!(
            root,
            reference::root(&model),
            "root differs from the oracle"
        );
        assert_eq!(store.root(), root);
        assert_eq!(store.version(), v);
        models.push(model.clone());
        roots.push(root);
        // Contents and order.
        let all: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        assert_eq!(store.all(), all);
        for k in &pool {
            assert_eq!(store.get(k).unwrap(), model.get(k).cloned());
        }
        check_iteration(store, &model, &pool);
    }
    let latest = store.version();
    // Every present and absent key proves at the latest version; tampering fails.
    for k in &pool {
        check_proof(store, k, latest, &roots[latest as usize], &model);
    }
    // History.
    check_history(store, &models, &roots, 0, &pool);
    // Prune.
    let p = ((latest as f64) * prune_frac).floor() as Version;
    store.prune(p).unwrap();
    check_history(store, &models, &roots, p, &pool);
    // And the store goes on after pruning.
    let mut batch = ChangeSet::new();
    batch.put(b"after-prune".to_vec(), b"1".to_vec());
    if let Some(k) = model.keys().next().cloned() {
        batch.delete(k);
    }
    apply_model(&mut model, &batch);
    let (v, root) = store.commit(&batch).unwrap();
    assert_eq!(root, reference::root(&model));
    models.push(model.clone());
    roots.push(root);
    check_history(store, &models, &roots, p, &pool);
    assert_eq!(v, latest + 1);
}

/// Versions `< oldest` are unavailable; the others match the model.
pub fn check_history<S: Versioned>(
    store: &S,
    models: &[Model],
    roots: &[Hash],
    oldest: Version,
    pool: &[Vec<u8>],
) {
    let latest = store.version();
    for v in 0..=latest {
        let m = &models[v as usize];
        if v < oldest {
            assert!(matches!(
                store.root_at(v),
                Err(StateError::VersionUnavailable { .. })
            ));
            assert!(matches!(
                store.get_at(&pool[5], v),
                Err(StateError::VersionUnavailable { .. })
            ));
            assert!(matches!(
                store.prove(&pool[5], v),
                Err(StateError::VersionUnavailable { .. })
            ));
            continue;
        }
        assert_eq!(store.root_at(v).unwrap(), roots[v as usize], "root at {v}");
        for k in pool {
            assert_eq!(store.get_at(k, v).unwrap(), m.get(k).cloned(), "get_at {v}");
        }
        for k in pool.iter().step_by(3) {
            check_proof_quick(store, k, v, &roots[v as usize], m);
        }
    }
    assert!(matches!(
        store.root_at(latest + 1),
        Err(StateError::VersionUnavailable { .. })
    ));
    assert!(matches!(
        store.get_at(b"a", latest + 1),
        Err(StateError::VersionUnavailable { .. })
    ));
}

fn check_proof_quick<S: StateStore>(store: &S, key: &[u8], v: Version, root: &Hash, m: &Model) {
    let proof = store.prove(key, v).unwrap();
    proof
        .verify(root, key, m.get(key).map(Vec::as_slice))
        .unwrap_or_else(|e| panic!("historic proof of {key:?} at {v} failed: {e}"));
}

/// `next_entry` and prefix scans agree with the model for bounds around pool keys.
pub fn check_iteration<S: Versioned>(store: &S, model: &Model, pool: &[Vec<u8>]) {
    let bounds = |k: &Vec<u8>| -> [Bound<Vec<u8>>; 3] {
        [
            Bound::Included(k.clone()),
            Bound::Excluded(k.clone()),
            Bound::Unbounded,
        ]
    };
    for lo_key in pool.iter().step_by(4) {
        for hi_key in pool.iter().step_by(5) {
            for lo in bounds(lo_key) {
                for hi in bounds(hi_key) {
                    let got = store
                        .next_entry(
                            lo.as_ref().map(Vec::as_slice),
                            hi.as_ref().map(Vec::as_slice),
                        )
                        .unwrap();
                    let want = model_next(model, &lo, &hi);
                    assert_eq!(got, want, "next_entry({lo:?}, {hi:?})");
                }
            }
        }
    }
    for p in [&b""[..], b"a", b"key-1", &[0xff], &[0]] {
        let want: Vec<_> = model
            .iter()
            .filter(|(k, _)| k.starts_with(p))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(store.prefix(p), want, "prefix {p:?}");
    }
}

pub fn model_next(
    model: &Model,
    lo: &Bound<Vec<u8>>,
    hi: &Bound<Vec<u8>>,
) -> Option<(Vec<u8>, Vec<u8>)> {
    model
        .iter()
        .find(|(k, _)| {
            let above = match lo {
                Bound::Included(l) => *k >= l,
                Bound::Excluded(l) => *k > l,
                Bound::Unbounded => true,
            };
            let below = match hi {
                Bound::Included(h) => *k <= h,
                Bound::Excluded(h) => *k < h,
                Bound::Unbounded => true,
            };
            above && below
        })
        .map(|(k, v)| (k.clone(), v.clone()))
}
