//! The RocksDB store: reopen, checkpoints, and every way opening a data dir can fail.
#![cfg(feature = "rocksdb")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{Versioned, apply_model};
use keel_state::{ChangeSet, DamagedPart, StateError, StateRead, StateStore, Store, reference};
use parity_scale_codec::Encode;

fn fill(store: &mut Store, rounds: u32) -> Vec<BTreeMap<Vec<u8>, Vec<u8>>> {
    let mut model = BTreeMap::new();
    let mut models = vec![model.clone()];
    for r in 0..rounds {
        let mut cs = ChangeSet::new();
        for i in 0..50u32 {
            let k = format!("key{}", (r * 37 + i * 11) % 200).into_bytes();
            if i % 7 == 3 {
                cs.delete(k);
            } else {
                cs.put(k, format!("v{r}-{i}").into_bytes());
            }
        }
        apply_model(&mut model, &cs);
        store.commit(&cs).unwrap();
        models.push(model.clone());
    }
    models
}

fn all_cfs() -> Vec<&'static str> {
    vec!["nodes", "values", "latest", "stale", "meta"]
}

/// Opens the raw RocksDB underneath a Keel store (all column families).
fn raw(path: &Path) -> rocksdb::DB {
    rocksdb::DB::open_cf(&rocksdb::Options::default(), path, all_cfs()).unwrap()
}

#[test]
fn reopen_keeps_root_versions_contents_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("data");
    let mut store = Store::open(&path).unwrap();
    let models = fill(&mut store, 12);
    let (v, root) = (store.version(), store.root());
    let roots: Vec<_> = (0..=v).map(|i| store.root_at(i).unwrap()).collect();
    drop(store);

    let store = Store::open(&path).unwrap();
    assert_eq!(store.version(), v);
    assert_eq!(store.root(), root);
    assert_eq!(root, reference::root(&models[v as usize]));
    let all: Vec<_> = models[v as usize]
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(store.all(), all);
    for i in 0..=v {
        assert_eq!(store.root_at(i).unwrap(), roots[i as usize]);
        assert_eq!(roots[i as usize], reference::root(&models[i as usize]));
        for k in ["key0", "key11", "key199", "nope"] {
            let want = models[i as usize].get(k.as_bytes()).cloned();
            assert_eq!(store.get_at(k.as_bytes(), i).unwrap(), want);
            store
                .prove(k.as_bytes(), i)
                .unwrap()
                .verify(&roots[i as usize], k.as_bytes(), want.as_deref())
                .unwrap();
        }
    }
    // It keeps committing after a reopen.
    let mut store = store;
    let mut cs = ChangeSet::new();
    cs.put(b"new".to_vec(), b"x".to_vec());
    let (v2, r2) = store.commit(&cs).unwrap();
    let mut m = models[v as usize].clone();
    apply_model(&mut m, &cs);
    assert_eq!((v2, r2), (v + 1, reference::root(&m)));
}

#[test]
fn checkpoint_is_an_independent_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("a")).unwrap();
    let models = fill(&mut store, 5);
    let (v, root) = (store.version(), store.root());
    store.checkpoint_to(dir.path().join("snap")).unwrap();
    fill(&mut store, 3);
    assert_ne!(store.root(), root);
    let snap = Store::open(dir.path().join("snap")).unwrap();
    assert_eq!((snap.version(), snap.root()), (v, root));
    let all: Vec<_> = models[v as usize]
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(snap.all(), all);
    // A checkpoint into an existing path is an error, not a panic.
    assert!(store.checkpoint_to(dir.path().join("snap")).is_err());
}

#[test]
fn interrupted_creation_leaves_nothing_half_made() {
    let dir = tempfile::tempdir().unwrap();
    // What a creation killed midway leaves: a staging dir beside the target. An old one (of
    // a killed creator) is removed by the next creation; a young one may belong to a creator
    // still at work, and is left alone.
    let old = dir.path().join(".data.keel-creating-1-2-3");
    let young = dir.path().join(".data.keel-creating-4-5-6");
    for s in [&old, &young] {
        std::fs::create_dir(s).unwrap();
        std::fs::write(s.join("CURRENT"), b"half").unwrap();
    }
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::open(&old)
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    let mut store = Store::open(dir.path().join("data")).unwrap();
    assert!(!old.exists());
    assert!(young.exists());
    assert_eq!(store.version(), 0);
    store.commit(&ChangeSet::new()).unwrap();
    // Nothing else is left beside the data dir.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, [".data.keel-creating-4-5-6", "data"]);
}

