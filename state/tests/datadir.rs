//! Data-dir integrity: damage a copy of a real data dir made by the store itself (its table
//! files, MANIFEST, WAL, CURRENT, acknowledgement file, and `meta` and `latest` entries) and
//! check that opening it gives a typed error or a detected rollback, never a panic and never
//! wrong data; and that concurrent creators of one fresh dir always leave it usable.
#![cfg(feature = "rocksdb")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};

use keel_state::{
    ACK_FILE, ChangeSet, DamagedPart, Hash, OpenOptions, StateError, StateRead, StateStore, Store,
    Version, reference,
};
use parity_scale_codec::Encode;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// The latest version of every fixture.
const LATEST: Version = 8;

/// A data dir written by the store: versions 1–6 in table files (a reopen flushes the WAL),
/// 7–8 only in the WAL; with the model and root of every version.
struct Fixture {
    dir: tempfile::TempDir,
    base: PathBuf,
    models: Vec<Model>,
    roots: Vec<Hash>,
    copies: usize,
}

fn block(v: Version, keys: u64) -> ChangeSet {
    let mut cs = ChangeSet::new();
    for i in 0..30u64 {
        let k = format!("k{:04}", (v * 7 + i * 13) % keys).into_bytes();
        cs.put(k, format!("v{v}-{i}").into_bytes());
    }
    cs.delete(format!("k{:04}", (v * 11) % keys).into_bytes());
    cs
}

impl Fixture {
    /// With keys drawn from `keys` names (few keys: the open check samples every entry).
    fn new(keys: u64) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("base");
        let mut models = vec![Model::new()];
        let mut roots = Vec::new();
        let mut store = Store::open(&base).unwrap();
        roots.push(store.root());
        for v in 1..=LATEST {
            if v == 7 {
                drop(store);
                store = Store::open(&base).unwrap();
            }
            let cs = block(v, keys);
            let mut m = models.last().unwrap().clone();
            for (k, val) in cs.iter() {
                match val {
                    Some(val) => m.insert(k.to_vec(), val.to_vec()),
                    None => m.remove(k),
                };
            }
            let (got, root) = store.commit(&cs).unwrap();
            assert_eq!(got, v);
            assert_eq!(root, reference::root(&m));
            models.push(m);
            roots.push(root);
        }
        drop(store);
        Fixture {
            dir,
            base,
            models,
            roots,
            copies: 0,
        }
    }

    /// A fresh copy of the base data dir.
    fn copy(&mut self) -> PathBuf {
        self.copies += 1;
        let to = self.dir.path().join(format!("copy{}", self.copies));
        std::fs::create_dir(&to).unwrap();
        for e in std::fs::read_dir(&self.base).unwrap() {
            let e = e.unwrap();
            if e.file_name() != "LOCK" {
                std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
            }
        }
        to
    }

    /// Asserts that `store` serves exactly the fixture's data for the version it holds, or
    /// fails reads with a typed error; and that `Store::check` passes or finds the damage.
    #[track_caller]
    fn assert_serves_truth(&self, store: &Store, what: &str) {
        let v = store.version();
        assert!(v <= LATEST, "{what}: version {v} was never committed");
        let model = &self.models[v as usize];
        assert_eq!(store.root(), self.roots[v as usize], "{what}: root of {v}");
        let checked = store.check(&mut |_, _| {});
        match &checked {
            Ok(report) => {
                assert_eq!(report.entries as usize, model.len(), "{what}");
                assert_eq!(report.root, self.roots[v as usize], "{what}");
            }
            Err(StateError::Damaged { .. }) => {}
            Err(e) => panic!("{what}: check failed with {e:?}"),
        }
        for (k, val) in model {
            match store.get(k) {
                Ok(got) => assert_eq!(got.as_ref(), Some(val), "{what}: get {k:?}"),
                Err(StateError::Corrupted(_)) => {}
                Err(e) => panic!("{what}: get {k:?}: {e:?}"),
            }
            match store.prove(k, v) {
                Ok(p) => p.verify(&self.roots[v as usize], k, Some(val)).unwrap(),
                Err(StateError::Corrupted(_)) => {}
                Err(e) => panic!("{what}: prove {k:?}: {e:?}"),
            }
        }
        match store.get(b"absent") {
            Ok(got) => assert_eq!(got, None, "{what}"),
            Err(StateError::Corrupted(_)) => {}
            Err(e) => panic!("{what}: {e:?}"),
        }
        let scanned: Result<Vec<_>, _> = store.scan(Bound::Unbounded, Bound::Unbounded).collect();
        match scanned {
            Ok(all) => {
                let want: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                assert_eq!(all, want, "{what}: scan of version {v}");
            }
            Err(StateError::Corrupted(_)) => assert!(checked.is_err(), "{what}"),
            Err(e) => panic!("{what}: scan: {e:?}"),
        }
    }
}

