//! The echo server on an event loop of its own: non-blocking sockets, `mio` for readiness,
//! and `io_core::Server` for everything Socket.IO. No async runtime, no thread per
//! connection. Copy this to embed the core in any loop that can read, write and sleep:
//! it reports what it wrote (`handle_written`), so the core's flow control protects it
//! from peers that stop reading, as it protects the adapters.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use io_adapter::write::{coalesce, consume, write_front};
use io_core::{Close, ConnId, ConnectionInfo, Event, Options, Server};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

const LISTENER: Token = Token(0);
const WAKER: Token = Token(usize::MAX);

struct Conn {
    stream: TcpStream,
    /// Its token in the poller.
    token: Token,
    /// Segments the core asked us to write and the socket has not taken yet.
    out: VecDeque<Bytes>,
    close_after: bool,
}

/// Stops a running loop from another thread, and tells what it holds.
#[derive(Clone)]
pub struct Handle {
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    stats: Arc<Stats>,
}

#[derive(Default)]
struct Stats {
    sessions: AtomicUsize,
    timers: AtomicUsize,
    disconnects: AtomicUsize,
}

impl Handle {
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.waker.wake();
    }
    /// Sessions alive.
    pub fn sessions(&self) -> usize {
        self.stats.sessions.load(Ordering::Acquire)
    }
    /// Timers armed in the core.
    pub fn timers(&self) -> usize {
        self.stats.timers.load(Ordering::Acquire)
    }
    /// Sessions that have ended so far.
    pub fn disconnects(&self) -> usize {
        self.stats.disconnects.load(Ordering::Acquire)
    }
}

pub struct Loop {
    poll: Poll,
    listener: TcpListener,
    server: Server,
    conns: HashMap<ConnId, Conn>,
    /// The connection behind each poller token (tokens are ours, ids the core's).
    tokens: HashMap<Token, ConnId>,
    next_token: usize,
    handle: Handle,
}

