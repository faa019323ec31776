//! A second, independent implementation of Keel's state root and proofs, written from the
//! rules in keel-proof's crate docs (not from its code), for the known-answer tests:
//!
//! - a key's path is `blake3(key)`, a value's digest is `blake3(value)`;
//! - a leaf hashes as blake3 in keyed mode, key `"keel.merkle.v1.leaf"` padded with `.` to 32
//!   bytes, over `path ‖ digest`; an internal node likewise with `"keel.merkle.v1.node"`, over
//!   `left ‖ right`; an empty subtree is 32 zero bytes;
//! - a subtree with one leaf is that leaf; bit 0 of a path is the top bit of its first byte,
//!   0 goes left.
//!
//! It builds an explicit binary trie by insertion (the crate's reference splits a sorted list)
//! and calls the `blake3` crate directly, never keel-proof's hash functions.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub type H = [u8; 32];

fn pad_key(label: &str) -> [u8; 32] {
    let mut k = [b'.'; 32];
    k[..label.len()].copy_from_slice(label.as_bytes());
    k
}

pub fn path(key: &[u8]) -> H {
    *blake3::hash(key).as_bytes()
}

pub fn digest(value: &[u8]) -> H {
    *blake3::hash(value).as_bytes()
}

pub fn leaf(path: &H, digest: &H) -> H {
    let mut h = blake3::Hasher::new_keyed(&pad_key("keel.merkle.v1.leaf"));
    h.update(path);
    h.update(digest);
    *h.finalize().as_bytes()
}

pub fn node(left: &H, right: &H) -> H {
    let mut h = blake3::Hasher::new_keyed(&pad_key("keel.merkle.v1.node"));
    h.update(left);
    h.update(right);
    *h.finalize().as_bytes()
}

fn goes_right(path: &H, depth: usize) -> bool {
    path[depth >> 3] & (0x80u8 >> (depth & 7)) != 0
}

/// A binary trie: a branch exists only where two or more leaves lie below it.
pub enum Trie {
    Empty,
    Leaf { path: H, digest: H },
    Branch(Box<Trie>, Box<Trie>),
}