#[test]
fn second_open_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Store::open(dir.path()).unwrap();
    match Store::open(dir.path()) {
        Err(StateError::Locked { .. }) => {}
        other => panic!("expected Locked, got {other:?}"),
    }
}

#[test]
fn garbage_dir_is_foreign() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"hello").unwrap();
    match Store::open(dir.path()) {
        Err(StateError::Foreign { .. }) => {}
        other => panic!("expected Foreign, got {other:?}"),
    }
}

#[test]
fn garbage_rocksdb_files_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("CURRENT"), b"\xff\xfe garbage").unwrap();
    std::fs::write(dir.path().join("MANIFEST-000001"), b"junk junk junk").unwrap();
    match Store::open(dir.path()) {
        Err(StateError::Foreign { .. } | StateError::Corrupted(_) | StateError::Io(_)) => {}
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn plain_rocksdb_is_foreign() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut o = rocksdb::Options::default();
        o.create_if_missing(true);
        let db = rocksdb::DB::open(&o, dir.path()).unwrap();
        db.put(b"some", b"thing").unwrap();
    }
    match Store::open(dir.path()) {
        Err(StateError::Foreign { .. }) => {}
        other => panic!("expected Foreign, got {other:?}"),
    }
    // Our column families but no Keel metadata: still foreign.
    let dir = tempfile::tempdir().unwrap();
    {
        let mut o = rocksdb::Options::default();
        o.create_if_missing(true);
        o.create_missing_column_families(true);
        let _db = rocksdb::DB::open_cf(&o, dir.path(), all_cfs()).unwrap();
    }
    match Store::open(dir.path()) {
        Err(StateError::Foreign { .. }) => {}
        other => panic!("expected Foreign, got {other:?}"),
    }
}

#[test]
fn wrong_magic_is_foreign_and_newer_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    {
        let db = raw(dir.path());
        let meta = db.cf_handle("meta").unwrap();
        db.put_cf(meta, b"format", (keel_state::FORMAT_VERSION + 1).encode())
            .unwrap();
    }
    match Store::open(dir.path()) {
        Err(StateError::NewerFormat {
            found, supported, ..
        }) => {
            assert_eq!(found, keel_state::FORMAT_VERSION + 1);
            assert_eq!(supported, keel_state::FORMAT_VERSION);
        }
        other => panic!("expected NewerFormat, got {other:?}"),
    }
    {
        let db = raw(dir.path());
        let meta = db.cf_handle("meta").unwrap();
        db.put_cf(meta, b"magic", b"other-store".to_vec().encode())
            .unwrap();
    }
    match Store::open(dir.path()) {
        Err(StateError::Foreign { .. }) => {}
        other => panic!("expected Foreign, got {other:?}"),
    }
}

#[track_caller]
fn assert_damaged(r: Result<Store, StateError>, want: DamagedPart) {
    match r {
        Err(StateError::Damaged { part, .. }) if part == want => {}
        other => panic!("expected Damaged({want:?}), got {other:?}"),
    }
}

