//! [`Store`]: the persistent state store on RocksDB (feature `rocksdb`).

use std::collections::HashMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};

use keel_proof::{Hash, Proof, key_hash, value_hash};
use parity_scale_codec::{Decode, DecodeAll, Encode};
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DB, DBCompressionType,
    DBRawIterator, ErrorKind, Options, WriteBatch, WriteOptions,
};

use crate::tree::{self, Group, NodeKey, NodeReader, Table};
use crate::{ChangeSet, StateError, StateRead, StateStore, Version, bounds_empty};

/// Column family of group nodes: `NodeKey::encode` → `Group::encode`.
const CF_NODES: &str = "nodes";
/// Column family of versioned values: `key_hash ‖ version (u64 BE)` → SCALE `Option<Vec<u8>>`.
const CF_VALUES: &str = "values";
/// Column family of latest values: raw key → SCALE `Vec<u8>`.
const CF_LATEST: &str = "latest";
/// Column family of the stale index, two entries per version `since`:
/// `since (u64 BE) ‖ 0x00` → SCALE `Vec<Vec<u8>>` of the encoded node keys no longer used from
/// `since` on, and `since ‖ 0x01` → SCALE `Vec<[u8; 32]>` of the key hashes whose versioned
/// values older than `since` are superseded.
const CF_STALE: &str = "stale";
/// Column family of metadata: see the `META_*` keys.
const CF_META: &str = "meta";
const CFS: [&str; 5] = [CF_NODES, CF_VALUES, CF_LATEST, CF_STALE, CF_META];

/// `META_MAGIC` → SCALE `Vec<u8>` equal to [`MAGIC`].
const META_MAGIC: &[u8] = b"magic";
/// `META_FORMAT` → SCALE `u32`.
const META_FORMAT: &[u8] = b"format";
/// `META_LATEST` → SCALE `u64`: the latest committed version.
const META_LATEST: &[u8] = b"latest";
/// `META_OLDEST` → SCALE `u64`: the oldest readable version.
const META_OLDEST: &[u8] = b"oldest";
/// `META_ROOT ‖ version (u64 BE)` → SCALE `[u8; 32]`: the root of that version.
const META_ROOT: &[u8] = b"root/";

/// Identifies a Keel state store.
pub const MAGIC: &[u8] = b"keel-state-store";
/// The on-disk format this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

const STALE_NODE: u8 = 0;
const STALE_VALUES: u8 = 1;

/// Group nodes down to this many nibbles below the root are kept in RAM for the latest
/// version (about 4,400 groups in a full tree).
const CACHE_DEPTH: usize = 3;

/// Stale-index entries deleted per write batch while pruning.
const PRUNE_CHUNK: usize = 50_000;

/// The persistent, versioned, provable state store, embedded in a data dir.
///
/// One commit is one RocksDB `WriteBatch` written with the WAL on: after a crash, the store
/// reopens at the last committed version, whole. By default the WAL is not fsynced per
/// commit (a process crash loses nothing acknowledged; a power loss may lose the most recent
/// versions but never leaves a partial one); see [`Store::set_sync`].
///
/// ```
/// use keel_state::{ChangeSet, StateRead, StateStore, Store};
/// let dir = tempfile::tempdir().unwrap();
/// let mut store = Store::open(dir.path()).unwrap();
/// let mut changes = ChangeSet::new();
/// changes.put(b"k".to_vec(), b"v".to_vec());
/// let (version, root) = store.commit(&changes).unwrap();
/// assert_eq!(store.get(b"k").unwrap(), Some(b"v".to_vec()));
/// let proof = store.prove(b"k", version).unwrap();
/// assert!(proof.verify(&root, b"k", Some(b"v")).is_ok());
/// drop(store);
/// let store = Store::open(dir.path()).unwrap();
/// assert_eq!((store.version(), store.root()), (version, root));
/// ```
pub struct Store {
    db: DB,
    path: PathBuf,
    version: Version,
    oldest: Version,
    root: Hash,
    sync: bool,
    /// The latest version's top groups (see [`CACHE_DEPTH`]) with their summary tables.
    cache: HashMap<NodeKey, Cached>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("version", &self.version)
            .field("oldest", &self.oldest)
            .finish_non_exhaustive()
    }
}

