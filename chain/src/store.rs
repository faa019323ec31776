//! A data dir's chain (feature `rocksdb`): [`Chain`]`<`[`Named`]`>` over its RocksDB store.
//!
//! Contract and code names live in the store's own metadata (not in state, not in any root),
//! and are written in the same `WriteBatch` as the block that creates what they name: a
//! [`Named`] store wraps the `Store` for the engine and adds the names to the commit, so a
//! kill between a deploy's commit and anything after it cannot lose a name.

use std::collections::BTreeMap;
use std::ops::{Bound, Deref, DerefMut};
use std::path::Path;

use crate::{Address, Chain, ChainStore, Clock, Error as KitError};
use keel_state::{
    ChangeSet, Entry, Hash, OpenOptions, Proof, StateError, StateRead, StateStore, Store, Version,
};
use parity_scale_codec::{DecodeAll, Encode};

/// Metadata key prefixes (inside the store's embedder namespace).
const CONTRACT: &[u8] = b"keel-cli/contract/";
const CODE: &[u8] = b"keel-cli/code/";
const NAME: &[u8] = b"keel-cli/name/";
/// The last committed block's `(height, timestamp)`, SCALE, written with each block: the next
/// block's clock starts after it, so a data dir's clock never goes backwards.
const CLOCK: &[u8] = b"keel-cli/clock";

/// State key prefixes the engine writes (ARCHITECTURE.md, "State layout").
const CODE_PREFIX: u8 = 0x01;
const INFO_PREFIX: u8 = 0x02;

fn key(prefix: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.extend_from_slice(rest);
    k
}

/// The metadata entries naming everything `changes` creates as `name`: code it uploads
/// (`0x01 ‖ code hash`) and contracts it instantiates (`0x02 ‖ address`), whose name then
/// resolves to that address.
pub fn name_entries(changes: &ChangeSet, name: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for (k, v) in changes.iter() {
        let (Some(_), [prefix, rest @ ..]) = (v, k) else {
            continue;
        };
        if rest.len() != 32 {
            continue;
        }
        match *prefix {
            CODE_PREFIX => out.push((key(CODE, rest), name.as_bytes().to_vec())),
            INFO_PREFIX => {
                out.push((key(CONTRACT, rest), name.as_bytes().to_vec()));
                out.push((key(NAME, name.as_bytes()), rest.to_vec()));
            }
            _ => {}
        }
    }
    out
}

/// The metadata key that makes `name` resolve to an address (the latest contract deployed
/// under it).
pub fn name_key(name: &str) -> Vec<u8> {
    key(NAME, name.as_bytes())
}

/// The metadata key holding the name of the contract at `address`.
pub fn contract_name_key(address: &Address) -> Vec<u8> {
    key(CONTRACT, address)
}

/// The data dir's store as the engine sees it: commits carry the pending name's metadata and
/// the block's clock. It dereferences to the `Store` underneath.
pub struct Named {
    store: Store,
    /// The name for what the next commits create.
    name: Option<String>,
    /// The names the last commit wrote.
    committed: Vec<Entry>,
    /// The `(height, timestamp)` of the block being committed, written as [`CLOCK`].
    clock: Option<(u64, u64)>,
}

impl StateRead for Named {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.store.get(key)
    }

    fn next_entry(
        &self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
    ) -> Result<Option<Entry>, StateError> {
        self.store.next_entry(lower, upper)
    }
}

impl StateStore for Named {
    fn version(&self) -> Version {
        self.store.version()
    }

    fn root(&self) -> Hash {
        self.store.root()
    }

    fn commit(&mut self, changes: &ChangeSet) -> Result<(Version, Hash), StateError> {
        let mut meta = match &self.name {
            Some(name) => name_entries(changes, name),
            None => Vec::new(),
        };
        let names = meta.len();
        if let Some(clock) = self.clock {
            meta.push((CLOCK.to_vec(), clock.encode()));
        }
        let out = self.store.commit_with_metadata(changes, &meta)?;
        meta.truncate(names);
        self.committed = meta;
        Ok(out)
    }