fn files(dir: &Path, is: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| is(&p.file_name().unwrap().to_string_lossy()))
        .collect();
    v.sort();
    v
}

/// The one file whose name matches.
fn file(dir: &Path, is: impl Fn(&str) -> bool) -> PathBuf {
    let mut v = files(dir, is);
    assert_eq!(v.len(), 1, "{v:?}");
    v.pop().unwrap()
}

fn size(p: &Path) -> u64 {
    std::fs::metadata(p).unwrap().len()
}

fn truncate(p: &Path, len: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(p)
        .unwrap()
        .set_len(len)
        .unwrap();
}

fn flip(p: &Path, at: u64) {
    let mut b = std::fs::read(p).unwrap();
    let at = (at as usize).min(b.len() - 1);
    b[at] ^= 0x5a;
    std::fs::write(p, b).unwrap();
}

/// `n` offsets spread over `0..len`, the first and the last byte included.
fn spread(len: u64, n: u64) -> Vec<u64> {
    (0..n).map(|i| i * (len - 1) / (n - 1)).collect()
}

fn is_wal(n: &str) -> bool {
    n.ends_with(".log")
}
fn is_sst(n: &str) -> bool {
    n.ends_with(".sst")
}
fn is_manifest(n: &str) -> bool {
    n.starts_with("MANIFEST-")
}

/// Opens a damaged copy. Either the damage is harmless (it opens at the latest version and
/// serves the truth), or the open says what is wrong: `Damaged` with a part in `parts`, or
/// `RolledBack` from the latest version (and then the store opens with `accept_rollback` at
/// the earlier version it reported, serving that version's truth, and reopens clean).
/// Returns which of the three happened.
#[track_caller]
fn open_damaged(fx: &Fixture, path: &Path, parts: &[DamagedPart], what: &str) -> &'static str {
    match Store::open(path) {
        Ok(store) => {
            assert_eq!(
                store.version(),
                LATEST,
                "{what}: opened silently at an earlier version"
            );
            fx.assert_serves_truth(&store, what);
            "harmless"
        }
        Err(StateError::Damaged { part, detail, .. }) => {
            assert!(parts.contains(&part), "{what}: damaged {part:?}: {detail}");
            "damaged"
        }
        Err(StateError::RolledBack {
            found,
            acknowledged,
            ..
        }) => {
            assert_eq!(acknowledged, LATEST, "{what}");
            assert!(found < LATEST, "{what}");
            let store = OpenOptions::new().accept_rollback(true).open(path).unwrap();
            assert_eq!(store.version(), found, "{what}");
            assert_eq!(store.rolled_back(), Some(LATEST), "{what}");
            fx.assert_serves_truth(&store, what);
            drop(store);
            let store = Store::open(path).unwrap();
            assert_eq!((store.version(), store.rolled_back()), (found, None));
            "rolled back"
        }
        Err(e) => panic!("{what}: {e:?}"),
    }
}

