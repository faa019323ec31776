//! Overlay against a model: nested checkpoints, commit/revert (also of outer frames with
//! inner ones open), and merged ordered iteration with tombstones, over both base stores.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::ops::Bound;

use common::{Model, key_pool, model_next};
use keel_state::{ChangeSet, Checkpoint, MemStore, Overlay, StateRead, StateStore, reference};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Put(usize, Vec<u8>),
    Delete(usize),
    Checkpoint,
    /// Commit the checkpoint `n` from the innermost (wrapping).
    Commit(usize),
    /// Revert the checkpoint `n` from the innermost (wrapping).
    Revert(usize),
    /// Check `next_entry` for these bounds.
    Next(usize, u8, usize, u8),
}

fn op() -> impl Strategy<Value = Op> {
    let n = key_pool().len();
    prop_oneof![
        4 => (0..n, prop::collection::vec(any::<u8>(), 0..4)).prop_map(|(k, v)| Op::Put(k, v)),
        3 => (0..n).prop_map(Op::Delete),
        2 => Just(Op::Checkpoint),
        1 => (0..3usize).prop_map(Op::Commit),
        1 => (0..3usize).prop_map(Op::Revert),
        2 => (0..n, 0..3u8, 0..n, 0..3u8).prop_map(|(a, b, c, d)| Op::Next(a, b, c, d)),
    ]
}

fn bound(pool: &[Vec<u8>], i: usize, kind: u8) -> Bound<Vec<u8>> {
    match kind {
        0 => Bound::Included(pool[i].clone()),
        1 => Bound::Excluded(pool[i].clone()),
        _ => Bound::Unbounded,
    }
}

/// Every entry of `r` in order, by chaining `next_entry` (as a contract cursor does).
fn iterate<R: StateRead>(r: &R) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let mut lower: Bound<Vec<u8>> = Bound::Unbounded;
    while let Some((k, v)) = r
        .next_entry(lower.as_ref().map(Vec::as_slice), Bound::Unbounded)
        .unwrap()
    {
        lower = Bound::Excluded(k.clone());
        out.push((k, v));
    }
    out
}

fn run<S: StateRead>(base: S, base_model: &Model, ops: &[Op]) -> (ChangeSet, Model) {
    let pool = key_pool();
    let mut overlay = Overlay::new(base);
    let mut view = base_model.clone();
    // (handle, view when it was opened)
    let mut frames: Vec<(Checkpoint, Model)> = Vec::new();
    for op in ops {
        match op {
            Op::Put(k, v) => {
                overlay.put(pool[*k].clone(), v.clone());
                view.insert(pool[*k].clone(), v.clone());
            }
            Op::Delete(k) => {
                overlay.delete(pool[*k].clone());
                view.remove(&pool[*k]);
            }
            Op::Checkpoint => {
                let cp = overlay.checkpoint();
                frames.push((cp, view.clone()));
            }
            Op::Commit(n) | Op::Revert(n) => {
                if frames.is_empty() {
                    continue;
                }
                let idx = frames.len() - 1 - (n % frames.len());
                let (cp, snapshot) = frames[idx].clone();
                frames.truncate(idx);
                if matches!(op, Op::Commit(_)) {
                    overlay.commit(cp);
                } else {
                    overlay.revert(cp);
                    view = snapshot;
                }
            }
            Op::Next(a, ak, b, bk) => {
                let (lo, hi) = (bound(&pool, *a, *ak), bound(&pool, *b, *bk));
                let got = overlay
                    .next_entry(
                        lo.as_ref().map(Vec::as_slice),
                        hi.as_ref().map(Vec::as_slice),
                    )
                    .unwrap();
                assert_eq!(
                    got,
                    model_next(&view, &lo, &hi),
                    "next_entry({lo:?}, {hi:?})"
                );
            }
        }
        assert_eq!(overlay.depth(), frames.len());
        for k in &pool {
            assert_eq!(overlay.get(k).unwrap(), view.get(k).cloned());
        }
    }
    let all: Vec<_> = view.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(iterate(&overlay), all);
    (overlay.into_changes(), view)
}

fn base_strategy() -> impl Strategy<Value = Model> {
    let n = key_pool().len();
    prop::collection::btree_map(0..n, prop::collection::vec(any::<u8>(), 0..3), 0..20).prop_map(
        |m| {
            let pool = key_pool();
            m.into_iter().map(|(k, v)| (pool[k].clone(), v)).collect()
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn overlay_matches_model(base in base_strategy(), ops in prop::collection::vec(op(), 0..80)) {
        let mut store = MemStore::new();
        let cs: ChangeSet = base.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
        store.commit(&cs).unwrap();
        let (changes, view) = run(&store, &base, &ops);
        // Committing the overlay's net changes yields exactly the model's view.
        store.commit(&changes).unwrap();
        prop_assert_eq!(store.root(), reference::root(&view));
        let all: Vec<_> = view.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        prop_assert_eq!(iterate(&store), all);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[cfg(feature = "rocksdb")]
    #[test]
    fn overlay_over_rocksdb_matches_model(base in base_strategy(), ops in prop::collection::vec(op(), 0..80)) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = keel_state::Store::open(dir.path()).unwrap();
        let cs: ChangeSet = base.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
        store.commit(&cs).unwrap();
        let (changes, view) = run(&store, &base, &ops);
        store.commit(&changes).unwrap();
        prop_assert_eq!(store.root(), reference::root(&view));
    }
}

#[test]
fn tombstone_runs_and_nested_frames() {
    let mut store = MemStore::new();
    let mut cs = ChangeSet::new();
    for i in 0..50u8 {
        cs.put(vec![i], vec![i]);
    }
    store.commit(&cs).unwrap();
    let mut o = Overlay::new(&store);
    let outer = o.checkpoint();
    for i in 0..49u8 {
        o.delete(vec![i]);
    }
    assert_eq!(
        o.next_entry(Bound::Unbounded, Bound::Unbounded).unwrap(),
        Some((vec![49], vec![49]))
    );
    let inner = o.checkpoint();
    o.delete(vec![49]);
    o.put(vec![100], vec![1]);
    assert_eq!(
        o.next_entry(Bound::Unbounded, Bound::Unbounded).unwrap(),
        Some((vec![100], vec![1]))
    );
    o.revert(inner);
    assert_eq!(o.get(&[100]).unwrap(), None);
    assert_eq!(o.get(&[49]).unwrap(), Some(vec![49]));
    o.revert(outer);
    assert_eq!(iterate(&o).len(), 50);
    assert!(o.changes().is_empty());
}
