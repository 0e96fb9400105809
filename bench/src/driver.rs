//! The event loop: one thread, non-blocking sockets on `mio`, one [`Session`] per client slot.
//! The workload asks it to open sessions and send messages and is told what happened.
//!
//! With [`Driver::tls`] every connection speaks TLS: what the socket brings goes through the
//! connection's rustls session and the sessions see only plaintext, and what they write is
//! encrypted on its way out. The TLS handshake comes first, while the sessions are opened.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::net::Sources;
use crate::session::{self, Session, Transport};

/// What a poll brought, per client slot.
#[derive(Debug, PartialEq, Eq)]
pub enum Happened {
    /// The session has its id.
    Open(usize),
    /// A message's data.
    Message(usize, String),
    /// A handshake-only session is over and its connection closed.
    Finished(usize),
}

struct Conn {
    stream: TcpStream,
    connected: bool,
    input: Vec<u8>,
    /// The TLS session, when the connections speak TLS; it keeps ciphertext not yet written.
    tls: Option<Box<rustls::ClientConnection>>,
}

#[derive(Default)]
struct Slot {
    session: Option<Session>,
    conns: [Option<Conn>; 2],
}

pub struct Driver {
    poll: Poll,
    events: Events,
    target: SocketAddr,
    host: String,
    transport: Transport,
    handshake_only: bool,
    sources: Sources,
    tls: Option<Arc<rustls::ClientConfig>>,
    slots: Vec<Slot>,
    read_buf: Vec<u8>,
    session_events: Vec<session::Event>,
}

impl Driver {
    pub fn new(
        target: SocketAddr,
        transport: Transport,
        handshake_only: bool,
        sources: Sources,
        slots: usize,
    ) -> io::Result<Driver> {
        Ok(Driver {
            poll: Poll::new()?,
            events: Events::with_capacity(1024),
            target,
            host: target.to_string(),
            transport,
            handshake_only,
            sources,
            tls: None,
            slots: (0..slots).map(|_| Slot::default()).collect(),
            read_buf: vec![0; 64 * 1024],
            session_events: Vec::new(),
        })
    }

    /// Makes every connection opened from now on speak TLS with this configuration.
    pub fn tls(mut self, config: Arc<rustls::ClientConfig>) -> Driver {
        self.tls = Some(config);
        self
    }

