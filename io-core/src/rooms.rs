//! Rooms: named groups of sessions that a broadcast can address (a chat room, the readers
//! of one document, every tab of one user). The application puts sessions in and takes
//! them out; a session leaves every room when it ends.

use std::collections::HashMap;

use crate::session::SessionId;

/// The longest room name, in bytes.
pub const MAX_ROOM_NAME: usize = 256;

/// Why a name cannot be a room's.
pub(crate) fn check_name(room: &str) -> Result<(), &'static str> {
    if room.is_empty() {
        return Err("a room name cannot be empty");
    }
    if room.len() > MAX_ROOM_NAME {
        return Err("a room name is at most 256 bytes");
    }
    Ok(())
}

/// Who is in which room, both ways, so that a session's rooms go with it at once.
#[derive(Debug, Default)]
pub(crate) struct Rooms {
    /// Each room's members, in the order they joined.
    members: HashMap<String, Vec<SessionId>>,
    /// Each session's rooms, in the order it joined them.
    of: HashMap<SessionId, Vec<String>>,
}

impl Rooms {
    /// Puts `sid` in `room`; false if it was there already.
    pub fn join(&mut self, sid: SessionId, room: &str) -> bool {
        let rooms = self.of.entry(sid).or_default();
        if rooms.iter().any(|r| r == room) {
            return false;
        }
        rooms.push(room.to_owned());
        self.members.entry(room.to_owned()).or_default().push(sid);
        true
    }

    /// Takes `sid` out of `room`; false if it was not in it.
    pub fn leave(&mut self, sid: SessionId, room: &str) -> bool {
        let Some(rooms) = self.of.get_mut(&sid) else {
            return false;
        };
        let Some(i) = rooms.iter().position(|r| r == room) else {
            return false;
        };
        rooms.remove(i);
        if rooms.is_empty() {
            self.of.remove(&sid);
        }
        self.drop_member(room, sid);
        true
    }

    /// Takes `sid` out of every room (it ended).
    pub fn leave_all(&mut self, sid: SessionId) {
        for room in self.of.remove(&sid).unwrap_or_default() {
            self.drop_member(&room, sid);
        }
    }

    fn drop_member(&mut self, room: &str, sid: SessionId) {
        if let Some(m) = self.members.get_mut(room) {
            m.retain(|s| *s != sid);
            if m.is_empty() {
                self.members.remove(room);
            }
        }
    }

    /// The members of `room`, in the order they joined.
    pub fn members(&self, room: &str) -> &[SessionId] {
        self.members.get(room).map_or(&[], Vec::as_slice)
    }

    /// The rooms of `sid`, in the order it joined them.
    pub fn of(&self, sid: SessionId) -> &[String] {
        self.of.get(&sid).map_or(&[], Vec::as_slice)
    }

    /// How many rooms have members.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn len(&self) -> usize {
        self.members.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_is_kept_both_ways_and_empty_rooms_go() {
        let (a, b) = (SessionId::new(0, 1), SessionId::new(0, 2));
        let mut r = Rooms::default();
        assert!(r.join(a, "lobby"));
        assert!(!r.join(a, "lobby"), "once");
        assert!(r.join(b, "lobby"));
        assert!(r.join(a, "doc:7"));
        assert_eq!(r.members("lobby"), [a, b]);
        assert_eq!(r.of(a), ["lobby", "doc:7"]);
        assert!(r.leave(a, "lobby"));
        assert!(!r.leave(a, "lobby"));
        assert_eq!(r.members("lobby"), [b]);
        r.leave_all(a);
        assert_eq!(r.of(a), [] as [String; 0]);
        assert_eq!(r.members("doc:7"), []);
        assert_eq!(r.len(), 1, "only the lobby is left");
        r.leave_all(b);
        assert_eq!(r.len(), 0);
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("").is_err());
        assert!(check_name(&"x".repeat(257)).is_err());
        assert!(check_name(&"é".repeat(128)).is_ok());
    }
}
