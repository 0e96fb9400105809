//! io-std specifics: the standalone Flash policy listener and graceful shutdown.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use io_std::{DisconnectReason, Options, Server};
use tests::raw::{request, Conn};

const PROBE: &[u8] = b"<policy-file-request/>\0";

fn read_all(mut s: TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    out
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn policy_listener_answers_the_probe() {
    let mut options = Options::default();
    let port = free_port();
    options.flash_policy_server = Some(port);
    let handle = Server::bind("127.0.0.1:0", options)
        .unwrap()
        .spawn()
        .unwrap();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(PROBE).unwrap();
    let doc = String::from_utf8(read_all(s)).unwrap();
    assert!(
        doc.contains("<allow-access-from domain=\"*\" to-ports=\"*\"/>"),
        "{doc}"
    );
    assert!(doc.ends_with("</cross-domain-policy>\n\0"), "{doc:?}");
    handle.shutdown();
}

#[test]
fn unbindable_policy_port_is_logged_and_answered_inline() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let mut options = Options::default().log_to(move |l| sink.lock().unwrap().push(l.into()));
    options.flash_policy_server = Some(taken.local_addr().unwrap().port());
    let handle = Server::bind("127.0.0.1:0", options)
        .unwrap()
        .spawn()
        .unwrap();
    assert!(
        lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("answering policy requests inline")),
        "{:?}",
        lines.lock().unwrap()
    );
    let mut s = TcpStream::connect(handle.local_addr()).unwrap();
    s.write_all(PROBE).unwrap();
    assert!(String::from_utf8(read_all(s))
        .unwrap()
        .contains("cross-domain-policy"));
    handle.shutdown();
}

#[test]
fn shutdown_ends_every_session_with_one_disconnect() {
    let reasons = Arc::new(Mutex::new(Vec::new()));
    let sink = reasons.clone();
    let mut options = Options::default();
    options.flash_policy_server = None;
    let handle = Server::bind("127.0.0.1:0", options)
        .unwrap()
        .on_disconnect(move |c, r| sink.lock().unwrap().push((c.session_id(), r)))
        .spawn()
        .unwrap();
    let addr = handle.local_addr();
    let mut streams = Vec::new();
    for _ in 0..3 {
        let mut c = Conn::connect(addr);
        c.send(&request(addr, "GET", "/socket.io/htmlfile//1", &[], &[]));
        c.read_head();
        streams.push(c);
    }
    // Each stream has had its id; the sessions exist.
    while handle.clients().len() < 3 {
        std::thread::sleep(Duration::from_millis(5));
    }
    handle.shutdown();
    let reasons = reasons.lock().unwrap();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons
        .iter()
        .all(|(_, r)| *r == DisconnectReason::Shutdown));
    for mut c in streams {
        // The stream was ended and the connection closed.
        let rest = c.read_to_close(Duration::from_secs(5));
        assert!(c.is_eof(), "{:?}", String::from_utf8_lossy(&rest));
    }
}