fn db_err(e: rocksdb::Error) -> StateError {
    let msg = e.to_string();
    if msg.contains("While lock file") || msg.contains("lock hold by current process") {
        return StateError::Locked { path: msg };
    }
    match e.kind() {
        ErrorKind::Corruption => StateError::Corrupted(msg),
        _ => StateError::Io(msg),
    }
}

fn decode<T: Decode>(bytes: &[u8], what: &str) -> Result<T, StateError> {
    T::decode_all(&mut &bytes[..])
        .map_err(|e| StateError::Corrupted(format!("cannot decode {what}: {e}")))
}

fn root_key(version: Version) -> Vec<u8> {
    let mut k = META_ROOT.to_vec();
    k.extend_from_slice(&version.to_be_bytes());
    k
}

fn value_key(kh: &Hash, version: Version) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..32].copy_from_slice(kh);
    k[32..].copy_from_slice(&version.to_be_bytes());
    k
}

fn stale_key(since: Version, tag: u8) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[..8].copy_from_slice(&since.to_be_bytes());
    k[8] = tag;
    k
}

fn options() -> (Options, Vec<ColumnFamilyDescriptor>) {
    let mut db = Options::default();
    db.set_max_background_jobs(2);
    db.set_keep_log_file_num(4);
    let cache = Cache::new_lru_cache(256 << 20);
    let cfs = CFS
        .iter()
        .map(|name| {
            let mut o = Options::default();
            let mut table = BlockBasedOptions::default();
            table.set_block_cache(&cache);
            if *name == CF_NODES || *name == CF_LATEST {
                table.set_bloom_filter(10.0, false);
            }
            o.set_block_based_table_factory(&table);
            if *name == CF_NODES {
                // A big commit writes about 1 KiB of group nodes per changed key.
                o.set_write_buffer_size(128 << 20);
            }
            if *name == CF_NODES || *name == CF_VALUES || *name == CF_STALE {
                // Hashes do not compress.
                o.set_compression_type(DBCompressionType::None);
            } else {
                o.set_compression_type(DBCompressionType::Lz4);
            }
            ColumnFamilyDescriptor::new(*name, o)
        })
        .collect();
    (db, cfs)
}

/// A cached group and its precomputed summary table.
struct Cached {
    group: Group,
    table: Table,
}

impl Cached {
    fn new(group: Group) -> Cached {
        let table = Box::new(group.table());
        Cached { group, table }
    }
}

/// A change with its key hash.
type Row<'a> = (Hash, &'a [u8], Option<&'a [u8]>);

/// Creates a new store at `path` (absent or an empty dir) atomically: the database is built
/// in a staging dir beside it, with its column families and genesis metadata written (WAL
/// fsynced), then renamed into place. A crash during creation leaves no half-made store at
/// `path`, only a staging dir that the next creation removes.
fn create(path: &Path) -> Result<(), StateError> {
    let shown = path.display().to_string();
    let io = |what: &str, e: std::io::Error| StateError::Io(format!("{what} {shown}: {e}"));
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| StateError::Io(format!("{shown} does not name a directory")))?;
    std::fs::create_dir_all(parent).map_err(|e| io("cannot create the parent of", e))?;
    let staging = parent.join(format!(".{}.keel-creating", name.to_string_lossy()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| io("cannot clear the staging dir of", e))?;
    }
    {
        let (mut opts, cfs) = options();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let db = DB::open_cf_descriptors(&opts, &staging, cfs).map_err(db_err)?;
        let cf = |name: &str| {
            db.cf_handle(name)
                .ok_or_else(|| StateError::Corrupted(format!("missing column family {name}")))
        };
        let (key, group) = tree::genesis();
        let mut batch = WriteBatch::default();
        batch.put_cf(cf(CF_NODES)?, key.encode(), group.encode());
        let meta = cf(CF_META)?;
        batch.put_cf(meta, META_MAGIC, MAGIC.to_vec().encode());
        batch.put_cf(meta, META_FORMAT, FORMAT_VERSION.encode());
        batch.put_cf(meta, META_LATEST, 0u64.encode());
        batch.put_cf(meta, META_OLDEST, 0u64.encode());
        batch.put_cf(meta, root_key(0), group.hash().encode());
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        db.write_opt(batch, &wo).map_err(db_err)?;
        db.flush_wal(true).map_err(db_err)?;
    }
    // Replaces `path` if it is an empty dir (rename(2) semantics), atomically.
    std::fs::rename(&staging, path).map_err(|e| io("cannot move the new store into", e))?;
    if let Ok(dir) = std::fs::File::open(parent) {
        // Best effort: make the rename durable.
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Reads group nodes through the RAM cache, then RocksDB.
struct Nodes<'a> {
    db: &'a DB,
    cache: &'a HashMap<NodeKey, Cached>,
}

