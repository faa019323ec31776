//! [`Store`]: the persistent state store on RocksDB (feature `rocksdb`).
//!
//! Besides the tree and the values, a data dir holds two things this module owns: the `meta`
//! column family (magic, format, version range, roots, and the embedder's own metadata under
//! `app/`), and the acknowledgement file [`ACK_FILE`], which records the latest version a
//! commit returned for, outside RocksDB's write-ahead log, so that an open at an earlier
//! version is noticed ([`StateError::RolledBack`]) instead of passing silently. The open
//! checks and their contract are in ARCHITECTURE.md ("Data-dir integrity").

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use keel_proof::{Hash, Proof, key_hash, value_hash};
use parity_scale_codec::{Compact, Decode, DecodeAll, Encode};
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DB, DBCompressionType,
    DBRawIterator, ErrorKind, Options, WriteBatch, WriteOptions,
};

use crate::error::DamagedPart;
use crate::tree::{
    self, Group, NibblePath, NodeKey, NodeReader, Record, Slot, Table, Written, hex_short,
};
use crate::{ChangeSet, Entry, StateError, StateRead, StateStore, Version, bounds_empty};

/// Column family of group records: `NodeKey::encode` → `Group::encode` (a whole group) or
/// `Group::encode_delta_into` (a delta against the record of an earlier version at the same
/// path; see [`MAX_DELTAS`]); and the tree mark [`TREE_MARK`]. Written without the WAL
/// (format 4): see [`TREE_MARK`].
const CF_NODES: &str = "nodes";
/// `nodes[TREE_MARK]` → SCALE `u64`: the version whose group records were written last, in
/// the same write as this entry (format 4). Group records are derived data: a commit writes
/// its log batch (values, latest values, stale lists, roots, metadata) with the WAL, then its
/// group records and this mark without it, so the WAL carries about a third of the bytes it did
/// (BENCHMARKS.md, eighth session). RocksDB flushes a column family's memtable as a prefix of
/// its writes, so the records that survive a crash are exactly those of the versions up to
/// the mark that survives with them; an open rebuilds the versions after it from their
/// stale-value lists (which name every key a version wrote) and versioned values, checking
/// each rebuilt root against the stored one ([`Store::flush`], `Store::rebuild`). Eight bytes:
/// shorter than any [`NodeKey`] encoding, and before all of them.
const TREE_MARK: &[u8] = &[0; 8];
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
/// `META_APP ‖ key` → raw bytes: the embedder's own metadata
/// ([`Store::commit_with_metadata`]). Not part of any root, not versioned.
const META_APP: &[u8] = b"app/";

/// Identifies a Keel state store.
pub const MAGIC: &[u8] = b"keel-state-store";
/// The on-disk format this build writes and the newest it reads. The `app/` metadata and the
/// acknowledgement file are additive: a build that does not know them opens the store and
/// ignores them. Format 2 added delta group records (see [`MAX_DELTAS`]); format 3 added the
/// stale lists that name the replaced value's version ([`STALE_VALUE_VERSIONS`]); format 4
/// writes group records without the WAL and rebuilds lost ones on open ([`TREE_MARK`]).
/// This build opens format-1 to format-3 stores and records format 4 with its first commit,
/// after which an older build refuses the store with `NewerFormat` instead of opening a tree
/// that may lack its latest versions' records.
pub const FORMAT_VERSION: u32 = 4;

/// The acknowledgement file inside the data dir: two 80-byte slots, each
/// `b"KEELACK1" ‖ version (u64 BE) ‖ root (32) ‖ MANIFEST number (u64 BE) ‖ MANIFEST length
/// (u64 BE) ‖ blake3(the first 64 bytes)[..16]`. Version `v` is written to slot `v % 2`, so a
/// torn write leaves the other slot (`v - 1`) whole; the valid slot with the higher version is
/// the acknowledged one. The MANIFEST fields record how long the live MANIFEST was known to be
/// (as of the commit before): RocksDB cannot tell a MANIFEST cut at a record boundary from a
/// shorter one, so the open compares.
pub const ACK_FILE: &str = "KEEL-ACK";
const ACK_MAGIC: &[u8; 8] = b"KEELACK1";
const ACK_SLOT: usize = 80;

/// A staging dir untouched for this long is the leftover of a killed creation: creation is a
/// fraction of a second.
const STALE_STAGING: Duration = Duration::from_secs(600);

/// Open checks the first `SAMPLE_HEAD` latest entries against the tree and the versioned
/// values; in a bigger store also the last `SAMPLE_TAIL` and up to `SAMPLE_SPREAD` found by
/// seeking to evenly spaced keys between the first and the last.
const SAMPLE_HEAD: usize = 64;
const SAMPLE_TAIL: usize = 16;
const SAMPLE_SPREAD: u128 = 32;

/// `stale[since ‖ STALE_NODE]`: the encoded keys of the group records version `since` stopped
/// using.
const STALE_NODE: u8 = 0;
/// `stale[since ‖ STALE_VALUES]` (formats 1 and 2): the key hashes version `since` wrote; the
/// prune deletes each one's versioned values older than `since` with one range delete.
const STALE_VALUES: u8 = 1;
/// `stale[since ‖ STALE_VALUE_VERSIONS]` (format 3): `(key hash, w)` per key version `since`
/// wrote, `w` the version that wrote the value it replaced if the commit knew it (the value
/// cache's record), else 0. The prune deletes `values[kh ‖ w]` with a point delete, or, for
/// `w = 0`, with the range delete of [`STALE_VALUES`]. A key written in every block thus
/// leaves no range tombstones: overlapping ones (`kh ‖ 0 .. kh ‖ since` for each `since`)
/// made RocksDB fragment a quadratic number of pieces at each `values` memtable switch, on
/// the committing thread (18% of a token block's samples, BENCHMARKS.md), and in every flush
/// and compaction after.
const STALE_VALUE_VERSIONS: u8 = 2;

/// Group nodes down to this many nibbles below the root are loaded into RAM (and checked
/// against the root) when the store opens (about 4,400 groups in a full tree).
const CACHE_DEPTH: usize = 3;

/// Groups of the latest version down to this many nibbles are kept in RAM, with their
/// summary tables, once a commit has written them: the next commit that changes one neither
/// reads it back nor rehashes its unchanged leaves. At most 69,905 groups (all of the first
/// five group levels), about 3 KiB each; a group leaves the cache when a commit replaces
/// it. Deeper groups are kept too while the cache holds fewer than [`WRITE_CACHE_GROUPS`]
/// groups.
const WRITE_CACHE_DEPTH: usize = 4;

/// The cache takes groups deeper than [`WRITE_CACHE_DEPTH`] while it holds fewer groups than
/// this: at most about 1.2 GiB of RAM. At a million keys that is every group of the tree
/// (the sixth level has about 260k groups and the seventh about 30k), so a commit reads
/// nothing back; at ten million keys about a third of the sixth level. Once the cache is
/// full, a group's replacement keeps its place unless a deeper group the same commit wrote
/// took it first (see `Plan::cache_len`).
const WRITE_CACHE_GROUPS: usize = 400_000;

/// A commit stores a group that replaces one at the same path as a *delta record* (the
/// changed slots and the version of the record it applies to) instead of the whole group
/// when the group stays in the RAM cache (so commits and latest proofs never read the
/// chain), the chain below it has fewer than this many deltas, the delta is at most half
/// the whole group's size, and the chain's deltas together stay within one whole group's
/// size. Reading a group from RocksDB (historic proofs, the open, `check`, cache misses)
/// then costs one point read per record of its chain. The records of a chain become stale
/// together, when a whole record or a removal ends it (see [`Chain`]).
const MAX_DELTAS: usize = 16;

/// Stale-index entries deleted per write batch while pruning.
const PRUNE_CHUNK: usize = 50_000;

/// How to open a [`Store`]: `Store::open(path)` is `OpenOptions::new().open(path)`.
///
/// ```
/// use keel_state::{OpenOptions, StateStore};
/// let dir = tempfile::tempdir().unwrap();
/// let store = OpenOptions::new().sync(true).open(dir.path()).unwrap();
/// assert_eq!(store.version(), 0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    sync: bool,
    accept_rollback: bool,
}

impl OpenOptions {
    /// The defaults: no fsync per commit, and a rollback is an error.
    pub fn new() -> OpenOptions {
        OpenOptions::default()
    }

    /// Whether each commit fsyncs the write-ahead log and then the acknowledgement file
    /// (default `false`; see [`Store::set_sync`]).
    pub fn sync(&mut self, on: bool) -> &mut OpenOptions {
        self.sync = on;
        self
    }

    /// Whether a store that holds an earlier version than it acknowledged opens anyway
    /// (default `false`: [`StateError::RolledBack`]). When it does, [`Store::rolled_back`]
    /// tells which version was acknowledged, and the acknowledgement is reset to the version
    /// found, so the next open is clean. Also resets an unreadable acknowledgement file.
    pub fn accept_rollback(&mut self, on: bool) -> &mut OpenOptions {
        self.accept_rollback = on;
        self
    }

    /// Opens the store in `path`, creating it (and the dir) if the dir is absent or empty.
    ///
    /// Errors: `Locked` if another process (or another `Store` in this one) has it open;
    /// `Foreign` if the dir holds something that is not a Keel store; `NewerFormat` if it was
    /// written by a newer format; `Damaged` if it is a Keel store with a damaged file or
    /// inconsistent records; `RolledBack` if it is whole but older than the version it last
    /// acknowledged; `Io` on disk or permission failures; `UnsupportedCpu` on an x86_64 CPU
    /// older than 2010 (no SSE4.2 or PCLMULQDQ, which RocksDB's checksums use).
    pub fn open(&self, path: impl AsRef<Path>) -> Result<Store, StateError> {
        open(path.as_ref(), self)
    }
}

/// What [`Store::check`] verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// The version checked (the latest).
    pub version: Version,
    /// Its root, which every group hash and every value was checked against.
    pub root: Hash,
    /// Group nodes walked.
    pub groups: u64,
    /// Stored group records they are made of (a group stored as a chain of deltas counts
    /// each record of the chain).
    pub records: u64,
    /// Latest entries checked (each against the tree and its versioned value).
    pub entries: u64,
}

/// The persistent, versioned, provable state store, embedded in a data dir.
///
/// A commit is one RocksDB `WriteBatch` written with the WAL on (its values, stale lists,
/// root and metadata), then its group records written without it (see [`TREE_MARK`]): after
/// a crash, the store reopens at the last committed version, whole, rebuilding the group
/// records the crash lost (and after the close of a short run, those written since the
/// last [`Store::flush`]: see [`CLOSE_FLUSH_BYTES`]). By default the WAL is not fsynced
/// per commit (a process crash loses nothing acknowledged; a power loss may lose the most
/// recent versions but never leaves a partial one); see [`Store::set_sync`]. Every commit is
/// then recorded in the acknowledgement file ([`ACK_FILE`]), and an open that finds an earlier
/// version than the one recorded fails with [`StateError::RolledBack`].
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
    /// The acknowledgement file, open for writing (`None` only while opening).
    ack: Option<File>,
    /// The version acknowledged before a rollback that this open accepted.
    rolled_back: Option<Version>,
    /// The live MANIFEST's number and length when last looked at (see [`ACK_FILE`]).
    manifest_seen: (u64, u64),
    /// The latest version's top groups (see [`CACHE_DEPTH`]) and the groups commits wrote
    /// (see [`WRITE_CACHE_DEPTH`]), with their summary tables.
    cache: NodeCache,
    /// Groups down to [`WRITE_CACHE_DEPTH`] nibbles that commits have read from RocksDB since
    /// the open (see [`Store::commit_node_reads`]).
    commit_node_reads: u64,
    /// The latest values (or absence) of keys written by recent commits (see
    /// [`VALUE_CACHE_ENTRIES`]).
    values: ValueCache,
    /// The format version stored in the data dir (raised to [`FORMAT_VERSION`] by the first
    /// commit).
    format: u32,
    /// Bytes of the write batches commits have written since the open (see
    /// [`Store::commit_bytes`]).
    commit_bytes: u64,
    /// The size of the last commit's write batch, at most [`MAX_BATCH_RESERVE`].
    last_batch_bytes: usize,
    /// The size of the last commit's group records, at most [`MAX_BATCH_RESERVE`].
    last_tree_bytes: usize,
    /// The number of groups the last commit wrote, at most [`MAX_GROUPS_RESERVE`]: the
    /// next commit's lists start this long, so they do not grow by copying themselves.
    last_tree_groups: usize,
    /// A version whose group records are known to be in table files (see [`TREE_MARK`]): a
    /// prune reclaims nothing else that a later version stopped using, since an open may
    /// have to rebuild that version from the tree before it (except records not in table
    /// files yet: see `prune_unflushed`).
    tree_durable: Version,
    /// Set when a commit's log batch was written but its group records were not: the
    /// version is committed, and only an open can rebuild its tree. Commits and prunes fail
    /// with this message until then.
    broken: Option<String>,
    /// Versions whose group records the open rebuilt (see [`Store::rebuilt_versions`]).
    rebuilt: u64,
    /// The versions up to which `prune_unflushed` deleted what their stale lists name.
    early_pruned: Version,
    /// Bytes of the log batches (written with the WAL) of commits since the open (see
    /// [`Store::commit_log_bytes`]).
    commit_log_bytes: u64,
    /// Bytes of group records written since the open or the last [`Store::flush`] (RocksDB
    /// may have flushed some of them by itself).
    unflushed: usize,
}

