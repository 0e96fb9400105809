//! HTTP: requests off the wire, routing, and the answers that complete them.

use std::time::Instant;

use bytes::Bytes;

use crate::conn::{ConnId, ConnState};
use crate::forwarded;
use crate::handshake::Handshake;
use crate::http::form;
use crate::http::request::Request;
use crate::http::response::{head, Framing, Segment};
use crate::policy;
use crate::route::{route, Route};
use crate::session::{Attached, JsonpTarget, SessionId};
use crate::timer::{TimerKind, TimerOwner};
use crate::transport::{htmlfile, jsonp_polling, xhr_multipart, Cors, TransportKind};

use super::{truncate, Event, Server};

impl Server {
    pub(super) fn process_http(&mut self, id: ConnId, now: Instant) {
        loop {
            let Some(c) = self.conns.get_mut(&id) else {
                return;
            };
            if !matches!(c.state, ConnState::Http) {
                return;
            }
            if c.input.is_empty() {
                // A half-closed peer sends no further request.
                if c.read_closed {
                    self.close_conn(id, now);
                }
                return;
            }
            if c.probing {
                match policy::classify(&c.input) {
                    policy::Probe::NeedMore => return,
                    policy::Probe::Policy => {
                        log::debug!("answering a Flash policy request inline");
                        let doc = self.policy.clone();
                        self.transmit(id, vec![Segment::Raw(doc)], false);
                        self.close_conn(id, now);
                        return;
                    }
                    policy::Probe::NotPolicy => c.probing = false,
                }
            }
            let was_idle = c.parser.is_idle();
            let progress = match c.parser.feed(&c.input) {
                Ok(p) => p,
                Err(e) => {
                    let status = e.status();
                    log::debug!("bad request on connection {id}: {e}");
                    self.error_response(id, status, &e.to_string(), now);
                    return;
                }
            };
            c.input.drain(..progress.consumed);
            let began = was_idle && !c.parser.is_idle();
            let read_closed = c.read_closed;
            if began {
                // The first bytes of a request: from now on it has `request_timeout`.
                self.arm_conn_timer(id, self.opts.limits.request_timeout, now);
            }
            if progress.send_continue {
                self.transmit(
                    id,
                    vec![Segment::Raw(Bytes::from_static(
                        b"HTTP/1.1 100 Continue\r\n\r\n",
                    ))],
                    false,
                );
            }
            match progress.request {
                Some(req) => self.on_request(id, req, now),
                None if progress.consumed == 0 => {
                    // The rest of this request will never come.
                    if read_closed {
                        self.close_conn(id, now);
                    }
                    return;
                }
                None => {}
            }
        }
    }