impl NodeReader for Nodes<'_> {
    fn node_with_table(&self, key: &NodeKey) -> Result<(Group, Option<Table>), StateError> {
        match self.cache.get(key) {
            Some(c) => Ok((c.group.clone(), Some(c.table.clone()))),
            None => Ok((self.node(key)?, None)),
        }
    }

    fn node(&self, key: &NodeKey) -> Result<Group, StateError> {
        if let Some(c) = self.cache.get(key) {
            return Ok(c.group.clone());
        }
        let cf = self
            .db
            .cf_handle(CF_NODES)
            .ok_or_else(|| StateError::Corrupted("missing column family nodes".into()))?;
        match self.db.get_pinned_cf(cf, key.encode()).map_err(db_err)? {
            Some(bytes) => Group::decode(&bytes),
            None => Err(tree::missing(key)),
        }
    }
}

impl Store {
    /// Opens the store in `path`, creating it (and the dir) if the dir is absent or empty.
    ///
    /// Errors: `Locked` if another process (or another `Store` in this one) has it open;
    /// `Foreign` if the dir holds something that is not a Keel store; `NewerFormat` if it was
    /// written by a newer format; `Corrupted` if its data is damaged; `Io` on disk or
    /// permission failures.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StateError> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let fresh = match std::fs::metadata(path) {
            Ok(m) if !m.is_dir() => {
                return Err(StateError::Io(format!("{shown} is not a directory")));
            }
            Ok(_) => {
                let mut entries = std::fs::read_dir(path)
                    .map_err(|e| StateError::Io(format!("cannot read {shown}: {e}")))?;
                match entries.next() {
                    None => true,
                    Some(Err(e)) => {
                        return Err(StateError::Io(format!("cannot read {shown}: {e}")));
                    }
                    Some(Ok(_)) => {
                        if !path.join("CURRENT").exists() {
                            return Err(StateError::Foreign {
                                path: shown,
                                detail: "not a RocksDB data dir (no CURRENT file)".into(),
                            });
                        }
                        false
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
            Err(e) => return Err(StateError::Io(format!("cannot access {shown}: {e}"))),
        };
        if fresh {
            create(path)?;
        }
        let (opts, cfs) = options();
        let found = DB::list_cf(&Options::default(), path).map_err(db_err)?;
        if let Some(missing) = CFS.iter().find(|cf| !found.iter().any(|f| f == *cf)) {
            return Err(StateError::Foreign {
                path: shown,
                detail: format!("RocksDB without column family {missing:?}"),
            });
        }
        let db = DB::open_cf_descriptors(&opts, path, cfs).map_err(|e| match db_err(e) {
            StateError::Locked { .. } => StateError::Locked {
                path: shown.clone(),
            },
            other => other,
        })?;
        let mut store = Store {
            db,
            path: path.to_path_buf(),
            version: 0,
            oldest: 0,
            root: keel_proof::EMPTY,
            sync: false,
            cache: HashMap::new(),
        };
        store.load()?;
        Ok(store)
    }

    fn cf(&self, name: &str) -> Result<&ColumnFamily, StateError> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| StateError::Corrupted(format!("missing column family {name}")))
    }

    fn meta(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.db.get_cf(self.cf(CF_META)?, key).map_err(db_err)
    }

    fn load(&mut self) -> Result<(), StateError> {
        let shown = self.path.display().to_string();
        let foreign = |detail: &str| StateError::Foreign {
            path: shown.clone(),
            detail: detail.into(),
        };
        let magic: Vec<u8> = match self.meta(META_MAGIC)? {
            Some(b) => decode(&b, "magic").map_err(|_| foreign("bad magic"))?,
            None => return Err(foreign("no Keel metadata")),
        };
        if magic != MAGIC {
            return Err(foreign("bad magic"));
        }
        let format: u32 = match self.meta(META_FORMAT)? {
            Some(b) => decode(&b, "format version")?,
            None => return Err(StateError::Corrupted("missing format version".into())),
        };
        if format > FORMAT_VERSION {
            return Err(StateError::NewerFormat {
                path: shown,
                found: format,
                supported: FORMAT_VERSION,
            });
        }
        if format == 0 {
            return Err(StateError::Corrupted("format version 0".into()));
        }
        let latest: u64 = match self.meta(META_LATEST)? {
            Some(b) => decode(&b, "latest version")?,
            None => return Err(StateError::Corrupted("missing latest version".into())),
        };
        let oldest: u64 = match self.meta(META_OLDEST)? {
            Some(b) => decode(&b, "oldest version")?,
            None => return Err(StateError::Corrupted("missing oldest version".into())),
        };
        if oldest > latest {
            return Err(StateError::Corrupted(format!(
                "oldest version {oldest} after latest {latest}"
            )));
        }
        self.version = latest;
        self.oldest = oldest;
        self.root = self.stored_root(latest)?;
        let mut cache = HashMap::new();
        tree::walk_top(
            &Nodes {
                db: &self.db,
                cache: &HashMap::new(),
            },
            latest,
            CACHE_DEPTH,
            &mut |k, g| {
                cache.insert(k, Cached::new(g.clone()));
            },
        )?;
        let computed = cache
            .get(&NodeKey::root(latest))
            .map(|c| c.group.hash())
            .ok_or_else(|| tree::missing(&NodeKey::root(latest)))?;
        if computed != self.root {
            return Err(StateError::Corrupted(
                "latest root group does not match the stored root".into(),
            ));
        }
        self.cache = cache;
        Ok(())
    }

    fn write(&self, batch: WriteBatch) -> Result<(), StateError> {
        let mut wo = WriteOptions::default();
        wo.set_sync(self.sync);
        wo.disable_wal(false);
        self.db.write_opt(batch, &wo).map_err(db_err)
    }

    /// Whether each commit fsyncs the WAL (default `false`: safe against process crashes;
    /// `true` also against power loss, at a cost per commit).
    pub fn set_sync(&mut self, sync: bool) {
        self.sync = sync;
    }

    /// The data dir.
    pub fn path(&self) -> &Path {
        &self.path
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

    fn stored_root(&self, version: Version) -> Result<Hash, StateError> {
        match self.meta(&root_key(version))? {
            Some(b) => decode(&b, "root"),
            None => Err(StateError::Corrupted(format!(
                "no root for version {version}"
            ))),
        }
    }

    /// The root of `version`.
    pub fn root_at(&self, version: Version) -> Result<Hash, StateError> {
        self.check_version(version)?;
        self.stored_root(version)
    }

    /// The value of `key` at `version`.
    pub fn get_at(&self, key: &[u8], version: Version) -> Result<Option<Vec<u8>>, StateError> {
        self.check_version(version)?;
        let kh = key_hash(key);
        let mut it = self.db.raw_iterator_cf(self.cf(CF_VALUES)?);
        it.seek_for_prev(value_key(&kh, version));
        let found = match (it.key(), it.value()) {
            (Some(k), Some(v)) if k.len() == 40 && k[..32] == kh => {
                Some(decode::<Option<Vec<u8>>>(v, "versioned value")?)
            }
            (Some(k), Some(_)) if k.starts_with(&kh) => {
                return Err(StateError::Corrupted("bad versioned value key".into()));
            }
            _ => None,
        };
        it.status().map_err(db_err)?;
        Ok(found.flatten())
    }

    /// The latest entries within `lower`/`upper`, in ascending key order.
    pub fn scan(&self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> Scan<'_> {
        let upper = upper.map(<[u8]>::to_vec);
        let done = bounds_empty(lower, upper.as_ref().map(Vec::as_slice));
        let it = match self.cf(CF_LATEST) {
            Ok(cf) => {
                let mut it = self.db.raw_iterator_cf(cf);
                match lower {
                    Bound::Included(k) | Bound::Excluded(k) => it.seek(k),
                    Bound::Unbounded => it.seek_to_first(),
                }
                if let (Bound::Excluded(l), Some(k)) = (lower, it.key())
                    && k == l
                {
                    it.next();
                }
                Ok(it)
            }
            Err(e) => Err(Some(e)),
        };
        Scan { it, upper, done }
    }

    /// The latest entries whose key starts with `prefix`, in ascending key order.
    pub fn scan_prefix(&self, prefix: &[u8]) -> Scan<'_> {
        match crate::prefix_end(prefix) {
            Some(end) => self.scan(Bound::Included(prefix), Bound::Excluded(&end)),
            None => self.scan(Bound::Included(prefix), Bound::Unbounded),
        }
    }

    /// Makes every version before `up_to` unreadable ([`StateError::VersionUnavailable`])
    /// and deletes the nodes and values only they used, found through the stale index. The
    /// latest version always stays (`up_to` is clamped to it). Interrupted prunes resume on
    /// the next call.
    pub fn prune(&mut self, up_to: Version) -> Result<(), StateError> {
        let up_to = up_to.min(self.version).max(self.oldest);
        if up_to > self.oldest {
            let meta = self.cf(CF_META)?;
            let mut batch = WriteBatch::default();
            batch.put_cf(meta, META_OLDEST, up_to.encode());
            batch.delete_range_cf(meta, root_key(0), root_key(up_to));
            self.write(batch)?;
            self.oldest = up_to;
        }
        let (nodes, values, stale) = (self.cf(CF_NODES)?, self.cf(CF_VALUES)?, self.cf(CF_STALE)?);
        loop {
            let mut batch = WriteBatch::default();
            let mut n = 0;
            let mut it = self.db.raw_iterator_cf(stale);
            it.seek_to_first();
            while let Some(k) = it.key() {
                let (since, rest) = k
                    .split_first_chunk::<8>()
                    .ok_or_else(|| StateError::Corrupted("bad stale index key".into()))?;
                let since = u64::from_be_bytes(*since);
                if since > up_to || n >= PRUNE_CHUNK {
                    break;
                }
                let list = it.value().unwrap_or_default();
                match rest {
                    [STALE_NODE] => {
                        let keys: Vec<Vec<u8>> = decode(list, "stale node list")?;
                        for node in keys {
                            // Validate before deleting: never delete what is not a node key.
                            NodeKey::decode(&node)?;
                            batch.delete_cf(nodes, node);
                        }
                        n += 1 + list.len() / 16;
                    }
                    [STALE_VALUES] => {
                        let khs: Vec<Hash> = decode(list, "stale key list")?;
                        for kh in &khs {
                            batch.delete_range_cf(values, value_key(kh, 0), value_key(kh, since));
                        }
                        n += 1 + khs.len();
                    }
                    _ => return Err(StateError::Corrupted("bad stale index key".into())),
                }
                batch.delete_cf(stale, k);
                it.next();
            }
            it.status().map_err(db_err)?;
            drop(it);
            if n == 0 {
                return Ok(());
            }
            self.write(batch)?;
            if n < PRUNE_CHUNK {
                return Ok(());
            }
        }
    }

    /// Writes a consistent snapshot of the store to `path` (which must not exist) using
    /// RocksDB checkpoints: SST files are hard-linked, so this is cheap. The snapshot opens
    /// with [`Store::open`] as an independent store.
    pub fn checkpoint_to(&self, path: impl AsRef<Path>) -> Result<(), StateError> {
        let cp = rocksdb::checkpoint::Checkpoint::new(&self.db).map_err(db_err)?;
        cp.create_checkpoint(path).map_err(db_err)
    }
}