#[test]
fn undamaged_copy_opens_and_checks() {
    let mut fx = Fixture::new(90);
    let path = fx.copy();
    let store = Store::open(&path).unwrap();
    assert_eq!(store.version(), LATEST);
    fx.assert_serves_truth(&store, "undamaged");
    let report = store.check(&mut |_, _| {}).unwrap();
    assert_eq!(report.entries as usize, fx.models[LATEST as usize].len());
    assert!(report.groups > 1);
    // The fixture has what the damage tests need: table files, a MANIFEST and a WAL.
    assert!(!files(&path, is_sst).is_empty());
    file(&path, is_manifest);
    file(&path, is_wal);
}

#[test]
fn wal_damage_is_a_detected_rollback() {
    let mut fx = Fixture::new(90);
    let mut seen = BTreeMap::new();
    let wal_len = size(&file(&fx.base, is_wal));
    let mut cuts = spread(wal_len, 7);
    cuts.push(wal_len - 1);
    for cut in cuts {
        let path = fx.copy();
        truncate(&file(&path, is_wal), cut);
        let what = format!("WAL cut to {cut} of {wal_len} bytes");
        let how = open_damaged(&fx, &path, &[DamagedPart::Wal], &what);
        *seen.entry(how).or_insert(0) += 1;
    }
    for at in spread(wal_len, 7) {
        let path = fx.copy();
        flip(&file(&path, is_wal), at);
        let what = format!("WAL byte {at} of {wal_len} flipped");
        let how = open_damaged(&fx, &path, &[DamagedPart::Wal], &what);
        *seen.entry(how).or_insert(0) += 1;
    }
    // Most of this damage loses version 8 or 7: the store must say so every time.
    assert!(
        seen.get("rolled back").copied().unwrap_or(0) >= 8,
        "{seen:?}"
    );
}

#[test]
fn table_file_damage_is_detected() {
    let mut fx = Fixture::new(90);
    let mut seen = BTreeMap::new();
    let parts = [DamagedPart::Table, DamagedPart::Manifest];
    for sst in files(&fx.base, is_sst) {
        let name = sst.file_name().unwrap().to_string_lossy().into_owned();
        let len = size(&sst);
        for cut in [0, len / 2, len - 1] {
            let path = fx.copy();
            truncate(&path.join(&name), cut);
            let what = format!("{name} cut to {cut} of {len} bytes");
            *seen
                .entry(open_damaged(&fx, &path, &parts, &what))
                .or_insert(0) += 1;
        }
        for at in spread(len, 6) {
            let path = fx.copy();
            flip(&path.join(&name), at);
            let what = format!("{name} byte {at} of {len} flipped");
            *seen
                .entry(open_damaged(&fx, &path, &parts, &what))
                .or_insert(0) += 1;
        }
        let path = fx.copy();
        std::fs::remove_file(path.join(&name)).unwrap();
        open_damaged(&fx, &path, &parts, &format!("{name} deleted"));
    }
    assert!(seen.get("damaged").copied().unwrap_or(0) > 0, "{seen:?}");
}

#[test]
fn manifest_damage_is_damage_not_foreign() {
    let mut fx = Fixture::new(90);
    let manifest = file(&fx.base, is_manifest);
    let name = manifest.file_name().unwrap().to_string_lossy().into_owned();
    let len = size(&manifest);
    // A MANIFEST cut at a record boundary opens with fewer table files: then the open
    // checks see what is missing in the data.
    let parts = [
        DamagedPart::Manifest,
        DamagedPart::Table,
        DamagedPart::Tree,
        DamagedPart::Metadata,
        DamagedPart::LatestValues,
        DamagedPart::VersionedValues,
    ];
    let mut damaged = 0;
    for cut in spread(len, 8) {
        let path = fx.copy();
        truncate(&path.join(&name), cut);
        let what = format!("{name} cut to {cut} of {len} bytes");
        damaged += usize::from(open_damaged(&fx, &path, &parts, &what) == "damaged");
    }
    for at in spread(len, 8) {
        let path = fx.copy();
        flip(&path.join(&name), at);
        let what = format!("{name} byte {at} of {len} flipped");
        damaged += usize::from(open_damaged(&fx, &path, &parts, &what) == "damaged");
    }
    // The case: a MANIFEST cut short is a damaged Keel store, with the part named.
    let path = fx.copy();
    truncate(&path.join(&name), len / 3);
    match Store::open(&path) {
        Err(e @ StateError::Damaged { .. }) => {
            assert!(e.to_string().contains("MANIFEST"), "{e}");
        }
        other => panic!("expected Damaged, got {other:?}"),
    }
    assert!(damaged >= 8, "{damaged}");
}

