//! Write queues: segments the socket has not taken yet, written with one vectored write.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::Bytes;

/// At most this many segments go into one vectored write (Linux takes up to 1024).
const MAX_SLICES: usize = 64;

/// The front of a write queue as slices for one vectored write.
pub fn slices(queue: &VecDeque<Bytes>) -> Vec<IoSlice<'_>> {
    queue
        .iter()
        .take(MAX_SLICES)
        .map(|b| IoSlice::new(b))
        .collect()
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
    fn slices_cover_the_front() {
        let q: VecDeque<Bytes> = (0..100).map(|_| Bytes::from_static(b"x")).collect();
        assert_eq!(slices(&q).len(), MAX_SLICES);
    }
}
