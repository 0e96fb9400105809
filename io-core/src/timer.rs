//! Deadlines as data: an indexed binary heap with one slot per owner and kind.
//!
//! Arming a timer that is already armed moves its entry; cancelling removes it. The heap
//! therefore holds exactly the live timers, however often they are re-armed (a poll cycle
//! re-arms several), and the next deadline is always the top entry. Equal deadlines fire in
//! the order they were armed, so the same inputs always give the same outputs.

use std::time::Instant;

use crate::conn::ConnId;
use crate::session::SessionId;
use crate::table::IdMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum TimerKind {
    /// Time to send the next heartbeat.
    HeartbeatInterval = 0,
    /// A heartbeat went unanswered.
    HeartbeatTimeout = 1,
    /// The session outlived its transport by `close_timeout`; for a connection, its
    /// request timeout.
    Close = 2,
    /// A long poll was held for `duration`.
    PollDuration = 3,
}

impl TimerKind {
    pub const ALL: [TimerKind; 4] = [
        TimerKind::HeartbeatInterval,
        TimerKind::HeartbeatTimeout,
        TimerKind::Close,
        TimerKind::PollDuration,
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum TimerOwner {
    Session(SessionId),
    /// A connection's request timeout (slow or idle peers).
    Conn(ConnId),
}

/// Which timer: at most one is armed per owner and kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct TimerKey {
    pub owner: TimerOwner,
    pub kind: TimerKind,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    at: Instant,
    /// Arming order, so that equal deadlines fire in a fixed order.
    seq: u64,
    key: TimerKey,
}

impl Entry {
    fn before(&self, other: &Entry) -> bool {
        (self.at, self.seq) < (other.at, other.seq)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: Vec<Entry>,
    /// Where each armed timer sits in `heap`.
    index: IdMap<TimerKey, usize>,
    seq: u64,
}

impl Timers {
    /// Arms `key` for `at`, replacing its earlier deadline if it had one.
    #[expect(
        clippy::indexing_slicing,
        reason = "heap positions come from the heap itself or its index: always below its length"
    )]
    pub fn set(&mut self, key: TimerKey, at: Instant) {
        self.seq += 1;
        let entry = Entry {
            at,
            seq: self.seq,
            key,
        };
        match self.index.get(&key).copied() {
            Some(pos) => {
                self.heap[pos] = entry;
                self.restore(pos, true);
            }
            None => {
                self.heap.push(entry);
                let pos = self.heap.len() - 1;
                self.index.insert(key, pos);
                self.restore(pos, true);
            }
        }
    }

    /// Disarms `key`, if it was armed.
    pub fn cancel(&mut self, key: TimerKey) {
        if let Some(pos) = self.index.remove(&key) {
            self.remove_at(pos);
        }
    }

    /// Disarms every timer of `owner`.
    pub fn cancel_owner(&mut self, owner: TimerOwner) {
        for kind in TimerKind::ALL {
            self.cancel(TimerKey { owner, kind });
        }
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        self.heap.first().map(|e| e.at)
    }

    /// Removes and returns the earliest timer if it is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<TimerKey> {
        let top = *self.heap.first()?;
        if top.at > now {
            return None;
        }
        self.index.remove(&top.key);
        self.remove_at(0);
        Some(top.key)
    }

    /// How many timers are armed.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    fn remove_at(&mut self, pos: usize) {
        self.heap.swap_remove(pos);
        if crate::table::wasteful(self.heap.len(), self.heap.capacity()) {
            self.heap.shrink_to(self.heap.len() * 2);
            self.index.shrink_to(self.heap.len() * 2);
        }
        if pos < self.heap.len() {
            // The last entry moved into the gap: the index does not know yet.
            self.restore(pos, false);
        }
    }

    /// Restores the heap order after the entry at `pos` changed: it moves up while it is due
    /// before its parent, else down while a child is due before it. Entries move into the
    /// hole rather than being swapped, so each one that moves updates the index once.
    /// `known`: the index already says `pos` for this entry.
    #[expect(
        clippy::indexing_slicing,
        reason = "heap positions come from the heap itself or its index: always below its length"
    )]
    fn restore(&mut self, pos: usize, known: bool) {
        let entry = self.heap[pos];
        let len = self.heap.len();
        let mut hole = pos;
        while hole > 0 {
            let parent = (hole - 1) / 2;
            if !entry.before(&self.heap[parent]) {
                break;
            }
            self.heap[hole] = self.heap[parent];
            self.place(hole);
            hole = parent;
        }
        if hole == pos {
            loop {
                let (l, r) = (2 * hole + 1, 2 * hole + 2);
                if l >= len {
                    break;
                }
                let child = if r < len && self.heap[r].before(&self.heap[l]) {
                    r
                } else {
                    l
                };
                if !self.heap[child].before(&entry) {
                    break;
                }
                self.heap[hole] = self.heap[child];
                self.place(hole);
                hole = child;
            }
        }
        if hole != pos || !known {
            self.heap[hole] = entry;
            self.place(hole);
        }
    }

    /// Records in the index where the entry at `pos` now is.
    #[expect(
        clippy::indexing_slicing,
        reason = "heap positions come from the heap itself or its index: always below its length"
    )]
    fn place(&mut self, pos: usize) {
        if let Some(slot) = self.index.get_mut(&self.heap[pos].key) {
            *slot = pos;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use std::time::Duration;

    fn key(n: u64, kind: usize) -> TimerKey {
        TimerKey {
            owner: TimerOwner::Conn(ConnId::new(n as u32, (n >> 32) as u32)),
            kind: TimerKind::ALL[kind % 4],
        }
    }

    proptest! {
        /// Against a model: the heap always yields the earliest armed timer, ties in arming
        /// order, and holds exactly the armed timers.
        #[test]
        fn behaves_like_a_sorted_map(ops in prop::collection::vec((0u8..3, 0u64..20, 0usize..4, 0u64..50), 1..300)) {
            let base = Instant::now();
            let mut timers = Timers::default();
            let mut model: BTreeMap<TimerKey, (Instant, u64)> = BTreeMap::new();
            let mut seq = 0;
            for (op, owner, kind, at) in ops {
                let k = key(owner, kind);
                match op {
                    0 | 1 => {
                        seq += 1;
                        let at = base + Duration::from_millis(at);
                        timers.set(k, at);
                        model.insert(k, (at, seq));
                    }
                    _ => {
                        timers.cancel(k);
                        model.remove(&k);
                    }
                }
                prop_assert_eq!(timers.len(), model.len());
                // The index says where every entry is, and the heap is in order.
                for (i, e) in timers.heap.iter().enumerate() {
                    prop_assert_eq!(timers.index.get(&e.key).copied(), Some(i));
                    if i > 0 {
                        prop_assert!(!e.before(&timers.heap[(i - 1) / 2]));
                    }
                }
                let earliest = model.iter().min_by_key(|(_, v)| **v).map(|(_, v)| v.0);
                prop_assert_eq!(timers.next(), earliest);
            }
            let mut last = (base, 0);
            while let Some(k) = timers.pop_due(base + Duration::from_secs(1)) {
                let v = model.remove(&k).unwrap();
                prop_assert!(v >= last);
                last = v;
            }
            prop_assert!(model.is_empty());
        }
    }

    #[test]
    fn re_arming_does_not_grow_storage() {
        let base = Instant::now();
        let mut timers = Timers::default();
        for i in 0..10_000u64 {
            timers.set(key(i % 3, 0), base + Duration::from_millis(i));
        }
        assert_eq!(timers.len(), 3);
        assert_eq!(timers.index.len(), 3);
    }
}