#[test]
fn current_damage_is_damage_not_foreign() {
    let mut fx = Fixture::new(90);
    type Damage = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Damage)> = vec![
        ("empty", Box::new(|p| truncate(&p.join("CURRENT"), 0))),
        ("cut", Box::new(|p| truncate(&p.join("CURRENT"), 5))),
        ("flipped", Box::new(|p| flip(&p.join("CURRENT"), 9))),
        (
            "names a missing MANIFEST",
            Box::new(|p| std::fs::write(p.join("CURRENT"), b"MANIFEST-999999\n").unwrap()),
        ),
        (
            "deleted",
            Box::new(|p| std::fs::remove_file(p.join("CURRENT")).unwrap()),
        ),
    ];
    for (what, damage) in cases {
        let path = fx.copy();
        damage(&path);
        match Store::open(&path) {
            Err(StateError::Damaged {
                part: DamagedPart::Current | DamagedPart::Manifest,
                ..
            }) => {}
            other => panic!("CURRENT {what}: expected Damaged, got {other:?}"),
        }
    }
}

/// Opens the raw RocksDB underneath a closed Keel store.
fn raw(path: &Path) -> rocksdb::DB {
    rocksdb::DB::open_cf(
        &rocksdb::Options::default(),
        path,
        ["nodes", "values", "latest", "stale", "meta"],
    )
    .unwrap()
}

fn root_key(v: Version) -> Vec<u8> {
    let mut k = b"root/".to_vec();
    k.extend_from_slice(&v.to_be_bytes());
    k
}

#[test]
fn meta_rewrites_are_detected() {
    let mut fx = Fixture::new(90);
    type Rewrite = Box<dyn Fn(&rocksdb::DB)>;
    let meta_put = |k: Vec<u8>, v: Vec<u8>| -> Rewrite {
        Box::new(move |db| db.put_cf(db.cf_handle("meta").unwrap(), &k, &v).unwrap())
    };
    let cases: Vec<(&str, DamagedPart, Rewrite)> = vec![
        (
            "latest 8 -> 7 (the issue's case)",
            DamagedPart::Metadata,
            meta_put(b"latest".to_vec(), 7u64.encode()),
        ),
        (
            "latest 8 -> 9",
            DamagedPart::Metadata,
            meta_put(b"latest".to_vec(), 9u64.encode()),
        ),
        (
            "latest 8 -> 0",
            DamagedPart::Metadata,
            meta_put(b"latest".to_vec(), 0u64.encode()),
        ),
        (
            "latest undecodable",
            DamagedPart::Metadata,
            meta_put(b"latest".to_vec(), vec![1, 2, 3]),
        ),
        (
            "oldest 0 -> 3",
            DamagedPart::Metadata,
            meta_put(b"oldest".to_vec(), 3u64.encode()),
        ),
        (
            "root of 8 rewritten",
            DamagedPart::Tree,
            meta_put(root_key(8), [9u8; 32].encode()),
        ),
        (
            "root of 8 deleted",
            DamagedPart::Metadata,
            Box::new(|db| {
                db.delete_cf(db.cf_handle("meta").unwrap(), root_key(8))
                    .unwrap()
            }),
        ),
        (
            "root of 9 added",
            DamagedPart::Metadata,
            meta_put(root_key(9), [9u8; 32].encode()),
        ),
        (
            "format deleted",
            DamagedPart::Metadata,
            Box::new(|db| {
                db.delete_cf(db.cf_handle("meta").unwrap(), b"format")
                    .unwrap()
            }),
        ),
        (
            "magic deleted",
            DamagedPart::Metadata,
            Box::new(|db| {
                db.delete_cf(db.cf_handle("meta").unwrap(), b"magic")
                    .unwrap()
            }),
        ),
    ];
    for (what, want, rewrite) in cases {
        let path = fx.copy();
        rewrite(&raw(&path));
        match Store::open(&path) {
            Err(StateError::Damaged { part, .. }) if part == want => {}
            other => panic!("{what}: expected Damaged({want:?}), got {other:?}"),
        }
    }
}

