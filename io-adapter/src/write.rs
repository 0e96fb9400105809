//! Write queues: segments the socket has not taken yet, written with one vectored write.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::IoSlice;

use bytes::Bytes;

/// At most this many segments go into one vectored write (Linux takes up to 1024).
const MAX_SLICES: usize = 64;

/// Below this many bytes, copying the segments into one buffer costs less than the kernel's
/// handling of a vectored write (a header and a frame are two segments).
const COALESCE_BELOW: usize = 4096;

/// Joins a queue of small segments into one, so that it goes out in a plain `send`.
pub fn coalesce(queue: &mut VecDeque<Bytes>) {
    if queue.len() < 2 {
        return;
    }
    let total: usize = queue.iter().map(Bytes::len).sum();
    if total >= COALESCE_BELOW {
        return;
    }
    let mut one = Vec::with_capacity(total);
    for b in queue.drain(..) {
        one.extend_from_slice(&b);
    }
    queue.push_back(Bytes::from(one));
}

/// Room for the slices of one vectored write, on the stack: no allocation per write.
pub struct Slices<'a>([IoSlice<'a>; MAX_SLICES]);

impl<'a> Slices<'a> {
    /// Empty room; [`front`](Self::front) fills it for each write.
    pub fn new() -> Self {
        Slices([IoSlice::new(&[]); MAX_SLICES])
    }

    /// The front of `queue`, as many segments as fit.
    pub fn front(&mut self, queue: &'a VecDeque<Bytes>) -> &[IoSlice<'a>] {
        let mut n = 0;
        for (slot, b) in self.0.iter_mut().zip(queue) {
            *slot = IoSlice::new(b);
            n += 1;
        }
        self.0.get(..n).unwrap_or_default()
    }
}

impl Default for Slices<'_> {
    fn default() -> Self {
        Self::new()
    }
}

/// A map keyed by ids that are unique already (connection ids, poller keys): one
/// multiplication is hash enough, and the keys are never chosen by a peer.
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// The hasher of [`FastMap`].
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// Hands `write` the front of a queue as slices: a queue of one segment (the usual case once
/// small segments are joined) as that one slice, without filling the room for many first.
pub fn with_front<T>(queue: &VecDeque<Bytes>, write: impl FnOnce(&[IoSlice<'_>]) -> T) -> T {
    match queue.front() {
        Some(only) if queue.len() == 1 => write(&[IoSlice::new(only)]),
        _ => write(Slices::new().front(queue)),
    }
}

/// Writes the front of a queue: a plain `write` for one segment (the kernel's cheapest
/// path), a vectored write for several.
pub fn write_front(w: &mut impl std::io::Write, queue: &VecDeque<Bytes>) -> std::io::Result<usize> {
    with_front(queue, |bufs| match bufs {
        [one] => w.write(one),
        _ => w.write_vectored(bufs),
    })
}

/// Drops the first `n` bytes of a write queue: what a (vectored) write has taken. Empty
/// segments at the front go too, so a non-empty queue always has bytes to write.
pub fn consume(queue: &mut VecDeque<Bytes>, mut n: usize) {
    while let Some(front) = queue.front_mut() {
        let take = n.min(front.len());
        let _ = front.split_to(take);
        n -= take;
        if !front.is_empty() {
            return;
        }
        queue.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consume_drops_what_was_written() {
        let seg = |s: &'static str| Bytes::from_static(s.as_bytes());
        let mut q: VecDeque<Bytes> = [seg("ab"), seg(""), seg("cde"), seg("f")].into();
        consume(&mut q, 0);
        assert_eq!(q, [seg("ab"), seg(""), seg("cde"), seg("f")]);
        consume(&mut q, 3);
        assert_eq!(q, [seg("de"), seg("f")]);
        consume(&mut q, 3);
        assert!(q.is_empty());
    }

    #[test]
    fn small_segments_are_joined_and_large_ones_left() {
        let mut q: VecDeque<Bytes> =
            [Bytes::from_static(b"\x81\x02"), Bytes::from_static(b"hi")].into();
        coalesce(&mut q);
        assert_eq!(q, [Bytes::from_static(b"\x81\x02hi")]);
        let big = Bytes::from(vec![b'x'; COALESCE_BELOW]);
        let mut q: VecDeque<Bytes> = [Bytes::from_static(b"ab"), big.clone()].into();
        coalesce(&mut q);
        assert_eq!(q.len(), 2);
        assert_eq!(q[1].as_ptr(), big.as_ptr(), "not copied");
    }

    #[test]
    fn slices_cover_the_front() {
        let q: VecDeque<Bytes> = (0..100).map(|_| Bytes::from_static(b"x")).collect();
        assert_eq!(Slices::new().front(&q).len(), MAX_SLICES);
    }
}
