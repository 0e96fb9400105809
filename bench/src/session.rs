//! One Socket.IO 0.6 client session over any transport, sans-IO: fed the bytes each of its
//! connections received, it hands out session events and fills each connection's output.
//! Heartbeats are answered here, so callers see only the session opening and messages.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::frame;
use crate::http;
use crate::ws::{Flavor, WsClient};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Ws(Flavor),
    XhrPolling,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::Ws(Flavor::Rfc6455) => "rfc6455",
            Transport::Ws(Flavor::Hixie76) => "hixie-76",
            Transport::XhrPolling => "xhr-polling",
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// The server sent the session id.
    Open,
    /// The data of one message (not a heartbeat).
    Message(String),
}

/// A polling session's connection for long polls (the only one of the other transports).
pub const POLL: usize = 0;
/// A polling session's connection for posting messages.
pub const SEND: usize = 1;

pub struct Session {
    transport: Transport,
    host: String,
    /// Only the xhr-polling handshake, on a connection the server closes after it.
    handshake_only: bool,
    sid: Option<String>,
    ws: Option<WsClient>,
    /// What each connection has to send.
    pub out: [Vec<u8>; 2],
    /// xhr-polling: frames waiting for the next POST, which carries them all.
    unsent: String,
    post_in_flight: bool,
    /// A handshake-only answer said `Connection: close`.
    server_closes: bool,
    scratch: Vec<String>,
}

impl Session {
    /// A session whose opening request is already queued.
    pub fn new(transport: Transport, host: &str, handshake_only: bool) -> Session {
        let mut s = Session {
            transport,
            host: host.to_string(),
            handshake_only,
            sid: None,
            ws: None,
            out: [Vec::new(), Vec::new()],
            unsent: String::new(),
            post_in_flight: false,
            server_closes: false,
            scratch: Vec::new(),
        };
        match transport {
            Transport::Ws(flavor) => {
                let ws = WsClient::new(flavor);
                ws.request(host, &mut s.out[0]);
                s.ws = Some(ws);
            }
            Transport::XhrPolling => {
                let path = format!("/socket.io/xhr-polling//{}", millis());
                http::get(&path, host, handshake_only, &mut s.out[POLL]);
            }
        }
        s
    }

    /// How many connections the session uses: two for xhr-polling, else one.
    pub fn conns(&self) -> usize {
        if self.transport == Transport::XhrPolling && !self.handshake_only {
            2
        } else {
            1
        }
    }

    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// Takes what it can of `input`, which connection `conn` received.
    pub fn received(
        &mut self,
        conn: usize,
        input: &mut Vec<u8>,
        events: &mut Vec<Event>,
    ) -> Result<(), String> {
        match self.transport {
            Transport::Ws(_) => {
                let mut texts = std::mem::take(&mut self.scratch);
                let ws = self
                    .ws
                    .as_mut()
                    .expect("a WebSocket session has its client");
                let read = ws.read(input, &mut self.out[0], &mut texts);
                let handled = texts.drain(..).try_for_each(|t| self.payload(&t, events));
                self.scratch = texts;
                read.and(handled)
            }
            Transport::XhrPolling => {
                while let Some(r) = http::take_response(input)? {
                    if r.status != 200 {
                        return Err(format!(
                            "HTTP {} from the server: {:?}",
                            r.status,
                            http::preview(&r.body)
                        ));
                    }
                    self.server_closes = r.close;
                    if r.close && !self.handshake_only {
                        return Err(
                            "the server closes its polling connections; keep-alive is expected"
                                .into(),
                        );
                    }
                    if conn == SEND {
                        self.post_in_flight = false;
                        self.post();
                        continue;
                    }
                    let body = String::from_utf8(r.body)
                        .map_err(|_| "a poll answer is not UTF-8".to_string())?;
                    self.payload(&body, events)?;
                    if !self.handshake_only {
                        let path = format!(
                            "/socket.io/xhr-polling/{}/{}",
                            self.sid.as_deref().unwrap_or(""),
                            millis()
                        );
                        http::get(&path, &self.host, false, &mut self.out[POLL]);
                    }
                }
                Ok(())
            }
        }
    }

    /// A handshake-only session has its answer and the server said it will close the
    /// connection (rather than leave it to the client).
    pub fn server_closes(&self) -> bool {
        self.server_closes
    }

    /// The server closed connection `conn`: expected only after a handshake-only session's answer.
    pub fn closed(&self, conn: usize) -> Result<(), String> {
        if self.handshake_only && self.sid.is_some() {
            Ok(())
        } else if self.transport == Transport::XhrPolling && conn == SEND {
            Err("the server closed the connection for posts".into())
        } else {
            Err("the server closed the connection".into())
        }
    }