#[test]
fn latest_rewrites_are_detected_on_open_in_a_small_store() {
    let mut fx = Fixture::new(90);
    let model = fx.models[LATEST as usize].clone();
    let (k, _) = model.iter().nth(model.len() / 2).unwrap();
    let absent = (0..90)
        .map(|i| format!("k{i:04}").into_bytes())
        .find(|k| !model.contains_key(k))
        .unwrap();
    type Rewrite = Box<dyn Fn(&rocksdb::DB)>;
    let latest_put = |k: Vec<u8>, v: Vec<u8>| -> Rewrite {
        Box::new(move |db| db.put_cf(db.cf_handle("latest").unwrap(), &k, &v).unwrap())
    };
    let cases: Vec<(&str, Rewrite)> = vec![
        (
            "a value changed",
            latest_put(k.clone(), b"wrong".to_vec().encode()),
        ),
        ("a value undecodable", latest_put(k.clone(), vec![0xff])),
        (
            "an entry added",
            latest_put(absent, b"new".to_vec().encode()),
        ),
    ];
    for (what, rewrite) in cases {
        let path = fx.copy();
        rewrite(&raw(&path));
        match Store::open(&path) {
            Err(StateError::Damaged {
                part: DamagedPart::LatestValues,
                ..
            }) => {}
            other => panic!("{what}: expected Damaged(LatestValues), got {other:?}"),
        }
    }
    // A versioned value rewritten at the latest version: the other two agree on the truth.
    let path = fx.copy();
    {
        let db = raw(&path);
        let written_at_8 = block(8, 90)
            .iter()
            .find_map(|(k, v)| v.map(|_| k.to_vec()))
            .unwrap();
        let mut vk = keel_state::proof::key_hash(&written_at_8).to_vec();
        vk.extend_from_slice(&8u64.to_be_bytes());
        db.put_cf(
            db.cf_handle("values").unwrap(),
            vk,
            Some(b"wrong".to_vec()).encode(),
        )
        .unwrap();
    }
    match Store::open(&path) {
        Err(StateError::Damaged {
            part: DamagedPart::VersionedValues,
            ..
        }) => {}
        other => panic!("expected Damaged(VersionedValues), got {other:?}"),
    }
}

#[test]
fn check_finds_what_the_open_sample_misses() {
    // 600 keys: more than the open check samples.
    let mut fx = Fixture::new(600);
    let model = fx.models[LATEST as usize].clone();
    assert!(model.len() > 200);
    type Rewrite = Box<dyn Fn(&rocksdb::DB, &[u8])>;
    let cases: Vec<(&str, Rewrite)> = vec![
        (
            "a value changed",
            Box::new(|db, k| {
                db.put_cf(db.cf_handle("latest").unwrap(), k, b"x".to_vec().encode())
                    .unwrap()
            }),
        ),
        (
            "an entry deleted",
            Box::new(|db, k| db.delete_cf(db.cf_handle("latest").unwrap(), k).unwrap()),
        ),
    ];
    let mut found_by_check = 0;
    for (what, rewrite) in &cases {
        // Keys in the middle of the range, between the sampled seek points.
        for nth in [
            model.len() / 2 + 1,
            model.len() / 3 + 2,
            model.len() / 5 + 3,
        ] {
            let (k, _) = model.iter().nth(nth).unwrap();
            let path = fx.copy();
            rewrite(&raw(&path), k);
            let what = format!("{what} (entry {nth})");
            match Store::open(&path) {
                Err(StateError::Damaged {
                    part: DamagedPart::LatestValues,
                    ..
                }) => {}
                Ok(store) => match store.check(&mut |_, _| {}) {
                    Err(StateError::Damaged {
                        part: DamagedPart::LatestValues,
                        ..
                    }) => found_by_check += 1,
                    other => panic!("{what}: check gave {other:?}"),
                },
                Err(e) => panic!("{what}: {e:?}"),
            }
        }
    }
    assert!(
        found_by_check > 0,
        "the open sample caught everything: weaken the test"
    );
}

