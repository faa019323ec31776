//! [`Overlay`]: the write buffer a block executes in.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::{ChangeSet, StateError, StateRead};

/// A handle to a checkpoint, returned by [`Overlay::checkpoint`]. Checkpoints nest like call
/// frames: only the innermost open one can be committed or reverted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a checkpoint must be committed or reverted"]
pub struct Checkpoint {
    depth: usize,
}

/// A journaled write: the key and its previous entry in `writes` (`None`: it had none).
type JournalEntry = (Vec<u8>, Option<Option<Vec<u8>>>);

/// A read-through overlay over a [`StateRead`] base, with nested checkpoints.
///
/// Writes land in an ordered map; reads look there first and fall through to the base.
/// Every write is journaled with the value it replaced, so reverting a checkpoint undoes
/// exactly the writes made since it, in reverse order. Committing a checkpoint just forgets
/// it: its writes become part of the enclosing frame and can still be reverted with it.
///
/// Invariant: the overlay's view is always `base` with `writes` applied on top, and
/// reverting a checkpoint restores `writes` to exactly what it was when the checkpoint opened.
///
/// ```
/// use keel_state::{MemStore, Overlay, StateRead};
/// let store = MemStore::new();
/// let mut overlay = Overlay::new(&store);
/// overlay.put(b"a".to_vec(), b"1".to_vec());
/// let frame = overlay.checkpoint();
/// overlay.put(b"a".to_vec(), b"2".to_vec());
/// overlay.revert(frame);
/// assert_eq!(overlay.get(b"a").unwrap(), Some(b"1".to_vec()));
/// assert_eq!(overlay.into_changes().len(), 1);
/// ```
#[derive(Debug)]
pub struct Overlay<S> {
    base: S,
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// `(key, previous entry in writes)`, in write order.
    journal: Vec<JournalEntry>,
    /// Journal length at each open checkpoint.
    checkpoints: Vec<usize>,
}

impl<S: StateRead> Overlay<S> {
    /// An empty overlay over `base`.
    pub fn new(base: S) -> Self {
        Self {
            base,
            writes: BTreeMap::new(),
            journal: Vec::new(),
            checkpoints: Vec::new(),
        }
    }

    /// The state underneath.
    pub fn base(&self) -> &S {
        &self.base
    }

    /// Sets `key` to `value`.
    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.write(key, Some(value));
    }

    /// Removes `key`.
    pub fn delete(&mut self, key: Vec<u8>) {
        self.write(key, None);
    }

    fn write(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        let previous = self.writes.insert(key.clone(), value);
        if !self.checkpoints.is_empty() {
            self.journal.push((key, previous));
        }
    }

    /// Opens a nested checkpoint.
    pub fn checkpoint(&mut self) -> Checkpoint {
        self.checkpoints.push(self.journal.len());
        Checkpoint {
            depth: self.checkpoints.len(),
        }
    }

    /// The number of open checkpoints.
    pub fn depth(&self) -> usize {
        self.checkpoints.len()
    }

    /// Keeps the writes made since `checkpoint` (they now belong to the enclosing frame).
    ///
    /// Checkpoints must be closed innermost first; closing an outer one also closes (commits)
    /// any inner ones still open.
    pub fn commit(&mut self, checkpoint: Checkpoint) {
        self.checkpoints
            .truncate(checkpoint.depth.saturating_sub(1));
        if self.checkpoints.is_empty() {
            self.journal.clear();
        }
    }

    /// Undoes every write made since `checkpoint`, including those of inner checkpoints.
    pub fn revert(&mut self, checkpoint: Checkpoint) {
        let Some(&start) = self.checkpoints.get(checkpoint.depth.wrapping_sub(1)) else {
            return;
        };
        while self.journal.len() > start {
            let Some((key, previous)) = self.journal.pop() else {
                break;
            };
            match previous {
                Some(prev) => {
                    self.writes.insert(key, prev);
                }
                None => {
                    self.writes.remove(&key);
                }
            }
        }
        self.checkpoints.truncate(checkpoint.depth - 1);
    }

    /// The net changes against the base, in key order. Open checkpoints are ignored.
    pub fn changes(&self) -> ChangeSet {
        self.writes
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Consumes the overlay, returning its net changes.
    pub fn into_changes(self) -> ChangeSet {
        self.writes.into_iter().collect()
    }
}

impl<S: StateRead> StateRead for Overlay<S> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        match self.writes.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.base.get(key),
        }
    }

    fn next_entry(
        &self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
    ) -> Result<Option<(Vec<u8>, Vec<u8>)>, StateError> {
        Ok(self
            .next_entry_metered(lower, upper, u64::MAX, |_| 0)?
            .entry)
    }
}

