//! Rooms: a broadcast to a room reaches its members only, but those excepted, encoded once;
//! membership ends with the session; across nodes through the bus.

mod support;

use io_core::{Audience, Error, Options};
use support::*;

fn frames(b: &mut Bench, c: io_core::ConnId) -> Vec<(u8, Vec<u8>)> {
    server_frames(&b.take(c))
}

#[test]
fn a_room_broadcast_reaches_its_members_only() {
    let mut b = Bench::with_defaults();
    let (ca, a) = b.ws_session("/socket.io/websocket");
    let (cb, sb) = b.ws_session("/socket.io/websocket");
    let (cc, _sc) = b.ws_session("/socket.io/websocket");
    let now = b.now();
    b.server.join(a, "doc:7").unwrap();
    b.server.join(sb, "doc:7").unwrap();
    b.server.join(a, "lobby").unwrap();
    assert_eq!(b.server.rooms(a).collect::<Vec<_>>(), ["doc:7", "lobby"]);
    assert_eq!(b.server.room_members("doc:7").collect::<Vec<_>>(), [a, sb]);

    b.server
        .broadcast_to("doc:7", &"edit".into(), &[a], now)
        .unwrap();
    b.drain();
    assert_eq!(frames(&mut b, ca), vec![], "excepted");
    assert_eq!(frames(&mut b, cb), vec![(1, b"~m~4~m~edit".to_vec())]);
    assert_eq!(frames(&mut b, cc), vec![], "not a member");
    // Leaving: no more.
    b.server.leave(sb, "doc:7").unwrap();
    b.server
        .broadcast_to("doc:7", &"again".into(), &[], now)
        .unwrap();
    b.drain();
    assert_eq!(frames(&mut b, ca), vec![(1, b"~m~5~m~again".to_vec())]);
    assert_eq!(frames(&mut b, cb), vec![]);
    // Bad names and unknown sessions are refused with a reason.
    assert!(matches!(b.server.join(a, ""), Err(Error::InvalidRoom(_))));
    let long = "x".repeat(300);
    assert!(matches!(
        b.server.broadcast_to(&long, &"x".into(), &[], now),
        Err(Error::InvalidRoom(_))
    ));
}

#[test]
fn a_session_leaves_its_rooms_when_it_ends() {
    let mut b = Bench::with_defaults();
    let (_ca, a) = b.ws_session("/socket.io/websocket");
    b.server.join(a, "lobby").unwrap();
    b.disconnect(a).unwrap();
    assert_eq!(b.server.room_members("lobby").count(), 0);
    assert_eq!(b.server.rooms(a).count(), 0);
    assert_eq!(b.server.join(a, "lobby"), Err(Error::UnknownSession(a)));
}

#[test]
fn a_room_spans_the_nodes_of_a_cluster() {
    let node = |id| {
        let mut o = Options::default();
        o.node_id = id;
        o.cluster = true;
        Bench::new(o)
    };
    let (mut n1, mut n2) = (node(1), node(2));
    let (c1, s1) = n1.ws_session("/socket.io/websocket");
    let (c2, s2) = n2.ws_session("/socket.io/websocket");
    let (c2b, _) = n2.ws_session("/socket.io/websocket");
    n1.server.join(s1, "team").unwrap();
    n2.server.join(s2, "team").unwrap();
    let now = n1.now();
    n1.server
        .broadcast_to("team", &"standup".into(), &[s1], now)
        .unwrap();
    n1.drain();
    let p: Vec<_> = std::iter::from_fn(|| n1.server.poll_publication()).collect();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].audience, Audience::Everyone);
    let now = n2.now();
    n2.server.handle_publication(&p[0].bytes, now).unwrap();
    n2.drain();
    assert_eq!(frames(&mut n1, c1), vec![], "the sender was excepted");
    assert_eq!(frames(&mut n2, c2), vec![(1, b"~m~7~m~standup".to_vec())]);
    assert_eq!(frames(&mut n2, c2b), vec![], "not in the room");
}