#[test]
fn corrupted_data_is_a_typed_error() {
    // Undecodable metadata.
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    fill(&mut store, 3);
    drop(store);
    {
        let db = raw(dir.path());
        db.put_cf(db.cf_handle("meta").unwrap(), b"latest", [1, 2, 3])
            .unwrap();
    }
    assert_damaged(Store::open(dir.path()), DamagedPart::Metadata);

    // A damaged root group.
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    fill(&mut store, 3);
    store.flush().unwrap();
    drop(store);
    {
        let db = raw(dir.path());
        let nodes = db.cf_handle("nodes").unwrap();
        let mut key = 3u64.to_be_bytes().to_vec();
        key.push(0);
        assert!(db.get_cf(nodes, &key).unwrap().is_some());
        db.put_cf(nodes, &key, [0xff, 0xff, 0, 0, 1]).unwrap();
    }
    assert_damaged(Store::open(dir.path()), DamagedPart::Tree);

    // A damaged latest value: the open check compares it with the tree.
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    fill(&mut store, 3);
    drop(store);
    {
        let db = raw(dir.path());
        db.put_cf(db.cf_handle("latest").unwrap(), b"key0", [0xff])
            .unwrap();
    }
    assert_damaged(Store::open(dir.path()), DamagedPart::LatestValues);

    // A missing historic root group and a damaged historic versioned value: the store
    // opens (the latest version is whole), and the reads that touch them fail with
    // Corrupted.
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    fill(&mut store, 3);
    store.flush().unwrap();
    drop(store);
    {
        let db = raw(dir.path());
        let nodes = db.cf_handle("nodes").unwrap();
        let mut key = 1u64.to_be_bytes().to_vec();
        key.push(0);
        db.delete_cf(nodes, &key).unwrap();
        // key11 is written at versions 1 and 2.
        let mut vkey = keel_state::proof::key_hash(b"key11").to_vec();
        vkey.extend_from_slice(&1u64.to_be_bytes());
        assert!(
            db.get_cf(db.cf_handle("values").unwrap(), &vkey)
                .unwrap()
                .is_some()
        );
        db.put_cf(db.cf_handle("values").unwrap(), &vkey, [7, 7])
            .unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert!(matches!(
        store.prove(b"key0", 1),
        Err(StateError::Corrupted(_))
    ));
    assert!(matches!(
        store.get_at(b"key11", 1),
        Err(StateError::Corrupted(_))
    ));
    // The undamaged parts still read.
    assert!(store.prove(b"key0", 3).is_ok());
    assert!(store.get_at(b"key11", 2).unwrap().is_some());
    assert!(store.get(b"key11").unwrap().is_some());
}

#[test]
fn unusable_path_is_io() {
    let dir = tempfile::tempdir().unwrap();
    // A regular file where the data dir should be.
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    assert!(matches!(Store::open(&file), Err(StateError::Io(_))));
    // A dir under a regular file cannot be created.
    assert!(matches!(
        Store::open(file.join("sub")),
        Err(StateError::Io(_))
    ));
    // Permissions bite only when not running as root: check by trying.
    use std::os::unix::fs::PermissionsExt;
    let locked = dir.path().join("noaccess");
    std::fs::create_dir(&locked).unwrap();
    std::fs::write(locked.join("CURRENT"), b"x").unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let is_root = std::fs::read_dir(&locked).is_ok();
    if !is_root {
        assert!(matches!(Store::open(&locked), Err(StateError::Io(_))));
    }
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Entries of column family `cf`; for `nodes`, group records (not the 8-byte tree mark).
fn count(path: &Path, cf: &str) -> usize {
    let db = raw(path);
    db.iterator_cf(db.cf_handle(cf).unwrap(), rocksdb::IteratorMode::Start)
        .filter(|r| cf != "nodes" || r.as_ref().unwrap().0.len() > 8)
        .count()
}

/// Pruning everything but the latest version leaves exactly the records of the latest
/// tree: one per group of a store built with the same contents in one commit, plus the
/// delta records their chains rest on. Nothing stale leaks, and (the model tests show)
/// nothing live is lost.
#[test]
fn prune_reclaims_every_stale_node() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("a")).unwrap();
    let models = fill(&mut store, 40);
    let before = {
        let v = store.version();
        store.flush().unwrap();
        drop(store);
        let n = count(&dir.path().join("a"), "nodes");
        store = Store::open(dir.path().join("a")).unwrap();
        assert_eq!(store.version(), v);
        n
    };
    store.prune(store.version()).unwrap();
    let latest = models.last().unwrap().clone();
    let v = store.version();
    store.flush().unwrap();
    drop(store);

    let mut fresh = Store::open(dir.path().join("b")).unwrap();
    let cs: ChangeSet = latest
        .iter()
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    fresh.commit(&cs).unwrap();
    // Version 1's tree must reach table files before a prune reclaims what it replaced.
    fresh.flush().unwrap();
    fresh.prune(1).unwrap();
    drop(fresh);

    let pruned = count(&dir.path().join("a"), "nodes");
    let live = {
        let store = Store::open(dir.path().join("a")).unwrap();
        store.check(&mut |_, _| {}).unwrap()
    };
    assert_eq!(pruned as u64, live.records);
    assert_eq!(live.groups, count(&dir.path().join("b"), "nodes") as u64);
    assert!(
        pruned < before,
        "{pruned} nodes after pruning, {before} before"
    );
    // The stale index is empty up to the pruned version, and one versioned value (or
    // tombstone) per key remains.
    assert_eq!(count(&dir.path().join("a"), "stale"), 0);
    let touched: std::collections::BTreeSet<u32> = (0..40u32)
        .flat_map(|r| (0..50u32).map(move |i| (r * 37 + i * 11) % 200))
        .collect();
    assert_eq!(count(&dir.path().join("a"), "values"), touched.len());
    let store = Store::open(dir.path().join("a")).unwrap();
    assert_eq!(store.version(), v);
    assert_eq!(store.oldest_version(), v);
    assert_eq!(store.root(), reference::root(&latest));
}

