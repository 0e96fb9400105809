//! io-core's hixie-76 handshake and framing against a second implementation: npm
//! `websocket-driver`'s draft-76 server (`tests/reference/hixie-echo.js`). Both are plain echo
//! servers; each scenario sends both the same client bytes, cut into the same pieces, and
//! their answers must be byte for byte the same (the head compared as its status and header
//! set, since header order and reason phrase carry no meaning).
//!
//! Where the two differ on purpose, the scenario says what each does and why.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const HEAD: &str = "GET /demo HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\nSec-WebSocket-Protocol: sample\r\n\
    Upgrade: WebSocket\r\nSec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\n\
    Origin: http://example.com\r\n\r\n";
const KEY3: &[u8] = b"^n:ds[4U";

struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(mut cmd: Command) -> Server {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .parse()
        .unwrap();
    Server { child, addr }
}

fn ours() -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ws_echo"));
    cmd.args(["--port", "0"]);
    start(cmd)
}

fn theirs() -> Server {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("reference");
    let mut cmd = Command::new("node");
    cmd.current_dir(dir).arg("hixie-echo.js");
    start(cmd)
}

/// What a server answered: the head as status and sorted lower-case headers, the bytes after
/// it, and whether it closed the connection.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    status: String,
    headers: Vec<(String, String)>,
    rest: Vec<u8>,
    closed: bool,
}

/// Sends `pieces` with a pause after each (so that each is a read of its own), then reads
/// until the server closes or is quiet for a while.
fn exchange(addr: SocketAddr, pieces: &[Vec<u8>], end_with_fin: bool) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    for p in pieces {
        let _ = s.write_all(p);
        std::thread::sleep(Duration::from_millis(15));
    }
    if end_with_fin {
        let _ = s.shutdown(Shutdown::Write);
    }
    s.set_read_timeout(Some(Duration::from_millis(400)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(5);
    let closed = loop {
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(_) => break false,
        }
        if Instant::now() > deadline {
            break false;
        }
    };
    let end = got
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(0, |p| p + 4);
    let head = String::from_utf8_lossy(&got[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap_or_default()
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let mut headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.to_owned()))
        .collect();
    headers.sort();
    Answer {
        status,
        headers,
        rest: got[end..].to_vec(),
        closed,
    }
}

fn frame(text: &str) -> Vec<u8> {
    [&[0x00][..], text.as_bytes(), &[0xFF]].concat()
}

fn handshake_with(after: &[u8]) -> Vec<u8> {
    [HEAD.as_bytes(), KEY3, after].concat()
}

fn same(what: &str, pieces: Vec<Vec<u8>>, end_with_fin: bool) {
    let (ours, theirs) = (ours(), theirs());
    let mut a = exchange(ours.addr, &pieces, end_with_fin);
    let b = exchange(theirs.addr, &pieces, end_with_fin);
    // On purpose: io-core echoes the requested protocol, which the Flash client insists on
    // (as the original did); the driver's draft-76 server never names one.
    let protocol = ("sec-websocket-protocol".to_owned(), "sample".to_owned());
    assert!(a.headers.contains(&protocol), "{what}: {a:?}");
    a.headers.retain(|h| *h != protocol);
    assert_eq!(a, b, "{what}: ours, then websocket-driver's");
    assert_eq!(a.status, "101", "{what}");
}

#[test]
fn the_handshake_answer_and_echoes_match() {
    let messages = [
        frame("hello"),
        frame("héllo 😀"),
        frame(""),
        frame(&"x".repeat(3000)),
    ];
    same(
        "key3 with the head, messages, the closing handshake",
        vec![handshake_with(&[]), messages.concat(), vec![0xFF, 0x00]],
        false,
    );
}

#[test]
fn key3_and_frames_in_any_pieces_match() {
    // key3 one byte at a time, then every frame cut byte by byte.
    let mut pieces = vec![HEAD.as_bytes().to_vec()];
    pieces.extend(KEY3.iter().map(|&b| vec![b]));
    let stream = [frame("split"), frame("ü")].concat();
    pieces.extend(stream.iter().map(|&b| vec![b]));
    pieces.push(vec![0xFF, 0x00]);
    same("byte by byte", pieces, false);
    // Frames in the same read as key3.
    same(
        "frames behind key3",
        vec![handshake_with(
            &[frame("one"), frame("two"), vec![0xFF, 0x00]].concat(),
        )],
        false,
    );
}

#[test]
fn a_client_that_just_ends_is_let_go_by_both() {
    same(
        "a message, then end of stream without the closing handshake",
        vec![handshake_with(&frame("bye"))],
        true,
    );
}

#[test]
fn where_we_differ_on_purpose() {
    let (ours, theirs) = (ours(), theirs());
    let answer_and = |frames: &[u8]| [&b"8jKS'y:G*Co,Wxa-"[..], frames].concat();
    // A length-prefixed frame (type byte 0x80 and up), which the 0.6 client never sends: the
    // driver skips it and goes on; io-core refuses any frame but 0x00 … 0xFF and closes
    // (docs/PROTOCOL.md §4.1.3).
    let pieces = vec![handshake_with(
        &[&[0x80, 0x03][..], b"abc", &frame("after")].concat(),
    )];
    let a = exchange(ours.addr, &pieces, false);
    let b = exchange(theirs.addr, &pieces, false);
    assert!(a.closed && a.rest == answer_and(&[]), "ours: {a:?}");
    assert!(b.rest == answer_and(&frame("after")), "theirs: {b:?}");
    // Invalid UTF-8 in a text frame: the driver turns it into U+FFFD and passes it on;
    // io-core closes, as it does for RFC 6455 text (1007).
    let pieces = vec![handshake_with(
        &[frame("ok"), vec![0x00, 0xC3, 0x28, 0xFF]].concat(),
    )];
    let a = exchange(ours.addr, &pieces, false);
    let b = exchange(theirs.addr, &pieces, false);
    assert!(
        a.closed && a.rest == answer_and(&frame("ok")),
        "ours: {a:?}"
    );
    let replaced = [frame("ok"), frame("\u{FFFD}(")].concat();
    assert!(b.rest == answer_and(&replaced), "theirs: {b:?}");
}