/// An iterator over the latest entries of a [`Store`] in ascending key order; see
/// [`Store::scan`]. Yields an error at most once, then ends.
pub struct Scan<'a> {
    it: Result<DBRawIterator<'a>, Option<StateError>>,
    upper: Bound<Vec<u8>>,
    done: bool,
}

impl Iterator for Scan<'_> {
    type Item = Result<(Vec<u8>, Vec<u8>), StateError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let it = match &mut self.it {
            Ok(it) => it,
            Err(e) => {
                self.done = true;
                return e.take().map(Err);
            }
        };
        let entry = match (it.key(), it.value()) {
            (Some(k), Some(v)) => {
                let in_range = match &self.upper {
                    Bound::Included(u) => k <= u.as_slice(),
                    Bound::Excluded(u) => k < u.as_slice(),
                    Bound::Unbounded => true,
                };
                if in_range {
                    Some(decode::<Vec<u8>>(v, "value").map(|v| (k.to_vec(), v)))
                } else {
                    None
                }
            }
            _ => {
                if let Err(e) = it.status() {
                    self.done = true;
                    return Some(Err(db_err(e)));
                }
                None
            }
        };
        match entry {
            None => {
                self.done = true;
                None
            }
            Some(Err(e)) => {
                self.done = true;
                Some(Err(e))
            }
            Some(Ok(kv)) => {
                it.next();
                Some(Ok(kv))
            }
        }
    }
}

