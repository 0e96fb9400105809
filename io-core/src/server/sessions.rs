//! Sessions: attaching transports, queueing, writing payloads, and ending.

use std::time::Instant;

use bytes::Bytes;

use crate::codec::{self, CodecError, Incoming};
use crate::conn::{ConnId, ConnState};
use crate::forwarded;
use crate::http::request::Request;
use crate::http::response::Segment;
use crate::session::{Attached, DisconnectReason, JsonpTarget, Session, SessionId};
use crate::timer::{TimerKind, TimerOwner};
use crate::transport::{jsonp_polling, xhr_multipart, xhr_polling, Payload, TransportKind};

use super::{Event, Server};

impl Server {
    /// Whether a new session may be made for connection `id`. When not, the connection is
    /// answered `503`, with the limit it met, and closed.
    pub(super) fn admit_new_session(
        &mut self,
        id: ConnId,
        kind: TransportKind,
        req: &Request,
        now: Instant,
    ) -> bool {
        if !self.draining && self.conns.get(&id).is_some_and(|c| c.admitted) {
            // Admitted before the application was asked; it said yes.
            return true;
        }
        let admitted = self.check_limits(id, req, now);
        if admitted && self.opts.keep_handshakes {
            let handshake = self.handshake_of(id, kind, req);
            if let Some(c) = self.conns.get_mut(&id) {
                c.handshake = handshake.map(Box::new);
            }
        }
        admitted
    }

    fn check_limits(&mut self, id: ConnId, req: &Request, now: Instant) -> bool {
        if self.draining {
            self.metrics.refused += 1;
            self.error_response(id, 503, "this node is draining; try another", now);
            return false;
        }
        if self.sessions.len() >= self.opts.limits.max_sessions {
            self.metrics.refused += 1;
            log::warn!(
                "refusing a new session: {} sessions already",
                self.sessions.len()
            );
            self.error_response(id, 503, "too many sessions", now);
            return false;
        }
        let limit = self.opts.limits.max_new_sessions_per_peer;
        let Some(info) = self.conns.get(&id).map(|c| c.info) else {
            return false;
        };
        // Behind a trusted proxy, the client it speaks for, not the proxy.
        let peer = forwarded::resolve(req, &info, &self.opts).client;
        if !self.rates.admit(peer, limit, now) {
            self.metrics.refused += 1;
            log::info!("refusing a new session: more than {limit} this second from {peer}");
            self.error_response(
                id,
                503,
                "too many new sessions from this address; try again in a second",
                now,
            );
            return false;
        }
        true
    }

    /// A new session, once [`admit_new_session`](Self::admit_new_session) said yes.
    pub(super) fn create_session(&mut self, conn: ConnId, kind: TransportKind) -> SessionId {
        let sid = loop {
            let mut buf = [0u8; 16];
            (self.random)(&mut buf);
            let candidate = SessionId::new(self.opts.node_id, u128::from_le_bytes(buf));
            if !self.sessions.contains_key(&candidate) {
                break candidate;
            }
        };
        let opts = *self.opts.transport_options(kind);
        let mut session = Session::new(kind, opts);
        session.handshake = self.conns.get_mut(&conn).and_then(|c| c.handshake.take());
        self.sessions.insert(sid, session);
        self.metrics.sessions_total += 1;
        if let Some(n) = self.metrics.sessions_by_transport.get_mut(kind as usize) {
            *n += 1;
        }
        sid
    }

    /// A new transport is about to attach: the old one, if any, is done. An unanswered poll
    /// is answered empty (the reference left it hanging); a stream or socket is closed.
    pub(super) fn replace_transport(&mut self, sid: SessionId, now: Instant) {
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        let (kind, Some(old)) = (s.kind, s.attached.take()) else {
            return;
        };
        self.stop_heartbeat(sid);
        self.disarm(TimerOwner::Session(sid), TimerKind::PollDuration);
        match old {
            Attached::Poll { .. } => self.answer_poll(old, &mut Payload::new(Vec::new()), now),
            other => self.close_transport(kind, other, 1000, now),
        }
    }

