//! [`MemStore`]: an in-memory state store with the same tree, roots and proofs as the RocksDB
//! one.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use keel_proof::{Hash, Proof, key_hash};

use crate::tree::{self, Group, NodeKey};
use crate::{
    ChangeSet, EntryIter, StateError, StateRead, StateStore, Version, bounds_empty, hashed_changes,
};

/// What became stale at one version: superseded group nodes and the keys whose older
/// versioned values are no longer needed once this version is the oldest kept.
#[derive(Debug, Clone, Default)]
struct Stale {
    nodes: Vec<NodeKey>,
    keys: Vec<Vec<u8>>,
}

/// A key's kept versions, ascending.
type History = Vec<(Version, Option<Vec<u8>>)>;

/// An in-memory, versioned, provable state store.
///
/// It runs the same tree code as the RocksDB `Store` over an in-memory node map, so roots
/// and proofs are identical. History is kept until [`MemStore::prune`]; a long-running user
/// should prune regularly to bound memory.
///
/// ```
/// use keel_state::{ChangeSet, MemStore, StateRead, StateStore};
/// let mut store = MemStore::new();
/// let mut changes = ChangeSet::new();
/// changes.put(b"k".to_vec(), b"v".to_vec());
/// let (version, root) = store.commit(&changes).unwrap();
/// assert_eq!(version, 1);
/// assert_eq!(store.get(b"k").unwrap(), Some(b"v".to_vec()));
/// let proof = store.prove(b"k", version).unwrap();
/// assert!(proof.verify(&root, b"k", Some(b"v")).is_ok());
/// ```
#[derive(Debug, Clone)]
pub struct MemStore {
    /// Boxed so that growing the map moves pointers, not 1.6 KiB groups.
    nodes: HashMap<NodeKey, Box<Group>>,
    latest: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Every kept version of each key, ascending by version; `None` is a delete.
    history: HashMap<Vec<u8>, History>,
    roots: BTreeMap<Version, Hash>,
    stale: BTreeMap<Version, Stale>,
    version: Version,
    oldest: Version,
    /// Prune automatically to keep this many versions before the latest.
    keep: Option<Version>,
}

impl Default for MemStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemStore {
    /// An empty store at version 0.
    pub fn new() -> Self {
        let (key, group) = tree::genesis();
        let root = group.hash();
        let mut nodes = HashMap::new();
        nodes.insert(key, Box::new(group));
        Self {
            nodes,
            latest: BTreeMap::new(),
            history: HashMap::new(),
            roots: BTreeMap::from([(0, root)]),
            stale: BTreeMap::new(),
            version: 0,
            oldest: 0,
            keep: None,
        }
    }

    /// Keeps only the latest version and the `versions` before it: each commit then prunes
    /// older ones (as [`MemStore::prune`]). `None` (the default) keeps everything. Without
    /// a limit a long-running MemStore grows by the rewritten tree groups of every commit.
    pub fn set_keep_versions(&mut self, versions: Option<Version>) {
        self.keep = versions;
    }

    /// The oldest version still readable.
    pub fn oldest_version(&self) -> Version {
        self.oldest
    }

    fn check_version(&self, version: Version) -> Result<(), StateError> {
        if version < self.oldest || version > self.version {
            return Err(StateError::VersionUnavailable {
                requested: version,
                oldest: self.oldest,
                latest: self.version,
            });
        }
        Ok(())
    }

    /// The root of `version`.
    pub fn root_at(&self, version: Version) -> Result<Hash, StateError> {
        self.check_version(version)?;
        self.roots
            .get(&version)
            .copied()
            .ok_or_else(|| StateError::Corrupted(format!("no root for version {version}")))
    }

    /// The value of `key` at `version`.
    pub fn get_at(&self, key: &[u8], version: Version) -> Result<Option<Vec<u8>>, StateError> {
        self.check_version(version)?;
        let Some(h) = self.history.get(key) else {
            return Ok(None);
        };
        let i = h.partition_point(|(v, _)| *v <= version);
        Ok(i.checked_sub(1).and_then(|i| h[i].1.clone()))
    }

