//! Fixed-size buffers, so that contracts can encode and decode SCALE values without an
//! allocator. A value that does not fit reverts with a clear message, or, with the `alloc`
//! feature, falls back to a heap buffer.

use parity_scale_codec::{Encode, Output};

/// Size of the stack buffers used to encode a value or read one from the host.
pub const STACK_BUF: usize = 512;

/// A SCALE [`Output`] writing into a borrowed byte slice. Writing past its end sets an
/// overflow flag instead of panicking; [`BufWriter::as_slice`] then returns `None`.
pub struct BufWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
    overflow: bool,
}

impl<'a> BufWriter<'a> {
    /// A writer filling `buf` from its start.
    pub fn new(buf: &'a mut [u8]) -> Self {
        BufWriter {
            buf,
            len: 0,
            overflow: false,
        }
    }

    /// The bytes written so far, or `None` if a write did not fit.
    pub fn as_slice(&self) -> Option<&[u8]> {
        if self.overflow {
            None
        } else {
            self.buf.get(..self.len)
        }
    }

    /// Number of bytes written so far (excluding any that overflowed).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether a write did not fit.
    pub fn overflowed(&self) -> bool {
        self.overflow
    }
}

impl Output for BufWriter<'_> {
    fn write(&mut self, bytes: &[u8]) {
        if self.overflow {
            return;
        }
        let dst = self
            .len
            .checked_add(bytes.len())
            .and_then(|end| self.buf.get_mut(self.len..end));
        match dst {
            Some(dst) => {
                // SAFETY: `dst` is exactly `bytes.len()` writable bytes (the range above), and a
                // `&mut` slice cannot overlap the shared `bytes`. (A plain `copy_from_slice`
                // would carry a length-mismatch panic, and with it the formatting machinery.)
                unsafe {
                    core::ptr::copy_nonoverlapping(bytes.as_ptr(), dst.as_mut_ptr(), dst.len())
                };
                self.len += bytes.len();
            }
            None => self.overflow = true,
        }
    }
}

#[cfg(not(feature = "alloc"))]
#[cold]
fn too_large() -> ! {
    crate::env::revert_str(
        "keel-sdk: value larger than the 512-byte stack buffer (enable keel-sdk's `alloc` feature)",
    )
}

/// Encodes `prefix ‖ SCALE(value)` and passes the bytes to `f`, without allocating when they fit
/// in [`STACK_BUF`] bytes.
pub fn with_encoded<T: Encode + ?Sized, R>(
    prefix: &[u8],
    value: &T,
    f: impl FnOnce(&[u8]) -> R,
) -> R {
    let mut stack = [0u8; STACK_BUF];
    let mut w = BufWriter::new(&mut stack);
    w.write(prefix);
    value.encode_to(&mut w);
    if let Some(bytes) = w.as_slice() {
        return f(bytes);
    }
    #[cfg(feature = "alloc")]
    {
        let mut v = alloc::vec::Vec::with_capacity(prefix.len() + value.size_hint());
        v.extend_from_slice(prefix);
        value.encode_to(&mut v);
        f(&v)
    }
    #[cfg(not(feature = "alloc"))]
    too_large()
}

/// Reads a host-provided byte string through `read` (which copies what fits into its argument
/// and returns the full length, or `None` if there is nothing) and passes it to `f`. Without
/// allocating when it fits in [`STACK_BUF`] bytes.
pub fn with_read<R>(
    mut read: impl FnMut(&mut [u8]) -> Option<usize>,
    f: impl FnOnce(&[u8]) -> R,
) -> Option<R> {
    let mut stack = [0u8; STACK_BUF];
    let len = read(&mut stack)?;
    if let Some(bytes) = stack.get(..len) {
        return Some(f(bytes));
    }
    #[cfg(feature = "alloc")]
    {
        let mut v = alloc::vec![0u8; len];
        let again = read(&mut v)?;
        v.truncate(again);
        Some(f(&v))
    }
    #[cfg(not(feature = "alloc"))]
    too_large()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_fills_and_overflows() {
        let mut b = [0u8; 4];
        let mut w = BufWriter::new(&mut b);
        w.write(&[1, 2]);
        assert_eq!(w.as_slice(), Some(&[1u8, 2][..]));
        w.write(&[3, 4, 5]);
        assert!(w.overflowed());
        assert_eq!(w.as_slice(), None);
        assert_eq!(w.len(), 2);
    }

    #[test]
    fn encodes_with_prefix() {
        let r = with_encoded(b"k", &(7u32, [9u8; 2]), |b| b.to_vec());
        assert_eq!(r, [b'k', 7, 0, 0, 0, 9, 9]);
    }

    #[test]
    fn reads_into_stack_buffer() {
        let r = with_read(
            |out| {
                out[..3].copy_from_slice(b"abc");
                Some(3)
            },
            |b| b.to_vec(),
        );
        assert_eq!(r.as_deref(), Some(&b"abc"[..]));
        assert_eq!(with_read(|_| None, |b| b.len()), None);
    }
}
