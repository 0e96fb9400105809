//! `/metrics` on the example servers (`--metrics`): Prometheus' text format, and the counts
//! move with the traffic.

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tests::client::{get, Client, Kind};
use tests::nginx::free_port;

/// An example server binary of the examples crate, built beside this test.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|d| d.parent()).unwrap();
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: cargo build -p examples",
        path.display()
    );
    path
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(name: &str, args: &[&str]) -> (Running, SocketAddr) {
    let port = free_port();
    let child = Command::new(example(name))
        .args(["--port", &port.to_string(), "--policy-port", "0", "--quiet"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "{name} does not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    (Running(child), addr)
}

/// The value of one sample line of `/metrics`.
fn sample(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        .parse()
        .unwrap()
}

#[test]
fn metrics_move_with_the_traffic() {
    // Each example on its default adapter, and on io-hyper (`--adapter hyper`).
    let runs = ["chat", "echo", "broadcast"]
        .into_iter()
        .flat_map(|name| [(name, "smol"), (name, "hyper")]);
    for (name, adapter) in runs {
        let (_server, addr) = start(name, &["--metrics", "--adapter", adapter]);
        let name = format!("{name} on {adapter}");
        let r = get(addr, "/metrics");
        assert_eq!(r.head.status, 200);
        assert!(r
            .head
            .header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4"));
        let before = r.body_text();
        assert!(
            before.contains("# TYPE socketio_messages_received_total counter"),
            "{before}"
        );
        assert_eq!(
            sample(&before, "socketio_messages_received_total"),
            0,
            "{name}"
        );

        let mut ws = Client::open(addr, Kind::WebSocket);
        let mut poll = Client::open(addr, Kind::XhrPolling);
        ws.send(&["one"]);
        ws.send(&["two"]);
        // Each example answers somehow (echo back, or to the others); wait for one.
        let _ = if name.starts_with("echo") {
            ws.recv(2)
        } else {
            poll.recv(2)
        };
        let after = get(addr, "/metrics").body_text();
        assert_eq!(
            sample(&after, "socketio_messages_received_total"),
            2,
            "{name}\n{after}"
        );
        assert!(
            sample(&after, "socketio_messages_sent_total") >= 2,
            "{name}"
        );
        assert_eq!(
            sample(&after, "socketio_sessions{transport=\"websocket\"}"),
            1,
            "{name}"
        );
        assert_eq!(
            sample(&after, "socketio_sessions{transport=\"xhr-polling\"}"),
            1,
            "{name}"
        );
        assert!(
            sample(&after, "socketio_bytes_received_total")
                > sample(&before, "socketio_bytes_received_total")
        );
    }
}

#[test]
fn without_the_flag_there_is_no_metrics_page() {
    let (_server, addr) = start("echo", &[]);
    assert_eq!(get(addr, "/metrics").body_text(), "<h1>Hello world</h1>");
}
