//! The state machine: connections and sessions in slabs, deadlines in an indexed heap, and
//! three queues the adapter drains.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;

use crate::client::ClientScript;
use crate::cluster::{self, Audience, Publication, PublicationError};
use crate::codec;
use crate::conn::{Conn, ConnId, ConnState, ConnectionInfo};
use crate::error::Error;
use crate::handshake::Handshake;
use crate::http::parser::RequestParser;
use crate::http::request::Request;
use crate::http::response::{self, head, Framing, Response, Segment};
use crate::message::Message;
use crate::metrics::Metrics;
use crate::options::{Options, RandomFn};
use crate::policy;
use crate::rate::HandshakeRates;
use crate::rooms::{check_name, Rooms};
use crate::session::{DisconnectReason, SessionId};
use crate::table::{Conns, Sessions};
use crate::timer::{TimerOwner, Timers};
use crate::transport::TransportKind;

mod heartbeats;
mod http;
mod sessions;
mod timers;
mod websocket;

/// What one connection is to receive: response heads, bodies, chunks and raw bytes, as
/// data. Adapters call [`Transmit::into_bytes`] and write the result with one vectored
/// write; an embedder with its own HTTP stack maps the segments to its own types.
///
/// Report every byte written with [`Server::handle_written`]: the server counts what is
/// still on its way to each peer and cuts off a peer that stops reading.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Transmit {
    /// The connection to write to.
    pub conn: ConnId,
    /// Segments to write in order; payloads shared between recipients are not copied.
    pub segments: Vec<Segment>,
    /// Whether the connection ends after this; the server has then already forgotten it.
    pub close: Option<Close>,
}

/// How a connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Close {
    /// Write everything queued for it, then close.
    AfterWrite,
    /// Close now and drop whatever is still unwritten: the peer broke a limit (it stopped
    /// reading), so no more effort goes to it.
    Abort,
}

impl Transmit {
    /// The segments as bytes, in order.
    pub fn into_bytes(self) -> Vec<Bytes> {
        response::encode(self.segments)
    }

    /// The segments as bytes, appended to a write queue (empty ones left out).
    pub fn encode_into(self, queue: &mut std::collections::VecDeque<Bytes>) {
        for s in self.segments {
            if !matches!(&s, Segment::Body(b) | Segment::Raw(b) if b.is_empty()) {
                s.encode_into(queue);
            }
        }
    }

    /// How many bytes [`into_bytes`](Self::into_bytes) will give.
    pub fn len(&self) -> usize {
        self.segments.iter().map(Segment::wire_len).sum()
    }

    /// Whether there is nothing to write (a bare close).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What happened, for the application.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
#[non_exhaustive]
pub enum Event {
    /// A session's first transport attached; its id went out as the first message.
    Connect(SessionId),
    /// A message from the session's client.
    Message(SessionId, Message),
    /// Exactly once per session that connected.
    Disconnect(SessionId, DisconnectReason),
    /// A request outside the resource. Answer it with [`Server::respond`], or take the
    /// connection over with [`Server::take_connection`] (a foreign WebSocket upgrade).
    Request(ConnId, Request),
    /// With [`Options::authorize`]: a handshake asks for a new session. Answer with
    /// [`Server::authorize`], now or later; until then the connection waits.
    Authorize(ConnId, Box<Handshake>),
}

/// What the application may learn about a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The transport the session uses; a session keeps the one it connected with.
    pub transport: TransportKind,
    /// How many times a transport has attached (the seed's `connections`).
    pub connections: u32,
    /// A transport is attached right now.
    pub open: bool,
}