    /// Opens a new session in slot `i` (closing whatever was there).
    pub fn start(&mut self, i: usize) -> Result<(), String> {
        self.close(i);
        let session = Session::new(self.transport, &self.host, self.handshake_only);
        for role in 0..session.conns() {
            let mut stream = self
                .sources
                .connect(self.target)
                .map_err(|e| connect_error(self.target, e))?;
            self.poll
                .registry()
                .register(
                    &mut stream,
                    Token(i * 2 + role),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .map_err(|e| format!("cannot watch a connection: {e}"))?;
            let tls = match &self.tls {
                Some(config) => Some(Box::new(crate::tls::connect(config)?)),
                None => None,
            };
            self.slots[i].conns[role] = Some(Conn {
                stream,
                connected: false,
                input: Vec::new(),
                tls,
            });
        }
        self.slots[i].session = Some(session);
        Ok(())
    }

    /// Closes slot `i`'s connections.
    pub fn close(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        slot.session = None;
        for conn in slot.conns.iter_mut().filter_map(Option::take) {
            let mut stream = conn.stream;
            let _ = self.poll.registry().deregister(&mut stream);
        }
    }

    pub fn close_all(&mut self) {
        (0..self.slots.len()).for_each(|i| self.close(i));
    }

    /// Sends one message on slot `i`'s session, writing it at once.
    pub fn send(&mut self, i: usize, data: &str) -> Result<(), String> {
        if let Some(s) = self.slots[i].session.as_mut() {
            s.send(data);
            self.flush(i)?;
        }
        Ok(())
    }

    /// Waits up to `timeout` for the sockets and handles what they brought, telling `f` as it
    /// goes, one connection at a time, so that answers go out while the rest is read. An error
    /// names the client and what went wrong; the run cannot go on.
    pub fn poll<F>(&mut self, timeout: Duration, mut f: F) -> Result<(), String>
    where
        F: FnMut(&mut Driver, Happened) -> Result<(), String>,
    {
        match self.poll.poll(&mut self.events, Some(timeout)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(format!("poll: {e}")),
        }
        let ready: Vec<(usize, bool)> = self
            .events
            .iter()
            .map(|e| (e.token().0, e.is_read_closed()))
            .collect();
        let mut happened = Vec::new();
        for (token, read_closed) in ready {
            let (i, role) = (token / 2, token % 2);
            self.ready(i, role, read_closed, &mut happened)
                .map_err(|e| format!("client {i}: {e}"))?;
            for h in happened.drain(..) {
                f(self, h)?;
            }
            self.flush(i)?;
        }
        Ok(())
    }

    fn ready(
        &mut self,
        i: usize,
        role: usize,
        read_closed: bool,
        happened: &mut Vec<Happened>,
    ) -> Result<(), String> {
        let Slot { session, conns } = &mut self.slots[i];
        let (Some(session), Some(conn)) = (session.as_mut(), conns[role].as_mut()) else {
            return Ok(()); // a connection closed earlier in this batch
        };
        if !conn.connected {
            if let Some(e) = conn.stream.take_error().map_err(|e| e.to_string())? {
                return Err(connect_error(self.target, e));
            }
            match conn.stream.peer_addr() {
                Ok(_) => conn.connected = true,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(()),
                Err(e) => return Err(connect_error(self.target, e)),
            }
        }
        // A short read emptied the socket: anything later, its end too, is a new event. Only
        // an end already seen is read up to, to find where it is.
        let mut eof = false;
        loop {
            match conn.stream.read(&mut self.read_buf) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => {
                    match conn.tls.as_deref_mut() {
                        None => conn.input.extend_from_slice(&self.read_buf[..n]),
                        Some(tls) => {
                            if decrypt(tls, &self.read_buf[..n], &mut conn.input)? {
                                eof = true;
                                break;
                            }
                        }
                    }
                    if n < self.read_buf.len() && !read_closed {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("read: {e}")),
            }
        }
        if !conn.input.is_empty() {
            session.received(role, &mut conn.input, &mut self.session_events)?;
            for e in self.session_events.drain(..) {
                happened.push(match e {
                    session::Event::Open => Happened::Open(i),
                    session::Event::Message(data) => Happened::Message(i, data),
                });
            }
        }
        let answered = self.handshake_only && session.sid().is_some();
        if eof || (answered && !session.server_closes()) {
            if !answered {
                session.closed(role)?;
            }
            self.close(i);
            happened.push(Happened::Finished(i));
        }
        Ok(())
    }

    fn flush(&mut self, i: usize) -> Result<(), String> {
        let Slot { session, conns } = &mut self.slots[i];
        let Some(session) = session.as_mut() else {
            return Ok(());
        };
        for (conn, out) in conns.iter_mut().zip(session.out.iter_mut()) {
            let Some(conn) = conn.as_mut().filter(|c| c.connected) else {
                continue;
            };
            if let Some(tls) = conn.tls.as_deref_mut() {
                encrypt_and_write(tls, &mut conn.stream, out)
                    .map_err(|e| format!("client {i}: {e}"))?;
                continue;
            }
            let mut written = 0;
            while written < out.len() {
                match conn.stream.write(&out[written..]) {
                    Ok(n) => written += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(format!("client {i}: write: {e}")),
                }
            }
            out.drain(..written);
        }
        Ok(())
    }
}

/// Feeds ciphertext to the TLS session and appends the plaintext it yields to `input`; true
/// once the server has closed the TLS session.
fn decrypt(
    tls: &mut rustls::ClientConnection,
    mut ciphertext: &[u8],
    input: &mut Vec<u8>,
) -> Result<bool, String> {
    while !ciphertext.is_empty() {
        if tls
            .read_tls(&mut ciphertext)
            .map_err(|e| format!("TLS: {e}"))?
            == 0
        {
            return Err("TLS: the session takes no more input".into());
        }
        let state = tls.process_new_packets().map_err(|e| format!("TLS: {e}"))?;
        let n = state.plaintext_bytes_to_read();
        if n > 0 {
            let start = input.len();
            input.resize(start + n, 0);
            tls.reader()
                .read_exact(&mut input[start..])
                .map_err(|e| format!("TLS: {e}"))?;
        }
        if state.peer_has_closed() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Encrypts `out` (emptying it) and writes the TLS session's ciphertext, its handshake's too,
/// until the socket would block; what is left goes on the next writable event.
fn encrypt_and_write(
    tls: &mut rustls::ClientConnection,
    stream: &mut TcpStream,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    loop {
        if !out.is_empty() {
            let n = tls.writer().write(out).map_err(|e| format!("TLS: {e}"))?;
            out.drain(..n);
        }
        if !tls.wants_write() {
            return Ok(());
        }
        match tls.write_tls(stream) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("write: {e}")),
        }
    }
}

fn connect_error(target: SocketAddr, e: io::Error) -> String {
    format!("cannot connect to {target}: {e}")
}