    /// The latest entries with `lower`/`upper` bounds, in ascending key order.
    pub fn scan<'a>(&'a self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> EntryIter<'a> {
        if bounds_empty(lower, upper) {
            return Box::new(std::iter::empty());
        }
        Box::new(
            self.latest
                .range::<[u8], _>((lower, upper))
                .map(|(k, v)| Ok((k.clone(), v.clone()))),
        )
    }

    /// The latest entries whose key starts with `prefix`, in ascending key order.
    pub fn scan_prefix<'a>(&'a self, prefix: &[u8]) -> EntryIter<'a> {
        match crate::prefix_end(prefix) {
            Some(end) => Box::new(
                self.latest
                    .range((Bound::Included(prefix.to_vec()), Bound::Excluded(end)))
                    .map(|(k, v)| Ok((k.clone(), v.clone()))),
            ),
            None => self.scan(Bound::Included(prefix), Bound::Unbounded),
        }
    }

    /// Makes every version before `up_to` unreadable and frees what only they used. The
    /// latest version is always kept (`up_to` is clamped to it).
    pub fn prune(&mut self, up_to: Version) -> Result<(), StateError> {
        let up_to = up_to.min(self.version);
        if up_to <= self.oldest {
            return Ok(());
        }
        let keep = self.stale.split_off(&(up_to + 1));
        let drop = std::mem::replace(&mut self.stale, keep);
        for (since, stale) in drop {
            for node in stale.nodes {
                self.nodes.remove(&node);
            }
            for key in stale.keys {
                if let Some(h) = self.history.get_mut(&key) {
                    h.retain(|(v, _)| *v >= since);
                    if matches!(h.as_slice(), [(_, None)]) {
                        self.history.remove(&key);
                    }
                }
            }
        }
        self.roots = self.roots.split_off(&up_to);
        self.oldest = up_to;
        Ok(())
    }
}

impl StateRead for MemStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.latest.get(key).cloned())
    }

    fn next_entry(
        &self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
    ) -> Result<Option<(Vec<u8>, Vec<u8>)>, StateError> {
        if bounds_empty(lower, upper) {
            return Ok(None);
        }
        Ok(self
            .latest
            .range::<[u8], _>((lower, upper))
            .next()
            .map(|(k, v)| (k.clone(), v.clone())))
    }
}

impl StateStore for MemStore {
    fn version(&self) -> Version {
        self.version
    }

    fn root(&self) -> Hash {
        self.roots
            .get(&self.version)
            .copied()
            .unwrap_or(keel_proof::EMPTY)
    }

    fn commit(&mut self, changes: &ChangeSet) -> Result<(Version, Hash), StateError> {
        let version = self
            .version
            .checked_add(1)
            .ok_or_else(|| StateError::Corrupted("version overflow".into()))?;
        let hashed = hashed_changes(changes);
        let update = tree::apply(&self.nodes, self.version, version, &hashed, 0)?;
        for w in update.new_nodes {
            self.nodes.insert(w.key, w.group);
        }
        let mut keys = Vec::with_capacity(changes.len());
        for (k, v) in changes.iter() {
            match v {
                Some(v) => {
                    self.latest.insert(k.to_vec(), v.to_vec());
                }
                None => {
                    self.latest.remove(k);
                }
            }
            let h = self.history.entry(k.to_vec()).or_default();
            if h.is_empty() && v.is_none() {
                self.history.remove(k);
                continue;
            }
            h.push((version, v.map(<[u8]>::to_vec)));
            if h.len() > 1 {
                keys.push(k.to_vec());
            }
        }
        self.stale.insert(
            version,
            Stale {
                nodes: update.stale,
                keys,
            },
        );
        self.roots.insert(version, update.root);
        self.version = version;
        if let Some(keep) = self.keep {
            self.prune(version.saturating_sub(keep))?;
        }
        Ok((version, update.root))
    }

    fn prove(&self, key: &[u8], version: Version) -> Result<Proof, StateError> {
        self.check_version(version)?;
        tree::prove(&self.nodes, version, &key_hash(key))
    }
}