#[test]
fn check_reports_progress_up_to_the_total() {
    let mut fx = Fixture::new(600);
    let store = Store::open(fx.copy()).unwrap();
    let mut calls = Vec::new();
    let report = store
        .check(&mut |done, total| calls.push((done, total)))
        .unwrap();
    let &(done, total) = calls.last().unwrap();
    assert_eq!(done, total);
    assert_eq!(done, 2 * report.entries);
    assert!(calls.windows(2).all(|w| w[0].0 <= w[1].0));
}

/// An acknowledgement slot with no MANIFEST record.
fn ack_slot(version: Version, root: &Hash) -> Vec<u8> {
    let mut s = b"KEELACK1".to_vec();
    s.extend_from_slice(&version.to_be_bytes());
    s.extend_from_slice(root);
    s.extend_from_slice(&[0; 16]);
    let sum = blake3::hash(&s);
    s.extend_from_slice(&sum.as_bytes()[..16]);
    s
}

/// The version and root in an acknowledgement slot.
fn slot_version_root(slot: &[u8]) -> (Version, Hash) {
    assert_eq!(&slot[..8], b"KEELACK1");
    (
        u64::from_be_bytes(slot[8..16].try_into().unwrap()),
        slot[16..48].try_into().unwrap(),
    )
}

#[test]
fn acknowledgement_file_records_every_commit() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = OpenOptions::new().sync(true).open(dir.path()).unwrap();
    assert!(store.sync());
    let ack = dir.path().join(ACK_FILE);
    for v in 1..=5 {
        let (got, root) = store.commit(&block(v, 50)).unwrap();
        let bytes = std::fs::read(&ack).unwrap();
        assert_eq!(bytes.len(), 160);
        let slot = (got % 2) as usize * 80;
        assert_eq!(slot_version_root(&bytes[slot..]), (got, root));
    }
    // A checkpoint acknowledges the version it holds.
    store.checkpoint_to(dir.path().join("cp")).unwrap();
    let cp = std::fs::read(dir.path().join("cp").join(ACK_FILE)).unwrap();
    assert_eq!(slot_version_root(&cp), (5, store.root()));
    drop(store);
    assert_eq!(Store::open(dir.path().join("cp")).unwrap().version(), 5);
}