    /// The attach routine (docs/PROTOCOL.md §3.3): the id first if it has not gone out, then
    /// the queue, as one payload; `Connect` on the first attach; heartbeats if enabled.
    pub(super) fn attach(&mut self, sid: SessionId, now: Instant) {
        self.disarm(TimerOwner::Session(sid), TimerKind::Close);
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
            log::info!("session {sid} connected");
            self.events.push_back(Event::Connect(sid));
        }
        if heartbeats {
            self.start_heartbeat(sid, now);
        }
    }

    /// Queues or writes one encoded frame.
    pub(super) fn deliver(&mut self, sid: SessionId, frame: Bytes, now: Instant) {
        self.deliver_shared(sid, &mut Payload::once(vec![frame]), now);
    }

    /// Queues or writes a payload that other sessions may be sent too: each transport's
    /// wrapping of it is built once, in `payload`.
    pub(super) fn deliver_shared(&mut self, sid: SessionId, payload: &mut Payload, now: Instant) {
        let max_queue = self.opts.limits.max_queue;
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        self.metrics.messages_out += payload.frames.len() as u64;
        if s.attached.is_some() {
            return self.write_shared(sid, payload, now);
        }
        s.queued_bytes += payload.len();
        if payload.once {
            // Nobody else gets these: moved, not shared.
            s.queue.extend(payload.frames.drain(..));
        } else {
            s.queue.extend(payload.frames.iter().cloned());
        }
        if s.queued_bytes > max_queue {
            log::warn!("session {sid}: more than {max_queue} bytes queued");
            self.end_session(sid, DisconnectReason::QueueOverflow, now);
        }
    }

    /// Writes a payload to the attached transport, which must exist.
    pub(super) fn write_payload(&mut self, sid: SessionId, payload: Vec<Bytes>, now: Instant) {
        self.write_shared(sid, &mut Payload::once(payload), now);
    }

    fn write_shared(&mut self, sid: SessionId, payload: &mut Payload, now: Instant) {
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        match &s.attached {
            Some(Attached::Poll { .. }) => {
                // A poll is answered once: the payload completes it and it detaches.
                let poll = s.attached.take();
                self.disarm(TimerOwner::Session(sid), TimerKind::PollDuration);
                if let Some(poll) = poll {
                    self.answer_poll(poll, payload, now);
                }
                self.detached(sid, DisconnectReason::TransportClosed, now);
            }
            &Some(Attached::Stream { conn }) => {
                let data = match s.kind {
                    TransportKind::HtmlFile => vec![payload.htmlfile_chunk()],
                    _ => xhr_multipart::part(&payload.frames),
                };
                self.transmit(conn, data, false);
            }
            &Some(Attached::WebSocket { conn }) => {
                if let Some(data) = self.codec(conn).map(|c| c.wrap(payload)) {
                    self.transmit(conn, data, false);
                }
            }
            None => {}
        }
    }

    /// Completes a held poll with `payload` (empty when `duration` ran out).
    pub(super) fn answer_poll(&mut self, poll: Attached, payload: &mut Payload, now: Instant) {
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
            None => xhr_polling::poll_response(&payload.frames, cors.as_ref(), keep_alive),
            Some(JsonpTarget::Index(i)) => {
                jsonp_polling::poll_response_with(i, payload.script_string(), keep_alive)
            }
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
    pub(super) fn detached(&mut self, sid: SessionId, reason: DisconnectReason, now: Instant) {
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
    pub(super) fn transport_lost(
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
            self.disarm(TimerOwner::Session(sid), TimerKind::PollDuration);
            self.detached(sid, reason, now);
        }
    }

    /// Disconnect: the session is forgotten, its transport closed, and the application
    /// told once.
    pub(super) fn end_session(&mut self, sid: SessionId, reason: DisconnectReason, now: Instant) {
        let Some(mut s) = self.sessions.remove(&sid) else {
            return;
        };
        if let Some(n) = self.metrics.sessions_by_transport.get_mut(s.kind as usize) {
            *n = n.saturating_sub(1);
        }
        self.timers.cancel_owner(TimerOwner::Session(sid));
        self.rooms.leave_all(sid);
        if let Some(att) = s.attached.take() {
            // 1001: going away; a client may come back (to another node).
            let code = match reason {
                DisconnectReason::Shutdown | DisconnectReason::Draining => 1001,
                _ => 1000,
            };
            self.close_transport(s.kind, att, code, now);
        }
        log::info!("session {sid} disconnected: {reason}");
        if s.handshaked {
            self.events.push_back(Event::Disconnect(sid, reason));
        }
    }

    /// Ends a transport connection properly: a poll gets an empty answer, an htmlfile
    /// stream its last chunk, a socket its closing handshake (`code`); then the connection
    /// closes.
    pub(super) fn close_transport(
        &mut self,
        kind: TransportKind,
        att: Attached,
        code: u16,
        now: Instant,
    ) {
        let conn = att.conn();
        match att {
            Attached::Poll {
                conn, cors, jsonp, ..
            } => {
                let poll = Attached::Poll {
                    conn,
                    cors,
                    jsonp,
                    keep_alive: false,
                };
                return self.answer_poll(poll, &mut Payload::new(Vec::new()), now);
            }
            Attached::Stream { .. } if kind == TransportKind::HtmlFile => {
                self.transmit(conn, vec![Segment::LastChunk], false);
            }
            Attached::Stream { .. } => {}
            Attached::WebSocket { .. } => {
                if let Some(b) = self.codec(conn).and_then(|c| c.close_bytes(code, "")) {
                    self.transmit(conn, vec![Segment::Raw(b)], false);
                }
            }
        }
        self.close_conn(conn, now);
    }

    /// [`on_payload`](Self::on_payload) for a payload the caller owns: one plain text frame,
    /// what a WebSocket message almost always is, becomes the message in place, not copied.
    pub(super) fn on_owned_payload(
        &mut self,
        sid: SessionId,
        mut payload: String,
        now: Instant,
    ) -> Result<(), CodecError> {
        let Some(start) = codec::lone_text(&payload) else {
            return self.on_payload(sid, &payload, now);
        };
        if self.sessions.contains_key(&sid) {
            payload.drain(..start);
            self.metrics.messages_in += 1;
            self.events
                .push_back(Event::Message(sid, crate::Message::Text(payload)));
        }
        Ok(())
    }

    /// Delivers the frames of one payload. Returns why something in it was dropped: the
    /// first framing error (the frames before it are delivered, the rest is not) or, with
    /// the framing intact, the last frame whose content was invalid (the others are
    /// delivered). A POST answers 400 with it; a WebSocket only logs it.
    pub(super) fn on_payload(
        &mut self,
        sid: SessionId,
        payload: &str,
        now: Instant,
    ) -> Result<(), CodecError> {
        let mut dropped = Ok(());
        for frame in codec::Frames::new(payload) {
            if !self.sessions.contains_key(&sid) {
                break;
            }
            let data = match frame {
                Ok(data) => data,
                Err(e) => {
                    self.metrics.decode_errors += 1;
                    log::debug!("rest of a payload from session {sid} dropped: {e}");
                    return Err(e);
                }
            };
            match codec::interpret(data) {
                Ok(Incoming::Heartbeat(n)) => self.on_heartbeat(sid, &n, now),
                Ok(Incoming::Message(m)) => {
                    self.metrics.messages_in += 1;
                    self.events.push_back(Event::Message(sid, m));
                }
                Err(e) => {
                    self.metrics.decode_errors += 1;
                    log::debug!("message from session {sid} dropped: {e}");
                    dropped = Err(e);
                }
            }
        }
        dropped
    }
}
