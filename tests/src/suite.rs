//! What the integration suite needs to know about the drivers it runs against.

use crate::client::{flood_until_cut_off, read_frame, rfc6455_connect, wait_until, Client, Kind};
use crate::ours::{Adapter, Ours};
use crate::raw::TIMEOUT;

/// Whether `adapter` can run the example behaviour `mode` (`echo`, `broadcast`, `chat`).
/// Drivers that only run the echo behaviour answer false for the others.
pub fn supports(adapter: Adapter, mode: &str) -> bool {
    adapter.supports(mode)
}

/// For each `fn name(adapter: Adapter)` listed, a module `name` with one test per driver,
/// so that `cargo test smol` or `cargo test name` picks them out. A new driver is one more
/// line here. Attributes before a name (`#[ignore = "…"]`) go on each of its tests.
#[macro_export]
macro_rules! per_adapter {
    ($($(#[$attr:meta])* $name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                $(#[$attr])*
                fn smol() {
                    super::$name($crate::ours::Adapter::Smol)
                }
                #[test]
                $(#[$attr])*
                fn std() {
                    super::$name($crate::ours::Adapter::Std)
                }
                #[test]
                $(#[$attr])*
                fn custom_loop() {
                    super::$name($crate::ours::Adapter::CustomLoop)
                }
                #[test]
                $(#[$attr])*
                fn hyper() {
                    super::$name($crate::ours::Adapter::Hyper)
                }
            }
        )*
    };
}

/// A peer that sends and never reads its echoes is cut off by `server` (an echo server
/// with a small `max_unwritten`), having read far less than it sent, while another session
/// beside it goes on.
pub fn check_slow_peer_cut_off(server: &Ours, what: &str) {
    let addr = server.target.addr;
    let mut reader = Client::open(addr, Kind::WebSocket);
    let mut slow = rfc6455_connect(addr, "/socket.io/websocket");
    let _id = read_frame(&mut slow, TIMEOUT);
    let sent = flood_until_cut_off(&mut slow, what);
    let back = slow.read_to_close(TIMEOUT);
    assert!(slow.is_eof(), "{what}: the connection ended");
    assert!(back.len() < sent, "{what}: {} of {sent}", back.len());
    assert!(
        wait_until(TIMEOUT, || server.session_count() == 1),
        "{what}: the slow session ended, the reader's did not"
    );
    reader.echo_each(&["still here", "and here"]);
}
