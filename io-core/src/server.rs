//! The state machine: connections and sessions in maps keyed by small ids, deadlines in a
//! heap, and three queues the adapter drains.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use bytes::Bytes;

use crate::client::ClientScript;
use crate::codec::{self, Incoming};
use crate::conn::{flavour_name, Conn, ConnId, ConnState, WsTarget};
use crate::error::Error;
use crate::http::form;
use crate::http::parser::RequestParser;
use crate::http::request::Request;
use crate::http::response::{self, write_head, Framing, Response};
use crate::message::Message;
use crate::options::{Options, RandomFn};
use crate::policy;
use crate::route::{route, Route};
use crate::session::{Attached, DisconnectReason, Heartbeat, JsonpTarget, Session, SessionId};
use crate::timer::{Entry, TimerKind, TimerOwner, Timers};
use crate::transport::websocket::{self as ws_transport, Codec};
use crate::transport::{htmlfile, jsonp_polling, xhr_multipart, xhr_polling, Cors, TransportKind};
use crate::websocket::handshake::Flavour;
use crate::websocket::WsEvent;

/// Bytes for one connection, ready for a vectored write.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Transmit {
    pub conn: ConnId,
    /// Segments to write in order; payloads shared between recipients are not copied.
    pub data: Vec<Bytes>,
    /// Close the connection once `data` is written. The server has already forgotten it.
    pub close: bool,
}

/// What happened, for the application.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub enum Event {
    /// A session's first transport attached; its id went out as the first message.
    Connect(SessionId),
    Message(SessionId, Message),
    /// Exactly once per session that connected.
    Disconnect(SessionId, DisconnectReason),
    /// A request outside the resource. Answer it with [`Server::respond`], or take the
    /// connection over with [`Server::take_connection`] (a foreign WebSocket upgrade).
    Request(ConnId, Request),
}

