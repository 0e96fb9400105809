//! Deadlines as data: a binary heap with lazy cancellation.
//!
//! Every owner (a session or a connection) keeps one generation number per timer kind.
//! Setting or cancelling a timer bumps the generation; heap entries whose generation is
//! stale are skipped when they surface. Finding the next deadline is O(1) amortised, and
//! no tick ever scans all sessions.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use crate::conn::ConnId;
use crate::session::SessionId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum TimerKind {
    /// Time to send the next heartbeat.
    HeartbeatInterval = 0,
    /// A heartbeat went unanswered.
    HeartbeatTimeout = 1,
    /// The session outlived its transport by `close_timeout`.
    Close = 2,
    /// A long poll was held for `duration`.
    PollDuration = 3,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum TimerOwner {
    Session(SessionId),
    /// A connection's request timeout (slow or idle peers).
    Conn(ConnId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Entry {
    pub at: Instant,
    pub owner: TimerOwner,
    pub kind: TimerKind,
    pub generation: u64,
}

/// Generation counters for the timers of one owner.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Generations([u64; 4]);

impl Generations {
    pub fn bump(&mut self, kind: TimerKind) -> u64 {
        let g = &mut self.0[kind as usize];
        *g += 1;
        *g
    }

    pub fn current(&self, kind: TimerKind) -> u64 {
        self.0[kind as usize]
    }
}

#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<Entry>>,
}

impl Timers {
    pub fn push(&mut self, entry: Entry) {
        self.heap.push(Reverse(entry));
    }

    /// The earliest entry, live or stale.
    pub fn peek(&self) -> Option<&Entry> {
        self.heap.peek().map(|r| &r.0)
    }

    pub fn pop(&mut self) -> Option<Entry> {
        self.heap.pop().map(|r| r.0)
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }
}