#[test]
fn commits_read_back_no_group_they_wrote_and_roots_stay_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let mut model = BTreeMap::new();
    let key = |i: u32| format!("account-{i}").into_bytes();
    let mut store = Store::open(&path).unwrap();
    let mut cs = ChangeSet::new();
    for i in 0..20_000u32 {
        cs.put(key(i), i.to_le_bytes().to_vec());
    }
    apply_model(&mut model, &cs);
    store.commit(&cs).unwrap();
    drop(store);

    // After a reopen only the top four group levels are in RAM: 20,000 keys reach deeper.
    let mut store = Store::open(&path).unwrap();
    let update = |round: u32| {
        let mut cs = ChangeSet::new();
        for j in 0..1_000u32 {
            let i = (j * 19) % 20_000;
            if j % 10 == 0 {
                cs.delete(key(i));
            } else {
                cs.put(key(i), (round * 7 + j).to_le_bytes().to_vec());
            }
        }
        cs
    };
    let cs = update(1);
    apply_model(&mut model, &cs);
    store.commit(&cs).unwrap();
    let cold = store.commit_node_reads();
    assert!(
        cold > 100,
        "a commit after a reopen reads the deep groups: {cold}"
    );
    assert_eq!(store.root(), reference::root(&model));

    // The same keys again: every group on their paths down to 4 nibbles was written, and so
    // cached, by the last commit.
    let cs = update(2);
    apply_model(&mut model, &cs);
    store.commit(&cs).unwrap();
    assert_eq!(
        store.commit_node_reads(),
        cold,
        "groups read back after being written"
    );
    assert_eq!(store.root(), reference::root(&model));
    for k in [key(1), key(19), key(20), key(19_999)] {
        let p = store.prove(&k, store.version()).unwrap();
        let v = store.get(&k).unwrap();
        p.verify(&store.root(), &k, v.as_deref()).unwrap();
    }
    drop(store);
    // What the cache held was what the disk holds.
    let store = Store::open(&path).unwrap();
    assert_eq!(store.root(), reference::root(&model));
    store.check(&mut |_, _| {}).unwrap();
}

#[test]
fn reads_after_commits_agree_with_the_model_for_small_large_and_deleted_values() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("s")).unwrap();
    let mut model = BTreeMap::new();
    let key = |i: u32| format!("k{i}").into_bytes();
    for round in 0..40u32 {
        let mut cs = ChangeSet::new();
        for j in 0..60u32 {
            let i = (round * 13 + j * 7) % 150;
            match (round + j) % 5 {
                0 => cs.delete(key(i)),
                // Larger than what the value cache keeps: it must forget the key.
                1 => cs.put(key(i), vec![round as u8; 1500 + j as usize]),
                _ => cs.put(key(i), (round * 1000 + j).to_le_bytes().to_vec()),
            }
        }
        apply_model(&mut model, &cs);
        store.commit(&cs).unwrap();
        for i in 0..150 {
            assert_eq!(store.get(&key(i)).unwrap().as_ref(), model.get(&key(i)));
        }
    }
    drop(store);
    let store = Store::open(dir.path().join("s")).unwrap();
    for i in 0..150 {
        assert_eq!(store.get(&key(i)).unwrap().as_ref(), model.get(&key(i)));
    }
}

/// The stored records of the `nodes` column family that are deltas (see `Group::encode_delta_into`).
fn delta_records(path: &Path) -> usize {
    let db = raw(path);
    db.iterator_cf(db.cf_handle("nodes").unwrap(), rocksdb::IteratorMode::Start)
        .filter(|r| r.as_ref().unwrap().1.starts_with(&[0, 0, 0xff, 0xff]))
        .count()
}

