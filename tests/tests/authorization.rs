//! Authorization on every adapter, over real sockets: a handshake without the token cookie
//! is refused with a 403 that says so, one with it makes a session, over WebSocket and
//! xhr-polling; a verdict may come later, from another thread; the handshake is readable
//! in the callbacks.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use io_adapter::{Adapter, Server};
use tests::client::{read_frame, rfc6455_request, text_frame, wait_until, WS_ACCEPT};
use tests::ours::test_options;
use tests::raw::{request, Conn, TIMEOUT};

/// Sessions need `token=good`; a `slow=1` query parameter makes the verdict come 300 ms
/// later from another thread. Connects record the handshake's `user` query parameter.
fn guarded<R: Adapter>(server: Server<R>, users: Arc<Mutex<Vec<String>>>) -> Server<R> {
    server
        .keep_handshakes()
        .unwrap()
        .on_authorize(|h, verdict| {
            // Every handshake comes from this machine, from a port of the client's own.
            assert!(
                h.peer.ip().is_loopback() && h.peer.port() != 0,
                "the peer address: {}",
                h.peer
            );
            let ok = h.cookie("token") == Some("good");
            let decide = move || {
                if ok {
                    verdict.accept()
                } else {
                    verdict.refuse("no valid token cookie")
                }
            };
            if h.query("slow") == Some("1") {
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(300));
                    decide();
                });
            } else {
                decide();
            }
        })
        .unwrap()
        .on_connect(move |client| {
            let h = client.handshake().expect("kept");
            users
                .lock()
                .unwrap()
                .push(h.query("user").unwrap_or("?").to_owned());
        })
        .on_message(|client, msg| {
            let _ = client.send(msg);
        })
}

fn poll_handshake(addr: SocketAddr, cookie: Option<&str>, query: &str) -> tests::Response {
    let mut c = Conn::connect(addr);
    let headers: Vec<(&str, &str)> = cookie.map(|v| ("Cookie", v)).into_iter().collect();
    let path = format!("/socket.io/xhr-polling//1{query}");
    c.send(&request(addr, "GET", &path, &headers, &[]));
    c.read_response()
}

fn ws_handshake(addr: SocketAddr, cookie: Option<&str>) -> (Conn, tests::Head) {
    let mut c = Conn::connect(addr);
    let mut req = String::from_utf8(rfc6455_request(addr, "/socket.io/websocket?user=ws")).unwrap();
    if let Some(v) = cookie {
        req = req.replacen("\r\n\r\n", &format!("\r\nCookie: {v}\r\n\r\n"), 1);
    }
    c.send(req.as_bytes());
    let head = c.read_head();
    (c, head)
}

fn check(addr: SocketAddr, users: &Mutex<Vec<String>>) {
    // xhr-polling: refused without the cookie, or with a wrong one; accepted with it.
    for cookie in [None, Some("token=bad"), Some("other=good")] {
        let r = poll_handshake(addr, cookie, "?user=nobody");
        assert_eq!(r.head.status, 403, "{cookie:?}");
        assert_eq!(
            r.body_text(),
            "refused by the application: no valid token cookie\n"
        );
    }
    let r = poll_handshake(addr, Some("a=1; token=good"), "?user=polly");
    assert_eq!(r.head.status, 200);
    assert!(r.body_text().starts_with("~m~36~m~"), "{}", r.body_text());

    // WebSocket: the same, as an HTTP answer before any upgrade.
    let (mut c, head) = ws_handshake(addr, None);
    assert_eq!(head.status, 403);
    assert!(c
        .read_to_close(TIMEOUT)
        .starts_with(b"refused by the application"));
    let (mut c, head) = ws_handshake(addr, Some("token=good"));
    assert_eq!(head.status, 101);
    assert_eq!(head.header("sec-websocket-accept"), Some(WS_ACCEPT));
    let (_, id) = read_frame(&mut c, TIMEOUT);
    assert!(id.starts_with(b"~m~36~m~"));
    c.send(&text_frame("~m~5~m~hello"));
    let (_, back) = read_frame(&mut c, TIMEOUT);
    assert_eq!(back, b"~m~5~m~hello", "the session works");

    // A verdict that comes later, from another thread: the client simply waits for it.
    let started = Instant::now();
    let r = poll_handshake(addr, Some("token=good"), "?user=late&slow=1");
    assert_eq!(r.head.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(250));
    let r = poll_handshake(addr, Some("token=bad"), "?slow=1");
    assert_eq!(r.head.status, 403);

    // Each connect saw its own handshake.
    let mut seen = users.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, ["late", "polly", "ws"]);
}

