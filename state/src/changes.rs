//! [`ChangeSet`]: the ordered batch of puts and deletes applied by one commit.

use std::collections::BTreeMap;

use parity_scale_codec::{Decode, Encode};

/// An ordered set of changes: `Some(value)` puts, `None` deletes. A later change to the same
/// key replaces an earlier one. Ordered by key, so iteration and encoding are deterministic.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct ChangeSet {
    entries: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl ChangeSet {
    /// An empty change set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a put.
    pub fn put(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.entries.insert(key.into(), Some(value.into()));
    }

    /// Records a delete.
    pub fn delete(&mut self, key: impl Into<Vec<u8>>) {
        self.entries.insert(key.into(), None);
    }

    /// Records a put (`Some`) or a delete (`None`).
    pub fn set(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        self.entries.insert(key, value);
    }

    /// The number of changed keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The changes in ascending key order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], Option<&[u8]>)> {
        self.entries
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_deref()))
    }

    /// The change recorded for `key`, if any: `Some(None)` is a delete.
    pub fn get(&self, key: &[u8]) -> Option<Option<&[u8]>> {
        self.entries.get(key).map(|v| v.as_deref())
    }
}

impl FromIterator<(Vec<u8>, Option<Vec<u8>>)> for ChangeSet {
    fn from_iter<I: IntoIterator<Item = (Vec<u8>, Option<Vec<u8>>)>>(iter: I) -> Self {
        Self {
            entries: iter.into_iter().collect(),
        }
    }
}

impl IntoIterator for ChangeSet {
    type Item = (Vec<u8>, Option<Vec<u8>>);
    type IntoIter = std::collections::btree_map::IntoIter<Vec<u8>, Option<Vec<u8>>>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}