/// Closing a store flushes its group records if more than this many bytes of them were
/// written since the open or the last [`Store::flush`] (and RocksDB did not flush them by
/// itself); less, and the next open rebuilds them instead (about 10,000 updates at a million
/// keys: a fraction of a second). So a long run reopens quickly, and a short one leaves its
/// last commits in the live WAL only, where damage is a detected rollback as before format 4
/// (flushing closes the WAL, and RocksDB then refuses a damaged closed WAL as `Damaged`).
const CLOSE_FLUSH_BYTES: usize = 4 << 20;

impl Drop for Store {
    /// See [`CLOSE_FLUSH_BYTES`]. Errors are ignored: the next open rebuilds what it lacks.
    fn drop(&mut self) {
        if self.unflushed <= CLOSE_FLUSH_BYTES || self.broken.is_some() {
            return;
        }
        if let Ok(nodes) = cf_handle(&self.db, CF_NODES)
            && self.persisted_mark().ok() != Some(self.version)
        {
            let _ = self.db.flush_cf(nodes);
        }
    }
}

/// A commit reserves its batch's bytes up to this much in advance (see `last_batch_bytes`).
const MAX_BATCH_RESERVE: usize = 64 << 20;
/// The most groups a commit's lists are sized for in advance (see `last_tree_groups`).
const MAX_GROUPS_RESERVE: usize = 1 << 20;

/// Latest values written by recent commits, so that the next blocks' reads of the keys they
/// wrote (balances of active accounts, counters) skip RocksDB. It mirrors the `latest`
/// column family exactly for the keys it holds (a commit updates it after its batch is
/// written), holds keys and values of at most [`VALUE_CACHE_MAX_VALUE`] bytes each, and is
/// emptied when it reaches [`VALUE_CACHE_ENTRIES`] entries or [`VALUE_CACHE_BYTES`] bytes.
///
/// Keys and values sit back to back in one buffer, and the map goes from a keyed hash of the
/// key to where they are: recording a key allocates nothing of its own, and emptying the
/// cache frees nothing per entry (a `Vec` per key and per value was about 5% of a 1M-key
/// commit's samples: BENCHMARKS.md, sixth session). Keys come from contracts, so the hash is
/// std's randomly keyed SipHash: nobody can line entries up in one probe sequence. Two keys
/// with the same 64-bit hash share one entry, which names the key it holds: a lookup of the
/// other is a miss, so a collision costs a RocksDB read, never a wrong value. Nothing
/// iterates it.
#[derive(Default)]
struct ValueCache {
    /// Keyed by `hasher`'s hash of the key; [`KeyHasher`] only spreads that hash over the
    /// table (one multiply), which keeps it as unpredictable as it was.
    map: HashMap<u64, CachedValue, BuildHasherDefault<KeyHasher>>,
    hasher: RandomState,
    /// Per entry, its key and then room for its value. A value rewritten with one that fits
    /// the room is overwritten in place; otherwise the entry moves to the end, and its old
    /// bytes stay unused until the cache is emptied (they count towards
    /// [`VALUE_CACHE_BYTES`]).
    bytes: Vec<u8>,
}

/// Where a [`ValueCache`] entry is: its key at `bytes[at..at + key_len]`, then `room` bytes
/// of which its value takes the first `len`; `len == ABSENT`: the key is deleted;
/// `len == NOT_HELD`: the value is too big to hold (only `version` is known). `version`:
/// the version that wrote the key last.
#[derive(Clone, Copy)]
struct CachedValue {
    version: Version,
    at: u32,
    key_len: u32,
    len: u32,
    room: u32,
}

/// [`CachedValue::len`] of a deleted key.
const ABSENT: u32 = u32::MAX;
/// [`CachedValue::len`] of a value over [`VALUE_CACHE_MAX_VALUE`].
const NOT_HELD: u32 = u32::MAX - 1;

/// See [`ValueCache`].
const VALUE_CACHE_ENTRIES: usize = 1 << 18;
/// See [`ValueCache`]. With [`VALUE_CACHE_MAX_VALUE`], keeps every offset far below
/// `u32::MAX`.
const VALUE_CACHE_BYTES: usize = 64 << 20;
/// See [`ValueCache`].
const VALUE_CACHE_MAX_VALUE: usize = 1024;

impl ValueCache {
    /// Records that `key` holds `value` (`None`: deleted) as of `version`, and returns the
    /// version that wrote the key before, if the cache knew it (0 if not: versions that
    /// write keys start at 1).
    fn record(&mut self, key: &[u8], value: Option<&[u8]>, version: Version) -> Version {
        let h = self.hasher.hash_one(key);
        if key.len() > VALUE_CACHE_MAX_VALUE {
            // Whatever the entry holds (this key's older value, or a colliding key's), it
            // goes: this key's must not outlive its change.
            self.map.remove(&h);
            return 0;
        }
        let held = value.is_none_or(|v| v.len() <= VALUE_CACHE_MAX_VALUE);
        if self.map.len() >= VALUE_CACHE_ENTRIES || self.bytes.len() >= VALUE_CACHE_BYTES {
            self.clear();
        }
        let len = if held {
            value.map_or(0, <[u8]>::len)
        } else {
            0
        };
        let code = match value {
            None => ABSENT,
            Some(_) if !held => NOT_HELD,
            Some(_) => len as u32,
        };
        let mut before = 0;
        if let Some(e) = self.map.get_mut(&h) {
            let at = e.at as usize;
            let k = e.key_len as usize;
            if self.bytes.get(at..at + k) == Some(key) {
                before = e.version;
                if len <= e.room as usize {
                    if let (Some(v), true) = (value, held) {
                        self.bytes[at + k..at + k + len].copy_from_slice(v);
                    }
                    e.len = code;
                    e.version = version;
                    return before;
                }
            }
        }
        // Below `VALUE_CACHE_BYTES + 2 * VALUE_CACHE_MAX_VALUE`, so the casts are exact.
        let at = self.bytes.len() as u32;
        self.bytes.extend_from_slice(key);
        if held {
            self.bytes.extend_from_slice(value.unwrap_or_default());
        }
        self.map.insert(
            h,
            CachedValue {
                version,
                at,
                key_len: key.len() as u32,
                len: code,
                room: len as u32,
            },
        );
        before
    }

    /// Forgets every entry.
    fn clear(&mut self) {
        self.map.clear();
        self.bytes.clear();
    }

    /// `Some(value)` if the cache knows `key`'s latest value.
    fn get(&self, key: &[u8]) -> Option<Option<&[u8]>> {
        let e = self.map.get(&self.hasher.hash_one(key))?;
        let at = e.at as usize;
        let k = e.key_len as usize;
        if self.bytes.get(at..at + k)? != key {
            return None;
        }
        match e.len {
            ABSENT => Some(None),
            NOT_HELD => None,
            len => Some(Some(self.bytes.get(at + k..at + k + len as usize)?)),
        }
    }
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

fn is_lock_error(msg: &str) -> bool {
    msg.contains("While lock file") || msg.contains("lock hold by current process")
}

fn db_err(e: rocksdb::Error) -> StateError {
    let msg = e.to_string();
    if is_lock_error(&msg) {
        return StateError::Locked { path: msg };
    }
    match e.kind() {
        ErrorKind::Corruption => StateError::Corrupted(msg),
        _ => StateError::Io(msg),
    }
}

/// Which file a RocksDB error message is about, if it names one.
fn damaged_part(msg: &str) -> Option<DamagedPart> {
    // RocksDB adds "The file MANIFEST-… may be corrupted" to errors met while applying the
    // MANIFEST, such as a damaged table file: the table file is named first.
    if msg.contains("CURRENT") {
        Some(DamagedPart::Current)
    } else if msg.contains(".sst") || msg.contains("block checksum") {
        Some(DamagedPart::Table)
    } else if msg.contains("MANIFEST") || msg.contains("descriptor") {
        Some(DamagedPart::Manifest)
    } else if msg.contains(".log") || msg.contains("WAL") || msg.contains("log record") {
        Some(DamagedPart::Wal)
    } else {
        None
    }
}

/// Whether `path` shows signs of being a Keel store even if RocksDB cannot read it: our
/// acknowledgement file, or a RocksDB OPTIONS file that lists Keel's column families.
fn keel_evidence(path: &Path) -> bool {
    if path.join(ACK_FILE).exists() {
        return true;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return false;
    };
    entries.flatten().any(|e| {
        e.file_name().to_string_lossy().starts_with("OPTIONS-")
            && std::fs::read_to_string(e.path()).is_ok_and(|text| {
                CFS.iter()
                    .all(|cf| text.contains(&format!("[CFOptions \"{cf}\"]")))
            })
    })
}

/// The error for a RocksDB failure while opening the data dir at `path`.
fn open_error(e: rocksdb::Error, path: &Path) -> StateError {
    let msg = e.to_string();
    let shown = path.display().to_string();
    if is_lock_error(&msg) {
        return StateError::Locked { path: shown };
    }
    let part = damaged_part(&msg);
    // A file that RocksDB's own records name but cannot find is damage, not an I/O failure.
    let missing_file = matches!(e.kind(), ErrorKind::IOError | ErrorKind::NotFound)
        && msg.contains("No such file")
        && part.is_some();
    if matches!(e.kind(), ErrorKind::Corruption) || missing_file {
        if keel_evidence(path) {
            return StateError::Damaged {
                path: shown,
                part: part.unwrap_or(DamagedPart::Unknown),
                detail: msg,
            };
        }
        return StateError::Foreign {
            path: shown,
            detail: format!("RocksDB files that do not open ({msg})"),
        };
    }
    StateError::Io(format!("cannot open {shown}: {msg}"))
}

/// Column family `name` of `db` (borrowing only `db`, so that a commit can update the
/// store's other fields while it holds the handles).
fn cf_handle<'a>(db: &'a DB, name: &str) -> Result<&'a ColumnFamily, StateError> {
    db.cf_handle(name)
        .ok_or_else(|| StateError::Corrupted(format!("missing column family {name}")))
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

fn app_key(key: &[u8]) -> Vec<u8> {
    let mut k = META_APP.to_vec();
    k.extend_from_slice(key);
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

/// The key of the child group at slot `n` of the group at `parent`, written at `version`.
fn child_key(parent: &NodeKey, n: usize, version: Version) -> Result<NodeKey, StateError> {
    let enc = parent.encode();
    let len = enc[8] as usize;
    let mut packed = enc[9..].to_vec();
    let n = (n & 0x0f) as u8;
    if len.is_multiple_of(2) {
        packed.push(n << 4);
    } else if let Some(last) = packed.last_mut() {
        *last |= n;
    }
    let mut out = version.to_be_bytes().to_vec();
    out.push(enc[8] + 1);
    out.extend_from_slice(&packed);
    NodeKey::decode(&out)
}

/// Whether the key hash `kh` belongs in slot `n` of the group at `key`: its first nibbles are
/// the group's path, then `n`.
fn leaf_in_place(key: &NodeKey, n: usize, kh: &Hash) -> bool {
    let enc = key.encode();
    let len = enc[8] as usize;
    let packed = &enc[9..];
    (0..len).all(|d| {
        let b = packed[d / 2];
        let p = if d.is_multiple_of(2) {
            b >> 4
        } else {
            b & 0x0f
        };
        tree::nibble(kh, d) == p as usize
    }) && tree::nibble(kh, len) == n
}

fn options() -> (Options, Vec<ColumnFamilyDescriptor>) {
    let mut db = Options::default();
    db.set_max_background_jobs(2);
    db.set_keep_log_file_num(4);
    // The MANIFEST records which WALs are live, and an open checks that they exist: a
    // MANIFEST cut short before a flush's record (whose WAL was then deleted) is an error,
    // not an open that silently lacks that flush's table files.
    db.set_track_and_verify_wals_in_manifest(true);
    // Writes without the WAL (the group records) would make RocksDB flush every column
    // family on close. It does not: the WAL keeps the last commits as it did before format
    // 4, and `Store`'s `Drop` flushes the group records alone, or leaves a few of them for
    // the next open to rebuild (see `CLOSE_FLUSH_BYTES`). The Rust binding
    // sets this option only from a string; should that fail, RocksDB flushes everything on
    // close, which is as safe.
    let db = match db.get_options_from_string("avoid_flush_during_shutdown=true") {
        Ok(o) => o,
        Err(_) => db,
    };
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
            if *name == CF_LATEST || *name == CF_VALUES {
                // Randomly keyed inserts: a memtable that fits the last-level cache. (4 MiB
                // for `values` made 1M-key commits faster, but at 10M keys it cost 0.9 GiB
                // of peak RSS and 18% more disk: BENCHMARKS.md, fourth session.)
                o.set_write_buffer_size(16 << 20);
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

/// A cached group, its precomputed summary table and the records it is stored as.
struct Cached {
    /// The version that wrote it (its [`NodeKey`] is this and its path).
    version: Version,
    group: Box<Group>,
    table: Table,
    /// Boxed, so that an entry is 32 bytes: the top arrays and the deep map stay small
    /// (2 MiB for the 65,536 groups 4 nibbles deep, instead of 11.5 MiB with the chain
    /// inline), and taking or putting back a group moves half a cache line, not three
    /// (BENCHMARKS.md, sixth session).
    chain: Box<Chain>,
}

impl Cached {
    fn new(version: Version, group: Group, chain: Chain) -> Cached {
        let table = Box::new(group.table());
        Cached {
            version,
            group: Box::new(group),
            table,
            chain: Box::new(chain),
        }
    }
}

/// The stored records one group is made of: the versions of its own record and of the
/// records its delta chain rests on (newest first, the last one whole), all at its path,
/// and the size of its deltas. They become stale together: a delta continues the chain
/// (nothing is stale), a whole record or the group's removal lists every record of the
/// chain in the stale index under the version that ends it. So no version that can still
/// read the group loses one of its records to `prune`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Chain {
    /// `versions[..len]`, newest first; `len` is at least 1.
    versions: [Version; CHAIN_RECORDS],
    len: u8,
    delta_bytes: usize,
}

/// The most records a chain has: one whole record and [`MAX_DELTAS`] deltas. A longer chain
/// on disk is `Corrupted`: no commit writes one.
const CHAIN_RECORDS: usize = MAX_DELTAS + 1;

impl Chain {
    /// A whole record written at `version`.
    fn whole(version: Version) -> Chain {
        let mut versions = [0; CHAIN_RECORDS];
        versions[0] = version;
        Chain {
            versions,
            len: 1,
            delta_bytes: 0,
        }
    }

    /// The versions of its records, newest first.
    fn records(&self) -> &[Version] {
        &self.versions[..usize::from(self.len)]
    }

    /// The version of its newest record.
    fn head(&self) -> Version {
        self.versions[0]
    }

    fn deltas(&self) -> usize {
        usize::from(self.len).saturating_sub(1)
    }

    /// A delta record of `bytes` bytes written at `version` on top of this chain (the caller
    /// checks `deltas() < MAX_DELTAS`).
    fn push_newer(&mut self, version: Version, bytes: usize) {
        let n = usize::from(self.len);
        self.versions.copy_within(0..n, 1);
        self.versions[0] = version;
        self.len += 1;
        self.delta_bytes += bytes;
    }

    /// Records that this chain rests on an older record at `base`; false if it is full.
    fn push_older(&mut self, base: Version) -> bool {
        let n = usize::from(self.len);
        if n >= CHAIN_RECORDS {
            return false;
        }
        self.versions[n] = base;
        self.len += 1;
        true
    }
}

/// A change with its key hash.
type Row<'a> = (Hash, &'a [u8], Option<&'a [u8]>);

/// The first 8 bytes of a hash as a big-endian number: ordered as those bytes are.
#[inline]
fn hash_prefix(h: &Hash) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&h[..8]);
    u64::from_be_bytes(b)
}