/// The Socket.IO 0.6 server as a pure state machine.
///
/// Feed it with the `handle_*` methods and the application commands; after each call drain
/// [`poll_transmit`](Self::poll_transmit) and [`poll_event`](Self::poll_event) until they
/// return `None`, then sleep until [`poll_timeout`](Self::poll_timeout) (or the next input).
pub struct Server {
    opts: Options,
    conns: Conns,
    sessions: Sessions,
    timers: Timers,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    /// For the other nodes, when [`Options::cluster`] is on.
    publications: VecDeque<Publication>,
    /// [`drain`](Self::drain) was called: no new sessions.
    draining: bool,
    /// The counters; the gauges are filled in when they are read.
    metrics: Metrics,
    rooms: Rooms,
    /// Connections back in the request-reading state with input still buffered.
    resume: Vec<ConnId>,
    /// Connections whose peer stopped reading: cut off once the current input is done.
    cutoffs: Vec<ConnId>,
    /// Reused for the frames decoded from each WebSocket read.
    ws_events: Vec<crate::websocket::WsEvent>,
    random: RandomFn,
    /// New sessions per peer address in the current second.
    rates: HandshakeRates,
    policy: Bytes,
    script: ClientScript,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("connections", &self.conns.len())
            .field("sessions", &self.sessions.len())
            .field("timers", &self.timers.len())
            .finish_non_exhaustive()
    }
}

#[expect(
    clippy::expect_used,
    reason = "without the OS's random source no session id is safe to hand out"
)]
fn os_random(buf: &mut [u8]) {
    // Without entropy there is no safe session id; failing loudly beats predictable ids.
    getrandom::getrandom(buf).expect("the operating system's random source failed");
}

impl Server {
    /// A server whose session ids come from the operating system's CSPRNG.
    pub fn new(opts: Options) -> Result<Self, Error> {
        Self::with_random(opts, Box::new(os_random))
    }