/// Small commits on a bigger tree store groups as delta chains: every version, before and
/// after a reopen (a cold cache reads the chains from disk) and after each prune, has the
/// roots and proofs of a `MemStore` fed the same commits; a full prune leaves exactly the
/// live chains; and the commits write a fraction of the bytes whole groups would take.
#[test]
fn delta_chains_keep_every_version_provable_through_reopen_and_prune() {
    use keel_state::MemStore;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let mut disk = Store::open(&path).unwrap();
    let mut mem = MemStore::new();
    let mut model = BTreeMap::new();
    let key = |i: u32| format!("acct-{i}").into_bytes();
    let mut cs = ChangeSet::new();
    for i in 0..3_000u32 {
        cs.put(key(i), i.to_le_bytes().to_vec());
    }
    let mut commit = |cs: &ChangeSet, disk: &mut Store, model: &mut BTreeMap<_, _>| {
        apply_model(model, cs);
        let a = disk.commit(cs).unwrap();
        assert_eq!(a, mem.commit(cs).unwrap());
        assert_eq!(a.1, reference::root(model));
    };
    commit(&cs, &mut disk, &mut model);
    disk.flush().unwrap();
    drop(disk);
    assert_eq!(delta_records(&path), 0, "a fresh tree is all whole groups");
    let mut disk = Store::open(&path).unwrap();
    // 120 small commits on a few hot keys (long chains that reach their limits and roll
    // over), with inserts and deletes that split and collapse groups.
    let before = disk.commit_bytes();
    for v in 0..120u32 {
        let mut cs = ChangeSet::new();
        for j in 0..(1 + v % 3) {
            cs.put(
                key((v * 7 + j * 101) % 40),
                (v * 1000 + j).to_le_bytes().to_vec(),
            );
        }
        if v % 5 == 0 {
            cs.put(key(3_000 + v), b"new".to_vec());
        }
        if v % 7 == 0 {
            cs.delete(key(3_000 + v / 2));
            cs.delete(key(100 + v));
        }
        commit(&cs, &mut disk, &mut model);
    }
    let per_commit = (disk.commit_bytes() - before) / 120;
    eprintln!("{per_commit} batch bytes per small commit");
    // Measured: 4,095 bytes per commit when every group is stored whole (`MAX_DELTAS` set
    // to 0), 1,258 with deltas; the values, latest entries, stale lists and metadata are
    // the same in both.
    assert!(
        per_commit < 2_000,
        "{per_commit} bytes per small commit: groups are not stored as deltas"
    );
    let latest = disk.version();
    disk.flush().unwrap();
    drop(disk);
    assert!(delta_records(&path) > 100);
    let probe: Vec<Vec<u8>> = (0..40)
        .chain([100, 150, 2_999, 3_005, 3_100, 9_999])
        .map(key)
        .collect();
    let same_history = |disk: &Store, mem: &MemStore, from: u64| {
        for v in from..=latest {
            assert_eq!(
                disk.root_at(v).unwrap(),
                mem.root_at(v).unwrap(),
                "root at {v}"
            );
            for k in &probe {
                assert_eq!(
                    disk.prove(k, v).unwrap(),
                    mem.prove(k, v).unwrap(),
                    "proof at {v}"
                );
                assert_eq!(disk.get_at(k, v).unwrap(), mem.get_at(k, v).unwrap());
            }
        }
    };
    let mut disk = Store::open(&path).unwrap();
    same_history(&disk, &mem, 0);
    disk.check(&mut |_, _| {}).unwrap();
    for up_to in [30, 77, latest] {
        disk.prune(up_to).unwrap();
        mem.prune(up_to).unwrap();
        same_history(&disk, &mem, up_to);
        drop(disk);
        disk = Store::open(&path).unwrap();
        same_history(&disk, &mem, up_to);
    }
    let report = disk.check(&mut |_, _| {}).unwrap();
    disk.flush().unwrap();
    drop(disk);
    let records = count(&path, "nodes") as u64;
    assert_eq!(
        records, report.records,
        "pruning left records no chain uses"
    );
    assert!(
        report.records > report.groups,
        "no chain survived the prune: {report:?}"
    );
    assert_eq!(count(&path, "stale"), 0);
}

/// A format-1 store (whole group records only, as this store's first commit writes them)
/// opens, takes delta commits, and is then marked format 2, so a format-1 build refuses it
/// instead of misreading its deltas.
#[test]
fn format_1_store_opens_and_is_upgraded_by_its_first_commit() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let mut model = BTreeMap::new();
    let mut cs = ChangeSet::new();
    for i in 0..500u32 {
        cs.put(format!("k{i}").into_bytes(), b"v".to_vec());
    }
    apply_model(&mut model, &cs);
    let (_, root1) = store.commit(&cs).unwrap();
    store.flush().unwrap();
    drop(store);
    let format = |path: &Path| -> u32 {
        let db = raw(path);
        let b = db
            .get_cf(db.cf_handle("meta").unwrap(), b"format")
            .unwrap()
            .unwrap();
        parity_scale_codec::Decode::decode(&mut &b[..]).unwrap()
    };
    assert_eq!(format(dir.path()), keel_state::FORMAT_VERSION);
    assert_eq!(delta_records(dir.path()), 0);
    {
        let db = raw(dir.path());
        db.put_cf(db.cf_handle("meta").unwrap(), b"format", 1u32.encode())
            .unwrap();
    }
    let mut store = Store::open(dir.path()).unwrap();
    assert_eq!(store.root(), root1);
    let mut cs = ChangeSet::new();
    cs.put(b"k7".to_vec(), b"w".to_vec());
    apply_model(&mut model, &cs);
    let (v2, root2) = store.commit(&cs).unwrap();
    assert_eq!(root2, reference::root(&model));
    store.flush().unwrap();
    drop(store);
    assert_eq!(format(dir.path()), keel_state::FORMAT_VERSION);
    assert!(delta_records(dir.path()) > 0);
    let store = Store::open(dir.path()).unwrap();
    store.check(&mut |_, _| {}).unwrap();
    store
        .prove(b"k7", 1)
        .unwrap()
        .verify(&root1, b"k7", Some(&b"v"[..]))
        .unwrap();
    store
        .prove(b"k7", v2)
        .unwrap()
        .verify(&root2, b"k7", Some(&b"w"[..]))
        .unwrap();
}

