//! Many sessions at once on each driver: 1,000 RFC 6455 clients, driven by a few threads
//! over non-blocking sockets, each sending numbered messages and checking every echo.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use tests::client::{rfc6455_request, text_frame};
use tests::ours::{ours_on, test_options, Adapter};
use tests::per_adapter;
use tests::raw::find;
use tests::transcript::{decode_frames, encode_frames};

const SESSIONS: usize = 1000;
const THREADS: usize = 4;
const MESSAGES: usize = 20;
const DEADLINE: Duration = Duration::from_secs(30);

per_adapter!(thousand_concurrent_sessions_echo_in_order);
per_adapter!(a_burst_many_times_the_read_buffer_is_echoed_whole_and_in_order);

/// One client socket and what it has received.
struct Sock {
    stream: TcpStream,
    input: Vec<u8>,
    output: Vec<u8>,
    written: usize,
    /// Echoes received so far, in order.
    echoes: usize,
    name: String,
}

/// An unmasked server text frame at the start of `p`: (payload range, frame length).
fn frame(p: &[u8]) -> Option<(std::ops::Range<usize>, usize)> {
    if p.len() < 2 {
        return None;
    }
    assert_eq!(p[0], 0x81, "expected a whole text frame, got {:02x}", p[0]);
    let (len, start) = match p[1] & 0x7F {
        126 => (
            u16::from_be_bytes(p.get(2..4)?.try_into().ok()?) as usize,
            4,
        ),
        127 => (
            u64::from_be_bytes(p.get(2..10)?.try_into().ok()?) as usize,
            10,
        ),
        n => (n as usize, 2),
    };
    (p.len() >= start + len).then_some((start..start + len, start + len))
}

/// Opens a session (blocking, with timeouts) and reads its id.
fn open(addr: SocketAddr, name: String) -> Sock {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    stream.set_nodelay(true).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(&rfc6455_request(addr, "/socket.io/websocket"))
        .unwrap();
    let mut input = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = find(&input, b"\r\n\r\n") {
            assert!(input.starts_with(b"HTTP/1.1 101"), "{name}: no 101");
            if let Some((payload, used)) = frame(&input[end + 4..]) {
                let id = decode_frames(std::str::from_utf8(&input[end + 4..][payload]).unwrap()).0;
                assert_eq!(id.len(), 1, "{name}: {id:?}");
                input.drain(..end + 4 + used);
                break;
            }
        }
        let n = stream.read(&mut buf).expect("read the handshake");
        assert!(n > 0, "{name}: closed during the handshake");
        input.extend_from_slice(&buf[..n]);
    }
    stream.set_nonblocking(true).unwrap();
    Sock {
        stream,
        input,
        output: Vec::new(),
        written: 0,
        echoes: 0,
        name,
    }
}

fn message(name: &str, k: usize) -> String {
    format!("{name} message {k}")
}

impl Sock {
    /// Writes and reads what it can without blocking; returns whether anything moved.
    fn step(&mut self) -> bool {
        let mut progress = false;
        while self.written < self.output.len() {
            match self.stream.write(&self.output[self.written..]) {
                Ok(n) if n > 0 => {
                    self.written += n;
                    progress = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                other => panic!("{}: write failed: {other:?}", self.name),
            }
        }
        let mut buf = [0u8; 8192];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => panic!("{}: closed after {} echoes", self.name, self.echoes),
                Ok(n) => {
                    self.input.extend_from_slice(&buf[..n]);
                    progress = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("{}: read failed: {e}", self.name),
            }
        }
        while let Some((payload, used)) = frame(&self.input) {
            let text = std::str::from_utf8(&self.input[payload]).expect("UTF-8");
            let (messages, rest) = decode_frames(text);
            assert!(rest.is_empty(), "{}: {text:?}", self.name);
            for m in messages {
                assert!(!m.starts_with("~h~"), "{}: heartbeat", self.name);
                assert_eq!(m, message(&self.name, self.echoes), "{}", self.name);
                self.echoes += 1;
            }
            self.input.drain(..used);
        }
        progress
    }
}

fn thousand_concurrent_sessions_echo_in_order(adapter: Adapter) {
    // A thousand sessions from one address in a second: a load test, not a flood.
    let mut options = test_options();
    options.limits.max_new_sessions_per_peer = 0;
    let server = ours_on(adapter, "echo", options);
    let addr = server.target.addr;
    let started = Instant::now();
    // Every client thread and this one meet when all sessions are open, and again once
    // the count has been checked.
    let barrier = Arc::new(Barrier::new(THREADS + 1));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let barrier = barrier.clone();
            thread::spawn(move || {
                // A failure to open must not leave the others waiting at the barrier.
                let opened = std::panic::catch_unwind(|| {
                    (0..SESSIONS / THREADS)
                        .map(|i| open(addr, format!("c{t}-{i}")))
                        .collect::<Vec<Sock>>()
                });
                barrier.wait();
                barrier.wait();
                let mut socks = opened.unwrap_or_else(|e| std::panic::resume_unwind(e));
                for s in &mut socks {
                    let frames: Vec<u8> = (0..MESSAGES)
                        .flat_map(|k| text_frame(&encode_frames(&[message(&s.name, k)])))
                        .collect();
                    s.output = frames;
                }
                let deadline = Instant::now() + DEADLINE;
                loop {
                    let mut progress = false;
                    for s in &mut socks {
                        progress |= s.step();
                    }
                    if socks.iter().all(|s| s.echoes == MESSAGES) {
                        break;
                    }
                    let behind = socks.iter().filter(|s| s.echoes < MESSAGES).count();
                    assert!(
                        Instant::now() < deadline,
                        "{behind} clients of thread {t} still wait for echoes"
                    );
                    if !progress {
                        thread::sleep(Duration::from_millis(1));
                    }
                }
                socks.len()
            })
        })
        .collect();
    barrier.wait();
    let opened = started.elapsed();
    let count = server.session_count();
    barrier.wait();
    assert_eq!(count, SESSIONS, "sessions open at once");
    let done: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(done, SESSIONS);
    eprintln!(
        "{adapter:?}: {SESSIONS} sessions open after {opened:?}, {} echoes after {:?}",
        SESSIONS * MESSAGES,
        started.elapsed()
    );
    // Every client hangs up; every session ends.
    assert!(
        tests::client::wait_until(Duration::from_secs(10), || server.session_count() == 0),
        "{} sessions left",
        server.session_count()
    );
}

/// One client writes 40,000 messages (about 1 MiB, many times a server's read buffer) as
/// fast as its socket takes them, reading the echoes as they come: a server that reads such
/// a peer a buffer at a time between callbacks must still lose, reorder or repeat nothing.
fn a_burst_many_times_the_read_buffer_is_echoed_whole_and_in_order(adapter: Adapter) {
    const BURST: usize = 40_000;
    let server = ours_on(adapter, "echo", test_options());
    let mut sock = open(server.target.addr, "burst".to_owned());
    sock.output = (0..BURST)
        .flat_map(|k| text_frame(&encode_frames(&[message(&sock.name, k)])))
        .collect();
    assert!(
        sock.output.len() > 10 * 64 * 1024,
        "{} bytes",
        sock.output.len()
    );
    let deadline = Instant::now() + DEADLINE;
    // `step` checks that each echo is the next message.
    while sock.echoes < BURST {
        assert!(
            Instant::now() < deadline,
            "{adapter:?}: {} of {BURST} echoes",
            sock.echoes
        );
        if !sock.step() {
            thread::sleep(Duration::from_millis(1));
        }
    }
}