    pub(super) fn on_request(&mut self, id: ConnId, req: Request, now: Instant) {
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

    pub(super) fn serve_script(&mut self, id: ConnId, req: &Request, now: Instant) {
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
        let head = head(
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
            vec![head, Segment::Body(body)]
        };
        self.finish_response(id, data, keep_alive, now);
    }

    pub(super) fn on_transport_request(
        &mut self,
        id: ConnId,
        kind: TransportKind,
        session: Option<String>,
        req: Request,
        now: Instant,
    ) {
        let handshake = if req.is_upgrade() {
            kind.is_websocket()
        } else {
            !kind.is_websocket() && req.method == "GET"
        };
        if handshake && session.is_none() && self.opts.authorize {
            let admitted = self.conns.get(&id).is_some_and(|c| c.admitted);
            if !admitted {
                return self.ask_application(id, kind, req, now);
            }
        }
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

    /// A handshake for a new session, under `Options::authorize`: admitted by the limits,
    /// it waits for the application's verdict.
    fn ask_application(&mut self, id: ConnId, kind: TransportKind, req: Request, now: Instant) {
        if !self.admit_new_session(id, kind, &req, now) {
            return;
        }
        let Some(handshake) = self.handshake_of(id, kind, &req) else {
            return;
        };
        if let Some(c) = self.conns.get_mut(&id) {
            c.state = ConnState::Authorizing(Box::new((kind, req)));
            self.events
                .push_back(Event::Authorize(id, Box::new(handshake)));
        }
    }

    /// What the application is told of a handshake on connection `id`.
    pub(super) fn handshake_of(
        &self,
        id: ConnId,
        kind: TransportKind,
        req: &Request,
    ) -> Option<Handshake> {
        let info = self.conns.get(&id)?.info;
        let public = forwarded::resolve(req, &info, &self.opts);
        let mut request = req.clone();
        request.body = Default::default();
        Some(Handshake {
            transport: kind,
            request,
            peer: info.peer,
            client: public.client,
            secure: public.secure,
        })
    }

    /// Finds the session a URL names. An unknown id closes the connection without an answer,
    /// as the reference does (the client then starts a new session).
    pub(super) fn lookup(
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
                log::debug!("unknown session id {:?}", truncate(raw));
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

    pub(super) fn cors(&self, kind: TransportKind, req: &Request) -> Option<Cors> {
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

    pub(super) fn http_attach(
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
                self.metrics.refused += 1;
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
            None if self.admit_new_session(id, kind, req, now) => self.create_session(id, kind),
            None => return,
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
        let latest = self
            .opts
            .keep_latest_requests
            .then(|| self.handshake_of(id, kind, req))
            .flatten();
        if let Some(s) = self.sessions.get_mut(&sid) {
            s.attached = Some(attached);
            if let Some(h) = latest {
                s.latest = Some(Box::new(h));
            }
        }
        self.attach(sid, now);
        // A poll that found nothing to send waits, but not for ever.
        let waiting = self
            .sessions
            .get(&sid)
            .filter(|s| matches!(s.attached, Some(Attached::Poll { .. })))
            .map(|s| s.opts.duration);
        if let Some(duration) = waiting {
            self.arm(
                TimerOwner::Session(sid),
                TimerKind::PollDuration,
                now + duration,
            );
        }
    }

    pub(super) fn http_post(
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
        let delivered = self.on_payload(sid, &data, now);
        let cors = self.cors(kind, req);
        let keep_alive = self.keep_alive(id);
        let mut headers = vec![("Content-Type", "text/plain")];
        if let Some(c) = &cors {
            headers.extend(c.headers());
        }
        // The HTTP framing was sound, so the connection stays usable either way.
        let (status, body) = match delivered {
            Ok(()) => (200, Bytes::from_static(b"ok")),
            Err(e) => (400, Bytes::from(format!("payload rejected: {e}\n"))),
        };
        let head = head(status, headers, Framing::Length(body.len()), keep_alive);
        self.finish_response(id, vec![head, Segment::Body(body)], keep_alive, now);
    }

    pub(super) fn preflight(&mut self, id: ConnId, req: &Request, now: Instant) {
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
        let head = head(
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
        self.finish_response(id, vec![head, ok()], keep_alive, now);
    }

    /// Writes a complete response and returns the connection to reading requests, or
    /// closes it.
    pub(super) fn finish_response(
        &mut self,
        id: ConnId,
        data: Vec<Segment>,
        keep_alive: bool,
        now: Instant,
    ) {
        self.transmit(id, data, false);
        if !keep_alive {
            return self.close_conn(id, now);
        }
        if let Some(c) = self.conns.get_mut(&id) {
            c.state = ConnState::Http;
            if !c.input.is_empty() || c.read_closed {
                self.resume.push(id);
            }
        }
        self.arm_conn_timer(id, self.opts.limits.idle_timeout, now);
    }

    pub(super) fn simple_response(
        &mut self,
        id: ConnId,
        status: u16,
        body: &'static str,
        now: Instant,
    ) {
        let keep_alive = self.keep_alive(id);
        let head = head(
            status,
            [("Content-Type", "text/plain")],
            Framing::Length(body.len()),
            keep_alive,
        );
        self.finish_response(
            id,
            vec![head, Segment::Body(Bytes::from_static(body.as_bytes()))],
            keep_alive,
            now,
        );
    }

    /// A refusal with a message a person can act on; the connection is closed after it,
    /// since whatever follows on it cannot be trusted to be in step.
    pub(super) fn error_response(&mut self, id: ConnId, status: u16, message: &str, now: Instant) {
        let body = format!("{message}\n");
        let mut headers = vec![("Content-Type", "text/plain; charset=UTF-8")];
        if status == 426 {
            headers.push(("Upgrade", "websocket"));
            headers.push(("Sec-WebSocket-Version", "13"));
        }
        let head = head(status, headers, Framing::Length(body.len()), false);
        self.transmit(id, vec![head, Segment::Body(Bytes::from(body))], false);
        self.close_conn(id, now);
    }

    pub(super) fn keep_alive(&self, id: ConnId) -> bool {
        // A draining node answers and closes, so that its connections run out.
        !self.draining && self.conns.get(&id).is_some_and(|c| c.keep_alive)
    }

    pub(super) fn run_resumes(&mut self, now: Instant) {
        while let Some(id) = self.resume.pop() {
            self.process_http(id, now);
        }
    }
}

/// The body of every accepted POST and preflight.
fn ok() -> Segment {
    Segment::Body(Bytes::from_static(b"ok"))
}
