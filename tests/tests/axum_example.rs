//! The axum example (`examples/src/axum_chat.rs`): the application's own route and the
//! chat on one port, served by `axum::serve`, with real clients over WebSocket (RFC 6455
//! and hixie-76) and xhr-polling.

use std::net::SocketAddr;
use std::sync::mpsc;

use serde_json::{json, Value};
use tests::client::{get, rfc6455_request, Client, Kind};
use tests::ours::test_options;
use tests::raw::{request, Conn};

/// Runs the example's application on a free port, on a runtime of its own thread.
fn serve() -> (SocketAddr, io_hyper::Handle) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (app, handle) = examples::axum_chat::app(test_options()).unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send((listener.local_addr().unwrap(), handle)).unwrap();
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            axum::serve(listener, app).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

fn json_of(message: &str) -> Value {
    let text = message.strip_prefix("~j~").expect("a JSON message");
    serde_json::from_str(text).unwrap()
}

fn sessions(addr: SocketAddr) -> Value {
    let r = get(addr, "/api/status");
    assert_eq!(r.head.status, 200);
    assert_eq!(r.head.header("content-type"), Some("application/json"));
    serde_json::from_str(&r.body_text()).unwrap()
}

#[test]
fn the_axum_example_serves_its_own_route_and_the_chat_on_one_port() {
    let (addr, handle) = serve();
    assert_eq!(sessions(addr), json!({ "sessions": 0 }));
    let page = get(addr, "/chat.html");
    assert_eq!(page.head.status, 200);
    assert!(page.body_text().contains("/socket.io/socket.io.js"));
    let script = get(addr, "/socket.io/socket.io.js");
    assert_eq!(script.head.status, 200);
    assert_eq!(script.body.len(), io_core::client::CLIENT_JS.len());
    assert_eq!(get(addr, "/nowhere").head.status, 404, "axum's own 404");

    let mut ws = Client::open(addr, Kind::WebSocket);
    assert_eq!(json_of(&ws.recv(1)[0]), json!({ "buffer": [] }));
    let mut poll = Client::open(addr, Kind::XhrPolling);
    assert_eq!(json_of(&poll.recv(1)[0]), json!({ "buffer": [] }));
    let joined = json!({ "announcement": format!("{} connected", poll.sid) });
    assert_eq!(json_of(&ws.recv(1)[0]), joined);

    ws.send(&["hello from a websocket"]);
    assert_eq!(
        json_of(&poll.recv(1)[0]),
        json!({ "message": [ws.sid, "hello from a websocket"] })
    );
    poll.send(&["hello from a poll"]);
    assert_eq!(
        json_of(&ws.recv(1)[0]),
        json!({ "message": [poll.sid, "hello from a poll"] })
    );

    // hixie-76 through hyper's upgrade: key3 comes after the head, the answer after 101.
    let mut old = Client::open(addr, Kind::Hixie76);
    let history = json_of(&old.recv(1)[0]);
    assert_eq!(history["buffer"].as_array().map(Vec::len), Some(2));
    assert_eq!(sessions(addr), json!({ "sessions": 3 }));
    assert_eq!(handle.clients().len(), 3);

    // An unknown session is closed without an answer, through a service that cannot fail.
    for path in [
        "/socket.io/xhr-polling/00000000000000000000000000000000ffff/1",
        "/socket.io/websocket/00000000000000000000000000000000ffff",
    ] {
        let mut conn = Conn::connect(addr);
        let bytes = if path.contains("websocket") {
            rfc6455_request(addr, path)
        } else {
            request(addr, "GET", path, &[], &[])
        };
        conn.send(&bytes);
        conn.expect_closed_without_response();
    }
    drop((ws, poll, old));
    handle.shutdown();
}

/// Over HTTP/2 (cleartext, with prior knowledge): axum serves both protocols, and the
/// polling transports work through io-hyper there too (an HTTP/2 response has no
/// `Connection` header: hyper leaves the core's out).
#[test]
fn the_axum_example_serves_polling_over_http2() {
    use http_body_util::{BodyExt, Full};
    use hyper::Request;

    let (addr, handle) = serve();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let io = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut h2, conn) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(io),
        )
        .await
        .unwrap();
        tokio::spawn(conn);
        let mut send = async |req: Request<Full<hyper::body::Bytes>>| {
            let r = h2.send_request(req).await.unwrap();
            assert_eq!(r.version(), hyper::Version::HTTP_2);
            let status = r.status().as_u16();
            let body = r.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8(body.to_vec()).unwrap())
        };
        let get = |path: &str| {
            Request::get(format!("http://{addr}{path}"))
                .body(Full::default())
                .unwrap()
        };
        let (status, body) = send(get("/socket.io/xhr-polling//1")).await;
        assert_eq!(status, 200);
        let sid = body
            .strip_prefix("~m~36~m~")
            .expect("the session id")
            .to_owned();
        let (_, body) = send(get(&format!("/socket.io/xhr-polling/{sid}/2"))).await;
        assert_eq!(body, "~m~16~m~~j~{\"buffer\":[]}");
        let post = Request::post(format!("http://{addr}/socket.io/xhr-polling/{sid}/send"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Full::new(tests::raw::form_data("~m~5~m~hello").into()))
            .unwrap();
        assert_eq!(send(post).await, (200, "ok".to_owned()));
        assert_eq!(handle.clients().len(), 1);
        let (status, _) = send(get("/api/status")).await;
        assert_eq!(status, 200);
    });
}