/// Prune deletes exactly the versioned values that no readable version uses, whether the
/// stale list named the replaced value's version (a key the value cache knew: point delete),
/// did not (after a reopen emptied the cache: range delete), or is a format-2 list of key
/// hashes alone; every readable version still reads what it wrote.
#[test]
fn prune_deletes_replaced_values_by_version_or_by_range() {
    use keel_state::proof::key_hash;
    use keel_state::{Hash, Version};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    let mut store = Store::open(path).unwrap();
    let mut model = BTreeMap::new();
    let mut models = vec![model.clone()];
    let mut written = std::collections::BTreeSet::new();
    let mut commit = |store: &mut Store, r: u32| {
        let mut cs = ChangeSet::new();
        for i in 0..5u32 {
            let k = format!("hot{i}").into_bytes();
            if (r + i) % 9 == 4 {
                cs.delete(k.clone());
            } else {
                cs.put(k.clone(), format!("h{r}-{i}").into_bytes());
            }
            written.insert(k);
        }
        for i in 0..20u32 {
            let k = format!("cold{}", (r * 53 + i * 17) % 400).into_bytes();
            cs.put(k.clone(), vec![r as u8; 10 + (i as usize % 3) * 600]);
            written.insert(k);
        }
        apply_model(&mut model, &cs);
        store.commit(&cs).unwrap();
        models.push(model.clone());
    };
    for r in 0..30 {
        commit(&mut store, r);
    }
    store.flush().unwrap();
    drop(store);
    let stale_lists = |path: &Path, tag: u8| -> Vec<(Version, Vec<u8>)> {
        let db = raw(path);
        db.iterator_cf(db.cf_handle("stale").unwrap(), rocksdb::IteratorMode::Start)
            .map(Result::unwrap)
            .filter(|(k, _)| k[8] == tag)
            .map(|(k, v)| (u64::from_be_bytes(k[..8].try_into().unwrap()), v.to_vec()))
            .collect()
    };
    // Every commit after the first named the version that wrote each hot key before.
    let decode = |v: &[u8]| -> Vec<(Hash, Version)> {
        parity_scale_codec::Decode::decode(&mut &v[..]).unwrap()
    };
    let lists = stale_lists(path, 2);
    assert_eq!(lists.len(), 30);
    for (since, list) in &lists[1..] {
        let list = decode(list);
        let hot = key_hash(b"hot0");
        let (_, w) = list.iter().find(|(kh, _)| *kh == hot).unwrap();
        assert_eq!(*w, since - 1);
        assert!(list.iter().all(|(_, w)| *w < *since));
    }
    // The first commit replaced nothing the cache knew.
    assert!(decode(&lists[0].1).iter().all(|(_, w)| *w == 0));
    assert!(stale_lists(path, 1).is_empty());
    // Versions 11-20 as a format-2 store wrote them: key hashes alone, under tag 1.
    {
        let db = raw(path);
        let stale = db.cf_handle("stale").unwrap();
        for (since, list) in &lists[10..20] {
            let khs: Vec<Hash> = decode(list).into_iter().map(|(kh, _)| kh).collect();
            let mut old = since.to_be_bytes().to_vec();
            old.push(1);
            let mut new = old.clone();
            new[8] = 2;
            db.delete_cf(stale, &new).unwrap();
            db.put_cf(stale, &old, khs.encode()).unwrap();
        }
    }
    // A reopen empties the value cache: the next commit knows no replaced version.
    let mut store = Store::open(path).unwrap();
    for r in 30..45 {
        commit(&mut store, r);
    }
    drop(store);
    let first_unknown = stale_lists(path, 2)
        .into_iter()
        .find(|(since, _)| *since == 31)
        .unwrap();
    assert!(decode(&first_unknown.1).iter().all(|(_, w)| *w == 0));
    let mut store = Store::open(path).unwrap();
    let check = |store: &Store, from: Version| {
        for (v, m) in models.iter().enumerate().skip(from as usize) {
            for k in &written {
                assert_eq!(
                    store.get_at(k, v as Version).unwrap().as_ref(),
                    m.get(k),
                    "key {} at version {v}",
                    String::from_utf8_lossy(k)
                );
            }
        }
    };
    for up_to in [5, 15, 25, 38] {
        store.prune(up_to).unwrap();
        check(&store, up_to);
    }
    store.prune(45).unwrap();
    check(&store, 45);
    drop(store);
    // One versioned value per key ever written (a deleted key keeps its `None`).
    assert_eq!(count(path, "values"), written.len());
    assert_eq!(count(path, "stale"), 0);
}

