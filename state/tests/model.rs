//! Model-based property tests: MemStore and the RocksDB Store against a BTreeMap and the
//! reference root.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

#[cfg(feature = "rocksdb")]
use common::Versioned;
use common::{key_pool, run_model};
#[cfg(feature = "rocksdb")]
use keel_state::StateRead;
use keel_state::{ChangeSet, MemStore, StateStore, reference};
use proptest::prelude::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

fn batch_strategy() -> impl Strategy<Value = ChangeSet> {
    let n = key_pool().len();
    prop::collection::vec(
        (
            0..n,
            prop::option::weighted(0.7, prop::collection::vec(any::<u8>(), 0..6)),
        ),
        0..24,
    )
    .prop_map(|ops| {
        let pool = key_pool();
        let mut cs = ChangeSet::new();
        for (i, v) in ops {
            cs.set(pool[i].clone(), v);
        }
        cs
    })
}

fn batches_strategy() -> impl Strategy<Value = (Vec<ChangeSet>, f64)> {
    (prop::collection::vec(batch_strategy(), 1..8), 0.0..1.0f64)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn memstore_matches_model((batches, prune) in batches_strategy()) {
        let mut store = MemStore::new();
        run_model(&mut store, &batches, prune);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[cfg(feature = "rocksdb")]
    #[test]
    fn rocksdb_store_matches_model((batches, prune) in batches_strategy()) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = keel_state::Store::open(dir.path()).unwrap();
        run_model(&mut store, &batches, prune);
        // Reopening keeps everything, including the pruning horizon.
        let (v, root, all, oldest) = (store.version(), store.root(), store.all(), store.oldest_version());
        drop(store);
        let store = keel_state::Store::open(dir.path()).unwrap();
        prop_assert_eq!(store.version(), v);
        prop_assert_eq!(store.root(), root);
        prop_assert_eq!(store.all(), all);
        prop_assert_eq!(store.oldest_version(), oldest);
    }

    /// The root depends only on the final set of pairs: not on batching or order.
    #[test]
    fn root_independent_of_order_and_batching(batches in prop::collection::vec(batch_strategy(), 1..6), seed in any::<u64>()) {
        let mut a = MemStore::new();
        let mut model = BTreeMap::new();
        for b in &batches {
            a.commit(b).unwrap();
            common::apply_model(&mut model, b);
        }
        // All pairs in one batch.
        let mut b = MemStore::new();
        let one: ChangeSet = model.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
        b.commit(&one).unwrap();
        prop_assert_eq!(a.root(), b.root());
        // One key per commit, shuffled, with junk inserted and deleted again.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut pairs: Vec<_> = model.iter().collect();
        pairs.shuffle(&mut rng);
        let mut c = MemStore::new();
        for (k, v) in pairs {
            let mut cs = ChangeSet::new();
            cs.put(k.clone(), v.clone());
            if rng.random_bool(0.3) {
                cs.put(b"junk".to_vec(), b"j".to_vec());
            }
            c.commit(&cs).unwrap();
        }
        let mut cs = ChangeSet::new();
        if !model.contains_key(&b"junk"[..]) {
            cs.delete(b"junk".to_vec());
        }
        c.commit(&cs).unwrap();
        prop_assert_eq!(a.root(), c.root());
        prop_assert_eq!(a.root(), reference::root(&model));
    }
}

