//! The server's two tables: connections in a generational slab, sessions in a slab with an
//! index by wire id.
//!
//! Both iterate in slot order, which depends only on the sequence of inserts and removals,
//! never on process randomness: the same inputs give the same outputs, broadcasts included.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use slab::Slab;

use crate::conn::{Conn, ConnId};
use crate::session::{Session, SessionId};

/// Connections, addressed by [`ConnId`]: a slot index and the generation that filled it,
/// so that an id outlives its connection without ever naming the next one in that slot.
#[derive(Debug, Default)]
pub(crate) struct Conns {
    slots: Slab<(u32, Conn)>,
    generation: u32,
}

impl Conns {
    pub fn insert(&mut self, conn: Conn) -> ConnId {
        self.generation = self.generation.wrapping_add(1);
        let generation = self.generation;
        let index = self.slots.insert((generation, conn));
        ConnId::new(index as u32, generation)
    }

    pub fn get(&self, id: &ConnId) -> Option<&Conn> {
        match self.slots.get(id.index()) {
            Some((g, c)) if *g == id.generation() => Some(c),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, id: &ConnId) -> Option<&mut Conn> {
        match self.slots.get_mut(id.index()) {
            Some((g, c)) if *g == id.generation() => Some(c),
            _ => None,
        }
    }

    pub fn contains_key(&self, id: &ConnId) -> bool {
        self.get(id).is_some()
    }

    pub fn remove(&mut self, id: &ConnId) -> Option<Conn> {
        self.get(id)?;
        let conn = self.slots.remove(id.index()).1;
        // Ids name their slot, so slots cannot move; the free ones at the end can go.
        if wasteful(self.slots.len(), self.slots.capacity()) {
            self.slots.shrink_to_fit();
        }
        Some(conn)
    }

    pub fn keys(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.slots
            .iter()
            .map(|(i, (g, _))| ConnId::new(i as u32, *g))
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }
}

/// Whether a table holds so little of what it has room for that shrinking it pays: a
/// burst of sessions must not keep its memory once it is over.
pub(crate) fn wasteful(len: usize, capacity: usize) -> bool {
    capacity >= 1024 && len < capacity / 4
}

/// Session ids are 128 random bits already: their low 64 bits are as good a hash as any,
/// and cheaper. Ids are chosen by the server, so a peer cannot crowd one bucket.
#[derive(Debug, Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
}

/// Sessions, in slot order, with an index by wire id.
#[derive(Default)]
pub(crate) struct Sessions {
    slots: Slab<(SessionId, Session)>,
    index: HashMap<SessionId, usize, BuildHasherDefault<IdHasher>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.keys()).finish()
    }
}

impl Sessions {
    pub fn insert(&mut self, id: SessionId, session: Session) {
        let slot = self.slots.insert((id, session));
        self.index.insert(id, slot);
    }

    pub fn get(&self, id: &SessionId) -> Option<&Session> {
        let slot = *self.index.get(id)?;
        self.slots.get(slot).map(|(_, s)| s)
    }

    pub fn get_mut(&mut self, id: &SessionId) -> Option<&mut Session> {
        let slot = *self.index.get(id)?;
        self.slots.get_mut(slot).map(|(_, s)| s)
    }

    pub fn contains_key(&self, id: &SessionId) -> bool {
        self.index.contains_key(id)
    }

    pub fn remove(&mut self, id: &SessionId) -> Option<Session> {
        let slot = self.index.remove(id)?;
        let session = self.slots.remove(slot).1;
        // After a burst, give the memory back: sessions move to the front and the index
        // follows them.
        if wasteful(self.slots.len(), self.slots.capacity()) {
            let index = &mut self.index;
            self.slots.compact(|(id, _), _, to| {
                index.insert(*id, to);
                true
            });
            self.index.shrink_to_fit();
        }
        Some(session)
    }

    /// Every session id, in slot order.
    pub fn keys(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.slots.iter().map(|(_, (id, _))| *id)
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }
}
