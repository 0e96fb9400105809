//! Three nodes behind nginx (`examples/nginx/cluster.conf`) sharing broadcasts through
//! Redis, each node a process of its own (`cluster-node`): broadcasts over every transport
//! reach every other client once and in order, a message reaches a session on another
//! node, a killed node leaves the others working, a Redis restart loses no local delivery
//! and the bus recovers by itself, and a drained node's clients start again on the others.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use tests::client::{poll_payload, Client, Ended, Kind};
use tests::cluster::{node_of, Cluster};

const NODE: &str = env!("CARGO_BIN_EXE_cluster-node");

/// Opens clients of `kind` through nginx until every node has one (handshakes go to any
/// node); returns one per node, by node id.
fn one_per_node(cluster: &Cluster, kind: Kind) -> Vec<(u16, Client)> {
    let mut found: Vec<(u16, Client)> = Vec::new();
    for _ in 0..30 {
        let client = Client::open(cluster.public, kind);
        let node = node_of(&client.sid);
        if found.iter().all(|(n, _)| *n != node) {
            found.push((node, client));
        }
        if found.len() == 3 {
            found.sort_by_key(|(n, _)| *n);
            return found;
        }
    }
    panic!("{kind:?}: 30 handshakes through nginx did not reach all three nodes");
}

#[test]
fn a_broadcast_reaches_every_other_client_once_in_order_over_every_transport() {
    let cluster = Cluster::start(NODE);
    let mut clients: Vec<(Kind, u16, Client)> = Vec::new();
    for kind in Kind::ALL {
        for (node, client) in one_per_node(&cluster, kind) {
            clients.push((kind, node, client));
        }
    }
    // Every node's clients send, each a numbered run of messages.
    for sender in [0, 4, 8].map(|i| i % clients.len()) {
        let (kind, node, _) = clients[sender];
        let sent: Vec<String> = (0..3)
            .map(|i| format!("{kind:?} on {node} says {i}"))
            .collect();
        let refs: Vec<&str> = sent.iter().map(String::as_str).collect();
        for m in &refs {
            clients[sender].2.send(&[m]);
        }
        for (i, (k, n, client)) in clients.iter_mut().enumerate() {
            if i == sender {
                continue;
            }
            let got = client.recv(3);
            assert_eq!(got, sent, "{k:?} on node {n}, from {kind:?} on node {node}");
        }
        // Nothing twice, and nothing back to the sender.
        for (i, (k, n, client)) in clients.iter_mut().enumerate() {
            let extra = client.drain_for(Duration::from_millis(if i == sender { 300 } else { 30 }));
            assert_eq!(
                extra,
                Vec::<String>::new(),
                "{k:?} on node {n}: more than once"
            );
        }
    }
}

#[test]
fn a_message_reaches_a_session_on_another_node() {
    let cluster = Cluster::start(NODE);
    let mut ws = one_per_node(&cluster, Kind::WebSocket);
    let mut polls = one_per_node(&cluster, Kind::XhrPolling);
    let (from_node, to_node) = (1, 3);
    let target = polls
        .iter()
        .find(|(n, _)| *n == to_node)
        .unwrap()
        .1
        .sid
        .clone();
    let sender = &mut ws.iter_mut().find(|(n, _)| *n == from_node).unwrap().1;
    let sender_sid = sender.sid.clone();
    sender.send(&[&format!("to {target} hello node {to_node}")]);
    let receiver = &mut polls.iter_mut().find(|(n, _)| *n == to_node).unwrap().1;
    assert_eq!(
        receiver.recv(1),
        [format!("from {sender_sid}: hello node {to_node}")]
    );
    // And back, from a polling session to a WebSocket one on another node.
    let receiver_sid = receiver.sid.clone();
    receiver.send(&[&format!("to {sender_sid} and back")]);
    let sender = &mut ws.iter_mut().find(|(n, _)| *n == from_node).unwrap().1;
    assert_eq!(sender.recv(1), [format!("from {receiver_sid}: and back")]);
    // Nobody else heard either.
    for (_, c) in ws.iter_mut().chain(polls.iter_mut()) {
        assert_eq!(c.drain_for(Duration::from_millis(50)), Vec::<String>::new());
    }
}