impl StateRead for Store {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        match self
            .db
            .get_pinned_cf(self.cf(CF_LATEST)?, key)
            .map_err(db_err)?
        {
            Some(b) => Ok(Some(decode(&b, "value")?)),
            None => Ok(None),
        }
    }

    fn next_entry(
        &self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
    ) -> Result<Option<(Vec<u8>, Vec<u8>)>, StateError> {
        self.scan(lower, upper).next().transpose()
    }
}

impl StateStore for Store {
    fn version(&self) -> Version {
        self.version
    }

    fn root(&self) -> Hash {
        self.root
    }

    fn commit(&mut self, changes: &ChangeSet) -> Result<(Version, Hash), StateError> {
        let version = self
            .version
            .checked_add(1)
            .ok_or_else(|| StateError::Corrupted("version overflow".into()))?;
        let mut rows: Vec<Row<'_>> = changes.iter().map(|(k, v)| (key_hash(k), k, v)).collect();
        rows.sort_unstable_by_key(|r| r.0);
        let hashed: Vec<(Hash, Option<Hash>)> = rows
            .iter()
            .map(|(kh, _, v)| (*kh, v.map(value_hash)))
            .collect();
        let update = tree::apply(
            &Nodes {
                db: &self.db,
                cache: &self.cache,
            },
            self.version,
            version,
            &hashed,
        )?;

        let (nodes, values, latest, stale, meta) = (
            self.cf(CF_NODES)?,
            self.cf(CF_VALUES)?,
            self.cf(CF_LATEST)?,
            self.cf(CF_STALE)?,
            self.cf(CF_META)?,
        );
        let mut batch = WriteBatch::default();
        // Each column family's entries go in in key order: the memtable inserts sequentially.
        let mut new_nodes: Vec<(Vec<u8>, &Group)> = update
            .new_nodes
            .iter()
            .map(|(k, g)| (k.encode(), g))
            .collect();
        new_nodes.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (k, g) in &new_nodes {
            batch.put_cf(nodes, k, g.encode());
        }
        let stale_nodes: Vec<Vec<u8>> = update.stale.iter().map(NodeKey::encode).collect();
        batch.put_cf(stale, stale_key(version, STALE_NODE), stale_nodes.encode());
        for (key, value) in changes.iter() {
            match value {
                Some(v) => batch.put_cf(latest, key, v.encode()),
                None => batch.delete_cf(latest, key),
            }
        }
        let mut khs: Vec<Hash> = Vec::with_capacity(rows.len());
        for (kh, _, value) in &rows {
            batch.put_cf(values, value_key(kh, version), value.encode());
            khs.push(*kh);
        }
        batch.put_cf(stale, stale_key(version, STALE_VALUES), khs.encode());
        batch.put_cf(meta, META_LATEST, version.encode());
        batch.put_cf(meta, root_key(version), update.root.encode());
        self.write(batch)?;

        self.version = version;
        self.root = update.root;
        for k in &update.stale {
            self.cache.remove(k);
        }
        for (k, g) in update.new_nodes {
            if k.path.len() <= CACHE_DEPTH {
                self.cache.insert(k, Cached::new(g));
            }
        }
        Ok((version, update.root))
    }

    fn prove(&self, key: &[u8], version: Version) -> Result<Proof, StateError> {
        self.check_version(version)?;
        tree::prove(
            &Nodes {
                db: &self.db,
                cache: &self.cache,
            },
            version,
            &key_hash(key),
        )
    }
}