/// What the application may learn about a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
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
    conns: HashMap<ConnId, Conn>,
    sessions: HashMap<SessionId, Session>,
    next_conn: u64,
    timers: Timers,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    /// Connections back in the request-reading state with input still buffered.
    resume: Vec<ConnId>,
    random: RandomFn,
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
            conns: HashMap::new(),
            sessions: HashMap::new(),
            next_conn: 0,
            timers: Timers::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            resume: Vec::new(),
            random,
            policy,
            script: ClientScript::new(),
        })
    }

    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// The Flash policy document, for a standalone policy listener.
    pub fn policy_document(&self) -> Bytes {
        self.policy.clone()
    }

    // ---- inputs ------------------------------------------------------------------------

    /// The adapter accepted a TCP connection.
    pub fn handle_connection(&mut self, now: Instant) -> ConnId {
        self.next_conn += 1;
        let id = ConnId(self.next_conn);
        let probing =
            self.opts.inline_flash_policy && self.opts.is_enabled(TransportKind::FlashSocket);
        let limits = self.opts.limits;
        self.conns.insert(
            id,
            Conn::new(
                RequestParser::new(limits.max_head, limits.max_body),
                probing,
            ),
        );
        self.arm_request_timer(id, now);
        id
    }

    /// Bytes read from a connection.
    pub fn handle_bytes(&mut self, conn: ConnId, data: &[u8], now: Instant) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
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
            ConnState::App | ConnState::Poll(_) | ConnState::Stream(_) => {
                // A request is in progress: keep what comes next for later, within reason.
                let limits = self.opts.limits;
                if c.input.len() + data.len() > limits.max_head + limits.max_body {
                    self.log(format_args!(
                        "closing connection {}: too much pipelined input",
                        conn.0
                    ));
                    self.close_conn(conn, now);
                } else {
                    c.input.extend_from_slice(data);
                }
            }
        }
        self.run_resumes(now);
    }

    /// A request that the embedder's own HTTP stack parsed. The connection must have been
    /// announced with `handle_connection` and be between requests.
    pub fn handle_request(&mut self, conn: ConnId, request: Request, now: Instant) {
        match self.conns.get_mut(&conn) {
            Some(c) if matches!(c.state, ConnState::Http) => {
                c.probing = false;
                self.on_request(conn, request, now);
                self.run_resumes(now);
            }
            _ => self.log(format_args!(
                "request on connection {} ignored: it is closed or busy",
                conn.0
            )),
        }
    }

    /// The peer went away, or writing to it failed.
    pub fn handle_closed(&mut self, conn: ConnId, now: Instant) {
        if let Some(c) = self.conns.remove(&conn) {
            if let Some(sid) = c.session() {
                self.transport_lost(sid, conn, DisconnectReason::TransportClosed, now);
            }
        }
        self.run_resumes(now);
    }

    /// The deadline from `poll_timeout` has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(e) = self.timers.peek().copied() {
            if e.at > now {
                break;
            }
            let _ = self.timers.pop();
            if self.is_live(&e) {
                self.fire(e, now);
            }
        }
        self.run_resumes(now);
    }

    // ---- application commands -------------------------------------------------------

    /// Sends a message to one session; queued while no transport is attached.
    pub fn send(&mut self, session: SessionId, msg: &Message, now: Instant) -> Result<(), Error> {
        if !self.sessions.contains_key(&session) {
            return Err(Error::UnknownSession(session));
        }
        self.deliver(session, codec::encode(msg), now);
        self.run_resumes(now);
        Ok(())
    }

    /// Sends a message to every connected session but those in `except`. The frame is
    /// encoded once and shared.
    pub fn broadcast(&mut self, msg: &Message, except: &[SessionId], now: Instant) {
        let frame = codec::encode(msg);
        let targets: Vec<SessionId> = self
            .sessions
            .keys()
            .filter(|s| !except.contains(s))
            .copied()
            .collect();
        for sid in targets {
            self.deliver(sid, frame.clone(), now);
        }
        self.run_resumes(now);
    }

    /// Ends a session: its transport is closed and a `Disconnect` event follows.
    pub fn disconnect(&mut self, session: SessionId, now: Instant) -> Result<(), Error> {
        if !self.sessions.contains_key(&session) {
            return Err(Error::UnknownSession(session));
        }
        self.end_session(session, DisconnectReason::Server, now);
        self.run_resumes(now);
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
        let head = write_head(
            resp.status,
            resp.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            Framing::Length(resp.body.len()),
            keep_alive,
        );
        self.finish_response(conn, vec![head, resp.body], keep_alive, now);
        self.run_resumes(now);
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
        Ok(Bytes::from(c.input))
    }

    /// Ends every session (with `Disconnect` events) and closes every connection.
    pub fn shutdown(&mut self, now: Instant) {
        let sessions: Vec<SessionId> = self.sessions.keys().copied().collect();
        for sid in sessions {
            self.end_session(sid, DisconnectReason::Shutdown, now);
        }
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for c in conns {
            self.close_conn(c, now);
        }
        self.resume.clear();
    }

    // ---- queries ---------------------------------------------------------------------

    /// Every connected session (the seed's `listener.clients`), including those waiting
    /// out their close timeout.
    pub fn clients(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.sessions.keys().copied()
    }

    pub fn session(&self, session: SessionId) -> Option<SessionInfo> {
        self.sessions.get(&session).map(|s| SessionInfo {
            transport: s.kind,
            connections: s.connections,
            open: s.attached.is_some(),
        })
    }

    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    // ---- outputs ---------------------------------------------------------------------

    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When `handle_timeout` must be called next, if ever.
    #[must_use]
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(e) = self.timers.peek().copied() {
            if self.is_live(&e) {
                return Some(e.at);
            }
            let _ = self.timers.pop();
        }
        None
    }

    // ---- HTTP ------------------------------------------------------------------------

    fn process_http(&mut self, id: ConnId, now: Instant) {
        loop {
            let Some(c) = self.conns.get_mut(&id) else {
                return;
            };
            if !matches!(c.state, ConnState::Http) || c.input.is_empty() {
                return;
            }
            if c.probing {
                match policy::classify(&c.input) {
                    policy::Probe::NeedMore => return,
                    policy::Probe::Policy => {
                        self.log(format_args!("answering a Flash policy request inline"));
                        let doc = self.policy.clone();
                        self.transmit(id, vec![doc], false);
                        self.close_conn(id, now);
                        return;
                    }
                    policy::Probe::NotPolicy => c.probing = false,
                }
            }
            let progress = match c.parser.feed(&c.input) {
                Ok(p) => p,
                Err(e) => {
                    let status = e.status();
                    self.log(format_args!("bad request on connection {}: {e}", id.0));
                    self.error_response(id, status, &e.to_string(), now);
                    return;
                }
            };
            c.input.drain(..progress.consumed);
            if progress.send_continue {
                self.transmit(
                    id,
                    vec![Bytes::from_static(b"HTTP/1.1 100 Continue\r\n\r\n")],
                    false,
                );
            }
            match progress.request {
                Some(req) => self.on_request(id, req, now),
                None if progress.consumed == 0 => return,
                None => {}
            }
        }
    }

    fn on_request(&mut self, id: ConnId, req: Request, now: Instant) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        c.keep_alive = req.keep_alive();
        self.cancel_request_timer(id);
        let opts = &self.opts;
        match route(&opts.resource, req.path(), |k| opts.is_enabled(k)) {
            Route::App => {
                if let Some(c) = self.conns.get_mut(&id) {
                    c.state = ConnState::App;
                }
                self.events.push_back(Event::Request(id, req));
            }
            Route::ClientScript => self.serve_script(id, &req, now),
            Route::FlashObject => self.simple_response(id, 404, "404", now),
            Route::Transport { kind, session } => {
                let session = session.map(str::to_owned);
                self.on_transport_request(id, kind, session, req, now)
            }
        }
    }

    fn serve_script(&mut self, id: ConnId, req: &Request, now: Instant) {
        if req.is_upgrade() {
            return self.error_response(id, 400, "the client script cannot be upgraded", now);
        }
        if req.method != "GET" && req.method != "HEAD" {
            return self.error_response(id, 405, "the client script is served to GET only", now);
        }
        let keep_alive = self.keep_alive(id);
        let etag = self.script.etag.clone();
        let fresh = req
            .header("if-none-match")
            .is_some_and(|v| self.script.matches(v));
        let (status, body) = if fresh {
            (304, Bytes::new())
        } else {
            (200, self.script.body.clone())
        };
        let head = write_head(
            status,
            [
                ("Content-Type", "text/javascript"),
                ("ETag", etag.as_str()),
                ("Cache-Control", "no-cache"),
            ],
            Framing::Length(if fresh { 0 } else { body.len() }),
            keep_alive,
        );
        let data = if req.method == "HEAD" || fresh {
            vec![head]
        } else {
            vec![head, body]
        };
        self.finish_response(id, data, keep_alive, now);
    }

    fn on_transport_request(
        &mut self,
        id: ConnId,
        kind: TransportKind,
        session: Option<String>,
        req: Request,
        now: Instant,
    ) {
        if req.is_upgrade() {
            if !kind.is_websocket() {
                return self.error_response(id, 400, &format!("{kind} cannot be upgraded"), now);
            }
            return self.ws_handshake(id, kind, session.as_deref(), req, now);
        }
        if kind.is_websocket() {
            return self.error_response(id, 426, &format!("{kind} needs a WebSocket upgrade"), now);
        }
        match req.method.as_str() {
            "GET" => self.http_attach(id, kind, session.as_deref(), &req, now),
            "POST" => self.http_post(id, kind, session.as_deref(), &req, now),
            "OPTIONS" => self.preflight(id, &req, now),
            _ => self.error_response(
                id,
                405,
                &format!("{kind} accepts GET, POST and OPTIONS"),
                now,
            ),
        }
    }

    /// Finds the session a URL names. An unknown id closes the connection without an answer,
    /// as the reference does (the client then starts a new session).
    fn lookup(
        &mut self,
        id: ConnId,
        kind: TransportKind,
        raw: &str,
        now: Instant,
    ) -> Option<SessionId> {
        let found = raw
            .parse::<SessionId>()
            .ok()
            .filter(|s| self.sessions.contains_key(s));
        match found {
            None => {
                self.log(format_args!("unknown session id {:?}", truncate(raw)));
                self.close_conn(id, now);
                None
            }
            Some(sid) if self.sessions.get(&sid).map(|s| s.kind) != Some(kind) => {
                self.error_response(id, 400, &format!("session {sid} does not use {kind}"), now);
                None
            }
            Some(sid) => Some(sid),
        }
    }

    fn cors(&self, kind: TransportKind, req: &Request) -> Option<Cors> {
        if !kind.uses_cors() {
            return None;
        }
        let origin = req.header("origin")?;
        self.opts.origins.allows(Some(origin)).then(|| Cors {
            origin: origin.to_owned(),
            credentials: kind == TransportKind::XhrMultipart
                || req.header_bytes("cookie").is_some(),
        })
    }

    fn http_attach(
        &mut self,
        id: ConnId,
        kind: TransportKind,
        session: Option<&str>,
        req: &Request,
        now: Instant,
    ) {
        let keep_alive = self.keep_alive(id);
        let cors = self.cors(kind, req);
        let jsonp = if kind == TransportKind::JsonpPolling {
            let Some(index) = jsonp_polling::parse_index(req.path()) else {
                return self.error_response(
                    id,
                    400,
                    "a jsonp-polling URL ends in the client's index: 1 to 6 digits",
                    now,
                );
            };
            let refused = req
                .header("origin")
                .is_some_and(|o| !self.opts.origins.allows(Some(o)));
            if refused && session.is_none() {
                // The reference created a session here whose id the page never got.
                let data = jsonp_polling::refused_response(keep_alive);
                return self.finish_response(id, data, keep_alive, now);
            }
            Some(if refused {
                JsonpTarget::Refused
            } else {
                JsonpTarget::Index(index)
            })
        } else {
            None
        };
        let sid = match session {
            Some(raw) => match self.lookup(id, kind, raw, now) {
                Some(sid) => sid,
                None => return,
            },
            None => match self.create_session(id, kind, now) {
                Some(sid) => sid,
                None => return,
            },
        };
        self.replace_transport(sid, now);
        let attached = if kind.is_polling() {
            if let Some(c) = self.conns.get_mut(&id) {
                c.state = ConnState::Poll(sid);
            }
            Attached::Poll {
                conn: id,
                cors,
                jsonp,
                keep_alive,
            }
        } else {
            let start = match kind {
                TransportKind::HtmlFile => htmlfile::stream_start(),
                _ => xhr_multipart::stream_start(cors.as_ref()),
            };
            self.transmit(id, start, false);
            if let Some(c) = self.conns.get_mut(&id) {
                c.state = ConnState::Stream(sid);
            }
            Attached::Stream { conn: id }
        };
        if let Some(s) = self.sessions.get_mut(&sid) {
            s.attached = Some(attached);
        }
        self.attach(sid, now);
        // A poll that found nothing to send waits, but not for ever.
        let waiting = matches!(
            self.sessions.get(&sid).and_then(|s| s.attached.as_ref()),
            Some(Attached::Poll { .. })
        );
        if waiting {
            let duration = self.sessions[&sid].opts.duration;
            self.arm(
                TimerOwner::Session(sid),
                TimerKind::PollDuration,
                now + duration,
            );
        }
    }

    fn http_post(
        &mut self,
        id: ConnId,
        kind: TransportKind,
        session: Option<&str>,
        req: &Request,
        now: Instant,
    ) {
        let Some(raw) = session else {
            return self.error_response(
                id,
                400,
                "messages must be posted to a session: …/<transport>/<session id>/send",
                now,
            );
        };
        let origin = req.header("origin");
        if kind.is_polling() && origin.is_some() && !self.opts.origins.allows(origin) {
            return self.simple_response(id, 401, "unauthorized", now);
        }
        let Some(sid) = self.lookup(id, kind, raw, now) else {
            return;
        };
        let data = match form::form_value(&req.body, "data") {
            Ok(d) => d,
            Err(e) => return self.error_response(id, 400, &e.to_string(), now),
        };
        self.on_payload(sid, &data, now);
        let cors = self.cors(kind, req);
        let keep_alive = self.keep_alive(id);
        let mut headers = vec![("Content-Type", "text/plain")];
        if let Some(c) = &cors {
            headers.extend(c.headers());
        }
        let head = write_head(200, headers, Framing::Length(2), keep_alive);
        self.finish_response(id, vec![head, Bytes::from_static(b"ok")], keep_alive, now);
    }

    fn preflight(&mut self, id: ConnId, req: &Request, now: Instant) {
        let keep_alive = self.keep_alive(id);
        let Some(origin) = req
            .header("origin")
            .filter(|o| self.opts.origins.allows(Some(o)))
        else {
            return self.error_response(id, 403, "origin not allowed", now);
        };
        let allow_headers: String = req
            .header("access-control-request-headers")
            .unwrap_or("Content-Type")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ',' | ' '))
            .take(256)
            .collect();
        let head = write_head(
            200,
            [
                ("Content-Type", "text/plain"),
                ("Access-Control-Allow-Origin", origin),
                ("Access-Control-Allow-Credentials", "true"),
                ("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
                ("Access-Control-Allow-Headers", allow_headers.as_str()),
                ("Access-Control-Max-Age", "86400"),
                ("Vary", "Origin"),
            ],
            Framing::Length(2),
            keep_alive,
        );
        self.finish_response(id, vec![head, Bytes::from_static(b"ok")], keep_alive, now);
    }

    /// Writes a complete response and returns the connection to reading requests, or
    /// closes it.
    fn finish_response(&mut self, id: ConnId, data: Vec<Bytes>, keep_alive: bool, now: Instant) {
        self.transmit(id, data, false);
        if !keep_alive {
            return self.close_conn(id, now);
        }
        if let Some(c) = self.conns.get_mut(&id) {
            c.state = ConnState::Http;
            if !c.input.is_empty() {
                self.resume.push(id);
            }
        }
        self.arm_request_timer(id, now);
    }

    fn simple_response(&mut self, id: ConnId, status: u16, body: &'static str, now: Instant) {
        let keep_alive = self.keep_alive(id);
        let head = write_head(
            status,
            [("Content-Type", "text/plain")],
            Framing::Length(body.len()),
            keep_alive,
        );
        self.finish_response(
            id,
            vec![head, Bytes::from_static(body.as_bytes())],
            keep_alive,
            now,
        );
    }

    /// A refusal with a message a person can act on; the connection is closed after it,
    /// since whatever follows on it cannot be trusted to be in step.
    fn error_response(&mut self, id: ConnId, status: u16, message: &str, now: Instant) {
        let body = format!("{message}\n");
        let mut headers = vec![("Content-Type", "text/plain; charset=UTF-8")];
        if status == 426 {
            headers.push(("Upgrade", "websocket"));
            headers.push(("Sec-WebSocket-Version", "13"));
        }
        let head = write_head(status, headers, Framing::Length(body.len()), false);
        self.transmit(id, vec![head, Bytes::from(body)], false);
        self.close_conn(id, now);
    }

    fn keep_alive(&self, id: ConnId) -> bool {
        self.conns.get(&id).is_some_and(|c| c.keep_alive)
    }

    fn run_resumes(&mut self, now: Instant) {
        while let Some(id) = self.resume.pop() {
            self.process_http(id, now);
        }
    }

    // ---- WebSocket -------------------------------------------------------------------

    fn ws_handshake(
        &mut self,
        id: ConnId,
        kind: TransportKind,
        session: Option<&str>,
        req: Request,
        now: Instant,
    ) {
        let origin = ws_transport::request_origin(&req);
        if !self.opts.origins.allows(origin) {
            self.log(format_args!("WebSocket origin {origin:?} not allowed"));
            return self.error_response(id, 403, "origin not allowed", now);
        }
        let target = match session {
            Some(raw) => match self.lookup(id, kind, raw, now) {
                Some(sid) => WsTarget::Existing(sid),
                None => return,
            },
            None => {
                if self.sessions.len() >= self.opts.limits.max_sessions {
                    return self.error_response(id, 503, "too many sessions", now);
                }
                WsTarget::New(kind)
            }
        };
        let hs = match ws_transport::accept(&req, self.opts.secure) {
            Ok(hs) => hs,
            Err(r) => {
                self.log(format_args!("WebSocket handshake refused: {}", r.message));
                return self.error_response(id, r.status, &r.message, now);
            }
        };
        self.transmit(id, vec![hs.head], false);
        match hs.keys {
            Some(keys) => {
                if let Some(c) = self.conns.get_mut(&id) {
                    c.state = ConnState::AwaitKey3 { keys, target };
                }
                self.arm_request_timer(id, now);
                self.try_key3(id, now);
            }
            None => self.ws_open(id, hs.flavour, target, now),
        }
    }

    fn try_key3(&mut self, id: ConnId, now: Instant) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        let ConnState::AwaitKey3 { keys, target } = c.state else {
            return;
        };
        let Some(key3) = c.input.get(..8).and_then(|k| <[u8; 8]>::try_from(k).ok()) else {
            return;
        };
        c.input.drain(..8);
        self.transmit(id, vec![ws_transport::key3_answer(keys, &key3)], false);
        self.ws_open(id, Flavour::Hixie76, target, now);
    }

    fn ws_open(&mut self, id: ConnId, flavour: Flavour, target: WsTarget, now: Instant) {
        self.cancel_request_timer(id);
        let sid = match target {
            WsTarget::New(kind) => match self.create_session(id, kind, now) {
                Some(sid) => sid,
                None => return,
            },
            WsTarget::Existing(sid) if self.sessions.contains_key(&sid) => sid,
            WsTarget::Existing(_) => return self.close_conn(id, now),
        };
        self.log(format_args!(
            "session {sid} speaks {}",
            flavour_name(flavour)
        ));
        self.replace_transport(sid, now);
        let leftover = match self.conns.get_mut(&id) {
            Some(c) => {
                c.state = ConnState::WebSocket {
                    session: sid,
                    codec: Codec::new(flavour, self.opts.limits.max_frame),
                };
                std::mem::take(&mut c.input)
            }
            None => return,
        };
        if let Some(s) = self.sessions.get_mut(&sid) {
            s.attached = Some(Attached::WebSocket { conn: id });
        }
        self.attach(sid, now);
        if !leftover.is_empty() {
            self.ws_input(id, &leftover, now);
        }
    }

    fn ws_input(&mut self, id: ConnId, data: &[u8], now: Instant) {
        let mut events = Vec::new();
        let (sid, result) = match self.conns.get_mut(&id) {
            Some(Conn {
                state: ConnState::WebSocket { session, codec },
                ..
            }) => (*session, codec.feed(data, &mut events)),
            _ => return,
        };
        for ev in events {
            match ev {
                WsEvent::Text(text) => self.on_payload(sid, &text, now),
                WsEvent::Ping(p) => {
                    if let Some(pong) = self.codec(id).and_then(|c| c.pong(&p)) {
                        self.transmit(id, vec![pong], false);
                    }
                }
                WsEvent::Pong(_) => {}
                WsEvent::Close { code, .. } => {
                    let reply = self
                        .codec(id)
                        .and_then(|c| c.close_bytes(code.unwrap_or(1000), ""));
                    if let Some(b) = reply {
                        self.transmit(id, vec![b], false);
                    }
                    self.close_conn(id, now);
                    return;
                }
            }
            if !self.conns.contains_key(&id) {
                return;
            }
        }
        if let Err(e) = result {
            self.log(format_args!(
                "WebSocket protocol error from session {sid}: {}",
                e.reason
            ));
            if let Some(b) = self
                .codec(id)
                .and_then(|c| c.close_bytes(e.close_code, e.reason))
            {
                self.transmit(id, vec![b], false);
            }
            self.transport_lost(
                sid,
                id,
                DisconnectReason::ProtocolError(e.reason.to_string()),
                now,
            );
            self.close_conn(id, now);
        }
    }

    fn codec(&self, id: ConnId) -> Option<&Codec> {
        match self.conns.get(&id) {
            Some(Conn {
                state: ConnState::WebSocket { codec, .. },
                ..
            }) => Some(codec),
            _ => None,
        }
    }

    // ---- sessions --------------------------------------------------------------------

    fn create_session(
        &mut self,
        id: ConnId,
        kind: TransportKind,
        now: Instant,
    ) -> Option<SessionId> {
        if self.sessions.len() >= self.opts.limits.max_sessions {
            self.log(format_args!(
                "refusing a new session: {} sessions already",
                self.sessions.len()
            ));
            self.error_response(id, 503, "too many sessions", now);
            return None;
        }
        let sid = loop {
            let mut buf = [0u8; 16];
            (self.random)(&mut buf);
            let candidate = SessionId(u128::from_le_bytes(buf));
            if !self.sessions.contains_key(&candidate) {
                break candidate;
            }
        };
        let opts = *self.opts.transport_options(kind);
        self.sessions.insert(sid, Session::new(kind, opts));
        Some(sid)
    }

    /// A new transport is about to attach: the old one, if any, is done. An unanswered poll
    /// is answered empty (the reference left it hanging); a stream or socket is closed.
    fn replace_transport(&mut self, sid: SessionId, now: Instant) {
        let Some(old) = self.sessions.get_mut(&sid).and_then(|s| s.attached.take()) else {
            return;
        };
        self.stop_heartbeat(sid);
        self.bump(TimerOwner::Session(sid), TimerKind::PollDuration);
        match old {
            Attached::Poll { .. } => self.answer_poll(old, Vec::new(), now),
            other => self.close_transport(other, 1000, now),
        }
    }

    /// The attach routine (PROTOCOL.md §3.3): the id first if it has not gone out, then
    /// the queue, as one payload; `Connect` on the first attach; heartbeats if enabled.
    fn attach(&mut self, sid: SessionId, now: Instant) {
        self.bump(TimerOwner::Session(sid), TimerKind::Close);
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        s.connections += 1;
        let first = s.connections == 1;
        let mut payload = Vec::with_capacity(s.queue.len() + 1);
        if !s.handshaked {
            payload.push(codec::encode_text(&sid.to_string()));
            s.handshaked = true;
        }
        payload.extend(s.take_queue());
        let heartbeats = s.opts.timeout.is_some();
        if !payload.is_empty() {
            self.write_payload(sid, payload, now);
        }
        if first {
            self.log(format_args!("session {sid} connected"));
            self.events.push_back(Event::Connect(sid));
        }
        if heartbeats {
            self.start_heartbeat(sid, now);
        }
    }

    /// Queues or writes one encoded frame.
    fn deliver(&mut self, sid: SessionId, frame: Bytes, now: Instant) {
        let max_queue = self.opts.limits.max_queue;
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        if s.attached.is_some() {
            return self.write_payload(sid, vec![frame], now);
        }
        s.queued_bytes += frame.len();
        s.queue.push_back(frame);
        if s.queued_bytes > max_queue {
            self.log(format_args!(
                "session {sid}: more than {max_queue} bytes queued"
            ));
            self.end_session(sid, DisconnectReason::QueueOverflow, now);
        }
    }

    /// Writes a payload to the attached transport, which must exist.
    fn write_payload(&mut self, sid: SessionId, payload: Vec<Bytes>, now: Instant) {
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        match s.attached.take() {
            Some(poll @ Attached::Poll { .. }) => {
                self.bump(TimerOwner::Session(sid), TimerKind::PollDuration);
                self.answer_poll(poll, payload, now);
                self.detached(sid, DisconnectReason::TransportClosed, now);
            }
            Some(Attached::Stream { conn }) => {
                s.attached = Some(Attached::Stream { conn });
                let data = match s.kind {
                    TransportKind::HtmlFile => vec![htmlfile::payload_chunk(&payload)],
                    _ => xhr_multipart::part(&payload),
                };
                self.transmit(conn, data, false);
            }
            Some(Attached::WebSocket { conn }) => {
                s.attached = Some(Attached::WebSocket { conn });
                if let Some(data) = self.codec(conn).map(|c| c.wrap(&payload)) {
                    self.transmit(conn, data, false);
                }
            }
            None => {}
        }
    }

    /// Completes a held poll with `payload` (empty when `duration` ran out).
    fn answer_poll(&mut self, poll: Attached, payload: Vec<Bytes>, now: Instant) {
        let Attached::Poll {
            conn,
            cors,
            jsonp,
            keep_alive,
        } = poll
        else {
            return;
        };
        let data = match jsonp {
            None => xhr_polling::poll_response(&payload, cors.as_ref(), keep_alive),
            Some(JsonpTarget::Index(i)) => jsonp_polling::poll_response(i, &payload, keep_alive),
            Some(JsonpTarget::Refused) => jsonp_polling::refused_response(keep_alive),
        };
        if matches!(
            self.conns.get(&conn).map(|c| &c.state),
            Some(ConnState::Poll(_))
        ) {
            self.finish_response(conn, data, keep_alive, now);
        }
    }

    /// The session's transport is gone (`attached` already cleared): disconnect now, or
    /// after `close_timeout` if a new transport may still come.
    fn detached(&mut self, sid: SessionId, reason: DisconnectReason, now: Instant) {
        self.stop_heartbeat(sid);
        let Some(s) = self.sessions.get(&sid) else {
            return;
        };
        let close_timeout = s.opts.close_timeout;
        if close_timeout.is_zero() {
            self.end_session(sid, reason, now);
        } else {
            self.arm(
                TimerOwner::Session(sid),
                TimerKind::Close,
                now + close_timeout,
            );
        }
    }

    /// Connection `conn` of session `sid` is gone without the session's consent.
    fn transport_lost(
        &mut self,
        sid: SessionId,
        conn: ConnId,
        reason: DisconnectReason,
        now: Instant,
    ) {
        let attached_here = self
            .sessions
            .get(&sid)
            .and_then(|s| s.attached.as_ref())
            .is_some_and(|a| a.conn() == conn);
        if attached_here {
            if let Some(s) = self.sessions.get_mut(&sid) {
                s.attached = None;
            }
            self.bump(TimerOwner::Session(sid), TimerKind::PollDuration);
            self.detached(sid, reason, now);
        }
    }

    /// Disconnect: the session is forgotten, its transport closed, and the application
    /// told once.
    fn end_session(&mut self, sid: SessionId, reason: DisconnectReason, now: Instant) {
        // The transport is closed while the session is still in the map, so that
        // `close_transport` can tell an htmlfile stream from a multipart one.
        let Some(attached) = self.sessions.get_mut(&sid).map(|s| s.attached.take()) else {
            return;
        };
        if let Some(att) = attached {
            let code = if reason == DisconnectReason::Shutdown {
                1001
            } else {
                1000
            };
            self.close_transport(att, code, now);
        }
        let Some(s) = self.sessions.remove(&sid) else {
            return;
        };
        self.log(format_args!("session {sid} disconnected: {reason}"));
        if s.handshaked {
            self.events.push_back(Event::Disconnect(sid, reason));
        }
    }

    /// Ends a transport connection properly: a poll gets an empty answer, a stream its end,
    /// a socket its closing handshake; then the connection closes.
    fn close_transport(&mut self, att: Attached, code: u16, now: Instant) {
        let conn = att.conn();
        match att {
            Attached::Poll { .. } => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.keep_alive = false;
                }
                let Attached::Poll { cors, jsonp, .. } = att else {
                    return;
                };
                self.answer_poll(
                    Attached::Poll {
                        conn,
                        cors,
                        jsonp,
                        keep_alive: false,
                    },
                    Vec::new(),
                    now,
                );
                return;
            }
            Attached::Stream { .. } => {
                if matches!(
                    self.conns.get(&conn).map(|c| &c.state),
                    Some(ConnState::Stream(s)) if self.sessions.get(s).is_none_or(|s| s.kind == TransportKind::HtmlFile)
                ) {
                    self.transmit(conn, vec![Bytes::from_static(response::LAST_CHUNK)], false);
                }
            }
            Attached::WebSocket { .. } => {
                if let Some(b) = self.codec(conn).and_then(|c| c.close_bytes(code, "")) {
                    self.transmit(conn, vec![b], false);
                }
            }
        }
        self.close_conn(conn, now);
    }

    fn on_payload(&mut self, sid: SessionId, payload: &str, now: Instant) {
        let decoded = codec::decode(payload);
        for data in decoded.frames {
            if !self.sessions.contains_key(&sid) {
                return;
            }
            match codec::interpret(data) {
                Ok(Incoming::Heartbeat(n)) => self.on_heartbeat(sid, &n, now),
                Ok(Incoming::Message(m)) => self.events.push_back(Event::Message(sid, m)),
                Err(e) => self.log(format_args!("message from session {sid} dropped: {e}")),
            }
        }
        if let Some(e) = decoded.error {
            self.log(format_args!(
                "rest of a payload from session {sid} dropped: {e}"
            ));
        }
    }

    // ---- heartbeats ------------------------------------------------------------------

    fn start_heartbeat(&mut self, sid: SessionId, now: Instant) {
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        if s.attached.is_none() {
            return;
        }
        s.heartbeat = Heartbeat::Interval;
        let at = now + s.opts.heartbeat_interval;
        self.bump(TimerOwner::Session(sid), TimerKind::HeartbeatTimeout);
        self.arm(TimerOwner::Session(sid), TimerKind::HeartbeatInterval, at);
    }

    fn stop_heartbeat(&mut self, sid: SessionId) {
        if let Some(s) = self.sessions.get_mut(&sid) {
            s.heartbeat = Heartbeat::Off;
        }
        self.bump(TimerOwner::Session(sid), TimerKind::HeartbeatInterval);
        self.bump(TimerOwner::Session(sid), TimerKind::HeartbeatTimeout);
    }

    fn on_heartbeat(&mut self, sid: SessionId, echo: &str, now: Instant) {
        let Some(s) = self.sessions.get(&sid) else {
            return;
        };
        // Only the echo of the heartbeat in flight counts; anything else is ignored, so a
        // client can never start a second chain.
        if s.heartbeat == Heartbeat::AwaitingEcho && echo == s.heartbeat_counter.to_string() {
            self.start_heartbeat(sid, now);
        }
    }

    fn send_heartbeat(&mut self, sid: SessionId, now: Instant) {
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        let Some(timeout) = s.opts.timeout else {
            return;
        };
        s.heartbeat_counter += 1;
        s.heartbeat = Heartbeat::AwaitingEcho;
        let frame = codec::encode_heartbeat(s.heartbeat_counter);
        self.arm(
            TimerOwner::Session(sid),
            TimerKind::HeartbeatTimeout,
            now + timeout,
        );
        self.deliver(sid, frame, now);
    }

    // ---- timers ----------------------------------------------------------------------

    fn bump(&mut self, owner: TimerOwner, kind: TimerKind) -> u64 {
        match owner {
            TimerOwner::Session(sid) => self.sessions.get_mut(&sid).map(|s| s.timers.bump(kind)),
            TimerOwner::Conn(id) => self.conns.get_mut(&id).map(|c| c.timers.bump(kind)),
        }
        .unwrap_or(0)
    }

    fn arm(&mut self, owner: TimerOwner, kind: TimerKind, at: Instant) {
        let generation = self.bump(owner, kind);
        self.timers.push(Entry {
            at,
            owner,
            kind,
            generation,
        });
    }

    fn arm_request_timer(&mut self, id: ConnId, now: Instant) {
        let at = now + self.opts.limits.request_timeout;
        self.arm(TimerOwner::Conn(id), TimerKind::Close, at);
    }

    fn cancel_request_timer(&mut self, id: ConnId) {
        self.bump(TimerOwner::Conn(id), TimerKind::Close);
    }

    fn is_live(&self, e: &Entry) -> bool {
        match e.owner {
            TimerOwner::Session(sid) => self
                .sessions
                .get(&sid)
                .is_some_and(|s| s.timers.current(e.kind) == e.generation),
            TimerOwner::Conn(id) => self
                .conns
                .get(&id)
                .is_some_and(|c| c.timers.current(e.kind) == e.generation),
        }
    }

    fn fire(&mut self, e: Entry, now: Instant) {
        match (e.owner, e.kind) {
            (TimerOwner::Conn(id), _) => {
                let busy = self.conns.get(&id).is_some_and(|c| !c.parser.is_idle());
                if busy {
                    self.error_response(id, 408, "the request took too long to arrive", now);
                } else {
                    self.close_conn(id, now);
                }
            }
            (TimerOwner::Session(sid), TimerKind::Close) => {
                self.end_session(sid, DisconnectReason::TransportClosed, now)
            }
            (TimerOwner::Session(sid), TimerKind::HeartbeatInterval) => {
                self.send_heartbeat(sid, now)
            }
            (TimerOwner::Session(sid), TimerKind::HeartbeatTimeout) => {
                self.end_session(sid, DisconnectReason::HeartbeatTimeout, now)
            }
            (TimerOwner::Session(sid), TimerKind::PollDuration) => {
                let poll = self.sessions.get_mut(&sid).and_then(|s| s.attached.take());
                match poll {
                    Some(p @ Attached::Poll { .. }) => {
                        self.answer_poll(p, Vec::new(), now);
                        self.detached(sid, DisconnectReason::TransportClosed, now);
                    }
                    other => {
                        if let Some(s) = self.sessions.get_mut(&sid) {
                            s.attached = other;
                        }
                    }
                }
            }
        }
    }

    // ---- plumbing --------------------------------------------------------------------

    fn transmit(&mut self, conn: ConnId, data: Vec<Bytes>, close: bool) {
        // Consecutive writes to one connection travel together: one vectored write.
        if let Some(last) = self.transmits.back_mut() {
            if last.conn == conn && !last.close {
                last.data.extend(data);
                last.close = close;
                return;
            }
        }
        self.transmits.push_back(Transmit { conn, data, close });
    }

    /// Closes a connection after what was queued for it; the server forgets it at once.
    fn close_conn(&mut self, id: ConnId, now: Instant) {
        let Some(c) = self.conns.remove(&id) else {
            return;
        };
        self.transmit(id, Vec::new(), true);
        if let Some(sid) = c.session() {
            self.transport_lost(sid, id, DisconnectReason::TransportClosed, now);
        }
    }

    fn log(&self, args: std::fmt::Arguments<'_>) {
        if let Some(log) = &self.opts.log {
            log(&args.to_string());
        }
    }
}

/// A peer-supplied string, short enough to log.
fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}
