//! Faults over real sockets: a thousand sessions over five transports exchange numbered
//! messages while a tenth of them vanish abruptly (a reset, a plain close, in the middle of
//! a request, of a frame, of a long poll) and half-made handshakes are dropped beside them.
//! Every survivor gets every echo, in order; every session that vanished is disconnected
//! exactly once; and once everyone has left, sessions and timers are back to zero.

use std::time::{Duration, Instant};

use tests::client::{hixie_request, rfc6455_request, text_frame, Client, Kind};
use tests::ours::{ours_on, test_options, Adapter, Ours};
use tests::per_adapter;
use tests::raw::{request, Conn};
use tests::scripts::KEY3;

per_adapter!(a_tenth_vanish_and_nothing_is_lost);

const SESSIONS: usize = 1000;
/// How long a polling session outlives its last poll: longer than a round takes.
const POLL_CLOSE_TIMEOUT: Duration = Duration::from_secs(3);
/// Every wait in this test is bounded by this.
const PATIENCE: Duration = Duration::from_secs(30);

fn kind_of(i: usize) -> Kind {
    match i % 10 {
        0..=3 => Kind::WebSocket,
        4 | 5 => Kind::Hixie76,
        6 | 7 => Kind::XhrPolling,
        8 => Kind::HtmlFile,
        _ => Kind::JsonpPolling,
    }
}

/// One round: every client still here sends its next numbered message and must get exactly
/// that echo back, in order.
fn round(clients: &mut [(usize, Client)], r: usize) {
    for (i, c) in clients.iter_mut() {
        c.echo_each(&[&format!("client {i} message {r}")]);
    }
}

/// Makes a client vanish in one of several abrupt ways.
fn vanish(i: usize, mut client: Client) {
    let addr = client.addr;
    match (client.kind, i / 10 % 4) {
        // Unread bytes in its receive queue when it closes: the kernel sends a reset.
        (Kind::WebSocket | Kind::Hixie76, 0) => {
            client.send(&["unread"]);
            std::thread::sleep(Duration::from_millis(20));
        }
        // Half a frame, then gone.
        (Kind::WebSocket, 1) => {
            let frame = text_frame("~m~5~m~half!");
            client.conn().send(&frame[..frame.len() / 2]);
        }
        (Kind::Hixie76, 1) => client.conn().send(b"\x00~m~5~m~ha"),
        // In the middle of a long poll.
        (Kind::XhrPolling | Kind::JsonpPolling, 0 | 1) => client.hold_poll(),
        // In the middle of a POST: the head and part of the body.
        (Kind::XhrPolling | Kind::JsonpPolling | Kind::HtmlFile, _) => {
            let path = format!(
                "/socket.io/{}/{}/send",
                client.kind.transport().name(),
                client.sid
            );
            let mut post = Conn::connect(addr);
            let head = request(addr, "POST", &path, &[("Content-Length", "100")], &[]);
            // `request` wrote a length of 0 for an empty body; send ours instead.
            let head = String::from_utf8_lossy(&head).replace("Content-Length: 0\r\n", "");
            post.send(head.as_bytes());
            post.send(b"data=%7Em%7E");
        }
        // Otherwise a plain close.
        _ => {}
    }
    drop(client);
}

/// Connections that start a handshake and vanish before it ends: no session may come of it.
fn half_handshakes(addr: std::net::SocketAddr) {
    for i in 0..20 {
        let mut conn = Conn::connect(addr);
        let bytes = match i % 4 {
            0 => rfc6455_request(addr, "/socket.io/websocket")[..40].to_vec(),
            1 => {
                let mut b = hixie_request(addr, "/socket.io/websocket", true);
                b.extend_from_slice(&KEY3[..3]);
                b
            }
            2 => request(addr, "GET", "/socket.io/xhr-polling//1", &[], &[])[..20].to_vec(),
            _ => b"GET /socket.io/htmlfile//1 HTTP/1.1\r\nHo".to_vec(),
        };
        conn.send(&bytes);
    }
}

fn wait_for(server: &Ours, what: &str, mut done: impl FnMut(&Ours) -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done(server) {
        assert!(
            Instant::now() < deadline,
            "{what}: sessions {}, timers {}, disconnects {}",
            server.session_count(),
            server.timer_count(),
            server.disconnects()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn a_tenth_vanish_and_nothing_is_lost(adapter: Adapter) {
    let mut options = test_options();
    // A thousand sessions from one address in a few seconds: a test, not a flood.
    options.limits.max_new_sessions_per_peer = 0;
    options.for_each_transport(|kind, t| {
        // No heartbeats to answer within the test; polling sessions that stop polling end
        // after a few seconds.
        t.heartbeat_interval = Duration::from_secs(120);
        if kind.is_polling() {
            t.close_timeout = POLL_CLOSE_TIMEOUT;
        }
    });
    let server = ours_on(adapter, "echo", options);
    let addr = server.target.addr;
    assert_eq!((server.session_count(), server.timer_count()), (0, 0));

    let mut clients: Vec<(usize, Client)> = (0..SESSIONS)
        .map(|i| (i, Client::open(addr, kind_of(i))))
        .collect();
    assert_eq!(server.session_count(), SESSIONS);
    round(&mut clients, 0);

    // Round 1, with every tenth client vanishing on its turn.
    let mut survivors = Vec::new();
    let mut vanished = 0;
    for (i, mut c) in clients {
        // One in every ten, each ten a different transport's turn.
        if i % 10 == [0, 4, 6, 8, 9][i / 10 % 5] {
            vanish(i, c);
            vanished += 1;
        } else {
            c.echo_each(&[&format!("client {i} message 1")]);
            survivors.push((i, c));
        }
        if i == SESSIONS / 2 {
            half_handshakes(addr);
        }
    }
    assert_eq!(vanished, SESSIONS / 10);
    let alive = SESSIONS - vanished;

    // Messages go on flowing until the server has let go of every vanished session; the
    // rounds keep the surviving polling sessions polling meanwhile.
    let deadline = Instant::now() + PATIENCE;
    let mut r = 2;
    while server.session_count() > alive {
        assert!(
            Instant::now() < deadline,
            "{} sessions",
            server.session_count()
        );
        round(&mut survivors, r);
        r += 1;
    }
    round(&mut survivors, r);
    assert_eq!(server.session_count(), alive);
    assert_eq!(
        server.disconnects(),
        vanished,
        "each vanished session ends exactly once"
    );

    // Everyone leaves: back to nothing, each session disconnected once in all.
    drop(survivors);
    wait_for(&server, "after everyone left", |s| {
        s.session_count() == 0 && s.timer_count() == 0 && s.disconnects() == SESSIONS
    });
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(server.disconnects(), SESSIONS);
}
