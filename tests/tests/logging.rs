//! What the server logs through the `log` facade, at which level and from which module:
//! sessions coming and going at info, a peer cut off for not reading at warn, a callback
//! that panicked at error, a peer's broken frame at debug.

use std::time::Duration;

use log::Level;
use tests::client::{flood_until_cut_off, rfc6455_connect, wait_until, Client, Kind};
use tests::logs::{capture, containing, Logged};
use tests::ours::{ours_on, test_options, Adapter};

fn one(records: Vec<Logged>, what: &str) -> Logged {
    assert_eq!(records.len(), 1, "{what}: {records:?}");
    records.into_iter().next().unwrap()
}

#[test]
fn sessions_are_logged_at_info_and_a_broken_frame_at_debug() {
    capture();
    for adapter in [Adapter::Smol, Adapter::Std, Adapter::Hyper] {
        let server = ours_on(adapter, "echo", test_options());
        let mut client = Client::open(server.target.addr, Kind::WebSocket);
        let sid = client.sid.clone();
        let came = one(containing(&format!("session {sid} connected")), "connect");
        assert_eq!(
            (came.level, came.target.as_str()),
            (Level::Info, "io_core::server::sessions")
        );
        client.send_payload("~m~9~m~short");
        client.echo_each(&["still fine"]);
        let broken = one(
            containing(&format!("payload from session {sid} dropped")),
            "broken",
        );
        assert_eq!(broken.level, Level::Debug);
        drop(client);
        assert!(
            wait_until(Duration::from_secs(20), || {
                !containing(&format!("session {sid} disconnected")).is_empty()
            }),
            "{adapter:?}: no disconnect record"
        );
        let gone = one(
            containing(&format!("session {sid} disconnected")),
            "disconnect",
        );
        assert_eq!(gone.level, Level::Info);
    }
}

#[test]
fn a_peer_cut_off_is_a_warning() {
    capture();
    let mut options = test_options();
    options.limits.max_unwritten = 64 * 1024;
    let server = ours_on(Adapter::Smol, "echo", options);
    let mut slow = rfc6455_connect(server.target.addr, "/socket.io/websocket");
    flood_until_cut_off(&mut slow, "the slow peer");
    let port = server.target.addr.port();
    assert!(
        wait_until(Duration::from_secs(10), || !containing(
            "bytes written to it are unread"
        )
        .is_empty()),
        "no cut-off logged (server on {port})"
    );
    let cut = containing("bytes written to it are unread");
    assert!(cut.iter().all(|l| l.level == Level::Warn), "{cut:?}");
    assert!(cut.iter().all(|l| l.target == "io_core::server"), "{cut:?}");
}

#[test]
fn a_panicking_callback_is_an_error_and_the_server_goes_on() {
    capture();
    let server = io_smol::Server::bind("127.0.0.1:0", test_options())
        .unwrap()
        .on_message(|client, msg| {
            if msg == io_core::Message::text("panic") {
                panic!("on purpose");
            }
            let _ = client.send(msg);
        });
    let addr = server.local_addr().unwrap();
    let handle = server.spawn().unwrap();
    let mut client = Client::open(addr, Kind::XhrPolling);
    client.send(&["panic"]);
    client.echo_each(&["after the panic"]);
    let said = containing("an application callback panicked");
    assert!(!said.is_empty());
    assert!(said
        .iter()
        .all(|l| l.level == Level::Error && l.target == "io_adapter::engine"));
    handle.shutdown();
}
