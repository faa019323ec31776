//! Regression (found by the keel-fuzz `state_model` target): `Overlay::next_entry` panicked
//! inside `BTreeMap::range` on an inverted or empty-excluded range, which a contract can ask
//! for through `storage_next`. It must answer `None`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::ops::Bound;

use keel_state::{MemStore, Overlay, StateRead};

#[test]
fn inverted_and_empty_ranges_hold_nothing() {
    let store = MemStore::new();
    let mut overlay = Overlay::new(&store);
    overlay.put(b"a".to_vec(), b"1".to_vec());
    overlay.put(b"m".to_vec(), b"2".to_vec());
    overlay.delete(b"q".to_vec());
    let (z, a, m): (&[u8], &[u8], &[u8]) = (b"z", b"a", b"m");
    for (lower, upper) in [
        (Bound::Included(z), Bound::Included(a)),
        (Bound::Included(z), Bound::Excluded(a)),
        (Bound::Excluded(z), Bound::Included(a)),
        (Bound::Excluded(m), Bound::Excluded(m)),
        (Bound::Included(m), Bound::Excluded(m)),
        (Bound::Excluded(m), Bound::Included(m)),
    ] {
        assert_eq!(
            overlay.next_entry(lower, upper).unwrap(),
            None,
            "{lower:?}..{upper:?}"
        );
    }
    // Non-empty ranges still work.
    assert_eq!(
        overlay
            .next_entry(Bound::Included(m), Bound::Included(m))
            .unwrap(),
        Some((b"m".to_vec(), b"2".to_vec()))
    );
    assert_eq!(
        overlay
            .next_entry(Bound::Excluded(a), Bound::Unbounded)
            .unwrap(),
        Some((b"m".to_vec(), b"2".to_vec()))
    );
}