// ------------------------------------------------------------------ acknowledgement file

/// One slot of the acknowledgement file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct AckRecord {
    version: Version,
    root: Hash,
    /// The live MANIFEST's number (0: unknown) and a length it was known to have.
    manifest: (u64, u64),
}

fn ack_slot(r: &AckRecord) -> [u8; ACK_SLOT] {
    let mut s = [0u8; ACK_SLOT];
    s[..8].copy_from_slice(ACK_MAGIC);
    s[8..16].copy_from_slice(&r.version.to_be_bytes());
    s[16..48].copy_from_slice(&r.root);
    s[48..56].copy_from_slice(&r.manifest.0.to_be_bytes());
    s[56..64].copy_from_slice(&r.manifest.1.to_be_bytes());
    let sum = blake3::hash(&s[..64]);
    s[64..].copy_from_slice(&sum.as_bytes()[..16]);
    s
}

fn parse_ack_slot(s: &[u8]) -> Option<AckRecord> {
    let s: &[u8; ACK_SLOT] = s.try_into().ok()?;
    if &s[..8] != ACK_MAGIC || blake3::hash(&s[..64]).as_bytes()[..16] != s[64..] {
        return None;
    }
    let u64_at = |i: usize| s[i..i + 8].try_into().ok().map(u64::from_be_bytes);
    Some(AckRecord {
        version: u64_at(8)?,
        root: s[16..48].try_into().ok()?,
        manifest: (u64_at(48)?, u64_at(56)?),
    })
}

/// The live MANIFEST of the data dir at `dir` (named by CURRENT): its number and length, or
/// `(0, 0)` if that cannot be read.
fn observe_manifest(dir: &Path) -> (u64, u64) {
    let Ok(current) = std::fs::read_to_string(dir.join("CURRENT")) else {
        return (0, 0);
    };
    let name = current.trim_end();
    let number = name
        .strip_prefix("MANIFEST-")
        .and_then(|n| n.parse::<u64>().ok());
    match (number, std::fs::metadata(dir.join(name))) {
        (Some(n), Ok(m)) => (n, m.len()),
        _ => (0, 0),
    }
}

/// What the acknowledgement file says.
enum Acked {
    /// No file: a store made before acknowledgement files, or a checkpoint copied by hand.
    Absent,
    /// A file with no valid slot.
    Unreadable(String),
    /// The latest version acknowledged, with its root.
    Version(AckRecord),
}

fn read_ack(dir: &Path) -> Result<Acked, StateError> {
    let path = dir.join(ACK_FILE);
    let mut bytes = Vec::new();
    match File::open(&path).and_then(|mut f| f.read_to_end(&mut bytes)) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Acked::Absent),
        Err(e) => {
            return Err(StateError::Io(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    }
    let best = bytes
        .chunks(ACK_SLOT)
        .take(2)
        .filter_map(parse_ack_slot)
        .max_by_key(|r| r.version);
    Ok(match best {
        Some(r) => Acked::Version(r),
        None => Acked::Unreadable(format!(
            "{} ({} bytes) holds no valid record",
            path.display(),
            bytes.len()
        )),
    })
}

/// Writes `record` to its slot of the acknowledgement file, and fsyncs it if `sync`.
fn write_ack(file: &mut File, record: &AckRecord, sync: bool) -> std::io::Result<()> {
    file.seek(SeekFrom::Start((record.version % 2) * ACK_SLOT as u64))?;
    file.write_all(&ack_slot(record))?;
    if sync {
        file.sync_data()?;
    }
    Ok(())
}

/// (Re)writes the acknowledgement file in `dir` with `version` in both slots, durably (a
/// temporary file fsynced and renamed into place), and returns it open for writing.
fn create_ack(dir: &Path, version: Version, root: &Hash) -> Result<File, StateError> {
    let record = AckRecord {
        version,
        root: *root,
        manifest: observe_manifest(dir),
    };
    let path = dir.join(ACK_FILE);
    let tmp = dir.join(format!("{ACK_FILE}.tmp"));
    let io = |e: std::io::Error| StateError::Io(format!("cannot write {}: {e}", path.display()));
    let slot = ack_slot(&record);
    let mut f = File::create(&tmp).map_err(io)?;
    f.write_all(&slot).map_err(io)?;
    f.write_all(&slot).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, &path).map_err(io)?;
    sync_dir(dir);
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(io)
}

/// Best effort: makes a rename or file creation in `dir` durable.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

// ------------------------------------------------------------------ creation

/// A name no other creator uses: pid, time and a per-process counter.
fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Removes staging dirs of `name` in `parent` that no creator has touched for
/// [`STALE_STAGING`] (left by a creation that was killed). A live creator's dir is younger.
fn sweep_stale_staging(parent: &Path, name: &str) {
    let prefix = format!(".{name}.keel-creating");
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        if !e.file_name().to_string_lossy().starts_with(&prefix) {
            continue;
        }
        let stale = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_STAGING);
        if stale {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Whether `path` is a directory with at least one entry.
fn nonempty_dir(path: &Path) -> bool {
    std::fs::read_dir(path).is_ok_and(|mut d| d.next().is_some())
}

/// Builds a new, closed store in `dir`: column families, genesis metadata and root group
/// (flushed to table files, so they do not live only in the WAL), and the acknowledgement
/// file of version 0.
fn build(dir: &Path) -> Result<(), StateError> {
    let (mut opts, cfs) = options();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    let db = DB::open_cf_descriptors(&opts, dir, cfs).map_err(db_err)?;
    let cf = |name: &str| {
        db.cf_handle(name)
            .ok_or_else(|| StateError::Corrupted(format!("missing column family {name}")))
    };
    let (key, group) = tree::genesis();
    let mut batch = WriteBatch::default();
    batch.put_cf(cf(CF_NODES)?, key.encode(), group.encode());
    batch.put_cf(cf(CF_NODES)?, TREE_MARK, 0u64.encode());
    let meta = cf(CF_META)?;
    batch.put_cf(meta, META_MAGIC, MAGIC.to_vec().encode());
    batch.put_cf(meta, META_FORMAT, FORMAT_VERSION.encode());
    batch.put_cf(meta, META_LATEST, 0u64.encode());
    batch.put_cf(meta, META_OLDEST, 0u64.encode());
    batch.put_cf(meta, root_key(0), group.hash().encode());
    let mut wo = WriteOptions::default();
    wo.set_sync(true);
    db.write_opt(batch, &wo).map_err(db_err)?;
    db.flush_cf(cf(CF_NODES)?).map_err(db_err)?;
    db.flush_cf(meta).map_err(db_err)?;
    db.flush_wal(true).map_err(db_err)?;
    drop(db);
    create_ack(dir, 0, &group.hash())?;
    Ok(())
}

/// Creates a new store at `path` (absent or an empty dir) atomically and race-free: the
/// store is built in a staging dir beside it, named uniquely for this creator, then renamed
/// into place. If another creator's rename wins, this one's staging dir is removed and the
/// winner's store is used. A killed creation leaves only its staging dir, which a later
/// creation removes once it is [`STALE_STAGING`] old; nothing half-made is ever at `path`.
fn create(path: &Path) -> Result<(), StateError> {
    let shown = path.display().to_string();
    let io = |what: &str, e: std::io::Error| StateError::Io(format!("{what} {shown}: {e}"));
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| StateError::Io(format!("{shown} does not name a directory")))?
        .to_string_lossy()
        .into_owned();
    std::fs::create_dir_all(parent).map_err(|e| io("cannot create the parent of", e))?;
    sweep_stale_staging(parent, &name);
    let staging = parent.join(format!(".{name}.keel-creating-{}", unique_suffix()));
    if let Err(e) = build(&staging) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    // Replaces `path` if it is absent or an empty dir (rename(2) semantics), atomically.
    match std::fs::rename(&staging, path) {
        Ok(()) => {
            sync_dir(parent);
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            if nonempty_dir(path) {
                // Another creator got there first; its store is whole.
                Ok(())
            } else {
                Err(io("cannot move the new store into", e))
            }
        }
    }
}

/// [`NodeCache::touch_paths`] loads about six cache lines per change: for more changes than
/// this they would not all fit a 2 MiB L2 cache by the time the walk reaches them. (In pair
/// runs 10,000-update commits were no faster with the pass; with or without this limit
/// they cost the same within the noise: BENCHMARKS.md, fourth session.)
const TOUCH_PATHS_MAX: usize = 4096;

/// Paths of at most this many nibbles have a fixed place in [`NodeCache::top`].
const TOP_DEPTH: usize = WRITE_CACHE_DEPTH;

/// The group node cache. It holds groups of the latest version only, so at most one per
/// nibble path, and is keyed by path: a lookup by [`NodeKey`] finds the group at its path
/// and checks the version. Paths of at most [`TOP_DEPTH`] nibbles sit in arrays indexed by
/// path, one per length, allocated when that length gets its first group (so a small store
/// does not pay for 65,536 entries): one cache line per lookup, no hashing, and a commit's
/// insert lands on the entry its take emptied; deeper groups in a hash map keyed by path
/// with [`KeyHasher`]. Nothing iterates it, so no order ever matters.
#[derive(Default)]
struct NodeCache {
    /// Per path length `d <= TOP_DEPTH`: `16^d` entries once a group of that length was
    /// inserted, indexed by [`top_index`].
    top: Box<[Vec<Option<Cached>>; TOP_DEPTH + 1]>,
    deep: HashMap<NibblePath, Cached, BuildHasherDefault<KeyHasher>>,
    len: usize,
}

/// The place of a path of at most [`TOP_DEPTH`] nibbles in its length's array of
/// [`NodeCache::top`]: its nibbles read as a number.
#[inline]
fn top_index(path: &NibblePath) -> usize {
    top_index_of([path.byte(0), path.byte(1)], path.len())
}

/// [`top_index`] of the first `depth` nibbles (`depth <= TOP_DEPTH`) of the path whose
/// first two bytes are `first` (a key hash's, or a path's).
#[inline]
fn top_index_of(first: [u8; 2], depth: usize) -> usize {
    usize::from(u16::from_be_bytes(first)) >> (4 * (TOP_DEPTH - depth))
}

impl NodeCache {
    fn len(&self) -> usize {
        self.len
    }

    fn slot(&self, path: &NibblePath) -> Option<&Cached> {
        if path.len() <= TOP_DEPTH {
            self.top[path.len()].get(top_index(path))?.as_ref()
        } else {
            self.deep.get(path)
        }
    }

    /// The cached group stored at `key`.
    fn get(&self, key: &NodeKey) -> Option<&Cached> {
        self.slot(&key.path).filter(|c| c.version == key.version)
    }

    /// Takes the cached group stored at `key` out.
    fn remove(&mut self, key: &NodeKey) -> Option<Cached> {
        let taken = if key.path.len() <= TOP_DEPTH {
            let e = self.top[key.path.len()].get_mut(top_index(&key.path))?;
            if e.as_ref()?.version != key.version {
                return None;
            }
            e.take()
        } else {
            if self.deep.get(&key.path)?.version != key.version {
                return None;
            }
            self.deep.remove(&key.path)
        };
        self.len -= usize::from(taken.is_some());
        taken
    }

    /// Loads the entries of the groups [`TOP_DEPTH`] and `TOP_DEPTH - 1` nibbles deep on
    /// the paths of `changes`, and each such group's bitmaps and the first line of its
    /// table, before the tree walk needs them. The walk meets those groups one after
    /// another, each a miss that waits for the one before (entry, then group and table);
    /// loaded here, in one pass of independent loads, their misses overlap. Only timing
    /// depends on this.
    fn touch_paths(&self, changes: &[(Hash, Option<Hash>)]) {
        if changes.len() > TOUCH_PATHS_MAX {
            return;
        }
        let mut acc = 0usize;
        for depth in [TOP_DEPTH - 1, TOP_DEPTH] {
            let level = &self.top[depth];
            if level.is_empty() {
                continue;
            }
            for (kh, _) in changes {
                if let Some(Some(c)) = level.get(top_index_of([kh[0], kh[1]], depth)) {
                    acc = acc
                        .wrapping_add(c.table.touch(1))
                        .wrapping_add(c.group.touch());
                }
            }
        }
        std::hint::black_box(acc);
    }

