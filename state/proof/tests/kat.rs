//! Known-answer vectors for keel-proof: the hash functions, the roots of fixed key sets and
//! the encoding and verification of inclusion and exclusion proofs (plain and compressed).
//! Every value is computed twice, by keel-proof and by an independent implementation written
//! from the rules in the crate docs (`independent/mod.rs`), which must agree; the results are
//! then pinned in `tests/kat/*.txt`. To accept a deliberate change (a hard fork):
//! `KEEL_BLESS=1 cargo test -p keel-proof --test kat`, and review the diff.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod independent;

use independent::{Trie, check_kat, hex, key_sets, long_prefix_pair};
use keel_proof::{
    EMPTY, Proof, ProofError, ProofTerminal, internal_hash, key_hash, leaf_hash, value_hash,
};
use parity_scale_codec::Encode;

fn kat_path(name: &str) -> String {
    format!("{}/tests/kat/{name}.txt", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn hash_functions() {
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    let mut lines = Vec::new();
    for (label, key) in [
        ("\"\"", &b""[..]),
        ("\"keel\"", b"keel"),
        ("0x00", &[0u8][..]),
        ("bytes 0..=255", &all_bytes[..]),
        ("1025 x 0xab", &[0xab; 1025][..]),
    ] {
        let got = key_hash(key);
        assert_eq!(got, independent::path(key), "key_hash {label}");
        lines.push(format!("key_hash({label}) = {}", hex(&got)));
        let got = value_hash(key);
        assert_eq!(got, independent::digest(key), "value_hash {label}");
        lines.push(format!("value_hash({label}) = {}", hex(&got)));
    }
    let (kh, vh) = (key_hash(b"a"), value_hash(b"1"));
    for (label, a, b) in [
        ("zero, zero", EMPTY, EMPTY),
        ("key_hash(\"a\"), value_hash(\"1\")", kh, vh),
        ("[0x01; 32], [0x02; 32]", [1u8; 32], [2u8; 32]),
        ("[0xff; 32], [0x00; 32]", [0xff; 32], EMPTY),
    ] {
        let l = leaf_hash(&a, &b);
        assert_eq!(l, independent::leaf(&a, &b), "leaf_hash {label}");
        lines.push(format!("leaf_hash({label}) = {}", hex(&l)));
        let n = internal_hash(&a, &b);
        assert_eq!(n, independent::node(&a, &b), "internal_hash {label}");
        lines.push(format!("internal_hash({label}) = {}", hex(&n)));
        assert_ne!(l, n, "leaves and nodes must be domain-separated");
    }
    check_kat(&kat_path("hashes"), &lines);
}

fn trie(pairs: &[(Vec<u8>, Vec<u8>)]) -> Trie {
    Trie::from_pairs(pairs.iter().map(|(k, v)| (&k[..], &v[..])))
}

#[test]
fn roots_of_fixed_key_sets() {
    let mut lines = Vec::new();
    for (label, pairs) in key_sets() {
        let root = trie(&pairs).hash();
        // Insertion order does not matter.
        let mut reversed = pairs.clone();
        reversed.reverse();
        assert_eq!(root, trie(&reversed).hash(), "{label}: order");
        lines.push(format!("root({label}) = {}", hex(&root)));
    }
    // Spot checks of the collapse rules against keel-proof's own functions.
    assert_eq!(trie(&[]).hash(), EMPTY);
    let one = trie(&[(b"a".to_vec(), b"1".to_vec())]).hash();
    assert_eq!(one, leaf_hash(&key_hash(b"a"), &value_hash(b"1")));
    check_kat(&kat_path("roots"), &lines);
}

fn proof_of(t: &Trie, key: &[u8]) -> Proof {
    let (siblings, end) = t.proof(key);
    Proof {
        siblings,
        terminal: match end {
            None => ProofTerminal::Empty,
            Some((key_hash, value_hash)) => ProofTerminal::Leaf {
                key_hash,
                value_hash,
            },
        },
    }
}

fn verdict(r: Result<(), ProofError>) -> String {
    match r {
        Ok(()) => "ok".into(),
        Err(e) => format!("{e:?}"),
    }
}

#[test]
fn proof_encoding_and_verification() {
    let (a, b) = long_prefix_pair();
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..64u32)
        .map(|i| (format!("key-{i}").into_bytes(), vec![i as u8; 3]))
        .collect();
    pairs.push((a.clone(), b"x".to_vec()));
    pairs.push((b.clone(), b"y".to_vec()));
    let t = trie(&pairs);
    let root = t.hash();
    let mut lines = vec![format!("root = {}", hex(&root))];

    // Present keys, the deep pair, and absent keys (ending in an empty slot or at a leaf).
    let mut absent_empty = None;
    let mut absent_leaf = None;
    for i in 0..10_000u32 {
        let k = format!("absent-{i}").into_bytes();
        match t.proof(&k).1 {
            None if absent_empty.is_none() => absent_empty = Some(k),
            Some(_) if absent_leaf.is_none() => absent_leaf = Some(k),
            _ => {}
        }
        if absent_empty.is_some() && absent_leaf.is_some() {
            break;
        }
    }
    let cases: Vec<(String, Vec<u8>, Option<Vec<u8>>)> = vec![
        ("present key-0".into(), b"key-0".to_vec(), Some(vec![0; 3])),
        (
            "present key-63".into(),
            b"key-63".to_vec(),
            Some(vec![63; 3]),
        ),
        ("present deep a".into(), a.clone(), Some(b"x".to_vec())),
        ("present deep b".into(), b.clone(), Some(b"y".to_vec())),
        ("absent, empty slot".into(), absent_empty.unwrap(), None),
        ("absent, other leaf".into(), absent_leaf.unwrap(), None),
    ];
    for (label, key, value) in &cases {
        let p = proof_of(&t, key);
        let c = p.compress();
        lines.push(format!("{label}: key = {}", hex(key)));
        lines.push(format!("{label}: proof = {}", hex(&p.encode())));
        lines.push(format!("{label}: compressed = {}", hex(&c.encode())));
        assert_eq!(c.decompress().unwrap(), p, "{label}: round trip");
        let v = value.as_deref();
        // Honest claims verify, plain and compressed.
        assert_eq!(p.verify(&root, key, v), Ok(()), "{label}");
        assert_eq!(c.verify(&root, key, v), Ok(()), "{label}");
        // Dishonest claims fail with the reason the rules give.
        let other_root = independent::node(&root, &root);
        let wrong = [
            ("wrong root", p.verify(&other_root, key, v)),
            (
                "claim other value",
                p.verify(&root, key, Some(b"not the value")),
            ),
            (
                "claim absent/present",
                p.verify(&root, key, if v.is_some() { None } else { Some(b"x") }),
            ),
            ("compressed, wrong root", c.verify(&other_root, key, v)),
        ];
        for (what, r) in wrong {
            assert!(r.is_err(), "{label}: {what} verified");
            lines.push(format!("{label}: verify {what} = {}", verdict(r)));
        }
    }
    // The empty tree: every key is absent with an empty proof.
    let empty = Proof {
        siblings: vec![],
        terminal: ProofTerminal::Empty,
    };
    assert_eq!(empty.verify(&EMPTY, b"anything", None), Ok(()));
    lines.push(format!("empty tree: proof = {}", hex(&empty.encode())));
    lines.push(format!(
        "empty tree: compressed = {}",
        hex(&empty.compress().encode())
    ));
    lines.push(format!(
        "empty tree: verify present claim = {}",
        verdict(empty.verify(&EMPTY, b"anything", Some(b"1")))
    ));
    check_kat(&kat_path("proofs"), &lines);
}
