//! WebSocket: the opening handshakes and the frames of an upgraded connection.

use std::time::Instant;

use crate::conn::{flavour_name, Conn, ConnId, ConnState, WsTarget};
use crate::forwarded;
use crate::http::request::Request;
use crate::http::response::Segment;
use crate::session::{Attached, DisconnectReason};
use crate::transport::websocket::{self as ws_transport, Codec};
use crate::transport::TransportKind;
use crate::websocket::handshake::Flavour;
use crate::websocket::WsEvent;

use super::Server;

impl Server {
    pub(super) fn ws_handshake(
        &mut self,
        id: ConnId,
        kind: TransportKind,
        session: Option<&str>,
        req: Request,
        now: Instant,
    ) {
        let origin = ws_transport::request_origin(&req);
        if !self.opts.origins.allows(origin) {
            self.metrics.refused += 1;
            log::info!("WebSocket origin {origin:?} not allowed");
            return self.error_response(id, 403, "origin not allowed", now);
        }
        let target = match session {
            Some(raw) => match self.lookup(id, kind, raw, now) {
                Some(sid) => WsTarget::Existing(sid),
                None => return,
            },
            // Decided before the handshake, while a refusal can still be an HTTP answer.
            None if self.admit_new_session(id, kind, &req, now) => WsTarget::New(kind),
            None => return,
        };
        let Some(info) = self.conns.get(&id).map(|c| c.info) else {
            return;
        };
        let public = forwarded::resolve(&req, &info, &self.opts);
        let hs = match ws_transport::accept(&req, public.secure, public.host) {
            Ok(hs) => hs,
            Err(r) => {
                self.metrics.refused += 1;
                log::debug!("WebSocket handshake refused: {}", r.message);
                return self.error_response(id, r.status, &r.message, now);
            }
        };
        self.transmit(id, vec![Segment::Raw(hs.head)], false);
        if self.opts.keep_latest_requests {
            let latest = self.handshake_of(id, kind, &req).map(Box::new);
            if let Some(c) = self.conns.get_mut(&id) {
                c.attaching = latest;
            }
        }
        match hs.keys {
            Some(keys) => {
                if let Some(c) = self.conns.get_mut(&id) {
                    c.state = ConnState::AwaitKey3 { keys, target };
                }
                self.arm_conn_timer(id, self.opts.limits.handshake_timeout, now);
                self.try_key3(id, now);
            }
            None => self.ws_open(id, hs.flavour, target, now),
        }
    }

    pub(super) fn try_key3(&mut self, id: ConnId, now: Instant) {
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
        self.transmit(
            id,
            vec![Segment::Raw(ws_transport::key3_answer(keys, &key3))],
            false,
        );
        self.ws_open(id, Flavour::Hixie76, target, now);
    }

    pub(super) fn ws_open(&mut self, id: ConnId, flavour: Flavour, target: WsTarget, now: Instant) {
        self.cancel_request_timer(id);
        let sid = match target {
            WsTarget::New(kind) => self.create_session(id, kind),
            WsTarget::Existing(sid) if self.sessions.contains_key(&sid) => sid,
            WsTarget::Existing(_) => return self.close_conn(id, now),
        };
        log::debug!("session {sid} speaks {}", flavour_name(flavour));
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
        let latest = self.conns.get_mut(&id).and_then(|c| c.attaching.take());
        if let Some(s) = self.sessions.get_mut(&sid) {
            s.attached = Some(Attached::WebSocket { conn: id });
            if let Some(h) = latest {
                s.latest = Some(h);
            }
        }
        self.attach(sid, now);
        if !leftover.is_empty() {
            self.ws_input(id, &leftover, now);
        }
    }

    pub(super) fn ws_input(&mut self, id: ConnId, data: &[u8], now: Instant) {
        // One buffer for the decoded events of every read, not one per read.
        let mut events = std::mem::take(&mut self.ws_events);
        self.ws_feed(id, data, &mut events, now);
        events.clear();
        self.ws_events = events;
    }

    fn ws_feed(&mut self, id: ConnId, data: &[u8], events: &mut Vec<WsEvent>, now: Instant) {
        let (sid, result) = match self.conns.get_mut(&id) {
            Some(Conn {
                state: ConnState::WebSocket { session, codec },
                ..
            }) => (*session, codec.feed(data, events)),
            _ => return,
        };
        for ev in events.drain(..) {
            match ev {
                WsEvent::Text(text) => {
                    // Logged there; the connection goes on (see docs/PROTOCOL.md).
                    let _ = self.on_owned_payload(sid, text, now);
                }
                WsEvent::Ping(p) => {
                    if let Some(pong) = self.codec(id).and_then(|c| c.pong(&p)) {
                        self.transmit(id, vec![Segment::Raw(pong)], false);
                    }
                }
                // The session's decoder refuses binary messages before any arrive.
                WsEvent::Pong(_) | WsEvent::Binary(_) => {}
                WsEvent::Close { code, .. } => {
                    let reply = self
                        .codec(id)
                        .and_then(|c| c.close_bytes(code.unwrap_or(1000), ""));
                    if let Some(b) = reply {
                        self.transmit(id, vec![Segment::Raw(b)], false);
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
            self.metrics.decode_errors += 1;
            log::debug!("WebSocket protocol error from session {sid}: {}", e.reason);
            if let Some(b) = self
                .codec(id)
                .and_then(|c| c.close_bytes(e.close_code, e.reason))
            {
                self.transmit(id, vec![Segment::Raw(b)], false);
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

    pub(super) fn codec(&self, id: ConnId) -> Option<&Codec> {
        match self.conns.get(&id) {
            Some(Conn {
                state: ConnState::WebSocket { codec, .. },
                ..
            }) => Some(codec),
            _ => None,
        }
    }
}
