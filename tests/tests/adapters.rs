//! What the adapters do beside the protocol: the standalone Flash policy listener, and a
//! graceful shutdown that ends every session with one disconnect callback.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use io_core::{DisconnectReason, Options, SessionId};
use tests::ours::{ours_on, test_options, Adapter};
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
    for adapter in [Adapter::Smol, Adapter::Std, Adapter::Hyper] {
        let mut options = test_options();
        let port = free_port();
        options.flash_policy_server = Some(port);
        let _server = ours_on(adapter, "echo", options);
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(PROBE).unwrap();
        let doc = String::from_utf8(read_all(s)).unwrap();
        assert!(
            doc.contains("<allow-access-from domain=\"*\" to-ports=\"*\"/>"),
            "{doc}"
        );
        assert!(
            doc.ends_with("</cross-domain-policy>\n\0"),
            "{adapter:?}: {doc:?}"
        );
    }
}

#[test]
fn unbindable_policy_port_is_logged_and_answered_inline() {
    for adapter in [Adapter::Smol, Adapter::Std, Adapter::Hyper] {
        tests::logs::capture();
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let mut options = Options::default();
        options.flash_policy_server = Some(port);
        let server = ours_on(adapter, "echo", options);
        let said = tests::logs::containing(&format!("Flash policy on port {port}"));
        assert_eq!(said.len(), 1, "{adapter:?}: {said:?}");
        assert_eq!(said[0].level, log::Level::Warn);
        assert_eq!(said[0].target, "io_adapter::server");
        assert!(said[0].message.contains("answering policy requests inline"));
        let mut s = TcpStream::connect(server.target.addr).unwrap();
        s.write_all(PROBE).unwrap();
        assert!(String::from_utf8(read_all(s))
            .unwrap()
            .contains("cross-domain-policy"));
    }
}

/// Opens three htmlfile streams on `addr` and waits until they have their ids.
fn open_streams(addr: std::net::SocketAddr) -> Vec<Conn> {
    (0..3)
        .map(|_| {
            let mut c = Conn::connect(addr);
            c.send(&request(addr, "GET", "/socket.io/htmlfile//1", &[], &[]));
            c.read_head();
            assert!(
                c.read_chunk(Duration::from_secs(5)).is_some(),
                "the preamble"
            );
            assert!(c.read_chunk(Duration::from_secs(5)).is_some(), "the id");
            c
        })
        .collect()
}

fn assert_shut_down(reasons: &[(SessionId, DisconnectReason)], streams: Vec<Conn>) {
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

type Reasons = Arc<Mutex<Vec<(SessionId, DisconnectReason)>>>;

/// Three streams open, then a shutdown: `wait` waits for the server to stop (blocking, or
/// on a future).
fn shutdown_on<R: io_adapter::Adapter>(
    server: io_adapter::Server<R>,
    wait: impl FnOnce(&io_adapter::Handle<R>),
) {
    let reasons = Reasons::default();
    let sink = reasons.clone();
    let handle = server
        .on_disconnect(move |c, r| sink.lock().unwrap().push((c.session_id(), r)))
        .spawn()
        .unwrap();
    let streams = open_streams(handle.local_addr());
    handle.shutdown();
    wait(&handle);
    assert_shut_down(&reasons.lock().unwrap(), streams);
}

#[test]
fn std_shutdown_ends_every_session_with_one_disconnect() {
    let server = io_std::Server::bind("127.0.0.1:0", test_options()).unwrap();
    shutdown_on(server, |h| h.stopped());
}

#[test]
fn smol_shutdown_ends_every_session_with_one_disconnect() {
    let server = io_smol::Server::bind("127.0.0.1:0", test_options()).unwrap();
    shutdown_on(server, |h| smol::block_on(h.stopped()));
}

#[test]
fn hyper_shutdown_ends_every_session_with_one_disconnect() {
    let server = io_hyper::Server::bind("127.0.0.1:0", test_options()).unwrap();
    shutdown_on(server, |h| smol::block_on(h.stopped()));
}