/// The checks on a server of its own port, then its count of refusals.
fn authorized_on<R: Adapter>(server: Server<R>) {
    let users = Arc::new(Mutex::new(Vec::new()));
    let addr = server.local_addr().unwrap();
    let handle = guarded(server, users.clone()).spawn().unwrap();
    check(addr, &users);
    assert_eq!(handle.metrics().refused, 5);
    handle.shutdown();
}

#[test]
fn handshakes_are_authorized_on_io_smol() {
    authorized_on(io_smol::Server::bind("127.0.0.1:0", test_options()).unwrap());
}

#[test]
fn handshakes_are_authorized_on_io_hyper() {
    authorized_on(io_hyper::Server::bind("127.0.0.1:0", test_options()).unwrap());
}

/// Mounted in an axum application (the service, not a port of its own): the same checks,
/// and each handshake carries the client's own address from axum's connection info.
#[test]
fn handshakes_are_authorized_inside_axum() {
    use axum::extract::ConnectInfo;
    let users = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let guarded_users = users.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let server = guarded(
                io_hyper::Server::new(test_options()).unwrap(),
                guarded_users,
            );
            let (socketio, handle) = io_hyper::SocketIo::mount(server).unwrap();
            let socketio =
                socketio.peer_addr(|ext| ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0));
            let app = axum::Router::new().route_service("/socket.io/{*rest}", socketio);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send((listener.local_addr().unwrap(), handle)).unwrap();
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            axum::serve(listener, app).await.unwrap();
        });
    });
    let (addr, handle) = rx.recv().unwrap();
    check(addr, &users);
    assert_eq!(handle.metrics().refused, 5);
    handle.shutdown();
}

#[test]
fn handshakes_are_authorized_on_io_std() {
    authorized_on(io_std::Server::bind("127.0.0.1:0", test_options()).unwrap());
}

/// With `keep_latest_requests`, a callback reads the request that last attached a transport
/// to its session (here the held poll's query), not the handshake's.
fn latest<R: Adapter>(server: Server<R>) -> Server<R> {
    server
        .keep_latest_requests()
        .unwrap()
        .on_message(|client, _| {
            let poll = client.latest_request().expect("kept");
            let _ = client.send(poll.query("poll").unwrap_or("?").to_owned());
        })
}

/// `poll_of(sid)`: the `poll` query parameter of the session's latest request.
fn check_latest(addr: SocketAddr, poll_of: impl Fn(&str) -> Option<String>) {
    let r = poll_handshake(addr, None, "?poll=first");
    let sid = r.body_text()[8..].to_owned();
    assert_eq!(
        poll_of(&sid).as_deref(),
        Some("first"),
        "the handshake, at first"
    );
    let mut held = Conn::connect(addr);
    let path = format!("/socket.io/xhr-polling/{sid}/2?poll=second");
    held.send(&request(addr, "GET", &path, &[], &[]));
    assert!(
        wait_until(TIMEOUT, || poll_of(&sid).as_deref() == Some("second")),
        "the held poll attached"
    );
    let mut post = Conn::connect(addr);
    let path = format!("/socket.io/xhr-polling/{sid}/send");
    let body = tests::raw::form_data("~m~4~m~what");
    post.send(&request(addr, "POST", &path, &[], &body));
    assert_eq!(post.read_response().head.status, 200);
    assert_eq!(held.read_response().body_text(), "~m~6~m~second");
}

fn latest_on<R: Adapter>(server: Server<R>) {
    let addr = server.local_addr().unwrap();
    let handle = latest(server).spawn().unwrap();
    check_latest(addr, |sid| {
        let client = handle.client(sid.parse().ok()?)?;
        Some(client.latest_request()?.query("poll")?.to_owned())
    });
    handle.shutdown();
}

#[test]
fn the_latest_request_is_kept_on_every_adapter() {
    latest_on(io_smol::Server::bind("127.0.0.1:0", test_options()).unwrap());
    latest_on(io_std::Server::bind("127.0.0.1:0", test_options()).unwrap());
    latest_on(io_hyper::Server::bind("127.0.0.1:0", test_options()).unwrap());
}
