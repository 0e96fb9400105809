//! A load generator for any Socket.IO 0.6 echo server (ours or the original).
//!
//! `--clients N` sessions each send `--messages M` messages of `--size S` bytes, one at a
//! time, waiting for each echo. Prints one line of results.
//!
//! `cargo run --release -p examples --bin loadgen -- --port 8080 --transport hixie-76`

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Transport {
    Hixie76,
    Rfc6455,
    XhrPolling,
}

#[derive(Clone)]
struct Args {
    addr: String,
    transport: Transport,
    clients: usize,
    messages: usize,
    size: usize,
}

fn parse() -> Result<Args, lexopt::Error> {
    use lexopt::prelude::*;
    let mut a = Args {
        addr: "127.0.0.1:8080".into(),
        transport: Transport::Hixie76,
        clients: 50,
        messages: 200,
        size: 32,
    };
    let mut p = lexopt::Parser::from_env();
    while let Some(arg) = p.next()? {
        match arg {
            Long("port") => a.addr = format!("127.0.0.1:{}", p.value()?.parse::<u16>()?),
            Long("clients") => a.clients = p.value()?.parse()?,
            Long("messages") => a.messages = p.value()?.parse()?,
            Long("size") => a.size = p.value()?.parse()?,
            Long("transport") => {
                a.transport = match p.value()?.string()?.as_str() {
                    "hixie-76" => Transport::Hixie76,
                    "websocket" => Transport::Rfc6455,
                    "xhr-polling" => Transport::XhrPolling,
                    t => return Err(format!("unknown transport {t}").into()),
                }
            }
            _ => return Err(arg.unexpected()),
        }
    }
    Ok(a)
}

fn frame(text: &str) -> String {
    format!("~m~{}~m~{text}", text.encode_utf16().count())
}

/// One client's connection, whatever the transport. Polling posts on a second connection,
/// as browsers do.
struct Session {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    sid: String,
    post: Option<Box<Session>>,
}

fn open(addr: &str) -> io::Result<Session> {
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let writer = stream.try_clone()?;
    Ok(Session { reader: BufReader::new(stream), writer, sid: String::new(), post: None })
}

fn connect(a: &Args) -> io::Result<Session> {
    let mut s = open(&a.addr)?;
    match a.transport {
        Transport::Hixie76 => {
            write!(
                s.writer,
                "GET /socket.io/websocket HTTP/1.1\r\nHost: {}\r\nUpgrade: WebSocket\r\n\
                 Connection: Upgrade\r\nOrigin: http://bench\r\n\
                 Sec-WebSocket-Key1: 18x 6]8vM;54 *(5:  {{   U1]8  z [  8\r\n\
                 Sec-WebSocket-Key2: 1_ tx7X d  <  nw  334J702) 7]o}}` 0\r\n\r\nTm[K T2u",
                a.addr
            )?;
            s.read_head()?;
            let mut answer = [0u8; 16];
            s.reader.read_exact(&mut answer)?;
        }
        Transport::Rfc6455 => {
            write!(
                s.writer,
                "GET /socket.io/websocket HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                 Sec-WebSocket-Version: 13\r\n\r\n",
                a.addr
            )?;
            s.read_head()?;
        }
        Transport::XhrPolling => s.post = Some(Box::new(open(&a.addr)?)),
    }
    let first = s.receive(a.transport)?;
    s.sid = first.split("~m~").nth(2).unwrap_or_default().to_owned();
    Ok(s)
}