impl Trie {
    pub fn new() -> Self {
        Trie::Empty
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> Self {
        let mut t = Trie::Empty;
        for (k, v) in pairs {
            t = t.insert(path(k), digest(v), 0);
        }
        t
    }

    fn insert(self, p: H, d: H, depth: usize) -> Trie {
        match self {
            Trie::Empty => Trie::Leaf { path: p, digest: d },
            Trie::Leaf { path, .. } if path == p => Trie::Leaf { path: p, digest: d },
            Trie::Leaf { path, digest } => {
                let old = Trie::Leaf { path, digest };
                split(old, path, p, d, depth)
            }
            Trie::Branch(l, r) => {
                if goes_right(&p, depth) {
                    Trie::Branch(l, Box::new(r.insert(p, d, depth + 1)))
                } else {
                    Trie::Branch(Box::new(l.insert(p, d, depth + 1)), r)
                }
            }
        }
    }

    pub fn hash(&self) -> H {
        match self {
            Trie::Empty => [0u8; 32],
            Trie::Leaf { path, digest } => leaf(path, digest),
            Trie::Branch(l, r) => node(&l.hash(), &r.hash()),
        }
    }

    /// The siblings from the root down along `key`'s path, and where the path ends:
    /// `None` for an empty subtree, `Some((path, digest))` for a leaf.
    pub fn proof(&self, key: &[u8]) -> (Vec<H>, Option<(H, H)>) {
        let p = path(key);
        let mut siblings = Vec::new();
        let mut at = self;
        let mut depth = 0;
        loop {
            match at {
                Trie::Empty => return (siblings, None),
                Trie::Leaf { path, digest } => return (siblings, Some((*path, *digest))),
                Trie::Branch(l, r) => {
                    if goes_right(&p, depth) {
                        siblings.push(l.hash());
                        at = r;
                    } else {
                        siblings.push(r.hash());
                        at = l;
                    }
                    depth += 1;
                }
            }
        }
    }
}

impl Default for Trie {
    fn default() -> Self {
        Self::new()
    }
}

/// Two leaves that share the path down to `depth`: branches until their bits differ.
fn split(old: Trie, old_path: H, p: H, d: H, depth: usize) -> Trie {
    let new = Trie::Leaf { path: p, digest: d };
    match (goes_right(&old_path, depth), goes_right(&p, depth)) {
        (false, true) => Trie::Branch(Box::new(old), Box::new(new)),
        (true, false) => Trie::Branch(Box::new(new), Box::new(old)),
        (false, false) => Trie::Branch(
            Box::new(split(old, old_path, p, d, depth + 1)),
            Box::new(Trie::Empty),
        ),
        (true, true) => Trie::Branch(
            Box::new(Trie::Empty),
            Box::new(split(old, old_path, p, d, depth + 1)),
        ),
    }
}

/// Number of leading path bits two keys share.
pub fn shared_bits(a: &[u8], b: &[u8]) -> usize {
    let (pa, pb) = (path(a), path(b));
    (0..256)
        .take_while(|&i| goes_right(&pa, i) == goes_right(&pb, i))
        .count()
}

/// Two keys `pair-<i>` (i < 4096) whose paths share the longest prefix: found by sorting the
/// paths, so the search is deterministic.
pub fn long_prefix_pair() -> (Vec<u8>, Vec<u8>) {
    let mut keys: Vec<(H, Vec<u8>)> = (0..4096u32)
        .map(|i| {
            let k = format!("pair-{i}").into_bytes();
            (path(&k), k)
        })
        .collect();
    keys.sort();
    let best = keys
        .windows(2)
        .max_by_key(|w| shared_bits(&w[0].1, &w[1].1))
        .unwrap();
    (best[0].1.clone(), best[1].1.clone())
}

pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// The fixed key sets, by label.
pub fn key_sets() -> Vec<(String, Pairs)> {
    let (a, b) = long_prefix_pair();
    let n = |count: u32| -> Pairs {
        (0..count)
            .map(|i| {
                (
                    format!("key-{i}").into_bytes(),
                    format!("value-{i}").into_bytes(),
                )
            })
            .collect()
    };
    vec![
        ("empty".into(), vec![]),
        ("one key".into(), vec![(b"a".to_vec(), b"1".to_vec())]),
        ("one key, empty value".into(), vec![(b"a".to_vec(), vec![])]),
        ("the empty key".into(), vec![(vec![], b"v".to_vec())]),
        (
            format!(
                "two keys sharing {} path bits ({:?}, {:?})",
                shared_bits(&a, &b),
                String::from_utf8_lossy(&a),
                String::from_utf8_lossy(&b)
            ),
            vec![(a.clone(), b"x".to_vec()), (b.clone(), b"y".to_vec())],
        ),
        ("three keys".into(), n(3)),
        ("256 keys".into(), n(256)),
        ("10000 keys".into(), n(10_000)),
    ]
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares `lines` with the data file `path`, or rewrites it under `KEEL_BLESS=1`.
pub fn check_kat(path: &str, lines: &[String]) {
    let actual = lines.join("\n") + "\n";
    if std::env::var_os("KEEL_BLESS").is_some() {
        std::fs::write(path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path)
        .unwrap_or_else(|_| panic!("{path} missing: run with KEEL_BLESS=1 to create it"));
    if expected != actual {
        let mut diff = String::new();
        let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
        for i in 0..e.len().max(a.len()) {
            let (x, y) = (e.get(i).copied(), a.get(i).copied());
            if x != y {
                diff.push_str(&format!(
                    "- {}\n+ {}\n",
                    x.unwrap_or("<none>"),
                    y.unwrap_or("<none>")
                ));
            }
        }
        panic!(
            "known-answer vectors changed ({path}); if deliberate, rerun with KEEL_BLESS=1:\n{diff}"
        );
    }
}