#[test]
fn a_killed_node_ends_its_own_sessions_only() {
    let mut cluster = Cluster::start(NODE);
    let mut ws = one_per_node(&cluster, Kind::WebSocket);
    cluster.node(2).kill();
    let (_, mut lost) = ws.remove(1);
    let rest = lost.conn().read_to_close(Duration::from_secs(5));
    assert!(rest.is_empty() && lost.conn().is_eof(), "{rest:?}");
    // The other two still talk, and new clients still get in, on the living nodes.
    ws[0].1.send(&["still here"]);
    assert_eq!(ws[1].1.recv(1), ["still here"]);
    for _ in 0..6 {
        let mut c = Client::open(cluster.public, Kind::XhrPolling);
        assert_ne!(node_of(&c.sid), 2, "a handshake went to the dead node");
        ws[0].1.send(&["and to newcomers"]);
        assert_eq!(c.recv(1), ["and to newcomers"]);
    }
}

#[test]
fn a_redis_restart_loses_no_local_delivery_and_the_bus_recovers() {
    let mut cluster = Cluster::start(NODE);
    let mut ws = one_per_node(&cluster, Kind::WebSocket);
    let mut second_on_1 = loop {
        let c = Client::open(cluster.public, Kind::WebSocket);
        if node_of(&c.sid) == 1 {
            break c;
        }
    };
    cluster.redis.stop();
    // Local delivery goes on without Redis.
    for i in 0..5 {
        ws[0].1.send(&[&format!("local {i}")]);
        assert_eq!(second_on_1.recv(1), [format!("local {i}")]);
    }
    cluster.redis.restart();
    // Within seconds, broadcasts cross nodes again (what was sent meanwhile may be lost:
    // at most once).
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut recovered = BTreeSet::new();
    let mut n = 0;
    while recovered.len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the bus did not recover: {recovered:?}"
        );
        n += 1;
        let probe = format!("probe {n}");
        ws[0].1.send(&[&probe]);
        assert_eq!(
            second_on_1.recv(1),
            std::slice::from_ref(&probe),
            "local, always"
        );
        for (node, c) in ws.iter_mut().skip(1) {
            if c.drain_for(Duration::from_millis(100)).contains(&probe) {
                recovered.insert(*node);
            }
        }
    }
}

#[test]
fn a_drained_node_sends_its_clients_to_the_others() {
    let mut cluster = Cluster::start(NODE);
    let mut ws = one_per_node(&cluster, Kind::WebSocket);
    let mut polls = one_per_node(&cluster, Kind::XhrPolling);
    let mut poll_on_3 = polls.remove(2).1;
    poll_on_3.hold_poll();
    // The poll must be held at node 3 before the drain: one that arrives after it names a
    // session that is gone, and is closed unanswered (nginx then says 502). Nothing tells
    // the client that its poll arrived, so give it time to.
    std::thread::sleep(Duration::from_millis(300));
    cluster.node(3).drain();
    // Its WebSocket is closed as going away, its held poll answered empty (nginx keeps
    // the client's connection open after that, as a proxy may).
    assert_eq!(
        ws.remove(2).1.ended(Duration::from_secs(5)),
        Ended::Close(1001)
    );
    let answer = poll_on_3.conn().read_response();
    assert_eq!(poll_payload(Kind::XhrPolling, &answer), "");
    assert!(
        cluster.node(3).wait_exit(Duration::from_secs(6)),
        "node 3 exits once drained"
    );
    // Its clients start again through nginx, on the other nodes, and hear broadcasts.
    for kind in [Kind::WebSocket, Kind::XhrPolling, Kind::HtmlFile] {
        let mut again = Client::open(cluster.public, kind);
        assert_ne!(node_of(&again.sid), 3, "{kind:?}");
        ws[0].1.send(&["welcome back"]);
        assert_eq!(again.recv(1), ["welcome back"], "{kind:?}");
        assert_eq!(ws[1].1.recv(1), ["welcome back"]);
    }
}