    /// A server with its own source of session ids (tests plug in a seeded one).
    pub fn with_random(opts: Options, random: RandomFn) -> Result<Self, Error> {
        let res = &opts.resource;
        if res.is_empty() || res.starts_with('/') || res.ends_with('/') || res.contains("//") {
            return Err(Error::InvalidOptions(format!(
                "resource {res:?} must be a non-empty path without leading or trailing '/'"
            )));
        }
        if opts.transports.is_empty() {
            return Err(Error::InvalidOptions("no transport is enabled".into()));
        }
        let policy = policy::policy_document(
            opts.origins
                .patterns()
                .iter()
                .map(|p| p.policy_parts())
                .collect::<Vec<_>>()
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str())),
        );
        Ok(Server {
            opts,
            conns: Conns::default(),
            sessions: Sessions::default(),
            timers: Timers::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            publications: VecDeque::new(),
            draining: false,
            metrics: Metrics::default(),
            rooms: Rooms::default(),
            resume: Vec::new(),
            cutoffs: Vec::new(),
            ws_events: Vec::new(),
            random,
            rates: HandshakeRates::default(),
            policy,
            script: ClientScript::new(),
        })
    }

    /// The options the server was built with.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// The Flash policy document, for a standalone policy listener.
    pub fn policy_document(&self) -> Bytes {
        self.policy.clone()
    }

    // ---- inputs ------------------------------------------------------------------------

    /// The adapter accepted a connection.
    pub fn handle_connection(&mut self, info: ConnectionInfo, now: Instant) -> ConnId {
        self.metrics.connections_total += 1;
        let probing =
            self.opts.inline_flash_policy && self.opts.is_enabled(TransportKind::FlashSocket);
        let limits = self.opts.limits;
        let id = self.conns.insert(Conn::new(
            RequestParser::new(limits.max_head, limits.max_body),
            probing,
            info,
        ));
        self.arm_conn_timer(id, limits.idle_timeout, now);
        id
    }

    /// Bytes read from a connection.
    pub fn handle_bytes(&mut self, conn: ConnId, data: &[u8], now: Instant) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        self.metrics.bytes_in += data.len() as u64;
        match c.state {
            ConnState::WebSocket { .. } => self.ws_input(conn, data, now),
            ConnState::AwaitKey3 { .. } => {
                c.input.extend_from_slice(data);
                self.try_key3(conn, now);
            }
            ConnState::Http => {
                c.input.extend_from_slice(data);
                self.process_http(conn, now);
            }
            ConnState::App
            | ConnState::Authorizing(_)
            | ConnState::Poll(_)
            | ConnState::Stream(_) => {
                // A request is in progress: keep what comes next for later, within reason.
                let limits = self.opts.limits;
                if c.input.len() + data.len() > limits.max_head + limits.max_body {
                    log::debug!("closing connection {conn}: too much pipelined input");
                    self.close_conn(conn, now);
                } else {
                    c.input.extend_from_slice(data);
                }
            }
        }
        self.finish(now);
    }

    /// A request that the embedder's own HTTP stack parsed. The connection must have been
    /// announced with `handle_connection` and be between requests.
    pub fn handle_request(&mut self, conn: ConnId, request: Request, now: Instant) {
        match self.conns.get_mut(&conn) {
            Some(c) if matches!(c.state, ConnState::Http) => {
                c.probing = false;
                self.on_request(conn, request, now);
                self.finish(now);
            }
            _ => log::debug!("request on connection {conn} ignored: it is closed or busy"),
        }
    }

    /// `n` bytes of what was transmitted to `conn` have been written to the socket (taken
    /// by the kernel). Bytes transmitted and not yet reported count against
    /// `limits.max_unwritten`; a peer past it is cut off.
    pub fn handle_written(&mut self, conn: ConnId, n: usize) {
        self.metrics.bytes_out += n as u64;
        if let Some(c) = self.conns.get_mut(&conn) {
            c.unwritten = c.unwritten.saturating_sub(n);
        }
    }

    /// The peer will send nothing more (a read returned end of stream), but may still be
    /// reading: what it is owed goes out first. A response the application or a request
    /// in progress owes it is written, a held poll is answered (empty), and then the
    /// connection closes. A stream or WebSocket whose peer stopped sending is over.
    pub fn handle_read_closed(&mut self, conn: ConnId, now: Instant) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.read_closed = true;
        match &c.state {
            ConnState::Http => self.close_conn(conn, now),
            ConnState::App | ConnState::Authorizing(_) => {}
            ConnState::Poll(sid) => {
                let sid = *sid;
                self.write_payload(sid, Vec::new(), now);
            }
            ConnState::Stream(_) | ConnState::AwaitKey3 { .. } | ConnState::WebSocket { .. } => {
                self.close_conn(conn, now)
            }
        }
        self.finish(now);
    }

    /// The peer is gone (reset, or a write failed): nothing more can reach it.
    pub fn handle_closed(&mut self, conn: ConnId, now: Instant) {
        if let Some(c) = self.conns.remove(&conn) {
            self.timers.cancel_owner(TimerOwner::Conn(conn));
            if let Some(sid) = c.session() {
                self.transport_lost(sid, conn, DisconnectReason::TransportClosed, now);
            }
        }
        self.finish(now);
    }

    /// The deadline from `poll_timeout` has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(key) = self.timers.pop_due(now) {
            self.fire(key, now);
        }
        self.finish(now);
    }

    // ---- application commands -------------------------------------------------------

    /// Sends a message to one session; queued while no transport is attached. With
    /// [`Options::cluster`] on, a session another node owns gets it through the bus (at
    /// most once: the bus does not say whether it arrived).
    pub fn send(&mut self, session: SessionId, msg: &Message, now: Instant) -> Result<(), Error> {
        if !self.sessions.contains_key(&session) {
            if self.is_remote(session) {
                let bytes = cluster::send(self.opts.node_id, session, &codec::encode(msg));
                self.publications.push_back(Publication {
                    audience: Audience::Node(session.node()),
                    bytes,
                });
                return Ok(());
            }
            return Err(Error::UnknownSession(session));
        }
        self.deliver(session, codec::encode(msg), now);
        self.finish(now);
        Ok(())
    }

    /// Whether `session` belongs to another node of the cluster.
    pub fn is_remote(&self, session: SessionId) -> bool {
        self.opts.cluster && session.node() != self.opts.node_id
    }

    /// Whether a message can be sent to `session`: it lives here, or (in a cluster) on
    /// another node.
    pub fn reaches(&self, session: SessionId) -> bool {
        self.sessions.contains_key(&session) || self.is_remote(session)
    }

    /// Sends a message to every connected session but those in `except`, on this node and,
    /// with [`Options::cluster`] on, on the others. The frame is encoded once and shared.
    pub fn broadcast(&mut self, msg: &Message, except: &[SessionId], now: Instant) {
        let frame = codec::encode(msg);
        if self.opts.cluster {
            self.publications.push_back(Publication {
                audience: Audience::Everyone,
                bytes: cluster::broadcast(self.opts.node_id, except, &frame),
            });
        }
        self.broadcast_frame(frame, except, now);
    }

    fn broadcast_frame(&mut self, frame: Bytes, except: &[SessionId], now: Instant) {
        let targets: Vec<SessionId> = self
            .sessions
            .keys()
            .filter(|s| !except.contains(s))
            .collect();
        self.deliver_to(targets, frame, now);
    }

    /// Delivers one frame to each of `targets`, each transport's wrapping built once.
    fn deliver_to(&mut self, targets: Vec<SessionId>, frame: Bytes, now: Instant) {
        let mut payload = crate::transport::Payload::new(vec![frame]);
        for sid in targets {
            self.deliver_shared(sid, &mut payload, now);
        }
        self.finish(now);
    }

    /// Puts `session` in `room` (made on first use). A session may be in any number of
    /// rooms, and leaves them all when it ends.
    pub fn join(&mut self, session: SessionId, room: &str) -> Result<(), Error> {
        check_name(room).map_err(Error::InvalidRoom)?;
        if !self.sessions.contains_key(&session) {
            return Err(Error::UnknownSession(session));
        }
        self.rooms.join(session, room);
        Ok(())
    }

    /// Takes `session` out of `room`; a room nobody is in is gone.
    pub fn leave(&mut self, session: SessionId, room: &str) -> Result<(), Error> {
        if !self.sessions.contains_key(&session) {
            return Err(Error::UnknownSession(session));
        }
        self.rooms.leave(session, room);
        Ok(())
    }

    /// The rooms `session` is in, in the order it joined them.
    pub fn rooms(&self, session: SessionId) -> impl Iterator<Item = &str> + '_ {
        self.rooms.of(session).iter().map(String::as_str)
    }

    /// The sessions of this node in `room`, in the order they joined.
    pub fn room_members(&self, room: &str) -> impl Iterator<Item = SessionId> + '_ {
        self.rooms.members(room).iter().copied()
    }

    /// Sends to every session in `room` but those in `except`, on this node and, with
    /// [`Options::cluster`] on, on the others; encoded once, like any broadcast.
    pub fn broadcast_to(
        &mut self,
        room: &str,
        msg: &Message,
        except: &[SessionId],
        now: Instant,
    ) -> Result<(), Error> {
        check_name(room).map_err(Error::InvalidRoom)?;
        let frame = codec::encode(msg);
        if self.opts.cluster {
            self.publications.push_back(Publication {
                audience: Audience::Everyone,
                bytes: cluster::room(self.opts.node_id, room, except, &frame),
            });
        }
        self.room_frame(room, frame, except, now);
        Ok(())
    }

    fn room_frame(&mut self, room: &str, frame: Bytes, except: &[SessionId], now: Instant) {
        let targets: Vec<SessionId> = self
            .rooms
            .members(room)
            .iter()
            .copied()
            .filter(|s| !except.contains(s))
            .collect();
        self.deliver_to(targets, frame, now);
    }

    /// A publication another node put on the bus: a broadcast goes to the local sessions
    /// but those it excepts, a message for one session to that session if it lives here.
    /// This node's own publications, which a bus may echo back, are ignored.
    pub fn handle_publication(
        &mut self,
        bytes: &Bytes,
        now: Instant,
    ) -> Result<(), PublicationError> {
        let p = cluster::decode(bytes)?;
        if p.origin == self.opts.node_id {
            return Ok(());
        }
        match p.kind {
            cluster::Kind::Broadcast { except } => self.broadcast_frame(p.frame, &except, now),
            cluster::Kind::Room { room, except } => self.room_frame(&room, p.frame, &except, now),
            cluster::Kind::Send(sid) => {
                // Gone meanwhile, or never here: at most once means dropped.
                if self.sessions.contains_key(&sid) {
                    self.deliver(sid, p.frame, now);
                    self.finish(now);
                }
            }
        }
        Ok(())
    }

    /// Ends a session: its transport is closed and a `Disconnect` event follows.
    pub fn disconnect(&mut self, session: SessionId, now: Instant) -> Result<(), Error> {
        if !self.sessions.contains_key(&session) {
            return Err(Error::UnknownSession(session));
        }
        self.end_session(session, DisconnectReason::Server, now);
        self.finish(now);
        Ok(())
    }

    /// Answers a request that was handed over as [`Event::Request`].
    pub fn respond(&mut self, conn: ConnId, resp: Response, now: Instant) -> Result<(), Error> {
        let c = self
            .conns
            .get_mut(&conn)
            .ok_or(Error::UnknownConnection(conn))?;
        if !matches!(c.state, ConnState::App) {
            return Err(Error::NotAwaitingResponse(conn));
        }
        let keep_alive = c.keep_alive;
        let head = head(
            resp.status,
            resp.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            Framing::Length(resp.body.len()),
            keep_alive,
        );
        self.finish_response(conn, vec![head, Segment::Body(resp.body)], keep_alive, now);
        self.finish(now);
        Ok(())
    }

    /// Gives a connection whose request was handed over as [`Event::Request`] to the
    /// application for good (for example a WebSocket server of its own). Returns the bytes
    /// that arrived after that request's head.
    pub fn take_connection(&mut self, conn: ConnId) -> Result<Bytes, Error> {
        match self.conns.get(&conn) {
            Some(c) if matches!(c.state, ConnState::App) => {}
            Some(_) => return Err(Error::NotAwaitingResponse(conn)),
            None => return Err(Error::UnknownConnection(conn)),
        }
        let c = self
            .conns
            .remove(&conn)
            .ok_or(Error::UnknownConnection(conn))?;
        self.timers.cancel_owner(TimerOwner::Conn(conn));
        Ok(Bytes::from(c.input))
    }

    /// Ends every session (with `Disconnect` events) and closes every connection.
    pub fn shutdown(&mut self, now: Instant) {
        let sessions: Vec<SessionId> = self.sessions.keys().collect();
        for sid in sessions {
            self.end_session(sid, DisconnectReason::Shutdown, now);
        }
        let conns: Vec<ConnId> = self.conns.keys().collect();
        for c in conns {
            self.close_conn(c, now);
        }
        self.resume.clear();
        self.cutoffs.clear();
    }

    /// Drains this node for a rolling restart: new sessions are refused with `503` (a
    /// proxy passes the handshake to another node), and every session ends with
    /// [`DisconnectReason::Draining`]: a WebSocket is closed with 1001, a stream ends, a
    /// held poll gets an empty answer, so that each client connects again, elsewhere.
    /// Connections stay open for whatever they are still owed; once
    /// [`connection_count`](Self::connection_count) is 0 the process may exit.
    pub fn drain(&mut self, now: Instant) {
        self.draining = true;
        let sessions: Vec<SessionId> = self.sessions.keys().collect();
        for sid in sessions {
            self.end_session(sid, DisconnectReason::Draining, now);
        }
        // Idle keep-alive connections (a proxy's pool, say) close now, and so do hixie-76
        // handshakes still waiting for their key3 (a session they would make or join is
        // gone); the others once they have their answer.
        let idle: Vec<ConnId> = self
            .conns
            .keys()
            .filter(|id| {
                self.conns.get(id).is_some_and(|c| match c.state {
                    ConnState::Http => c.input.is_empty(),
                    ConnState::AwaitKey3 { .. } => true,
                    _ => false,
                })
            })
            .collect();
        for id in idle {
            self.close_conn(id, now);
        }
        // Handshakes waiting for the application's verdict go elsewhere too.
        let waiting: Vec<ConnId> = self
            .conns
            .keys()
            .filter(|id| {
                self.conns
                    .get(id)
                    .is_some_and(|c| matches!(c.state, ConnState::Authorizing(_)))
            })
            .collect();
        for id in waiting {
            if let Some(c) = self.conns.get_mut(&id) {
                c.state = ConnState::Http;
            }
            self.metrics.refused += 1;
            self.error_response(id, 503, "this node is draining; try another", now);
        }
        self.finish(now);
    }

    /// The verdict on a handshake that was handed over as [`Event::Authorize`]: `Ok` makes
    /// the session and answers the handshake as usual; `Err(reason)` answers `403` with a
    /// body that says the application refused it, and why.
    pub fn authorize(
        &mut self,
        conn: ConnId,
        verdict: Result<(), String>,
        now: Instant,
    ) -> Result<(), Error> {
        let c = self
            .conns
            .get_mut(&conn)
            .ok_or(Error::NotAuthorizing(conn))?;
        let ConnState::Authorizing(_) = c.state else {
            return Err(Error::NotAuthorizing(conn));
        };
        let ConnState::Authorizing(waiting) = std::mem::replace(&mut c.state, ConnState::Http)
        else {
            return Err(Error::NotAuthorizing(conn));
        };
        let (kind, req) = *waiting;
        match verdict {
            Ok(()) => {
                c.admitted = true;
                self.on_transport_request(conn, kind, None, req, now);
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.admitted = false;
                }
            }
            Err(reason) => {
                c.handshake = None;
                self.metrics.refused += 1;
                log::info!("handshake on connection {conn} refused by the application: {reason}");
                let reason = reason.replace(['\r', '\n'], " ");
                self.error_response(
                    conn,
                    403,
                    &format!("refused by the application: {reason}"),
                    now,
                );
            }
        }
        self.finish(now);
        Ok(())
    }

    /// The handshake that made `session`, with [`Options::keep_handshakes`] on.
    pub fn handshake(&self, session: SessionId) -> Option<&Handshake> {
        self.sessions.get(&session)?.handshake.as_deref()
    }

    /// The latest request that attached a transport to `session` (the handshake itself
    /// until another comes), with [`Options::keep_latest_requests`] on.
    pub fn latest_request(&self, session: SessionId) -> Option<&Handshake> {
        self.sessions.get(&session)?.latest.as_deref()
    }

    /// What the server has done so far, and how many connections and sessions it holds.
    pub fn metrics(&self) -> Metrics {
        Metrics {
            connections: self.conns.len(),
            ..self.metrics
        }
    }

    /// Whether [`drain`](Self::drain) was called.
    pub fn is_draining(&self) -> bool {
        self.draining
    }

    // ---- queries ---------------------------------------------------------------------

    /// Every connected session (the seed's `listener.clients`), including those waiting
    /// out their close timeout.
    pub fn clients(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.sessions.keys()
    }

    /// The session's transport and state; `None` once it has disconnected, or for an id it
    /// never had.
    pub fn session(&self, session: SessionId) -> Option<SessionInfo> {
        self.sessions.get(&session).map(|s| SessionInfo {
            transport: s.kind,
            connections: s.connections,
            open: s.attached.is_some(),
        })
    }

    /// Bytes on their way to a session: queued for its next transport, plus written to its
    /// connection and not yet read by the peer. An application that sends a lot can slow
    /// down before `max_queue` or `max_unwritten` cuts the session off.
    pub fn buffered(&self, session: SessionId) -> Option<usize> {
        let s = self.sessions.get(&session)?;
        let unwritten = s
            .attached
            .as_ref()
            .and_then(|a| self.conns.get(&a.conn()))
            .map_or(0, |c| c.unwritten);
        Some(s.queued_bytes + unwritten)
    }

    /// What the adapter said about a connection when it accepted it.
    pub fn connection_info(&self, conn: ConnId) -> Option<ConnectionInfo> {
        self.conns.get(&conn).map(|c| c.info)
    }

    /// How many timers are armed: at most four per session and one per connection,
    /// however long the server runs.
    pub fn timer_count(&self) -> usize {
        self.timers.len()
    }

    /// Sessions alive, those waiting out their close timeout included; at most
    /// [`Limits::max_sessions`](crate::Limits::max_sessions).
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Connections the server still tracks: accepted, and neither closed nor taken over with
    /// [`take_connection`](Self::take_connection).
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    // ---- outputs ---------------------------------------------------------------------

    /// The next bytes to write; after every input, drain it until `None` first.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the application; drain it after the transmits, until `None`.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// What the bus must carry to other nodes; only with [`Options::cluster`] on.
    #[must_use]
    pub fn poll_publication(&mut self) -> Option<Publication> {
        self.publications.pop_front()
    }

    /// When `handle_timeout` must be called next, if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    // ---- plumbing --------------------------------------------------------------------

    /// What every input does last: connections with pipelined input read on, and peers
    /// that stopped reading are cut off (which may end sessions, and so on).
    fn finish(&mut self, now: Instant) {
        loop {
            self.run_resumes(now);
            let Some(id) = self.cutoffs.pop() else {
                return;
            };
            let Some(c) = self.conns.remove(&id) else {
                continue;
            };
            self.timers.cancel_owner(TimerOwner::Conn(id));
            self.metrics.slow_peers += 1;
            log::warn!(
                "cutting off connection {id}: {} bytes written to it are unread",
                c.unwritten
            );
            // What is queued for it will never be written.
            self.transmits.retain(|t| t.conn != id);
            self.transmits.push_back(Transmit {
                conn: id,
                segments: Vec::new(),
                close: Some(Close::Abort),
            });
            if let Some(sid) = c.session() {
                self.transport_lost(sid, id, DisconnectReason::SlowPeer, now);
            }
        }
    }

    fn transmit(&mut self, conn: ConnId, segments: Vec<Segment>, close: bool) {
        let max_unwritten = self.opts.limits.max_unwritten;
        let len: usize = segments.iter().map(Segment::wire_len).sum();
        if let Some(c) = self.conns.get_mut(&conn) {
            let before = c.unwritten;
            c.unwritten += len;
            // One response larger than the limit may go out; adding to a backlog that is
            // already past it may not.
            if before > max_unwritten && !close {
                self.cutoffs.push(conn);
            }
        }
        let close = close.then_some(Close::AfterWrite);
        // Consecutive writes to one connection travel together: one vectored write.
        if let Some(last) = self.transmits.back_mut() {
            if last.conn == conn && last.close.is_none() {
                last.segments.extend(segments);
                last.close = close;
                return;
            }
        }
        self.transmits.push_back(Transmit {
            conn,
            segments,
            close,
        });
    }

    /// Closes a connection after what was queued for it; the server forgets it at once.
    fn close_conn(&mut self, id: ConnId, now: Instant) {
        let Some(c) = self.conns.remove(&id) else {
            return;
        };
        self.timers.cancel_owner(TimerOwner::Conn(id));
        self.transmit(id, Vec::new(), true);
        if let Some(sid) = c.session() {
            self.transport_lost(sid, id, DisconnectReason::TransportClosed, now);
        }
    }
}

/// A peer-supplied string, short enough to log.
fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}