#[test]
fn acknowledgement_file_damage() {
    let mut fx = Fixture::new(90);
    let root8 = fx.roots[8];
    // One slot torn (as by a crash while writing it): the other slot still counts.
    for slot in [0u64, 1] {
        let path = fx.copy();
        flip(&path.join(ACK_FILE), slot * 80 + 20);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.version(), LATEST);
    }
    // Both slots damaged, or the file empty: named as damaged; accept_rollback resets it.
    for damage in [0, 1] {
        let path = fx.copy();
        let ack = path.join(ACK_FILE);
        if damage == 0 {
            flip(&ack, 20);
            flip(&ack, 100);
        } else {
            truncate(&ack, 0);
        }
        match Store::open(&path) {
            Err(StateError::Damaged {
                part: DamagedPart::AckFile,
                ..
            }) => {}
            other => panic!("expected Damaged(AckFile), got {other:?}"),
        }
        let store = OpenOptions::new()
            .accept_rollback(true)
            .open(&path)
            .unwrap();
        assert_eq!((store.version(), store.rolled_back()), (LATEST, None));
        drop(store);
        Store::open(&path).unwrap();
    }
    // Deleted (as in a store made before acknowledgement files): opens and starts one.
    let path = fx.copy();
    std::fs::remove_file(path.join(ACK_FILE)).unwrap();
    drop(Store::open(&path).unwrap());
    assert_eq!(
        slot_version_root(&std::fs::read(path.join(ACK_FILE)).unwrap()),
        (LATEST, root8)
    );
    // A later version acknowledged than the store holds: a rollback.
    let path = fx.copy();
    let mut bytes = ack_slot(9, &[1; 32]);
    bytes.extend(ack_slot(8, &root8));
    std::fs::write(path.join(ACK_FILE), bytes).unwrap();
    match Store::open(&path) {
        Err(StateError::RolledBack {
            found: 8,
            acknowledged: 9,
            ..
        }) => {}
        other => panic!("expected RolledBack, got {other:?}"),
    }
    // The acknowledged version with another root: history was rewritten.
    let path = fx.copy();
    let mut bytes = ack_slot(8, &[1; 32]);
    bytes.extend(ack_slot(7, &fx.roots[7]));
    std::fs::write(path.join(ACK_FILE), bytes).unwrap();
    match Store::open(&path) {
        Err(StateError::Damaged {
            part: DamagedPart::Metadata,
            ..
        }) => {}
        other => panic!("expected Damaged(Metadata), got {other:?}"),
    }
}

#[test]
fn metadata_is_committed_with_the_block() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let meta = vec![
        (b"name/token".to_vec(), vec![7; 32]),
        (b"name/counter".to_vec(), vec![8; 32]),
    ];
    let (v, _) = store.commit_with_metadata(&block(1, 50), &meta).unwrap();
    assert_eq!(v, 1);
    store
        .put_metadata(&[(b"other".to_vec(), b"x".to_vec())])
        .unwrap();
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.metadata(b"name/token").unwrap(), Some(vec![7; 32]));
    assert_eq!(store.metadata(b"missing").unwrap(), None);
    let names = store.metadata_prefix(b"name/").unwrap();
    assert_eq!(
        names,
        vec![
            (b"name/counter".to_vec(), vec![8; 32]),
            (b"name/token".to_vec(), vec![7; 32]),
        ]
    );
    // Metadata is not state: the root is the one of the changes alone.
    let mut m = Model::new();
    for (k, val) in block(1, 50).iter() {
        if let Some(val) = val {
            m.insert(k.to_vec(), val.to_vec());
        }
    }
    assert_eq!(store.root(), reference::root(&m));
    assert!(store.get(b"name/token").unwrap().is_none());
}

/// Rounds of concurrent creators. With the old creation code (one shared staging dir,
/// removed by whoever came next) a creator failed in the first round already.
const CREATION_ROUNDS: usize = 10;
const CREATORS: usize = 4;

#[test]
fn concurrent_creation_always_leaves_a_usable_dir() {
    let dir = tempfile::tempdir().unwrap();
    let mut locked = 0;
    for round in 0..CREATION_ROUNDS {
        let path = dir.path().join(format!("data{round}"));
        if round % 2 == 1 {
            // As `keel` does: the (empty) dir exists already.
            std::fs::create_dir(&path).unwrap();
        }
        let barrier = Arc::new(Barrier::new(CREATORS));
        let threads: Vec<_> = (0..CREATORS)
            .map(|_| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    Store::open(&path).map(|s| s.version())
                })
            })
            .collect();
        for t in threads {
            match t.join().unwrap() {
                Ok(v) => assert_eq!(v, 0),
                // Another creator holds the new store open: the ordinary answer.
                Err(StateError::Locked { .. }) => locked += 1,
                Err(e) => panic!("round {round}: a creator failed: {e:?}"),
            }
        }
        let mut store = Store::open(&path).unwrap();
        assert_eq!(store.version(), 0, "round {round}");
        store.commit(&block(1, 50)).unwrap();
    }
    // Only the data dirs are left: no staging dir.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("data"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    println!("{CREATION_ROUNDS} rounds of {CREATORS} creators: {locked} got Locked");
}