    /// Caches `c` as the group at its path (replacing any other).
    fn insert(&mut self, path: NibblePath, c: Cached) {
        let old = if path.len() <= TOP_DEPTH {
            let level = &mut self.top[path.len()];
            if level.is_empty() {
                level.resize_with(1 << (4 * path.len()), || None);
            }
            level[top_index(&path)].replace(c)
        } else {
            self.deep.insert(path, c)
        };
        self.len += usize::from(old.is_none());
    }
}

/// A multiply-rotate hasher for [`NodeKey`]s and paths (a version and the first nibbles of
/// key hashes, which blake3 spreads): SipHash's DoS resistance buys nothing for keys nobody
/// chooses, and its cost showed in commit profiles. [`ValueCache`]'s map uses it on keys that
/// are already randomly keyed SipHashes.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(w));
        }
    }

    fn write_u8(&mut self, v: u8) {
        self.write_u64(u64::from(v));
    }

    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(26) ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// One group from RocksDB's `nodes` column family, with the records it is stored as: a
/// delta record is applied to the group of its base record, read the same way.
fn disk_group(db: &DB, key: &NodeKey) -> Result<(Group, Chain), StateError> {
    let cf = db
        .cf_handle(CF_NODES)
        .ok_or_else(|| StateError::Corrupted("missing column family nodes".into()))?;
    let mut chain = Chain::whole(key.version);
    let mut deltas: Vec<(u16, Group)> = Vec::new();
    let mut at = *key;
    let mut group = loop {
        let record = match db.get_pinned_cf(cf, at.encode()).map_err(db_err)? {
            Some(bytes) => {
                let r = Record::decode(&bytes)?;
                if let Record::Delta { .. } = r {
                    chain.delta_bytes += bytes.len();
                }
                r
            }
            None => return Err(tree::missing(&at)),
        };
        match record {
            Record::Full(g) => break g,
            Record::Delta { base, dirty, slots } => {
                if base >= at.version || !chain.push_older(base) {
                    return Err(StateError::Corrupted(format!(
                        "bad delta chain at group (version {}, {} nibbles)",
                        at.version,
                        at.path.len()
                    )));
                }
                deltas.push((dirty, slots));
                at.version = base;
            }
        }
    };
    for (dirty, slots) in deltas.iter().rev() {
        group.apply_delta(*dirty, slots);
    }
    Ok((group, chain))
}

/// [`disk_group`] without the chain.
fn disk_node(db: &DB, key: &NodeKey) -> Result<Group, StateError> {
    disk_group(db, key).map(|(g, _)| g)
}

/// Reads group nodes from RocksDB only, remembering each one's [`Chain`] (the open's walk
/// of the top of the tree, which caches them).
struct ChainNodes<'a> {
    db: &'a DB,
    chains: RefCell<HashMap<NodeKey, Chain, BuildHasherDefault<KeyHasher>>>,
}

impl NodeReader for ChainNodes<'_> {
    fn node(&self, key: &NodeKey) -> Result<Group, StateError> {
        let (g, chain) = disk_group(self.db, key)?;
        self.chains.borrow_mut().insert(*key, chain);
        Ok(g)
    }
}

/// Reads group nodes through the RAM cache, then RocksDB.
struct Nodes<'a> {
    db: &'a DB,
    cache: &'a NodeCache,
}

impl NodeReader for Nodes<'_> {
    fn node_with_table(&self, key: &NodeKey) -> Result<(Group, Option<Table>), StateError> {
        match self.cache.get(key) {
            Some(c) => Ok((Group::clone(&c.group), Some(c.table.clone()))),
            None => Ok((disk_node(self.db, key)?, None)),
        }
    }

    fn node(&self, key: &NodeKey) -> Result<Group, StateError> {
        match self.cache.get(key) {
            Some(c) => Ok(Group::clone(&c.group)),
            None => disk_node(self.db, key),
        }
    }
}

/// The reader of a commit: every group it reads is replaced by the commit, so a cached one
/// is moved out of the cache, not cloned. If the commit then fails, those groups are read
/// from RocksDB next time: the cache only ever lacks entries, it never holds wrong ones.
struct CommitNodes<'a> {
    db: &'a DB,
    cache: RefCell<&'a mut NodeCache>,
    /// Groups down to [`WRITE_CACHE_DEPTH`] nibbles read from RocksDB.
    reads: Cell<u64>,
    /// The records of each group taken, in the order taken: the order of
    /// [`tree::TreeUpdate::stale`].
    taken: RefCell<Vec<Option<Box<Chain>>>>,
    /// How the groups written are stored, decided and encoded as the tree finishes each.
    plan: RefCell<Plan>,
}

/// The records a commit writes for its new groups (see [`NodeReader::wrote`]).
struct Plan {
    version: Version,
    /// Groups in the cache now (taken ones no longer count), plus those this commit has
    /// decided to put back. Every take comes before the first write and groups are written
    /// deepest first, so in a full cache a place freed by a take may go to a deeper new
    /// group. (Reserving each taken group's place for its replacement instead raised peak
    /// RSS at 10M keys from 2,993 to 4,126 MiB: BENCHMARKS.md, ninth session.)
    cache_len: usize,
    /// Per group written, in order: its encoded record's end in `bytes`, its path, its
    /// chain, and whether it stays in the cache.
    records: Vec<(usize, NibblePath, Box<Chain>, bool)>,
    bytes: Vec<u8>,
    scratch: Vec<u8>,
    /// Records that became stale (see [`Chain`]).
    stale: Vec<NodeKey>,
}

/// What a commit's tree update writes (see `Store::tree_write`).
struct TreeWrite {
    root: Hash,
    /// The group records and the [`TREE_MARK`], for a write without the WAL.
    nodes: WriteBatch,
    /// The SCALE list of the records that became stale: `stale[version ‖ STALE_NODE]`.
    stale_nodes: Vec<u8>,
    new_nodes: Vec<Written>,
    /// [`Plan::records`], one per entry of `new_nodes`.
    records: Vec<(usize, NibblePath, Box<Chain>, bool)>,
}

impl NodeReader for CommitNodes<'_> {
    fn node(&self, key: &NodeKey) -> Result<Group, StateError> {
        match self.cache.borrow().get(key) {
            Some(c) => Ok(Group::clone(&c.group)),
            None => disk_node(self.db, key),
        }
    }

    fn take_node(&self, key: &NodeKey) -> Result<(Box<Group>, Option<Table>), StateError> {
        let (group, table, chain) = match self.cache.borrow_mut().remove(key) {
            Some(c) => {
                let mut plan = self.plan.borrow_mut();
                plan.cache_len = plan.cache_len.saturating_sub(1);
                (c.group, Some(c.table), c.chain)
            }
            None => {
                if key.path.len() <= WRITE_CACHE_DEPTH {
                    self.reads.set(self.reads.get() + 1);
                }
                let (g, chain) = disk_group(self.db, key)?;
                (Box::new(g), None, Box::new(chain))
            }
        };
        self.taken.borrow_mut().push(Some(chain));
        Ok((group, table))
    }

    fn wrote(&self, w: &Written) {
        let mut plan = self.plan.borrow_mut();
        let plan = &mut *plan;
        let version = plan.version;
        let depth = w.key.path.len();
        let cached = depth <= WRITE_CACHE_DEPTH || plan.cache_len < WRITE_CACHE_GROUPS;
        plan.cache_len += usize::from(cached);
        let prev = w
            .replaces
            .and_then(|i| self.taken.borrow_mut().get_mut(i)?.take());
        let chain = match prev {
            Some(mut chain) => {
                let whole = w.group.encoded_len();
                let delta = w.group.delta_len(w.dirty);
                let base = chain.head();
                if cached
                    && chain.deltas() < MAX_DELTAS
                    && 2 * delta <= whole
                    && chain.delta_bytes + delta <= whole
                    && base < version
                {
                    w.group.encode_delta_into(base, w.dirty, &mut plan.scratch);
                    chain.push_newer(version, delta);
                    chain
                } else {
                    plan.stale.extend(chain.records().iter().map(|&v| NodeKey {
                        version: v,
                        path: w.key.path,
                    }));
                    w.group.encode_into(&mut plan.scratch);
                    *chain = Chain::whole(version);
                    chain
                }
            }
            None => {
                w.group.encode_into(&mut plan.scratch);
                Box::new(Chain::whole(version))
            }
        };
        plan.bytes.extend_from_slice(&plan.scratch);
        plan.records
            .push((plan.bytes.len(), w.key.path, chain, cached));
    }
}

// ------------------------------------------------------------------ opening

/// The CPU features RocksDB's C++ is compiled with (`.cargo/config.toml`): checked before a
/// store is opened, so that the usual failure on an old CPU is this typed error, not an
/// illegal instruction at the first checksum.
fn check_cpu() -> Result<(), StateError> {
    #[cfg(target_arch = "x86_64")]
    for (feature, present) in [
        ("SSE4.2", std::arch::is_x86_feature_detected!("sse4.2")),
        (
            "PCLMULQDQ",
            std::arch::is_x86_feature_detected!("pclmulqdq"),
        ),
    ] {
        if !present {
            return Err(StateError::UnsupportedCpu { feature });
        }
    }
    Ok(())
}

fn open(path: &Path, how: &OpenOptions) -> Result<Store, StateError> {
    check_cpu()?;
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
                Some(Err(e)) => return Err(StateError::Io(format!("cannot read {shown}: {e}"))),
                Some(Ok(_)) => false,
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => return Err(StateError::Io(format!("cannot access {shown}: {e}"))),
    };
    if fresh {
        create(path)?;
    }
    if !path.join("CURRENT").exists() {
        return Err(if keel_evidence(path) {
            StateError::Damaged {
                path: shown,
                part: DamagedPart::Current,
                detail: "the CURRENT file is missing".into(),
            }
        } else {
            StateError::Foreign {
                path: shown,
                detail: "not a RocksDB data dir (no CURRENT file)".into(),
            }
        });
    }
    let found = DB::list_cf(&Options::default(), path).map_err(|e| open_error(e, path))?;
    if let Some(missing) = CFS.iter().find(|cf| !found.iter().any(|f| f == *cf)) {
        return Err(if keel_evidence(path) {
            StateError::Damaged {
                path: shown,
                part: DamagedPart::Manifest,
                detail: format!(
                    "the MANIFEST does not list column family {missing:?} (truncated or \
                     damaged)"
                ),
            }
        } else {
            StateError::Foreign {
                path: shown,
                detail: format!("RocksDB without column family {missing:?}"),
            }
        });
    }
    // Before RocksDB opens it (and starts a new MANIFEST): is the live MANIFEST shorter than
    // it was known to be?
    if let Acked::Version(r) = read_ack(path)? {
        let (number, len) = observe_manifest(path);
        if r.manifest.0 != 0 && r.manifest.0 == number && len < r.manifest.1 {
            return Err(StateError::Damaged {
                path: shown,
                part: DamagedPart::Manifest,
                detail: format!(
                    "MANIFEST-{number:06} is {len} bytes, but it was {} bytes when version {} \
                     was acknowledged: it was cut short",
                    r.manifest.1, r.version
                ),
            });
        }
    }
    let (opts, cfs) = options();
    let db = DB::open_cf_descriptors(&opts, path, cfs).map_err(|e| open_error(e, path))?;
    let acked = read_ack(path)?;
    let ack_path = path.join(ACK_FILE);
    let ack = match &acked {
        Acked::Absent => None,
        _ => Some(
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&ack_path)
                .map_err(|e| StateError::Io(format!("cannot open {}: {e}", ack_path.display())))?,
        ),
    };
    let mut store = Store {
        db,
        path: path.to_path_buf(),
        version: 0,
        oldest: 0,
        root: keel_proof::EMPTY,
        sync: how.sync,
        ack,
        rolled_back: None,
        manifest_seen: (0, 0),
        cache: NodeCache::default(),
        commit_node_reads: 0,
        values: ValueCache::default(),
        format: FORMAT_VERSION,
        commit_bytes: 0,
        last_batch_bytes: 0,
        last_tree_bytes: 0,
        last_tree_groups: 0,
        tree_durable: 0,
        broken: None,
        rebuilt: 0,
        early_pruned: 0,
        unflushed: 0,
        commit_log_bytes: 0,
    };
    store.manifest_seen = observe_manifest(path);
    store
        .load()
        .map_err(|e| store.as_damage(e, DamagedPart::Unknown))?;
    store.reconcile_ack(acked, how.accept_rollback)?;
    // This open started a new MANIFEST (synced by now): record it, so that it is checked
    // on the next open even if no commit follows.
    store.acknowledge()?;
    Ok(store)
}