    /// Sends one message.
    pub fn send(&mut self, data: &str) {
        match self.transport {
            Transport::Ws(_) => {
                let framed = frame::encoded(data);
                let ws = self
                    .ws
                    .as_mut()
                    .expect("a WebSocket session has its client");
                ws.write_text(framed.as_bytes(), &mut self.out[0]);
            }
            Transport::XhrPolling => {
                self.unsent.push_str(&frame::encoded(data));
                self.post();
            }
        }
    }

    /// Posts every waiting frame, unless a post is already out.
    fn post(&mut self) {
        if self.post_in_flight || self.unsent.is_empty() {
            return;
        }
        let mut body = String::from("data=");
        http::urlencode(&self.unsent, &mut body);
        self.unsent.clear();
        let path = format!(
            "/socket.io/xhr-polling/{}/send",
            self.sid.as_deref().unwrap_or("")
        );
        http::post_form(&path, &self.host, &body, &mut self.out[SEND]);
        self.post_in_flight = true;
    }

    /// One payload from the server: the session id first, then messages and heartbeats.
    fn payload(&mut self, payload: &str, events: &mut Vec<Event>) -> Result<(), String> {
        for data in frame::decode(payload)? {
            if self.sid.is_none() {
                self.sid = Some(data.to_string());
                events.push(Event::Open);
            } else if frame::is_heartbeat(data) {
                self.send(data);
            } else {
                events.push(Event::Message(data.to_string()));
            }
        }
        Ok(())
    }
}

fn millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(out: &mut Vec<u8>) -> String {
        String::from_utf8(std::mem::take(out)).unwrap()
    }

    fn answer(body: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    #[test]
    fn xhr_polling_session() {
        let mut s = Session::new(Transport::XhrPolling, "h:1", false);
        assert_eq!(s.conns(), 2);
        assert!(text(&mut s.out[POLL]).starts_with("GET /socket.io/xhr-polling//1"));
        let mut events = Vec::new();
        s.received(POLL, &mut answer("~m~3~m~abc"), &mut events)
            .unwrap();
        assert_eq!(
            (events.as_slice(), s.sid()),
            (&[Event::Open][..], Some("abc"))
        );
        assert!(text(&mut s.out[POLL]).starts_with("GET /socket.io/xhr-polling/abc/"));

        s.send("one");
        s.send("two"); // waits for the first post's answer, then goes with anything else queued
        let post = text(&mut s.out[SEND]);
        assert!(post.starts_with("POST /socket.io/xhr-polling/abc/send HTTP/1.1\r\n"));
        assert!(post.ends_with("\r\n\r\ndata=%7Em%7E3%7Em%7Eone"));
        s.received(POLL, &mut answer("~m~3~m~one~m~4~m~~h~7"), &mut events)
            .unwrap();
        assert_eq!(events[1], Event::Message("one".into()));
        assert!(s.out[SEND].is_empty());
        s.received(SEND, &mut answer("ok"), &mut events).unwrap();
        let post = text(&mut s.out[SEND]);
        assert!(
            post.ends_with("data=%7Em%7E3%7Em%7Etwo%7Em%7E4%7Em%7E%7Eh%7E7"),
            "{post}"
        );
        assert!(s.closed(POLL).is_err());
    }

    #[test]
    fn handshake_only() {
        let mut s = Session::new(Transport::XhrPolling, "h:1", true);
        assert_eq!(s.conns(), 1);
        assert!(text(&mut s.out[POLL]).contains("Connection: close\r\n"));
        assert!(s.closed(POLL).is_err());
        let mut events = Vec::new();
        let mut input =
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 10\r\n\r\n~m~3~m~abc"
                .to_vec();
        s.received(POLL, &mut input, &mut events).unwrap();
        assert_eq!(events, [Event::Open]);
        assert!(s.out[POLL].is_empty() && s.closed(POLL).is_ok() && s.server_closes());
    }

    #[test]
    fn websocket_heartbeats_are_echoed() {
        let mut s = Session::new(Transport::Ws(Flavor::Hixie76), "h:1", false);
        s.out[0].clear();
        let mut input =
            b"HTTP/1.1 101 X\r\n\r\nfQJ,fN/4F4!~K~MH\x00~m~2~m~id\xff\x00~m~4~m~~h~1\xff".to_vec();
        let mut events = Vec::new();
        s.received(0, &mut input, &mut events).unwrap();
        assert_eq!(events, [Event::Open]);
        assert_eq!(s.out[0], b"\x00~m~4~m~~h~1\xff");
    }
}
