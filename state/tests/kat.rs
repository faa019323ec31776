//! The state root and proofs of `MemStore` (the tree code `Store` shares) and of
//! `reference::root` against the independent implementation in
//! `state/proof/tests/independent/mod.rs` and the pinned roots in
//! `state/proof/tests/kat/roots.txt` (blessed by keel-proof's `kat` test).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../proof/tests/independent/mod.rs"]
mod independent;

use std::collections::BTreeMap;

use independent::{Trie, hex, key_sets};
use keel_state::{ChangeSet, MemStore, StateStore, reference};

fn pinned_roots() -> BTreeMap<String, String> {
    let path = format!("{}/proof/tests/kat/roots.txt", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("root("))
        .filter_map(|l| l.rsplit_once(") = "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn memstore_and_reference_roots_match_the_known_answers() {
    let pinned = pinned_roots();
    assert!(pinned.len() >= 8, "{pinned:?}");
    for (label, pairs) in key_sets() {
        let trie = Trie::from_pairs(pairs.iter().map(|(k, v)| (&k[..], &v[..])));
        let want = pinned
            .get(&label)
            .unwrap_or_else(|| panic!("no pinned root for {label}"));
        assert_eq!(
            &hex(&trie.hash()),
            want,
            "{label}: independent implementation"
        );

        let map: BTreeMap<Vec<u8>, Vec<u8>> = pairs.iter().cloned().collect();
        assert_eq!(
            &hex(&reference::root(&map)),
            want,
            "{label}: reference::root"
        );

        // MemStore, in three commits, with a decoy key written and deleted on the way.
        let mut store = MemStore::new();
        for (i, chunk) in pairs.chunks(pairs.len().div_ceil(3).max(1)).enumerate() {
            let mut cs = ChangeSet::new();
            for (k, v) in chunk {
                cs.put(k.clone(), v.clone());
            }
            if i == 0 {
                cs.put(b"decoy".to_vec(), b"gone".to_vec());
            }
            store.commit(&cs).unwrap();
        }
        let mut cs = ChangeSet::new();
        cs.delete(b"decoy".to_vec());
        let (version, root) = store.commit(&cs).unwrap();
        assert_eq!(&hex(&root), want, "{label}: MemStore");

        // Proofs: equal to the independent trie's, present and absent keys alike.
        let probe: Vec<Vec<u8>> = pairs
            .iter()
            .take(50)
            .map(|(k, _)| k.clone())
            .chain((0..20).map(|i| format!("absent-{i}").into_bytes()))
            .chain([b"decoy".to_vec()])
            .collect();
        for key in probe {
            let got = store.prove(&key, version).unwrap();
            let (siblings, end) = trie.proof(&key);
            assert_eq!(got.siblings, siblings, "{label}: siblings of {key:?}");
            let want_end = match end {
                None => keel_state::proof::ProofTerminal::Empty,
                Some((key_hash, value_hash)) => keel_state::proof::ProofTerminal::Leaf {
                    key_hash,
                    value_hash,
                },
            };
            assert_eq!(got.terminal, want_end, "{label}: terminal of {key:?}");
            let value = map.get(&key).map(Vec::as_slice);
            assert_eq!(got.verify(&root, &key, value), Ok(()), "{label}: {key:?}");
        }
    }
}