impl Store {
    /// Opens the store in `path` with the default [`OpenOptions`], creating it (and the dir)
    /// if the dir is absent or empty. See [`OpenOptions::open`] for the errors.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StateError> {
        OpenOptions::new().open(path)
    }

    fn cf(&self, name: &str) -> Result<&ColumnFamily, StateError> {
        cf_handle(&self.db, name)
    }

    fn meta(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.db.get_cf(self.cf(CF_META)?, key).map_err(db_err)
    }

    fn damaged(&self, part: DamagedPart, detail: impl Into<String>) -> StateError {
        StateError::Damaged {
            path: self.path.display().to_string(),
            part,
            detail: detail.into(),
        }
    }

    /// `Corrupted` (a read that failed or did not decode) as `Damaged`: `part` unless
    /// RocksDB's message names the file.
    fn as_damage(&self, e: StateError, part: DamagedPart) -> StateError {
        match e {
            StateError::Corrupted(m) => {
                let part = match part {
                    DamagedPart::Unknown => damaged_part(&m).unwrap_or(part),
                    p => damaged_part(&m)
                        .filter(|_| m.contains("Corruption"))
                        .unwrap_or(p),
                };
                self.damaged(part, m)
            }
            other => other,
        }
    }

    /// The open checks: format, version range, root group and top of the tree, and a sample
    /// of latest values against the tree and the versioned values.
    fn load(&mut self) -> Result<(), StateError> {
        use DamagedPart::{Metadata, Tree};
        let shown = self.path.display().to_string();
        let foreign = |detail: &str| StateError::Foreign {
            path: shown.clone(),
            detail: detail.into(),
        };
        let magic: Vec<u8> = match self.meta(META_MAGIC)? {
            Some(b) => decode(&b, "magic").map_err(|_| foreign("bad magic"))?,
            None if self.path.join(ACK_FILE).exists() => {
                return Err(self.damaged(Metadata, "the Keel magic is missing"));
            }
            None => return Err(foreign("no Keel metadata")),
        };
        if magic != MAGIC {
            return Err(foreign("bad magic"));
        }
        let meta_u64 = |key: &[u8], what: &str| -> Result<u64, StateError> {
            match self.meta(key)? {
                Some(b) => decode(&b, what).map_err(|e| self.as_damage(e, Metadata)),
                None => Err(self.damaged(Metadata, format!("the {what} is missing"))),
            }
        };
        let format: u32 = match self.meta(META_FORMAT)? {
            Some(b) => decode(&b, "format version").map_err(|e| self.as_damage(e, Metadata))?,
            None => return Err(self.damaged(Metadata, "the format version is missing")),
        };
        if format > FORMAT_VERSION {
            return Err(StateError::NewerFormat {
                path: shown,
                found: format,
                supported: FORMAT_VERSION,
            });
        }
        if format == 0 {
            return Err(self.damaged(Metadata, "format version 0"));
        }
        let latest = meta_u64(META_LATEST, "latest version")?;
        let oldest = meta_u64(META_OLDEST, "oldest version")?;
        if oldest > latest {
            return Err(self.damaged(
                Metadata,
                format!("oldest version {oldest} after latest {latest}"),
            ));
        }
        // The tree mark (format 4, see `TREE_MARK`): group records after it were lost in a
        // crash; records after `latest` belong to versions the log lost.
        let nodes = self.cf(CF_NODES)?;
        let mark: Option<Version> = match self.db.get_cf(nodes, TREE_MARK).map_err(db_err)? {
            Some(b) => Some(decode(&b, "tree mark").map_err(|e| self.as_damage(e, Tree))?),
            None if format >= 4 => return Err(self.damaged(Tree, "the tree mark is missing")),
            None => None,
        };
        if let Some(m) = mark
            && m > latest
        {
            // The log lost versions whose group records had reached table files (a lost
            // WAL tail: the acknowledgement file then reports the rollback). Those records
            // belong to no version; the next commits reuse their keys.
            let mut batch = WriteBatch::default();
            batch.delete_range_cf(nodes, &(latest + 1).to_be_bytes()[..], &[0xff; 10][..]);
            batch.put_cf(nodes, TREE_MARK, latest.encode());
            self.write(batch)?;
        }
        self.check_version_range(oldest, latest)?;
        self.oldest = oldest;
        self.format = format;
        let root = self
            .stored_root(latest)
            .map_err(|e| self.as_damage(e, Metadata))?;
        if let Some(m) = mark
            && m < latest
        {
            self.rebuild(m, latest)?;
        }
        self.version = latest;
        self.root = root;
        self.tree_durable = latest;
        self.cache = self.top_cache(latest, root)?;
        self.check_sample()
    }

    /// The top of the tree of `version` (see [`CACHE_DEPTH`]), checked: every group must
    /// hash to what its parent points at, and the root group to `root`.
    fn top_cache(&self, version: Version, root: Hash) -> Result<NodeCache, StateError> {
        use DamagedPart::Tree;
        let latest = version;
        let mut cache = NodeCache::default();
        let mut expected: HashMap<NodeKey, Hash> = HashMap::new();
        expected.insert(NodeKey::root(latest), root);
        let mut bad: Option<StateError> = None;
        let top = ChainNodes {
            db: &self.db,
            chains: RefCell::default(),
        };
        tree::walk_top(&top, latest, CACHE_DEPTH, &mut |k, g| {
            if bad.is_some() {
                return;
            }
            if expected.remove(&k) != Some(g.hash()) {
                bad = Some(if k.path.len() == 0 {
                    self.damaged(
                        Tree,
                        format!(
                            "the root group of version {latest} does not match the stored \
                                 root"
                        ),
                    )
                } else {
                    self.damaged(
                        Tree,
                        format!(
                            "group {} does not hash to its parent's pointer",
                            hex_short(&k.encode())
                        ),
                    )
                });
                return;
            }
            if k.path.len() < CACHE_DEPTH {
                for (n, s) in g.slots().iter().enumerate() {
                    if let Slot::Child { version, hash } = s {
                        match child_key(&k, n, *version) {
                            Ok(ck) => {
                                expected.insert(ck, *hash);
                            }
                            Err(e) => bad = Some(e),
                        }
                    }
                }
            }
            let chain = top
                .chains
                .borrow_mut()
                .remove(&k)
                .unwrap_or_else(|| Chain::whole(k.version));
            cache.insert(k.path, Cached::new(k.version, g.clone(), chain));
        })
        .map_err(|e| self.as_damage(e, Tree))?;
        match bad {
            Some(e) => Err(e),
            None => Ok(cache),
        }
    }

    /// Rebuilds the group records of the versions after `from` up to `latest`, which a
    /// crash lost (see [`TREE_MARK`]): each version's stale-value list names every key it
    /// wrote, and its versioned values say what it wrote. Each rebuilt root must be the
    /// stored one (for versions a prune left readable; the last one, `latest`, always is).
    /// The records are flushed to table files at the end.
    fn rebuild(&mut self, from: Version, latest: Version) -> Result<(), StateError> {
        use DamagedPart::Tree;
        // A prune reclaims nothing that a version after the mark stopped using, so the tree
        // of `from` is whole even if its root is no longer stored: then its root group
        // vouches for itself, and the rebuilt roots of the readable versions for it.
        let root = if from >= self.oldest {
            self.stored_root(from)
                .map_err(|e| self.as_damage(e, DamagedPart::Metadata))?
        } else {
            disk_node(&self.db, &NodeKey::root(from))
                .map_err(|e| self.as_damage(e, Tree))?
                .hash()
        };
        self.cache = self.top_cache(from, root)?;
        self.version = from;
        self.root = root;
        for v in from + 1..=latest {
            // What a rebuild reads beyond the checked tree of `from` is the versioned values
            // and their stale lists: a missing one, or a rebuilt root that is not the stored
            // one, is damage there.
            let lost = |store: &Store, what: &str| {
                store.damaged(
                    DamagedPart::VersionedValues,
                    format!(
                        "the group records of version {v} were lost in a crash and must be \
                         rebuilt, but {what}"
                    ),
                )
            };
            let stale = self.cf(CF_STALE)?;
            let list: Vec<(Hash, Version)> = match self
                .db
                .get_pinned_cf(stale, stale_key(v, STALE_VALUE_VERSIONS))
                .map_err(db_err)?
            {
                Some(b) => decode(&b, "stale key version list")
                    .map_err(|e| self.as_damage(e, DamagedPart::VersionedValues))?,
                None => return Err(lost(self, "its list of written keys is missing")),
            };
            let values = self.cf(CF_VALUES)?;
            let mut hashed: Vec<(Hash, Option<Hash>)> = Vec::with_capacity(list.len());
            for (kh, _) in &list {
                let raw = self
                    .db
                    .get_pinned_cf(values, value_key(kh, v))
                    .map_err(db_err)?
                    .ok_or_else(|| lost(self, "a value it wrote is missing"))?;
                let value: Option<Vec<u8>> = decode(&raw, "versioned value")
                    .map_err(|e| self.as_damage(e, DamagedPart::VersionedValues))?;
                hashed.push((*kh, value.as_deref().map(value_hash)));
            }
            if !hashed.is_sorted_by(|a, b| a.0 < b.0) {
                return Err(lost(self, "its list of written keys is out of order"));
            }
            let tree = self
                .tree_write(v, &hashed)
                .map_err(|e| self.as_damage(e, Tree))?;
            if v >= self.oldest {
                let stored = self
                    .stored_root(v)
                    .map_err(|e| self.as_damage(e, DamagedPart::Metadata))?;
                if tree.root != stored {
                    return Err(self.rebuild_mismatch(v, latest, &tree.root, &stored));
                }
            }
            let mut batch = WriteBatch::default();
            batch.put_cf(
                self.cf(CF_STALE)?,
                stale_key(v, STALE_NODE),
                &tree.stale_nodes,
            );
            self.write(batch)?;
            self.finish_tree(v, tree)?;
            self.rebuilt += 1;
        }
        // The stale lists too: the WAL that holds the rebuild's lists is then obsolete, and
        // the WAL of this open's commits is the only one (the close of a short run does not
        // flush, so a damaged WAL stays a rollback of the commits in it).
        let (nodes, stale) = (self.cf(CF_NODES)?, self.cf(CF_STALE)?);
        self.db
            .flush_cfs_opt(&[nodes, stale], &rocksdb::FlushOptions::default())
            .map_err(db_err)?;
        self.unflushed = 0;
        Ok(())
    }

    /// The damage a rebuilt root of `v` that is not the stored one points at. Of the three
    /// records that must agree (the versioned values the rebuild read, the latest values
    /// and the stored root), the open's sample of latest values tells which one is wrong:
    /// a versioned value at `latest` that differs from its latest value, or else the root.
    fn rebuild_mismatch(
        &self,
        v: Version,
        latest: Version,
        got: &Hash,
        stored: &Hash,
    ) -> StateError {
        use DamagedPart::{LatestValues, Tree, VersionedValues};
        let what = format!(
            "the group records of version {v} were lost in a crash and must be rebuilt, but \
             the rebuilt root {} is not the stored root {}",
            hex_short(got),
            hex_short(stored)
        );
        let sample = match self.sample_latest() {
            Ok(s) => s,
            Err(e) => return self.as_damage(e, LatestValues),
        };
        for (key, raw) in &sample {
            let Ok(value) = decode::<Vec<u8>>(raw, "latest value") else {
                return self.damaged(LatestValues, what);
            };
            match self.versioned_value(&key_hash(key), latest) {
                Ok(Some(at)) if at == value => {}
                Ok(_) => {
                    return self.damaged(
                        VersionedValues,
                        format!(
                            "{what}: the value of key {} at version {latest} disagrees with \
                             its latest value",
                            hex_short(key)
                        ),
                    );
                }
                Err(e) => return self.as_damage(e, VersionedValues),
            }
        }
        self.damaged(
            Tree,
            format!("{what}, and the values agree with the latest values"),
        )
    }

    /// The `root/` entries must span exactly [oldest, latest], and nothing may be stored for a
    /// version after `latest`: a commit writes its nodes, stale lists, root and `latest` in
    /// one batch, and a prune records `oldest` and deletes older roots in one batch.
    fn check_version_range(&self, oldest: Version, latest: Version) -> Result<(), StateError> {
        use DamagedPart::Metadata;
        let stored_version = |k: &[u8]| -> Option<Version> {
            let rest = k.strip_prefix(META_ROOT)?;
            Some(u64::from_be_bytes(rest.try_into().ok()?))
        };
        let mut it = self.db.raw_iterator_cf(self.cf(CF_META)?);
        it.seek(root_key(0));
        let first = it.key().and_then(stored_version);
        it.seek_for_prev(root_key(u64::MAX));
        let last = it.key().and_then(stored_version);
        it.status()
            .map_err(db_err)
            .map_err(|e| self.as_damage(e, Metadata))?;
        drop(it);
        if last != Some(latest) {
            return Err(self.damaged(
                Metadata,
                match last {
                    Some(v) => format!(
                        "the metadata says the latest version is {latest}, but roots are stored \
                         up to version {v}"
                    ),
                    None => "no version roots are stored".into(),
                },
            ));
        }
        if first != Some(oldest) {
            return Err(self.damaged(
                Metadata,
                format!(
                    "the metadata says the oldest version is {oldest}, but roots are stored \
                     from version {}",
                    first.unwrap_or(0)
                ),
            ));
        }
        if latest < u64::MAX {
            let next = latest + 1;
            let mut it = self.db.raw_iterator_cf(self.cf(CF_NODES)?);
            it.seek(next.to_be_bytes());
            let beyond_nodes = it.valid();
            it.status()
                .map_err(db_err)
                .map_err(|e| self.as_damage(e, Metadata))?;
            drop(it);
            let mut it = self.db.raw_iterator_cf(self.cf(CF_STALE)?);
            it.seek(stale_key(next, STALE_NODE));
            let beyond_stale = it.valid();
            it.status()
                .map_err(db_err)
                .map_err(|e| self.as_damage(e, Metadata))?;
            if beyond_nodes || beyond_stale {
                return Err(self.damaged(
                    Metadata,
                    format!(
                        "the metadata says the latest version is {latest}, but the tree holds \
                         a later version"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Some latest entries (see [`SAMPLE_HEAD`]), with their raw stored values.
    fn sample_latest(&self) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, StateError> {
        let mut out = BTreeMap::new();
        let mut it = self.db.raw_iterator_cf(self.cf(CF_LATEST)?);
        let take = |it: &DBRawIterator<'_>, out: &mut BTreeMap<Vec<u8>, Vec<u8>>| {
            if let (Some(k), Some(v)) = (it.key(), it.value()) {
                out.insert(k.to_vec(), v.to_vec());
            }
        };
        it.seek_to_first();
        while it.valid() && out.len() < SAMPLE_HEAD {
            take(&it, &mut out);
            it.next();
        }
        if it.valid() {
            let first = out.keys().next().cloned().unwrap_or_default();
            it.seek_to_last();
            let last = it.key().map(<[u8]>::to_vec).unwrap_or_default();
            for _ in 0..SAMPLE_TAIL {
                if !it.valid() {
                    break;
                }
                take(&it, &mut out);
                it.prev();
            }
            // Evenly spaced seek targets on the 16 bytes after the common prefix.
            let common = first.iter().zip(&last).take_while(|(a, b)| a == b).count();
            let window = |k: &[u8]| {
                let mut w = [0u8; 16];
                for (i, b) in k.iter().skip(common).take(16).enumerate() {
                    w[i] = *b;
                }
                u128::from_be_bytes(w)
            };
            let (lo, hi) = (window(&first), window(&last));
            for i in 1..=SAMPLE_SPREAD {
                let t = lo + (hi - lo) / (SAMPLE_SPREAD + 1) * i;
                let mut target = first[..common].to_vec();
                target.extend_from_slice(&t.to_be_bytes());
                it.seek(&target);
                take(&it, &mut out);
            }
        }
        it.status().map_err(db_err)?;
        Ok(out)
    }

    /// Checks each sampled latest entry against the tree and its versioned value.
    fn check_sample(&self) -> Result<(), StateError> {
        let sample = self
            .sample_latest()
            .map_err(|e| self.as_damage(e, DamagedPart::LatestValues))?;
        for (key, raw) in &sample {
            self.check_entry(key, raw)?;
        }
        Ok(())
    }

    /// One latest entry against the tree (a proof for its key hash at the latest version)
    /// and its versioned value at the latest version; a disagreement names the part that
    /// disagrees with the other two.
    fn check_entry(&self, key: &[u8], raw: &[u8]) -> Result<(), StateError> {
        use DamagedPart::{LatestValues, Tree, VersionedValues};
        let shown = hex_short(key);
        let latest = self.version;
        let value: Vec<u8> = decode(raw, "latest value").map_err(|_| {
            self.damaged(
                LatestValues,
                format!("the latest value of key {shown} does not decode"),
            )
        })?;
        let kh = key_hash(key);
        let proof = tree::prove(
            &Nodes {
                db: &self.db,
                cache: &self.cache,
            },
            latest,
            &kh,
        )
        .map_err(|e| self.as_damage(e, Tree))?;
        let in_tree = match (proof.root_for(&kh), proof.proven_value_hash(&kh)) {
            (Ok(r), Ok(vh)) if r == self.root => vh,
            _ => {
                return Err(self.damaged(
                    Tree,
                    format!("the tree's path to key {shown} does not hash to the root"),
                ));
            }
        };
        let versioned = self
            .versioned_value(&kh, latest)
            .map_err(|e| self.as_damage(e, VersionedValues))?;
        let vh = value_hash(&value);
        match (
            in_tree == Some(vh),
            versioned.as_deref() == Some(value.as_slice()),
        ) {
            (true, true) => Ok(()),
            (true, false) => Err(self.damaged(
                VersionedValues,
                format!(
                    "the value of key {shown} at version {latest} disagrees with its latest \
                     value and the tree"
                ),
            )),
            (false, _) if versioned.as_deref().map(value_hash) == in_tree => Err(self.damaged(
                LatestValues,
                format!(
                    "the latest value of key {shown} disagrees with the tree and its value at \
                     version {latest}"
                ),
            )),
            (false, _) => Err(self.damaged(
                Tree,
                format!("the tree disagrees with the stored values of key {shown}"),
            )),
        }
    }

    /// Compares the acknowledgement file with the version found; see [`ACK_FILE`].
    fn reconcile_ack(&mut self, acked: Acked, accept: bool) -> Result<(), StateError> {
        match acked {
            Acked::Absent => {
                self.ack = Some(create_ack(&self.path, self.version, &self.root)?);
            }
            Acked::Unreadable(why) => {
                if !accept {
                    return Err(self.damaged(
                        DamagedPart::AckFile,
                        format!("{why}; opening with accept_rollback resets it"),
                    ));
                }
                self.ack = Some(create_ack(&self.path, self.version, &self.root)?);
            }
            Acked::Version(AckRecord { version: v, .. }) if v > self.version => {
                if !accept {
                    return Err(StateError::RolledBack {
                        path: self.path.display().to_string(),
                        found: self.version,
                        acknowledged: v,
                    });
                }
                self.rolled_back = Some(v);
                self.ack = Some(create_ack(&self.path, self.version, &self.root)?);
            }
            Acked::Version(AckRecord {
                version: v, root, ..
            }) => {
                if v >= self.oldest {
                    let stored = self
                        .stored_root(v)
                        .map_err(|e| self.as_damage(e, DamagedPart::Metadata))?;
                    if stored != root {
                        return Err(self.damaged(
                            DamagedPart::Metadata,
                            format!(
                                "version {v} has root {} here, but root {} was acknowledged \
                                 for it (history was rewritten); delete {ACK_FILE} to accept \
                                 the store as it is",
                                hex_short(&stored),
                                hex_short(&root)
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The version this store had acknowledged before the rollback that
    /// [`OpenOptions::accept_rollback`] let it open with, if there was one: the versions
    /// after [`StateStore::version`] up to this one were lost and must be replayed.
    pub fn rolled_back(&self) -> Option<Version> {
        self.rolled_back
    }

    fn write(&self, batch: WriteBatch) -> Result<(), StateError> {
        let mut wo = WriteOptions::default();
        wo.set_sync(self.sync);
        wo.disable_wal(false);
        self.db.write_opt(batch, &wo).map_err(db_err)
    }

    /// Whether each commit is durable against power loss: the WAL is fsynced, then the
    /// acknowledgement file (default `false`: a commit survives a crash of the process, and
    /// a power loss may roll back to an earlier whole version, which the next open reports if
    /// the acknowledgement file survived). Costs two fsyncs per commit (BENCHMARKS.md).
    pub fn set_sync(&mut self, sync: bool) {
        self.sync = sync;
    }

    /// Writes the group records of every committed version to table files. Commits write
    /// them without the WAL (see [`TREE_MARK`]): until they reach table files (on this call,
    /// on [`Store::checkpoint_to`], whenever they fill their 128 MiB memtable, and on close
    /// after a long run), a crash or a close makes the next open rebuild them from the
    /// values, and a prune keeps what those versions stopped using.
    pub fn flush(&mut self) -> Result<(), StateError> {
        if let Some(why) = &self.broken {
            return Err(StateError::Io(why.clone()));
        }
        self.db.flush_cf(self.cf(CF_NODES)?).map_err(db_err)?;
        self.tree_durable = self.version;
        self.unflushed = 0;
        Ok(())
    }

    /// The tree mark in table files (0 if none: a format-3 store before its first flush).
    fn persisted_mark(&self) -> Result<Version, StateError> {
        let mut persisted = rocksdb::ReadOptions::default();
        persisted.set_read_tier(rocksdb::ReadTier::Persisted);
        match self
            .db
            .get_pinned_cf_opt(self.cf(CF_NODES)?, TREE_MARK, &persisted)
            .map_err(db_err)?
        {
            Some(b) => decode(&b, "tree mark"),
            None => Ok(0),
        }
    }

    /// Whether commits are fsynced (see [`Store::set_sync`]).
    pub fn sync(&self) -> bool {
        self.sync
    }

    /// The data dir.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many group nodes down to 4 nibbles (the levels a commit always caches) commits
    /// have read from RocksDB since this store was opened; the rest came from the RAM cache.
    /// For tests and diagnostics.
    #[doc(hidden)]
    pub fn commit_node_reads(&self) -> u64 {
        self.commit_node_reads
    }

    /// How many bytes the write batches of commits since this store was opened held
    /// (RocksDB's `WriteBatch` size: keys, values and record headers). For benchmarks and
    /// tests.
    #[doc(hidden)]
    pub fn commit_bytes(&self) -> u64 {
        self.commit_bytes
    }

    /// How many of [`Store::commit_bytes`] went through the WAL (the log batches; the group
    /// records do not). For benchmarks and tests.
    #[doc(hidden)]
    pub fn commit_log_bytes(&self) -> u64 {
        self.commit_log_bytes
    }

    /// How many versions' group records the open rebuilt because a crash had lost them
    /// (see [`Store::flush`]). For tests and diagnostics.
    #[doc(hidden)]
    pub fn rebuilt_versions(&self) -> u64 {
        self.rebuilt
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
        self.versioned_value(&key_hash(key), version)
    }

    /// The value of the key with hash `kh` at `version` (not checked for availability).
    fn versioned_value(&self, kh: &Hash, version: Version) -> Result<Option<Vec<u8>>, StateError> {
        let mut it = self.db.raw_iterator_cf(self.cf(CF_VALUES)?);
        it.seek_for_prev(value_key(kh, version));
        let found = match (it.key(), it.value()) {
            (Some(k), Some(v)) if k.len() == 40 && k[..32] == kh[..] => {
                Some(decode::<Option<Vec<u8>>>(v, "versioned value")?)
            }
            (Some(k), Some(_)) if k.starts_with(kh) => {
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
    ///
    /// Group records written since the last [`Store::flush`] (or RocksDB's own flush of
    /// them) go at once; what versions after that flush stopped using among the older
    /// records, and their versioned values, stay until a prune after the next flush: an open
    /// after a crash rebuilds those versions from the tree before them.
    ///
    /// ```
    /// use keel_state::{ChangeSet, StateRead, StateStore, Store};
    /// let dir = tempfile::tempdir().unwrap();
    /// let mut store = Store::open(dir.path()).unwrap();
    /// for i in 0..3u8 {
    ///     let mut changes = ChangeSet::new();
    ///     changes.put(b"k".to_vec(), vec![i]);
    ///     store.commit(&changes).unwrap();
    /// }
    /// store.flush().unwrap();
    /// store.prune(3).unwrap();
    /// assert!(store.get_at(b"k", 2).is_err());
    /// assert_eq!(store.get_at(b"k", 3).unwrap(), Some(vec![2]));
    /// ```
    pub fn prune(&mut self, up_to: Version) -> Result<(), StateError> {
        if let Some(why) = &self.broken {
            return Err(StateError::Io(why.clone()));
        }
        let up_to = up_to.min(self.version).max(self.oldest);
        if up_to > self.oldest {
            let meta = self.cf(CF_META)?;
            let mut batch = WriteBatch::default();
            batch.put_cf(meta, META_OLDEST, up_to.encode());
            batch.delete_range_cf(meta, root_key(0), root_key(up_to));
            self.write(batch)?;
            self.oldest = up_to;
        }
        // Only what a version whose tree is in table files stopped using: see `tree_durable`.
        // Records that are not in table files yet go at once, though (see `prune_unflushed`).
        let mark = self.persisted_mark()?;
        self.tree_durable = self.tree_durable.max(mark.min(self.version));
        self.prune_unflushed(up_to)?;
        let up_to = up_to.min(self.tree_durable);
        let (nodes, values, stale) = (self.cf(CF_NODES)?, self.cf(CF_VALUES)?, self.cf(CF_STALE)?);
        loop {
            // Collected, then added in key order per column family: the memtable inserts
            // then follow each other instead of each searching from the top.
            let mut node_keys: Vec<Vec<u8>> = Vec::new();
            let mut value_ranges: Vec<([u8; 40], [u8; 40])> = Vec::new();
            let mut value_points: Vec<[u8; 40]> = Vec::new();
            let mut stale_keys: Vec<Vec<u8>> = Vec::new();
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
                            node_keys.push(node);
                        }
                        n += 1 + list.len() / 16;
                    }
                    [STALE_VALUES] => {
                        let khs: Vec<Hash> = decode(list, "stale key list")?;
                        for kh in &khs {
                            value_ranges.push((value_key(kh, 0), value_key(kh, since)));
                        }
                        n += 1 + khs.len();
                    }
                    [STALE_VALUE_VERSIONS] => {
                        let replaced: Vec<(Hash, Version)> =
                            decode(list, "stale key version list")?;
                        for (kh, w) in &replaced {
                            match *w {
                                0 => value_ranges.push((value_key(kh, 0), value_key(kh, since))),
                                w if w < since => value_points.push(value_key(kh, w)),
                                _ => {
                                    return Err(StateError::Corrupted(format!(
                                        "the stale list of version {since} names a value \
                                         written at the later version {w}"
                                    )));
                                }
                            }
                        }
                        n += 1 + replaced.len();
                    }
                    _ => return Err(StateError::Corrupted("bad stale index key".into())),
                }
                stale_keys.push(k.to_vec());
                it.next();
            }
            it.status().map_err(db_err)?;
            drop(it);
            if n == 0 {
                return Ok(());
            }
            node_keys.sort_unstable();
            // One range per key hash: they all start at `kh ‖ 0`, so the one that reaches
            // furthest (sorted last) covers the others.
            value_ranges.sort_unstable();
            value_ranges.dedup_by(|later, earlier| {
                let same = later.0 == earlier.0;
                if same {
                    earlier.1 = later.1;
                }
                same
            });
            value_points.sort_unstable();
            let mut batch = WriteBatch::default();
            for k in &node_keys {
                batch.delete_cf(nodes, k);
            }
            for k in &value_points {
                batch.delete_cf(values, k);
            }
            for (from, to) in &value_ranges {
                batch.delete_range_cf(values, from, to);
            }
            for k in &stale_keys {
                batch.delete_cf(stale, k);
            }
            self.write(batch)?;
            if n < PRUNE_CHUNK {
                return Ok(());
            }
        }
    }

    /// The part of a prune to `up_to` that cannot wait for the tree mark: the group records
    /// written after the mark in table files (`tree_durable`) that a version up to `up_to`
    /// stopped using, deleted without the WAL. Most group records live one block (the upper
    /// levels change in every block): deleted while still in their memtable, they never
    /// reach a table file. (Waiting for the mark let every one of them be flushed and then
    /// compacted away: at 10M keys 26% more peak RSS, 23% more disk and 15% slower commits,
    /// BENCHMARKS.md, eighth session.)
    ///
    /// Safe for a rebuild: a record written after the mark is not in table files now. If a
    /// flush persists this delete, it persists everything written before it, including the
    /// tree mark of the latest version, which is at least `up_to`: a rebuild then starts
    /// from a version that no longer uses the record. If no flush persists it, the record
    /// is either lost in the crash or still listed for the full prune. The stale lists stay
    /// as they are (the full prune deletes these keys once more, and a rebuild rewrites the
    /// lists of the versions it rebuilds). Versioned values wait for the mark: a rebuild
    /// reads them.
    fn prune_unflushed(&mut self, up_to: Version) -> Result<(), StateError> {
        let mark = self.tree_durable;
        let from = mark.max(self.early_pruned).saturating_add(1);
        if up_to < from {
            return Ok(());
        }
        let mut keys: Vec<Vec<u8>> = Vec::new();
        let mut it = self.db.raw_iterator_cf(self.cf(CF_STALE)?);
        it.seek(stale_key(from, STALE_NODE));
        while let Some(k) = it.key() {
            let (since, rest) = k
                .split_first_chunk::<8>()
                .ok_or_else(|| StateError::Corrupted("bad stale index key".into()))?;
            if u64::from_be_bytes(*since) > up_to {
                break;
            }
            if rest == [STALE_NODE] {
                let list: Vec<Vec<u8>> = decode(it.value().unwrap_or_default(), "stale node list")?;
                for node in list {
                    if NodeKey::decode(&node)?.version > mark {
                        keys.push(node);
                    }
                }
            }
            it.next();
        }
        it.status().map_err(db_err)?;
        drop(it);
        if !keys.is_empty() {
            keys.sort_unstable();
            let nodes = self.cf(CF_NODES)?;
            let mut batch = WriteBatch::default();
            for k in &keys {
                batch.delete_cf(nodes, k);
            }
            let mut wo = WriteOptions::default();
            wo.disable_wal(true);
            self.db.write_opt(batch, &wo).map_err(db_err)?;
        }
        self.early_pruned = up_to;
        Ok(())
    }

    /// Writes a consistent snapshot of the store to `path` (which must not exist) using
    /// RocksDB checkpoints: SST files are hard-linked, so this is cheap. The snapshot opens
    /// with [`Store::open`] as an independent store.
    pub fn checkpoint_to(&self, path: impl AsRef<Path>) -> Result<(), StateError> {
        let path = path.as_ref();
        // RocksDB's checkpoint flushes the memtables too; this makes sure the group records,
        // which the WAL does not hold, are in it.
        self.db.flush_cf(self.cf(CF_NODES)?).map_err(db_err)?;
        let cp = rocksdb::checkpoint::Checkpoint::new(&self.db).map_err(db_err)?;
        cp.create_checkpoint(path).map_err(db_err)?;
        // The snapshot holds exactly this version: it acknowledges it.
        create_ack(path, self.version, &self.root).map(drop)
    }

    /// [`StateStore::commit`], with `metadata` (the embedder's own `key → value` entries,
    /// e.g. names for what the block created) written in the same `WriteBatch` as the block:
    /// after a crash both are there or neither. Metadata is not part of any root and not
    /// versioned; read it with [`Store::metadata`].
    pub fn commit_with_metadata(
        &mut self,
        changes: &ChangeSet,
        metadata: &[Entry],
    ) -> Result<(Version, Hash), StateError> {
        let version = self
            .version
            .checked_add(1)
            .ok_or_else(|| StateError::Corrupted("version overflow".into()))?;
        let mut rows: Vec<Row<'_>> = changes.iter().map(|(k, v)| (key_hash(k), k, v)).collect();
        // By the key hash's first 8 bytes as a number, then the whole hash: the same order
        // as comparing the hashes, with one inlined integer comparison instead of a `memcmp`
        // call in all but vanishingly rare cases.
        rows.sort_unstable_by(|a, b| {
            hash_prefix(&a.0)
                .cmp(&hash_prefix(&b.0))
                .then_with(|| a.0.cmp(&b.0))
        });
        let hashed: Vec<(Hash, Option<Hash>)> = rows
            .iter()
            .map(|(kh, _, v)| (*kh, v.map(value_hash)))
            .collect();
        let tree = self.tree_write(version, &hashed)?;

        let db = &self.db;
        let (nodes, values, latest, stale, meta) = (
            cf_handle(db, CF_NODES)?,
            cf_handle(db, CF_VALUES)?,
            cf_handle(db, CF_LATEST)?,
            cf_handle(db, CF_STALE)?,
            cf_handle(db, CF_META)?,
        );
        // Sized from the last commit's batch, so that it does not grow by copying itself.
        let mut batch = WriteBatch::with_capacity_bytes(self.last_batch_bytes + (4 << 10));
        // Each column family's entries go in in key order: the memtable inserts sequentially.
        batch.put_cf(stale, stale_key(version, STALE_NODE), &tree.stale_nodes);
        let mut buf = Vec::with_capacity(64);
        for (key, value) in changes.iter() {
            match value {
                Some(v) => {
                    buf.clear();
                    v.encode_to(&mut buf);
                    batch.put_cf(latest, key, &buf);
                }
                None => batch.delete_cf(latest, key),
            }
        }
        // The value cache learns each change here (while its key and value are in the CPU's
        // cache anyway) and says which version wrote the value it replaces. Should the write
        // fail, the cache is emptied below: it never claims a value the store does not hold.
        let mut replaced: Vec<(Hash, Version)> = Vec::with_capacity(rows.len());
        for (kh, key, value) in &rows {
            buf.clear();
            value.encode_to(&mut buf);
            batch.put_cf(values, value_key(kh, version), &buf);
            replaced.push((*kh, self.values.record(key, *value, version)));
        }
        batch.put_cf(
            stale,
            stale_key(version, STALE_VALUE_VERSIONS),
            replaced.encode(),
        );
        batch.put_cf(meta, META_LATEST, version.encode());
        batch.put_cf(meta, root_key(version), tree.root.encode());
        if self.format < FORMAT_VERSION {
            batch.put_cf(meta, META_FORMAT, FORMAT_VERSION.encode());
            // Everything before this version went through the WAL: the mark says so, in the
            // WAL, should the crash lose this version's own mark (see `TREE_MARK`).
            batch.put_cf(nodes, TREE_MARK, self.version.encode());
        }
        for (k, v) in metadata {
            batch.put_cf(meta, app_key(k), v);
        }
        self.last_batch_bytes = batch.size_in_bytes().min(MAX_BATCH_RESERVE);
        self.commit_bytes += (batch.size_in_bytes() + tree.nodes.size_in_bytes()) as u64;
        self.commit_log_bytes += batch.size_in_bytes() as u64;
        if let Err(e) = self.write(batch) {
            self.values.clear();
            return Err(e);
        }
        // The version is committed: what follows only writes what an open could rebuild.
        self.format = FORMAT_VERSION;
        self.finish_tree(version, tree)?;
        self.acknowledge()?;
        Ok((version, self.root))
    }

    /// Runs the tree update of `version` (`hashed`: key hash and value hash or deletion, in
    /// key-hash order) against the latest version, and encodes what it writes. Changes
    /// nothing but the node cache, which loses the groups the update replaced.
    fn tree_write(
        &mut self,
        version: Version,
        hashed: &[(Hash, Option<Hash>)],
    ) -> Result<TreeWrite, StateError> {
        if let Some(why) = &self.broken {
            return Err(StateError::Io(why.clone()));
        }
        self.cache.touch_paths(hashed);
        let cache_len = self.cache.len();
        // With an eighth to spare: commits of one size vary a little.
        let groups = self.last_tree_groups + self.last_tree_groups / 8;
        let reader = CommitNodes {
            db: &self.db,
            cache: RefCell::new(&mut self.cache),
            reads: Cell::new(0),
            taken: RefCell::new(Vec::with_capacity(groups)),
            plan: RefCell::new(Plan {
                version,
                cache_len,
                records: Vec::with_capacity(groups),
                bytes: Vec::with_capacity(self.last_tree_bytes + self.last_tree_bytes / 8),
                scratch: Vec::with_capacity(4 + 16 * 64),
                stale: Vec::new(),
            }),
        };
        let update = tree::apply(&reader, self.version, version, hashed, groups);
        self.commit_node_reads += reader.reads.get();
        let taken = reader.taken.into_inner();
        let plan = reader.plan.into_inner();
        let update = update?;

        let nodes = cf_handle(&self.db, CF_NODES)?;
        let mut stale_nodes = plan.stale;
        // Groups this version removed: their whole chains are stale.
        for (k, prev) in update.stale.iter().zip(taken) {
            if let Some(prev) = prev {
                stale_nodes.extend(prev.records().iter().map(|&v| NodeKey {
                    version: v,
                    path: k.path,
                }));
            }
        }
        self.last_tree_bytes = plan.bytes.len().min(MAX_BATCH_RESERVE);
        self.last_tree_groups = plan.records.len().min(MAX_GROUPS_RESERVE);
        // Per record: its bytes, a key of at most 41 bytes and RocksDB's record header.
        let mut batch =
            WriteBatch::with_capacity_bytes(plan.bytes.len() + 56 * plan.records.len() + 64);
        // All new groups have this version: their encoded keys sort as their paths do
        // (nibble count, then packed nibbles). The tree finishes the groups of one depth in
        // path order (it walks the changes in key-hash order, a group after the subtrees
        // below it), so grouping the records by depth, each depth keeping the tree's order,
        // puts them in key order without comparing paths: the memtable inserts sequentially.
        let mut at_depth = [0usize; tree::MAX_NIBBLES + 2];
        for (_, path, _, _) in &plan.records {
            at_depth[path.len() + 1] += 1;
        }
        for d in 1..at_depth.len() {
            at_depth[d] += at_depth[d - 1];
        }
        let mut order = vec![(NibblePath::ROOT, 0usize, 0usize); plan.records.len()];
        let mut from = 0;
        for (end, path, _, _) in &plan.records {
            let place = &mut at_depth[path.len()];
            order[*place] = (*path, from, *end);
            *place += 1;
            from = *end;
        }
        debug_assert!(
            order.is_sorted_by_key(|r| r.0),
            "new groups out of key order"
        );
        // The mark first: it sorts before every record.
        batch.put_cf(nodes, TREE_MARK, version.encode());
        let mut key = Vec::with_capacity(41);
        for (path, from, end) in order {
            key.clear();
            NodeKey { version, path }.encode_to(&mut key);
            batch.put_cf(nodes, &key, &plan.bytes[from..end]);
        }
        // The SCALE encoding of the list of encoded keys (`Vec<Vec<u8>>`), built in place.
        let mut list = plan.scratch;
        list.clear();
        Compact(stale_nodes.len() as u32).encode_to(&mut list);
        for k in &stale_nodes {
            Compact(k.encoded_len() as u32).encode_to(&mut list);
            k.encode_to(&mut list);
        }
        Ok(TreeWrite {
            root: update.root,
            nodes: batch,
            stale_nodes: list,
            new_nodes: update.new_nodes,
            records: plan.records,
        })
    }

    /// Writes the group records of `version`, whose log batch is written, without the WAL
    /// (see [`TREE_MARK`]), and makes it the latest version in RAM. If the write fails, the
    /// store takes no more commits: only an open can rebuild the version's tree.
    fn finish_tree(&mut self, version: Version, tree: TreeWrite) -> Result<(), StateError> {
        self.version = version;
        self.root = tree.root;
        let mut wo = WriteOptions::default();
        wo.disable_wal(true);
        self.unflushed += tree.nodes.size_in_bytes();
        if let Err(e) = self.db.write_opt(tree.nodes, &wo) {
            let why = format!(
                "version {version} is committed, but writing its tree failed ({e}): reopen \
                 the store to rebuild it"
            );
            self.broken = Some(why.clone());
            return Err(StateError::Io(why));
        }
        // The groups this version replaced (`update.stale`) left the cache when the commit's
        // reader took them; the others were never in it.
        for (w, (_, _, chain, cached)) in tree.new_nodes.into_iter().zip(tree.records) {
            if cached {
                self.cache.insert(
                    w.key.path,
                    Cached {
                        version: w.key.version,
                        group: w.group,
                        table: w.table,
                        chain,
                    },
                );
            }
        }
        Ok(())
    }

    /// Records the latest version in the acknowledgement file (fsynced if `sync`). Called
    /// after the commit's batch is written: the file never names a version the WAL lacks.
    fn acknowledge(&mut self) -> Result<(), StateError> {
        // Rewriting the latest version's own slot is safe: if that write tears, the other
        // slot still holds the version before.
        let record = AckRecord {
            version: self.version,
            root: self.root,
            // As of the commit before (or the open): RocksDB syncs each MANIFEST record as
            // it writes it, so what it had written then is synced by now, unless the
            // machine lost power within those milliseconds.
            manifest: self.manifest_seen,
        };
        self.manifest_seen = observe_manifest(&self.path);
        let file = self
            .ack
            .as_mut()
            .ok_or_else(|| StateError::Io("the acknowledgement file is not open".into()))?;
        write_ack(file, &record, self.sync).map_err(|e| {
            StateError::Io(format!(
                "version {} is committed, but recording it in {} failed: {e}",
                record.version,
                self.path.join(ACK_FILE).display()
            ))
        })
    }

    /// The embedder's metadata entry `key` (written by [`Store::commit_with_metadata`] or
    /// [`Store::put_metadata`]).
    pub fn metadata(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.meta(&app_key(key))
    }

    /// Every metadata entry whose key starts with `prefix`, in key order (prefix included).
    pub fn metadata_prefix(&self, prefix: &[u8]) -> Result<Vec<Entry>, StateError> {
        let start = app_key(prefix);
        let mut it = self.db.raw_iterator_cf(self.cf(CF_META)?);
        it.seek(&start);
        let mut out = Vec::new();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            if !k.starts_with(&start) {
                break;
            }
            out.push((k[META_APP.len()..].to_vec(), v.to_vec()));
            it.next();
        }
        it.status().map_err(db_err)?;
        Ok(out)
    }

    /// Writes metadata entries outside a commit, in one batch (fsynced if `sync`).
    pub fn put_metadata(&mut self, entries: &[Entry]) -> Result<(), StateError> {
        let meta = self.cf(CF_META)?;
        let mut batch = WriteBatch::default();
        for (k, v) in entries {
            batch.put_cf(meta, app_key(k), v);
        }
        self.write(batch)
    }

    /// About how many work units [`Store::check`] reports: twice the number of latest
    /// entries (RocksDB's estimate), for a progress bar.
    pub fn check_estimate(&self) -> u64 {
        self.cf(CF_LATEST)
            .ok()
            .and_then(|cf| {
                self.db
                    .property_int_value_cf(cf, "rocksdb.estimate-num-keys")
                    .ok()
                    .flatten()
            })
            .unwrap_or(0)
            .saturating_mul(2)
    }

    /// Checks the whole latest version: walks every group of the tree from the disk (not the
    /// RAM cache) and checks that each hashes to what its parent points at, up to the stored
    /// root, and that each leaf sits where its key hash belongs; then checks every latest
    /// entry against the tree (its key hash's leaf holds its value hash) and against its
    /// versioned value, and that the tree has exactly as many leaves as there are entries.
    /// The first inconsistency is a [`StateError::Damaged`] that names the part.
    ///
    /// `progress(done, total)` is called as it goes (one unit per leaf, then per entry;
    /// `total` starts as [`Store::check_estimate`] and becomes exact after the tree walk).
    /// Memory: the walk's stack only. Time: one read per group and about one proof per entry.
    pub fn check(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<CheckReport, StateError> {
        use DamagedPart::{LatestValues, Tree};
        let mut total = self.check_estimate();
        let (mut done, mut groups, mut records, mut leaves) = (0u64, 0u64, 0u64, 0u64);
        let mut stack = vec![(NodeKey::root(self.version), self.root)];
        while let Some((key, expected)) = stack.pop() {
            let (g, chain) = disk_group(&self.db, &key).map_err(|e| self.as_damage(e, Tree))?;
            groups += 1;
            records += chain.records().len() as u64;
            if g.hash() != expected {
                return Err(self.damaged(
                    Tree,
                    format!(
                        "group {} does not hash to what its parent points at",
                        hex_short(&key.encode())
                    ),
                ));
            }
            for (n, s) in g.slots().iter().enumerate().rev() {
                match s {
                    Slot::Empty => {}
                    Slot::Leaf { key_hash, .. } => {
                        if !leaf_in_place(&key, n, key_hash) {
                            return Err(self.damaged(
                                Tree,
                                format!(
                                    "leaf {} is not under its key hash's path in group {}",
                                    hex_short(key_hash),
                                    hex_short(&key.encode())
                                ),
                            ));
                        }
                        leaves += 1;
                        done += 1;
                        if done.is_multiple_of(1024) {
                            progress(done, total.max(done));
                        }
                    }
                    Slot::Child { version, hash } => {
                        if *version > key.version {
                            return Err(self.damaged(
                                Tree,
                                format!(
                                    "group {} points at a child from a later version {version}",
                                    hex_short(&key.encode())
                                ),
                            ));
                        }
                        stack.push((child_key(&key, n, *version)?, *hash));
                    }
                }
            }
        }
        total = leaves.saturating_mul(2);
        progress(done, total);

        let mut entries = 0u64;
        let mut it = self.db.raw_iterator_cf(self.cf(CF_LATEST)?);
        it.seek_to_first();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            self.check_entry(k, v)?;
            entries += 1;
            done += 1;
            if done.is_multiple_of(1024) {
                progress(done, total.max(done));
            }
            it.next();
        }
        it.status()
            .map_err(db_err)
            .map_err(|e| self.as_damage(e, LatestValues))?;
        if entries != leaves {
            return Err(self.damaged(
                LatestValues,
                format!(
                    "the tree of version {} has {leaves} leaves, but there are {entries} \
                     latest entries",
                    self.version
                ),
            ));
        }
        progress(done, total.max(done));
        Ok(CheckReport {
            version: self.version,
            root: self.root,
            groups,
            records,
            entries,
        })
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
        if let Some(v) = self.values.get(key) {
            return Ok(v.map(<[u8]>::to_vec));
        }
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
        self.commit_with_metadata(changes, &[])
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn path(nibbles: &[usize]) -> NibblePath {
        nibbles.iter().fold(NibblePath::ROOT, |p, &n| p.child(n))
    }

    /// Every path of at most `TOP_DEPTH` nibbles has its own place in its length's array.
    #[test]
    fn top_index_is_a_bijection_onto_each_length() {
        let mut level = vec![NibblePath::ROOT];
        for d in 0..=TOP_DEPTH {
            let mut seen = vec![false; 1 << (4 * d)];
            let mut next = Vec::new();
            for p in &level {
                let i = top_index(p);
                assert!(i < seen.len(), "index {i} of a {d}-nibble path");
                assert!(!seen[i], "two {d}-nibble paths at index {i}");
                seen[i] = true;
                if d < TOP_DEPTH {
                    next.extend((0..16).map(|n| p.child(n)));
                }
            }
            assert!(seen.iter().all(|s| *s));
            level = next;
        }
    }

    /// The cache answers by (version, path): a group of another version at the same path is
    /// not the one asked for, and is neither returned nor taken.
    #[test]
    fn node_cache_matches_versions_at_every_depth() {
        let mut cache = NodeCache::default();
        for p in [
            path(&[]),
            path(&[3, 1]),
            path(&[15, 15, 15, 15]),
            path(&[1, 2, 3, 4, 5, 6]),
        ] {
            let mut g = Group::default();
            g.set(2, Slot::leaf([7; 32], [8; 32]));
            cache.insert(p, Cached::new(5, g.clone(), Chain::whole(5)));
            let at = |version| NodeKey { version, path: p };
            assert!(cache.get(&at(4)).is_none());
            assert!(cache.remove(&at(6)).is_none());
            assert_eq!(*cache.get(&at(5)).unwrap().group, g);
            // A commit's replacement lands on the same entry.
            cache.insert(p, Cached::new(9, g.clone(), Chain::whole(9)));
            assert!(cache.get(&at(5)).is_none());
            assert_eq!(cache.len(), 1);
            assert_eq!(cache.remove(&at(9)).unwrap().version, 9);
            assert_eq!(cache.len(), 0);
            assert!(cache.get(&at(9)).is_none());
        }
    }

    /// A chain holds at most `CHAIN_RECORDS` records: commits never extend a full one, and a
    /// longer chain on disk is `Corrupted`, while the longest a commit writes reads back.
    #[test]
    fn chains_longer_than_a_commit_writes_are_corrupted() {
        let mut chain = Chain::whole(1);
        for v in 2..=CHAIN_RECORDS as u64 {
            chain.push_newer(v, 10);
        }
        assert_eq!(chain.deltas(), MAX_DELTAS);
        assert_eq!(chain.head(), CHAIN_RECORDS as u64);
        assert_eq!(chain.records().len(), CHAIN_RECORDS);
        assert_eq!(chain.records().last(), Some(&1));
        let mut full = chain;
        assert!(!full.push_older(0));

        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let p = path(&[4, 2]);
        let mut g = Group::default();
        g.set(0, Slot::leaf([1; 32], [2; 32]));
        g.set(9, Slot::leaf([3; 32], [4; 32]));
        let cf = store.cf(CF_NODES).unwrap();
        let mut batch = WriteBatch::default();
        batch.put_cf(
            cf,
            NodeKey {
                version: 1,
                path: p,
            }
            .encode(),
            g.encode(),
        );
        let mut buf = Vec::new();
        for v in 2..=CHAIN_RECORDS as u64 + 1 {
            g.set(0, Slot::leaf([1; 32], [v as u8; 32]));
            g.encode_delta_into(v - 1, 1, &mut buf);
            batch.put_cf(
                cf,
                NodeKey {
                    version: v,
                    path: p,
                }
                .encode(),
                &buf,
            );
        }
        store.db.write(batch).unwrap();
        let top = NodeKey {
            version: CHAIN_RECORDS as u64,
            path: p,
        };
        let (read, chain) = disk_group(&store.db, &top).unwrap();
        assert_eq!(chain.records().len(), CHAIN_RECORDS);
        assert_eq!(
            read.slots()[0],
            Slot::leaf([1; 32], [CHAIN_RECORDS as u8; 32])
        );
        assert_eq!(read.slots()[9], Slot::leaf([3; 32], [4; 32]));
        let over = NodeKey {
            version: CHAIN_RECORDS as u64 + 1,
            path: p,
        };
        assert!(matches!(
            disk_group(&store.db, &over),
            Err(StateError::Corrupted(_))
        ));
    }

    /// The value cache answers exactly what was last recorded for each key, through
    /// overwrites that fit their room and ones that move, deletions, keys and values too big
    /// to keep, a hash collision, and the emptying at `VALUE_CACHE_ENTRIES`.
    #[test]
    fn value_cache_answers_what_was_last_recorded() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(13);
        let mut cache = ValueCache::default();
        let mut model: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        // The version that last wrote each key the cache may know (all but the long key).
        let mut versions: BTreeMap<Vec<u8>, Version> = BTreeMap::new();
        let key = |i: u32| {
            let mut k = vec![4u8; (i % 70) as usize];
            k.extend_from_slice(&i.to_be_bytes());
            if i == 0 {
                k = vec![9; VALUE_CACHE_MAX_VALUE + 1];
            }
            k
        };
        for version in 1..=20_000 {
            let k = key(rng.random_range(0..500));
            let value = match rng.random_range(0..10) {
                0 => None,
                1 => Some(vec![7; VALUE_CACHE_MAX_VALUE + 1]),
                _ => {
                    let len = rng.random_range(0..80);
                    Some((0..len).map(|_| rng.random()).collect::<Vec<u8>>())
                }
            };
            let before = cache.record(&k, value.as_deref(), version);
            if k.len() > VALUE_CACHE_MAX_VALUE {
                assert_eq!(before, 0);
            } else {
                assert_eq!(
                    Some(before),
                    Some(versions.insert(k.clone(), version).unwrap_or(0))
                );
            }
            let too_big = k.len() > VALUE_CACHE_MAX_VALUE
                || value
                    .as_ref()
                    .is_some_and(|v| v.len() > VALUE_CACHE_MAX_VALUE);
            if too_big {
                model.remove(&k);
            } else {
                model.insert(k, value);
            }
            let probe = key(rng.random_range(0..500));
            assert_eq!(
                cache.get(&probe).map(|v| v.map(<[u8]>::to_vec)),
                model.get(&probe).cloned()
            );
        }
        assert!(cache.get(&key(0)).is_none());
        for (k, v) in &model {
            assert_eq!(
                cache.get(k).map(|v| v.map(<[u8]>::to_vec)).as_ref(),
                Some(v)
            );
        }

        // Two keys with one hash (made by moving an entry): the entry names its key, so the
        // other key misses, and recording it takes the entry over.
        let (a, b) = (b"key a".as_slice(), b"key b".as_slice());
        let mut cache = ValueCache::default();
        assert_eq!(cache.record(b, Some(b"b's value"), 3), 0);
        let e = cache.map.remove(&cache.hasher.hash_one(b)).unwrap();
        cache.map.insert(cache.hasher.hash_one(a), e);
        assert_eq!(cache.get(a), None);
        assert_eq!(
            cache.record(a, Some(b"a's"), 4),
            0,
            "b's version is not a's"
        );
        assert_eq!(cache.get(a), Some(Some(&b"a's"[..])));
        assert_eq!(cache.record(a, None, 5), 4);
        assert_eq!(cache.get(b), None);

        // Full: the next record empties it, and only that key is known after.
        let mut cache = ValueCache::default();
        for i in 0..VALUE_CACHE_ENTRIES as u32 {
            cache.record(&i.to_le_bytes(), Some(&i.to_be_bytes()), 1);
        }
        assert_eq!(
            cache.get(&5u32.to_le_bytes()),
            Some(Some(&5u32.to_be_bytes()[..]))
        );
        let last = (VALUE_CACHE_ENTRIES as u32).to_le_bytes();
        assert_eq!(cache.record(&last, None, 2), 0);
        assert_eq!(cache.get(&last), Some(None));
        assert_eq!(cache.get(&5u32.to_le_bytes()), None);
        assert_eq!(cache.record(&5u32.to_le_bytes(), None, 2), 0, "forgotten");
        assert_eq!(cache.get(&5u32.to_le_bytes()), Some(None));
        assert_eq!(cache.map.len(), 2);
        assert_eq!(cache.bytes.len(), 2 * last.len());
    }
}
