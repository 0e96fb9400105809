//! Several nodes on one bus: broadcasts reach every node's sessions once, honouring
//! `except`; a message for a session on another node reaches it; a node ignores its own
//! publications and anything malformed; with the cluster off nothing is published.

mod support;

use io_core::{Audience, Message, Options, Publication, PublicationError};
use support::*;

fn node(id: u16) -> Bench {
    let mut opts = Options::default();
    opts.node_id = id;
    opts.cluster = true;
    Bench::new(opts)
}

/// Everything `from` published.
fn published(from: &mut Bench) -> Vec<Publication> {
    std::iter::from_fn(|| from.server.poll_publication()).collect()
}

/// Hands each publication to the nodes it is for (all but the publisher for a broadcast),
/// as a bus would; a bus may echo a publication to its publisher too, so `echo` does.
fn carry(publications: &[Publication], nodes: &mut [&mut Bench], echo: bool) {
    for p in publications {
        for n in nodes.iter_mut() {
            let id = n.server.options().node_id;
            let for_it = match p.audience {
                Audience::Everyone => true,
                Audience::Node(to) => to == id,
                _ => false,
            };
            if for_it || echo {
                let now = n.now();
                n.server.handle_publication(&p.bytes, now).unwrap();
                n.drain();
            }
        }
    }
}

#[test]
fn a_broadcast_reaches_every_node_once_but_the_excepted() {
    let (mut a, mut b, mut c) = (node(1), node(2), node(3));
    let (ca, sa) = a.ws_session("/socket.io/websocket");
    let (ca2, _) = a.ws_session("/socket.io/websocket");
    let (cb, sb) = b.ws_session("/socket.io/websocket");
    let (cc, _) = c.ws_session("/socket.io/websocket");
    assert_eq!(sa.node(), 1);
    assert_eq!(sb.node(), 2);

    // From a session on node 1, to all others: node 1's other session directly, the other
    // nodes through the bus, and each publication is encoded once.
    a.broadcast("hi all", &[sa, sb]);
    let p = published(&mut a);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].audience, Audience::Everyone);
    // The bus echoes it to its publisher as well: ignored there.
    carry(&p, &mut [&mut a, &mut b, &mut c], true);
    let frame = |conn, bench: &mut Bench| server_frames(&bench.take(conn));
    assert_eq!(frame(ca, &mut a), vec![]);
    assert_eq!(frame(ca2, &mut a), vec![(1, b"~m~6~m~hi all".to_vec())]);
    assert_eq!(frame(cb, &mut b), vec![], "excepted on another node");
    assert_eq!(frame(cc, &mut c), vec![(1, b"~m~6~m~hi all".to_vec())]);
    // Receiving nodes publish nothing back.
    assert!(published(&mut b).is_empty() && published(&mut c).is_empty());
}

#[test]
fn a_message_for_a_session_on_another_node_goes_to_that_node_only() {
    let (mut a, mut b, mut c) = (node(1), node(2), node(3));
    let (cb, sb) = b.ws_session("/socket.io/websocket");
    let (_cc, sc) = c.ws_session("/socket.io/websocket");
    a.send(sb, Message::json(serde_json::json!({"to": "you"})))
        .unwrap();
    let p = published(&mut a);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].audience, Audience::Node(2));
    carry(&p, &mut [&mut b, &mut c], false);
    let got = server_frames(&b.take(cb));
    assert_eq!(got, vec![(1, br#"~m~15~m~~j~{"to":"you"}"#.to_vec())]);
    // A bus that hands it to the wrong node: that node does not have the session, and
    // drops it.
    carry(&p, &mut [&mut c], true);
    assert!(c.take(_cc).is_empty());
    // A session this node would own but does not have is unknown, as without a cluster.
    let gone = sc.to_string().replacen("0003", "0001", 1).parse().unwrap();
    assert!(a.send(gone, "x").is_err());
}

#[test]
fn malformed_publications_are_refused_and_harm_nobody() {
    let mut a = node(1);
    let (ca, _) = a.ws_session("/socket.io/websocket");
    let now = a.now();
    let bad = bytes::Bytes::from_static(b"IO1 0002 B 0\n~m~9~m~short");
    assert_eq!(
        a.server.handle_publication(&bad, now),
        Err(PublicationError::BadFrame)
    );
    a.drain();
    assert!(a.take(ca).is_empty());
    a.broadcast("still fine", &[]);
    assert_eq!(
        server_frames(&a.take(ca)),
        vec![(1, b"~m~10~m~still fine".to_vec())]
    );
}

#[test]
fn without_the_cluster_nothing_is_published() {
    let mut a = Bench::with_defaults();
    let (_c, sid) = a.ws_session("/socket.io/websocket");
    a.broadcast("local", &[]);
    a.send(sid, "local too").unwrap();
    assert!(published(&mut a).is_empty());
    // A session id of another node is simply unknown.
    let other = sid.to_string().replacen("0000", "0005", 1).parse().unwrap();
    assert!(a.send(other, "x").is_err());
}

#[test]
fn a_draining_node_ends_its_sessions_so_that_clients_go_elsewhere() {
    let mut a = node(1);
    let (ws, ws_sid) = a.ws_session("/socket.io/websocket");
    let (_hs, poll_sid) = a.xhr_handshake();
    let poll = a.open(get(&format!("/socket.io/xhr-polling/{poll_sid}/2")));
    assert!(a.take(poll).is_empty(), "the poll is held");
    let idle = a.connect();
    assert_eq!(a.server.connection_count(), 4);

    a.server.drain(a.now());
    a.drain();
    assert!(a.server.is_draining());
    // The WebSocket is closed as going away (1001), the poll answered empty, and nobody
    // left is told anything else.
    assert_eq!(server_frames(&a.take(ws)), vec![(8, vec![0x03, 0xe9])]);
    let r = a.response(poll);
    assert_eq!((r.status, r.body_text().as_str()), (200, ""));
    let mut ended = a.disconnects();
    ended.sort_by_key(|(s, _)| s.to_string());
    let mut want = vec![
        (ws_sid, io_core::DisconnectReason::Draining),
        (poll_sid, io_core::DisconnectReason::Draining),
    ];
    want.sort_by_key(|(s, _)| s.to_string());
    assert_eq!(ended, want);
    assert!(
        a.is_closed(idle),
        "an idle keep-alive connection closes at once"
    );
    assert!(a.is_closed(poll), "answered, then closed");

    // A new handshake is refused so that a proxy tries another node; an old session's
    // poll is closed unanswered, as for any unknown session (the client starts anew).
    let c = a.open(get("/socket.io/xhr-polling//9"));
    assert_eq!(a.response(c).status, 503);
    assert!(a.is_closed(c), "no keep-alive while draining");
    let c = a.open(get(&format!("/socket.io/xhr-polling/{poll_sid}/3")));
    assert!(a.take(c).is_empty());
    assert!(a.is_closed(c));
    assert_eq!(
        a.server.connection_count(),
        0,
        "nothing left: the process may exit"
    );
}

#[test]
fn a_hixie76_handshake_waiting_for_its_key3_makes_no_session_after_a_drain() {
    let mut a = node(1);
    let c = a.open(hixie76_request("/socket.io/websocket"));
    assert!(
        a.take(c).starts_with(b"HTTP/1.1 101"),
        "the head goes out first"
    );
    a.server.drain(a.now());
    a.drain();
    a.input(c, HIXIE76_KEY3);
    assert!(a.events().is_empty(), "no session on a draining node");
    assert!(a.is_closed(c));
}