    fn prove(&self, key: &[u8], version: Version) -> Result<Proof, StateError> {
        self.store.prove(key, version)
    }
}

/// How to open the data dir.
#[derive(Debug, Clone, Copy)]
pub struct Durability {
    /// fsync every commit (`--sync on`).
    pub sync: bool,
    /// Open a store that lost acknowledged versions (`--accept-rollback`).
    pub accept_rollback: bool,
}

impl ChainStore for Named {
    fn block_clock(&mut self, clock: Option<(u64, u64)>) {
        self.clock = clock;
    }

    fn take_names(&mut self) -> Vec<(Address, String)> {
        std::mem::take(&mut self.committed)
            .into_iter()
            .filter_map(|(k, v)| {
                let a = Address::try_from(k.strip_prefix(CONTRACT)?).ok()?;
                Some((a, String::from_utf8_lossy(&v).into_owned()))
            })
            .collect()
    }
}

impl Deref for Named {
    type Target = Store;

    fn deref(&self) -> &Store {
        &self.store
    }
}

impl DerefMut for Named {
    fn deref_mut(&mut self) -> &mut Store {
        &mut self.store
    }
}

impl Chain<Named> {
    /// Opens (creating if absent or empty) the store at `path`. The next block's height is
    /// the store's version + 1 and its timestamp `height × 1000`, or, when they are later,
    /// the last committed block's height + 1 and timestamp + 1000 ([`Clock::starting`]): the
    /// clock never goes backwards, whatever explicit heights and timestamps earlier blocks
    /// had.
    pub fn open(path: &Path, how: Durability) -> Result<Chain<Named>, KitError> {
        let store = OpenOptions::new()
            .sync(how.sync)
            .accept_rollback(how.accept_rollback)
            .open(path)?;
        let mut labels = BTreeMap::new();
        for (k, v) in store.metadata_prefix(CONTRACT)? {
            if let (Ok(a), Ok(name)) = (
                Address::try_from(&k[CONTRACT.len()..]),
                String::from_utf8(v),
            ) {
                labels.insert(a, name);
            }
        }
        let last = match store.metadata(CLOCK)? {
            None => None,
            Some(v) => Some(<(u64, u64)>::decode_all(&mut v.as_slice()).map_err(|_| {
                KitError::Decode("the data dir's last block clock (keel-cli/clock)".into())
            })?),
        };
        let clock = Clock::starting(store.version(), last);
        let named = Named {
            store,
            name: None,
            committed: Vec::new(),
            clock: None,
        };
        Ok(Chain::with_clock(named, clock, labels))
    }

    /// Names what the next blocks create (uploaded code, instantiated contracts) `name`, in
    /// the same commit; `None` stops naming.
    pub fn name_next_blocks(&mut self, name: Option<&str>) {
        self.store_mut().name = name.map(str::to_string);
    }

    /// The address most recently deployed under `name`.
    pub fn address_of(&self, name: &str) -> Result<Option<Address>, KitError> {
        Ok(self
            .store()
            .metadata(&key(NAME, name.as_bytes()))?
            .and_then(|v| Address::try_from(v.as_slice()).ok()))
    }

    /// Every contract name deployed here.
    pub fn names(&self) -> Result<Vec<String>, KitError> {
        Ok(self
            .store()
            .metadata_prefix(NAME)?
            .into_iter()
            .map(|(k, _)| String::from_utf8_lossy(&k[NAME.len()..]).into_owned())
            .collect())
    }

    /// The metadata entries that name `address` (and make `name` resolve to it) and
    /// `code_hash`, for importing names kept elsewhere.
    pub fn name_entries_for(
        address: Option<&Address>,
        code_hash: Option<&Hash>,
        name: &str,
    ) -> Vec<Entry> {
        let mut out = Vec::new();
        if let Some(a) = address {
            out.push((key(CONTRACT, a), name.as_bytes().to_vec()));
            out.push((key(NAME, name.as_bytes()), a.to_vec()));
        }
        if let Some(h) = code_hash {
            out.push((key(CODE, h), name.as_bytes().to_vec()));
        }
        out
    }
}