const LOSE_TREE_ENV: &str = "KEEL_STATE_LOSE_TREE_DIR";

/// Block `v` of the lost-tree test: updates, inserts and deletes over 300 keys.
fn lost_tree_block(v: u64) -> ChangeSet {
    let mut cs = ChangeSet::new();
    for i in 0..40u64 {
        let k = format!("key{}", (v * 17 + i * 29) % 300).into_bytes();
        if i % 9 == 4 {
            cs.delete(k);
        } else {
            cs.put(k, format!("v{v}-{i}").into_bytes());
        }
    }
    cs
}

/// The child of the lost-tree test: commits 30 blocks, flushes the tree after block 10,
/// prunes as it goes, and exits without closing the store. RocksDB never flushed the group
/// records of the versions after 10 (their memtable is far from full), and they were
/// written without the WAL: the exit loses them, as a crash of the process would.
fn lost_tree_child(dir: &str) {
    let mut store = Store::open(dir).unwrap();
    if store.version() > 0 {
        // The upgrade test's child: five more blocks on a format-3 store.
        for v in store.version() + 1..=store.version() + 5 {
            store.commit(&lost_tree_block(v)).unwrap();
        }
        std::process::exit(0);
    }
    for v in 1..=30u64 {
        store.commit(&lost_tree_block(v)).unwrap();
        if v == 10 {
            store.flush().unwrap();
        }
        if v % 7 == 0 {
            store.prune(v - 3).unwrap();
        }
    }
    std::process::exit(0);
}

/// Runs [`lost_tree_child`] on `path` in a child process.
fn run_lost_tree_child(path: &Path) {
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "group_records_lost_in_a_crash_are_rebuilt_on_open",
            "--exact",
            "--test-threads=1",
        ])
        .env(LOSE_TREE_ENV, path)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

/// A format-3 store (no tree mark: every group record went through the WAL) opens, and its
/// first commit logs a tree mark at the version before it, so that a crash right after the
/// upgrade rebuilds exactly the versions the new build wrote.
#[test]
fn format_3_store_upgraded_then_crashed_rebuilds_its_new_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let mut mem = keel_state::MemStore::new();
    let mut store = Store::open(&path).unwrap();
    for v in 1..=3u64 {
        store.commit(&lost_tree_block(v)).unwrap();
        mem.commit(&lost_tree_block(v)).unwrap();
    }
    store.flush().unwrap();
    drop(store);
    {
        let db = raw(&path);
        db.put_cf(db.cf_handle("meta").unwrap(), b"format", 3u32.encode())
            .unwrap();
        db.delete_cf(db.cf_handle("nodes").unwrap(), [0u8; 8])
            .unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!((store.version(), store.rebuilt_versions()), (3, 0));
    drop(store);
    run_lost_tree_child(&path);
    for v in 4..=8u64 {
        mem.commit(&lost_tree_block(v)).unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.version(), 8);
    assert_eq!(store.rebuilt_versions(), 5, "versions 4 to 8 were lost");
    for v in 0..=8u64 {
        assert_eq!(store.root_at(v).unwrap(), mem.root_at(v).unwrap());
        for i in (0..300).step_by(11) {
            let k = format!("key{i}").into_bytes();
            assert_eq!(store.prove(&k, v).unwrap(), mem.prove(&k, v).unwrap());
        }
    }
    store.check(&mut |_, _| {}).unwrap();
}