/// What [`Overlay::next_entry_metered`] passed over on its way to the entry it returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skipped {
    /// A deletion in the overlay that hid nothing in the base.
    Tombstone,
    /// An entry of the base hidden by a deletion in the overlay, with its key and value
    /// lengths: the base read it in full.
    Hidden {
        /// The key's length.
        key_len: usize,
        /// The value's length.
        value_len: usize,
    },
}

/// The result of [`Overlay::next_entry_metered`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seek {
    /// The first entry in range, or `None`: none, or the budget ran out first.
    pub entry: Option<(Vec<u8>, Vec<u8>)>,
    /// The sum of the costs of everything skipped.
    pub spent: u64,
    /// The budget ran out before the search ended (`entry` is then `None`).
    pub exhausted: bool,
    /// Queries made to the base (at most one more than the hidden entries skipped).
    pub base_queries: u64,
}

impl<S: StateRead> Overlay<S> {
    /// [`StateRead::next_entry`], metered: every entry the search passes over costs
    /// `cost(skipped)`, and the search stops (`exhausted`) as soon as the total would exceed
    /// `budget`. The base is queried once, plus once after each base entry hidden by a
    /// deletion; deletions that hide nothing cost no base query. So the work of one call is
    /// bounded by what its caller can pay, whatever the block has deleted before it.
    pub fn next_entry_metered(
        &self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        budget: u64,
        mut cost: impl FnMut(Skipped) -> u64,
    ) -> Result<Seek, StateError> {
        let mut seek = Seek {
            entry: None,
            spent: 0,
            exhausted: false,
            base_queries: 0,
        };
        // An empty or inverted range (a contract's `storage_next` query can be anything) holds
        // nothing; `BTreeMap::range` below would panic on it.
        if range_is_empty(lower, upper) {
            return Ok(seek);
        }
        seek.base_queries += 1;
        let mut from_base = self.base.next_entry(lower, upper)?;
        let mut lower: Bound<Vec<u8>> = lower.map(<[u8]>::to_vec);
        loop {
            let lo = lower.as_ref().map(Vec::as_slice);
            let from_writes = self
                .writes
                .range::<[u8], _>((lo, upper))
                .next()
                .map(|(k, v)| (k.as_slice(), v.as_deref()));
            let (wk, wv) = match (from_base, from_writes) {
                (None, None) => return Ok(seek),
                (Some(entry), None) => {
                    seek.entry = Some(entry);
                    return Ok(seek);
                }
                (base, Some(w)) => {
                    if let Some((bk, bv)) = base {
                        if bk.as_slice() < w.0 {
                            seek.entry = Some((bk, bv));
                            return Ok(seek);
                        }
                        from_base = Some((bk, bv));
                    } else {
                        from_base = None;
                    }
                    w
                }
            };
            if let Some(v) = wv {
                seek.entry = Some((wk.to_vec(), v.to_vec()));
                return Ok(seek);
            }
            // A tombstone: skip past it. If it hides the base's next entry, the base is asked
            // for the one after; otherwise the base's answer still stands.
            let hidden = from_base
                .as_ref()
                .filter(|(bk, _)| bk.as_slice() == wk)
                .map(|(bk, bv)| Skipped::Hidden {
                    key_len: bk.len(),
                    value_len: bv.len(),
                });
            let c = cost(hidden.unwrap_or(Skipped::Tombstone));
            match seek.spent.checked_add(c).filter(|s| *s <= budget) {
                Some(spent) => seek.spent = spent,
                None => {
                    seek.exhausted = true;
                    return Ok(seek);
                }
            }
            let wk = wk.to_vec();
            if hidden.is_some() {
                seek.base_queries += 1;
                from_base = self.base.next_entry(Bound::Excluded(&wk), upper)?;
            }
            lower = Bound::Excluded(wk);
        }
    }
}

/// Whether no key lies between `lower` and `upper` in a way `BTreeMap::range` rejects: the
/// start above the end, or equal ends both excluded.
fn range_is_empty(lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> bool {
    match (lower, upper) {
        (Bound::Unbounded, _) | (_, Bound::Unbounded) => false,
        (Bound::Included(l), Bound::Included(u)) => l > u,
        (Bound::Included(l), Bound::Excluded(u))
        | (Bound::Excluded(l), Bound::Included(u))
        | (Bound::Excluded(l), Bound::Excluded(u)) => l >= u,
    }
}
