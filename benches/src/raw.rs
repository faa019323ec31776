//! The raw-RocksDB baseline: the same key-value pairs written with one plain `WriteBatch`
//! (WAL on, no fsync, like `keel_state::Store`'s default), into one default column family,
//! with no tree, no versions and no stale index.

use std::path::Path;

use rocksdb::{BlockBasedOptions, Cache, DB, Options, WriteBatch, WriteOptions};

use crate::keel::{filler_key, filler_value};

/// A plain RocksDB with options close to the store's: LRU block cache of 256 MiB, a Bloom
/// filter, 2 background jobs.
pub struct RawDb {
    db: DB,
}

impl RawDb {
    /// Opens (creating) a database in `path`.
    pub fn open(path: &Path) -> Self {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.set_max_background_jobs(2);
        opts.set_keep_log_file_num(4);
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&Cache::new_lru_cache(256 << 20));
        table.set_bloom_filter(10.0, false);
        opts.set_block_based_table_factory(&table);
        RawDb {
            db: DB::open(&opts, path).expect("open raw rocksdb"),
        }
    }

    /// Writes `pairs` in one batch, WAL on, no fsync.
    pub fn write(&self, pairs: &[(Vec<u8>, Vec<u8>)]) {
        let mut batch = WriteBatch::default();
        for (k, v) in pairs {
            batch.put(k, v);
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(false);
        self.db.write_opt(batch, &wo).expect("raw write");
    }

    /// Reads one key.
    pub fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.db.get(key).expect("raw get")
    }

    /// Writes the first `n` filler keys (the ones `keel::fill` writes) in batches of `chunk`.
    pub fn fill(&self, n: u64, chunk: u64) {
        let mut start = 0;
        while start < n {
            let end = (start + chunk).min(n);
            let pairs: Vec<_> = (start..end)
                .map(|i| (filler_key(i), filler_value(i, 0)))
                .collect();
            self.write(&pairs);
            start = end;
        }
    }
}