/// Group records are written without the WAL: an open after a crash rebuilds the versions
/// after the tree mark, and then serves the roots, values and proofs of a `MemStore` fed the
/// same commits; the prunes before the crash reclaimed nothing those versions needed (the
/// rebuild starts from version 10, whose root a prune had already deleted).
#[test]
fn group_records_lost_in_a_crash_are_rebuilt_on_open() {
    if let Ok(dir) = std::env::var(LOSE_TREE_ENV) {
        lost_tree_child(&dir);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    run_lost_tree_child(&path);

    let mut mem = keel_state::MemStore::new();
    for v in 1..=30u64 {
        mem.commit(&lost_tree_block(v)).unwrap();
        if v % 7 == 0 {
            mem.prune(v - 3).unwrap();
        }
    }
    let check = |store: &Store, mem: &keel_state::MemStore| {
        assert_eq!(store.version(), mem.version());
        assert_eq!(store.root(), mem.root());
        assert_eq!(store.oldest_version(), mem.oldest_version());
        for v in store.oldest_version()..=store.version() {
            assert_eq!(store.root_at(v).unwrap(), mem.root_at(v).unwrap());
            for i in (0..300).step_by(7) {
                let k = format!("key{i}").into_bytes();
                assert_eq!(store.get_at(&k, v).unwrap(), mem.get_at(&k, v).unwrap());
                assert_eq!(store.prove(&k, v).unwrap(), mem.prove(&k, v).unwrap());
            }
        }
        let report = store.check(&mut |_, _| {}).unwrap();
        assert_eq!(report.root, mem.root());
    };
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.version(), 30);
    assert_eq!(store.oldest_version(), 25);
    assert_eq!(store.rebuilt_versions(), 20, "versions 11 to 30 were lost");
    check(&store, &mem);

    // The rebuilt tree takes commits and prunes like any other, and reopens whole.
    for v in 31..=40u64 {
        store.commit(&lost_tree_block(v)).unwrap();
        mem.commit(&lost_tree_block(v)).unwrap();
    }
    store.flush().unwrap();
    store.prune(38).unwrap();
    mem.prune(38).unwrap();
    check(&store, &mem);
    drop(store);
    let mut store = Store::open(&path).unwrap();
    assert_eq!(
        store.rebuilt_versions(),
        0,
        "nothing was committed after the flush"
    );
    check(&store, &mem);
    // Closing does not flush: the next open rebuilds what was committed after the flush.
    store.commit(&lost_tree_block(41)).unwrap();
    mem.commit(&lost_tree_block(41)).unwrap();
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.rebuilt_versions(), 1);
    check(&store, &mem);
}

/// Closing after a long run flushes the group records (the next open rebuilds nothing);
/// after a short run it leaves them for the next open to rebuild, and the last commits stay
/// in the live WAL (see `CLOSE_FLUSH_BYTES`).
#[test]
fn close_flushes_the_tree_only_after_a_long_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let mut store = Store::open(&path).unwrap();
    let before = store.commit_bytes() - store.commit_log_bytes();
    for r in 0..4u32 {
        let mut cs = ChangeSet::new();
        for i in 0..20_000u32 {
            cs.put(format!("k{i}").into_bytes(), format!("{r}").into_bytes());
        }
        store.commit(&cs).unwrap();
    }
    let tree_bytes = store.commit_bytes() - store.commit_log_bytes() - before;
    assert!(tree_bytes > 4 << 20, "{tree_bytes} bytes of group records");
    let root = store.root();
    drop(store);
    let mut store = Store::open(&path).unwrap();
    assert_eq!((store.rebuilt_versions(), store.root()), (0, root));
    let mut cs = ChangeSet::new();
    cs.put(b"k1".to_vec(), b"short".to_vec());
    let (_, root) = store.commit(&cs).unwrap();
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!((store.rebuilt_versions(), store.root()), (1, root));
    store.check(&mut |_, _| {}).unwrap();
}

/// A prune after every block deletes the group records that those blocks wrote and replaced
/// while they are still in their memtable, without waiting for the tree mark: after a
/// flush, the table files hold exactly the latest tree's records and the one older record
/// that had to wait for the mark (the genesis root of version 0, in table files since the
/// store's creation); a prune after the flush reclaims that one too.
#[test]
fn prunes_delete_unflushed_records_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let mut store = Store::open(&path).unwrap();
    for v in 1..=30u64 {
        store.commit(&lost_tree_block(v)).unwrap();
        store.prune(v).unwrap();
    }
    store.flush().unwrap();
    let live = store.check(&mut |_, _| {}).unwrap().records;
    drop(store);
    assert_eq!(count(&path, "nodes") as u64, live + 1);
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.rebuilt_versions(), 0);
    store.prune(30).unwrap();
    drop(store);
    assert_eq!(count(&path, "nodes") as u64, live);
    assert_eq!(count(&path, "stale"), 0);
}