impl Loop {
    pub fn new(listener: std::net::TcpListener, options: Options) -> io::Result<Loop> {
        let server =
            Server::new(options).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        listener.set_nonblocking(true)?;
        let mut listener = TcpListener::from_std(listener);
        let poll = Poll::new()?;
        poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let handle = Handle { stop: Arc::default(), waker, stats: Arc::default() };
        Ok(Loop {
            poll,
            listener,
            server,
            conns: HashMap::new(),
            tokens: HashMap::new(),
            next_token: 1,
            handle,
        })
    }

    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Runs until [`Handle::stop`]; then every session ends and every socket is closed.
    pub fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        let mut buf = vec![0u8; 64 * 1024];
        while !self.handle.stop.load(Ordering::Acquire) {
            // Sleep until the next socket event or the core's next deadline.
            let timeout = self.server.poll_timeout().map(|at| at - Instant::now().min(at));
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            let now = Instant::now();
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(now)?,
                    WAKER => {}
                    token => {
                        let Some(&id) = self.tokens.get(&token) else {
                            continue;
                        };
                        if event.is_readable() || event.is_read_closed() {
                            self.read(id, &mut buf, event.is_read_closed(), now);
                        }
                        self.flush(id, now);
                    }
                }
            }
            if self.server.poll_timeout().is_some_and(|at| at <= now) {
                self.server.handle_timeout(now);
            }
            self.drain(now);
        }
        // Shutting down: end every session, then give the sockets a moment for the rest.
        self.server.shutdown(Instant::now());
        let deadline = Instant::now() + Duration::from_secs(1);
        while !self.conns.is_empty() && Instant::now() < deadline {
            let ids: Vec<ConnId> = self.conns.keys().copied().collect();
            ids.into_iter().for_each(|id| self.flush(id, Instant::now()));
            self.drain(Instant::now());
            self.poll.poll(&mut events, Some(Duration::from_millis(20)))?;
        }
        Ok(())
    }

    fn accept(&mut self, now: Instant) -> io::Result<()> {
        // Out of descriptors, or a peer that gave up already: try again on the next event.
        while let Ok((mut stream, peer)) = self.listener.accept() {
            let local = stream.local_addr().unwrap_or(peer);
            let id = self.server.handle_connection(ConnectionInfo::new(peer, local), now);
            let token = Token(self.next_token);
            self.next_token += 1;
            let interest = Interest::READABLE | Interest::WRITABLE;
            self.poll.registry().register(&mut stream, token, interest)?;
            self.tokens.insert(token, id);
            self.conns.insert(id, Conn { stream, token, out: VecDeque::new(), close_after: false });
        }
        Ok(())
    }

    /// Readiness is edge-triggered: read until the socket has nothing more. A read that did
    /// not fill the buffer emptied the socket, so the next arrival brings a new event and
    /// one more read would only say `WouldBlock`; unless the peer's end of stream is known
    /// to be there already (`ended`), which only a read of 0 bytes shows.
    fn read(&mut self, id: ConnId, buf: &mut [u8], ended: bool, now: Instant) {
        while let Some(conn) = self.conns.get_mut(&id) {
            match conn.stream.read(buf) {
                // The peer sends no more; what it is owed still goes out.
                Ok(0) => return self.server.handle_read_closed(id, now),
                Ok(n) => {
                    self.server.handle_bytes(id, &buf[..n], now);
                    // Drain after every input: a peer that sends without pause must not
                    // keep its echoes (and the other connections) waiting.
                    self.drain(now);
                    if n < buf.len() && !ended {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.close(id, now),
            }
        }
    }

    /// Writes what is queued, all segments in one vectored write while the socket takes them.
    fn flush(&mut self, id: ConnId, now: Instant) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        coalesce(&mut conn.out);
        while !conn.out.is_empty() {
            match write_front(&mut conn.stream, &conn.out) {
                Ok(0) => return self.close(id, now),
                Ok(n) => {
                    consume(&mut conn.out, n);
                    self.server.handle_written(id, n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.close(id, now),
            }
        }
        if conn.close_after {
            self.close(id, now);
        }
    }

    fn close(&mut self, id: ConnId, now: Instant) {
        if let Some(mut conn) = self.conns.remove(&id) {
            self.tokens.remove(&conn.token);
            let _ = self.poll.registry().deregister(&mut conn.stream);
            let _ = conn.stream.shutdown(std::net::Shutdown::Both);
            // Unknown to the core already if it asked for the close.
            self.server.handle_closed(id, now);
        }
    }

    /// Carries out what the core asked for, and plays the echo application. Its answers are
    /// new inputs, so this goes round until the core has nothing more to say.
    fn drain(&mut self, now: Instant) {
        loop {
            // Published before anything is written, so a peer never sees an answer first.
            let stats = &self.handle.stats;
            stats.sessions.store(self.server.session_count(), Ordering::Release);
            stats.timers.store(self.server.timer_count(), Ordering::Release);
            while let Some(t) = self.server.poll_transmit() {
                let (id, close) = (t.conn, t.close);
                if close == Some(Close::Abort) {
                    // A peer that stopped reading: drop what it did not take.
                    self.close(id, now);
                    continue;
                }
                if let Some(conn) = self.conns.get_mut(&id) {
                    conn.out.extend(t.into_bytes().into_iter().filter(|b| !b.is_empty()));
                    conn.close_after |= close.is_some();
                }
                self.flush(id, now);
            }
            match self.server.poll_event() {
                Some(Event::Message(session, msg)) => {
                    let _ = self.server.send(session, &msg, now);
                }
                Some(Event::Request(conn, req)) => {
                    let _ = self.server.respond(conn, crate::apps::hello(&req), now);
                }
                Some(Event::Disconnect(..)) => {
                    self.handle.stats.disconnects.fetch_add(1, Ordering::AcqRel);
                }
                Some(Event::Connect(_)) => {}
                // Only with Options::authorize, which this loop leaves off.
                Some(Event::Authorize(conn, _)) => {
                    let _ = self.server.authorize(conn, Ok(()), now);
                }
                Some(_) => {}
                None => return,
            }
        }
    }
}
