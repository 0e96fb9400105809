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

/// The hasher of the core's maps. Their keys are session ids (128 random bits already),
/// connection ids (slot and generation) and timer keys made of those: none is chosen by a
/// peer, so a multiply per word is hash enough, and much cheaper than SipHash.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

const SEED: u64 = 0x9E37_79B9_7F4A_7C15;

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            if let Some(w) = word.get_mut(..chunk.len()) {
                w.copy_from_slice(chunk);
            }
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(SEED);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn write_isize(&mut self, n: isize) {
        self.write_u64(n as u64);
    }
}

/// A map with [`IdHasher`].
pub(crate) type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// Sessions, in slot order, with an index by wire id.
#[derive(Default)]
pub(crate) struct Sessions {
    slots: Slab<(SessionId, Session)>,
    index: IdMap<SessionId, usize>,
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