/// Larger trees (several group levels, splits and collapses) for both stores, in lock-step.
#[cfg(feature = "rocksdb")]
#[test]
fn large_random_history_both_stores_agree() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let dir = tempfile::tempdir().unwrap();
    let mut disk = keel_state::Store::open(dir.path()).unwrap();
    let mut mem = MemStore::new();
    let mut model = BTreeMap::new();
    let mut roots = vec![mem.root()];
    for round in 0..30 {
        let mut cs = ChangeSet::new();
        let n = if round % 10 == 9 { 1500 } else { 120 };
        for _ in 0..n {
            let k = format!("k{}", rng.random_range(0..3000u32)).into_bytes();
            if rng.random_bool(0.25) {
                cs.delete(k);
            } else {
                cs.put(k, rng.random::<u64>().to_le_bytes().to_vec());
            }
        }
        common::apply_model(&mut model, &cs);
        let (v1, r1) = mem.commit(&cs).unwrap();
        let (v2, r2) = disk.commit(&cs).unwrap();
        assert_eq!((v1, r1), (v2, r2));
        assert_eq!(r1, reference::root(&model));
        roots.push(r1);
    }
    // Delete everything but one key, then everything.
    let keys: Vec<_> = model.keys().cloned().collect();
    let mut cs = ChangeSet::new();
    for k in &keys[1..] {
        cs.delete(k.clone());
    }
    let (_, r) = mem.commit(&cs).unwrap();
    assert_eq!(disk.commit(&cs).unwrap().1, r);
    let only: BTreeMap<_, _> = model
        .iter()
        .take(1)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(r, reference::root(&only));
    let p = mem.prove(&keys[0], mem.version()).unwrap();
    assert!(p.siblings.is_empty());
    p.verify(&r, &keys[0], only.get(&keys[0]).map(Vec::as_slice))
        .unwrap();
    let mut cs = ChangeSet::new();
    cs.delete(keys[0].clone());
    let (_, r) = mem.commit(&cs).unwrap();
    assert_eq!(disk.commit(&cs).unwrap().1, r);
    assert_eq!(r, keel_state::proof::EMPTY);
    assert!(disk.all().is_empty() && mem.all().is_empty());
    // Old versions still prove against their roots in both stores.
    for v in [1u64, 10, 20, 30] {
        for k in ["k1", "k2", "k77", "missing"] {
            let want = mem.get_at(k.as_bytes(), v).unwrap();
            assert_eq!(disk.get_at(k.as_bytes(), v).unwrap(), want);
            let p1 = mem.prove(k.as_bytes(), v).unwrap();
            let p2 = disk.prove(k.as_bytes(), v).unwrap();
            assert_eq!(p1, p2);
            p1.verify(&roots[v as usize], k.as_bytes(), want.as_deref())
                .unwrap();
        }
    }
    // Prune both and compare again.
    mem.prune(25).unwrap();
    disk.prune(25).unwrap();
    for v in 25..=30u64 {
        assert_eq!(disk.root_at(v).unwrap(), mem.root_at(v).unwrap());
        assert_eq!(
            disk.get_at(b"k5", v).unwrap(),
            mem.get_at(b"k5", v).unwrap()
        );
        assert_eq!(disk.prove(b"k5", v).unwrap(), mem.prove(b"k5", v).unwrap());
    }
    assert!(disk.get_at(b"k5", 24).is_err() && mem.get_at(b"k5", 24).is_err());
    assert_eq!(disk.get(b"k5").unwrap(), None);
}

/// `set_keep_versions` prunes as it commits: older versions become unavailable, the kept
/// ones stay provable.
#[test]
fn memstore_keep_versions_prunes_as_it_goes() {
    let mut store = MemStore::new();
    store.set_keep_versions(Some(3));
    let mut model = BTreeMap::new();
    let mut roots = vec![store.root()];
    for v in 1..=20u32 {
        let mut cs = ChangeSet::new();
        cs.put(format!("k{}", v % 7).into_bytes(), v.to_le_bytes().to_vec());
        common::apply_model(&mut model, &cs);
        roots.push(store.commit(&cs).unwrap().1);
    }
    assert_eq!(store.oldest_version(), 17);
    assert!(matches!(
        store.root_at(16),
        Err(keel_state::StateError::VersionUnavailable { .. })
    ));
    for v in 17..=20u64 {
        assert_eq!(store.root_at(v).unwrap(), roots[v as usize]);
        let p = store.prove(b"k3", v).unwrap();
        let val = store.get_at(b"k3", v).unwrap();
        p.verify(&roots[v as usize], b"k3", val.as_deref()).unwrap();
    }
    assert_eq!(store.root(), reference::root(&model));
}
