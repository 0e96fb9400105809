//! The application's view on every adapter, over real sockets: data kept with a session
//! across its messages and dropped once it ends (after the disconnect callback has read
//! it), and rooms whose broadcasts reach their members only.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use io_adapter::{Adapter, Server};
use io_core::Message;
use tests::client::{wait_until, Client, Kind};
use tests::ours::test_options;

/// A session's count of messages; counts its own drops.
struct Count {
    n: u32,
    dropped: Arc<AtomicUsize>,
}

impl Drop for Count {
    fn drop(&mut self) {
        self.dropped.fetch_add(1, Ordering::AcqRel);
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Name(String);

/// What each disconnect callback read of its session's data.
type Seen = Mutex<Vec<(Option<Name>, Option<u32>)>>;

/// `name X` names the session, `join R` / `leave R` move it, `to R text` speaks to a room;
/// anything else is answered with `<name> #<count>`.
fn app<R: Adapter>(
    server: Server<R>,
    dropped: Arc<AtomicUsize>,
    seen_at_disconnect: Arc<Seen>,
) -> Server<R> {
    server
        .on_connect(move |client| {
            assert!(client.insert(Count {
                n: 0,
                dropped: dropped.clone(),
            }));
        })
        .on_message(|client, msg| {
            let Message::Text(text) = msg else { return };
            let mut words = text.splitn(3, ' ');
            match (words.next(), words.next(), words.next()) {
                (Some("name"), Some(name), None) => {
                    client.insert(Name(name.to_owned()));
                }
                (Some("join"), Some(room), None) => client.join(room).unwrap(),
                (Some("leave"), Some(room), None) => client.leave(room).unwrap(),
                (Some("rooms"), None, None) => {
                    let _ = client.send(client.rooms().join(","));
                }
                (Some("to"), Some(room), Some(said)) => {
                    let from = client.get::<Name>().map_or("?".into(), |n| n.0);
                    client
                        .broadcast_to(room, format!("{from} in {room}: {said}"))
                        .unwrap();
                }
                _ => {
                    let n = client.with(|c: &mut Count| {
                        c.n += 1;
                        c.n
                    });
                    let name = client.get::<Name>().map_or("?".into(), |n| n.0);
                    let _ = client.send(format!("{name} #{}", n.unwrap_or(0)));
                }
            }
        })
        .on_disconnect(move |client, _| {
            let seen = (client.get::<Name>(), client.with(|c: &mut Count| c.n));
            seen_at_disconnect.lock().unwrap().push(seen);
        })
}

fn check(addr: std::net::SocketAddr, dropped: &AtomicUsize, seen: &Seen) {
    let mut ann = Client::open(addr, Kind::WebSocket);
    let mut bob = Client::open(addr, Kind::XhrPolling);
    let mut cat = Client::open(addr, Kind::HtmlFile);
    ann.send(&["name ann"]);
    bob.send(&["name bob"]);
    for i in 1..=3 {
        ann.send(&["hello"]);
        assert_eq!(
            ann.recv(1),
            [format!("ann #{i}")],
            "state kept across messages"
        );
    }
    bob.send(&["hello"]);
    assert_eq!(bob.recv(1), ["bob #1"], "each session has its own");

    // Rooms: ann and bob in `team`, cat in `lobby`. Each client's messages are handled in
    // order, but two clients' in any order: each asks for its rooms, and so knows its joins
    // are done, before the next step.
    ann.send(&["join team"]);
    bob.send(&["join team"]);
    cat.send(&["join lobby"]);
    ann.send(&["join lobby"]);
    ann.send(&["rooms"]);
    assert_eq!(ann.recv(1), ["team,lobby"]);
    bob.send(&["rooms"]);
    assert_eq!(bob.recv(1), ["team"]);
    cat.send(&["rooms"]);
    assert_eq!(cat.recv(1), ["lobby"]);
    ann.send(&["to team standup at ten"]);
    assert_eq!(bob.recv(1), ["ann in team: standup at ten"]);
    assert_eq!(
        cat.drain_for(Duration::from_millis(200)),
        Vec::<String>::new(),
        "not in team"
    );
    ann.send(&["leave lobby"]);
    ann.send(&["rooms"]);
    assert_eq!(ann.recv(1), ["team"]);
    bob.send(&["to lobby anyone?"]);
    assert_eq!(cat.recv(1), ["bob in lobby: anyone?"]);
    assert_eq!(
        ann.drain_for(Duration::from_millis(200)),
        Vec::<String>::new(),
        "left the lobby"
    );

    // Ann goes: the disconnect callback still reads her data, then it is dropped.
    let before = dropped.load(Ordering::Acquire);
    drop(ann);
    assert!(
        wait_until(Duration::from_secs(20), || dropped.load(Ordering::Acquire)
            == before + 1),
        "ann's data was not dropped"
    );
    assert!(seen
        .lock()
        .unwrap()
        .contains(&(Some(Name("ann".into())), Some(3))));
    // And her room membership went with her.
    bob.send(&["to team anyone left?"]);
    bob.send(&["hello"]);
    assert_eq!(bob.recv(1), ["bob #2"], "the room message went to nobody");
}

/// The checks on `server`; `wait` waits for it to stop (blocking, or on a future), after
/// which every session's data has been dropped.
fn on<R: Adapter>(server: Server<R>, wait: impl FnOnce(&io_adapter::Handle<R>)) {
    let dropped = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let addr = server.local_addr().unwrap();
    let handle = app(server, dropped.clone(), seen.clone()).spawn().unwrap();
    check(addr, &dropped, &seen);
    handle.shutdown();
    wait(&handle);
    assert_eq!(
        dropped.load(Ordering::Acquire),
        3,
        "every session's data dropped"
    );
}

#[test]
fn session_data_and_rooms_on_io_smol() {
    let server = io_smol::Server::bind("127.0.0.1:0", test_options()).unwrap();
    on(server, |h| smol::block_on(h.stopped()));
}

#[test]
fn session_data_and_rooms_on_io_std() {
    let server = io_std::Server::bind("127.0.0.1:0", test_options()).unwrap();
    on(server, |h| h.stopped());
}

#[test]
fn session_data_and_rooms_on_io_hyper() {
    let server = io_hyper::Server::bind("127.0.0.1:0", test_options()).unwrap();
    on(server, |h| smol::block_on(h.stopped()));
}