impl Session {
    /// Reads a response head; returns its Content-Length.
    fn read_head(&mut self) -> io::Result<usize> {
        let mut len = 0;
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
            if line == "\r\n" {
                return Ok(len);
            }
        }
    }

    fn send(&mut self, t: Transport, payload: &str) -> io::Result<()> {
        match t {
            Transport::Hixie76 => {
                let mut buf = vec![0u8];
                buf.extend_from_slice(payload.as_bytes());
                buf.push(0xFF);
                self.writer.write_all(&buf)
            }
            Transport::Rfc6455 => {
                let p = payload.as_bytes();
                let mut buf = vec![0x81];
                match p.len() {
                    n if n < 126 => buf.push(0x80 | n as u8),
                    n if n < 65536 => {
                        buf.push(0x80 | 126);
                        buf.extend_from_slice(&(n as u16).to_be_bytes());
                    }
                    n => {
                        buf.push(0x80 | 127);
                        buf.extend_from_slice(&(n as u64).to_be_bytes());
                    }
                }
                let mask = [1u8, 2, 3, 4];
                buf.extend_from_slice(&mask);
                buf.extend(p.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
                self.writer.write_all(&buf)
            }
            Transport::XhrPolling => {
                let body = format!("data={}", encode(payload));
                let sid = &self.sid;
                let post = self.post.as_mut().ok_or(io::ErrorKind::NotConnected)?;
                write!(
                    post.writer,
                    "POST /socket.io/xhr-polling/{}/send HTTP/1.1\r\nHost: b\r\n\
                     Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                    sid,
                    body.len()
                )?;
                let len = post.read_head()?;
                let mut ok = vec![0u8; len];
                post.reader.read_exact(&mut ok)
            }
        }
    }

    fn receive(&mut self, t: Transport) -> io::Result<String> {
        let bytes = match t {
            Transport::Hixie76 => {
                let mut buf = Vec::new();
                self.reader.read_until(0xFF, &mut buf)?;
                buf.retain(|&b| b != 0x00 && b != 0xFF);
                buf
            }
            Transport::Rfc6455 => {
                let mut head = [0u8; 2];
                self.reader.read_exact(&mut head)?;
                let len = match head[1] & 0x7F {
                    126 => {
                        let mut l = [0u8; 2];
                        self.reader.read_exact(&mut l)?;
                        u16::from_be_bytes(l) as usize
                    }
                    127 => {
                        let mut l = [0u8; 8];
                        self.reader.read_exact(&mut l)?;
                        u64::from_be_bytes(l) as usize
                    }
                    n => n as usize,
                };
                let mut buf = vec![0u8; len];
                self.reader.read_exact(&mut buf)?;
                buf
            }
            Transport::XhrPolling => loop {
                write!(
                    self.writer,
                    "GET /socket.io/xhr-polling/{}/1 HTTP/1.1\r\nHost: b\r\n\r\n",
                    self.sid
                )?;
                let len = self.read_head()?;
                let mut buf = vec![0u8; len];
                self.reader.read_exact(&mut buf)?;
                if !buf.is_empty() {
                    break buf;
                }
            },
        };
        String::from_utf8(bytes).map_err(|_| io::ErrorKind::InvalidData.into())
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn client(a: Args, start: Arc<Barrier>) -> io::Result<Vec<Duration>> {
    let mut s = connect(&a)?;
    let payload = frame(&"x".repeat(a.size));
    let mut rtts = Vec::with_capacity(a.messages);
    start.wait();
    for _ in 0..a.messages {
        let t = Instant::now();
        s.send(a.transport, &payload)?;
        let mut got = s.receive(a.transport)?;
        // Heartbeats may arrive in between; they are not echoes.
        while got.contains("~h~") && !got.contains('x') {
            got = s.receive(a.transport)?;
        }
        rtts.push(t.elapsed());
    }
    Ok(rtts)
}

fn main() {
    let a = parse().unwrap_or_else(|e| {
        eprintln!("loadgen: {e}");
        std::process::exit(2)
    });
    let start = Arc::new(Barrier::new(a.clients + 1));
    let threads: Vec<_> = (0..a.clients)
        .map(|_| {
            let (a, start) = (a.clone(), start.clone());
            thread::spawn(move || client(a, start))
        })
        .collect();
    start.wait();
    let began = Instant::now();
    let mut rtts: Vec<Duration> = Vec::new();
    for t in threads {
        match t.join().expect("client thread") {
            Ok(r) => rtts.extend(r),
            Err(e) => {
                eprintln!("loadgen: a client failed: {e}");
                std::process::exit(1)
            }
        }
    }
    let elapsed = began.elapsed();
    if rtts.is_empty() {
        eprintln!("loadgen: no messages were sent (--clients and --messages must be over 0)");
        std::process::exit(2)
    }
    rtts.sort();
    let pct = |p: f64| rtts[((rtts.len() as f64 * p) as usize).min(rtts.len() - 1)];
    println!(
        "{:?} clients={} messages={} size={}: {:.0} msg/s, p50 {:.2} ms, p99 {:.2} ms",
        a.transport,
        a.clients,
        rtts.len(),
        a.size,
        rtts.len() as f64 / elapsed.as_secs_f64(),
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3
    );
}
