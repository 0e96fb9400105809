//! The WebSocket client side, RFC 6455 or hixie-76: the upgrade request, the check of the
//! server's answer, and text frames both ways.

use crate::http;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Rfc6455,
    Hixie76,
}

pub const PATH: &str = "/socket.io/websocket";

// RFC 6455's example key and its accept value (section 1.3).
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
// draft-hixie-thewebsocketprotocol-76's example keys and the answer they call for.
const KEY1: &str = "18x 6]8vM;54 *(5:  {   U1]8  z [  8";
const KEY2: &str = "1_ tx7X d  <  nw  334J702) 7]o}` 0";
const KEY3: &[u8; 8] = b"Tm[K T2u";
const ANSWER: &[u8; 16] = b"fQJ,fN/4F4!~K~MH";

#[derive(Debug, PartialEq, Eq)]
enum State {
    Head,
    HixieAnswer,
    Open,
}

/// One client connection's WebSocket layer, fed the bytes the server sent.
pub struct WsClient {
    flavor: Flavor,
    state: State,
    /// A fragmented RFC 6455 message so far.
    fragments: Vec<u8>,
    mask: u32,
}

impl WsClient {
    pub fn new(flavor: Flavor) -> WsClient {
        WsClient {
            flavor,
            state: State::Head,
            fragments: Vec::new(),
            mask: 0x1234_5678,
        }
    }

    /// Appends the upgrade request.
    pub fn request(&self, host: &str, out: &mut Vec<u8>) {
        let head = match self.flavor {
            Flavor::Rfc6455 => format!(
                "GET {PATH} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ),
            Flavor::Hixie76 => format!(
                "GET {PATH} HTTP/1.1\r\nHost: {host}\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n\
                 Origin: http://{host}\r\nSec-WebSocket-Key1: {KEY1}\r\nSec-WebSocket-Key2: {KEY2}\r\n\r\n"
            ),
        };
        out.extend_from_slice(head.as_bytes());
        if self.flavor == Flavor::Hixie76 {
            out.extend_from_slice(KEY3);
        }
    }

    pub fn is_open(&self) -> bool {
        self.state == State::Open
    }

    /// Consumes every complete item at the front of `input`: the server's handshake answer,
    /// then frames. Each text message goes to `messages`; pings are answered into `out`. A
    /// close frame is an error: the servers measured never close first.
    pub fn read(
        &mut self,
        input: &mut Vec<u8>,
        out: &mut Vec<u8>,
        messages: &mut Vec<String>,
    ) -> Result<(), String> {
        let mut pos = 0;
        let result = loop {
            match self.step(&input[pos..], out, messages) {
                Ok(0) => break Ok(()),
                Ok(n) => pos += n,
                Err(e) => break Err(e),
            }
        };
        input.drain(..pos);
        result
    }

    /// Handles one item at the front of `buf`; returns the bytes it took, 0 if incomplete.
    fn step(
        &mut self,
        buf: &[u8],
        out: &mut Vec<u8>,
        messages: &mut Vec<String>,
    ) -> Result<usize, String> {
        match self.state {
            State::Head => {
                let Some(head) = http::parse_head(buf)? else {
                    return Ok(0);
                };
                if head.status != 101 {
                    return Err(format!("upgrade refused: {:?}", http::preview(buf)));
                }
                if self.flavor == Flavor::Rfc6455 {
                    if head.header("sec-websocket-accept") != Some(ACCEPT) {
                        return Err(format!(
                            "wrong Sec-WebSocket-Accept: {:?}",
                            http::preview(buf)
                        ));
                    }
                    self.state = State::Open;
                } else {
                    self.state = State::HixieAnswer;
                }
                Ok(head.len)
            }
            State::HixieAnswer => {
                if buf.len() < 16 {
                    return Ok(0);
                }
                if &buf[..16] != ANSWER {
                    return Err(format!(
                        "wrong hixie-76 answer {:?}",
                        http::preview(&buf[..16])
                    ));
                }
                self.state = State::Open;
                Ok(16)
            }
            State::Open => match self.flavor {
                Flavor::Hixie76 => hixie_frame(buf, messages),
                Flavor::Rfc6455 => self.rfc6455_frame(buf, out, messages),
            },
        }
    }

    fn rfc6455_frame(
        &mut self,
        buf: &[u8],
        out: &mut Vec<u8>,
        messages: &mut Vec<String>,
    ) -> Result<usize, String> {
        if buf.len() < 2 {
            return Ok(0);
        }
        let (fin, opcode, masked) = (buf[0] & 0x80 != 0, buf[0] & 0x0F, buf[1] & 0x80 != 0);
        let (len, mut at) = match buf[1] & 0x7F {
            126 if buf.len() >= 4 => (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4),
            127 if buf.len() >= 10 => (
                u64::from_be_bytes(buf[2..10].try_into().unwrap()) as usize,
                10,
            ),
            126 | 127 => return Ok(0),
            n => (n as usize, 2),
        };
        let key = if masked {
            at += 4;
            buf.get(at - 4..at).map(|k| [k[0], k[1], k[2], k[3]])
        } else {
            None
        };
        if buf.len() < at + len {
            return Ok(0);
        }
        let mut payload = buf[at..at + len].to_vec();
        if let Some(key) = key {
            apply_mask(&mut payload, key);
        }
        match opcode {
            0x0..=0x2 => {
                if fin && self.fragments.is_empty() {
                    messages.push(utf8(payload)?);
                } else {
                    self.fragments.extend_from_slice(&payload);
                    if fin {
                        messages.push(utf8(std::mem::take(&mut self.fragments))?);
                    }
                }
            }
            0x8 => return Err("the server closed the WebSocket".into()),
            0x9 => self.write_frame(0xA, &payload, out),
            0xA => {}
            op => return Err(format!("unknown WebSocket opcode {op:#x}")),
        }
        Ok(at + len)
    }

    /// Appends one text frame holding `text` (masked, as a client must, for RFC 6455).
    pub fn write_text(&mut self, text: &[u8], out: &mut Vec<u8>) {
        match self.flavor {
            Flavor::Hixie76 => {
                out.push(0x00);
                out.extend_from_slice(text);
                out.push(0xFF);
            }
            Flavor::Rfc6455 => self.write_frame(0x1, text, out),
        }
    }

    fn write_frame(&mut self, opcode: u8, payload: &[u8], out: &mut Vec<u8>) {
        out.push(0x80 | opcode);
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n <= 0xFFFF => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        // A cheap varying key (xorshift); masking is for proxies, not secrecy.
        self.mask ^= self.mask << 13;
        self.mask ^= self.mask >> 17;
        self.mask ^= self.mask << 5;
        let key = self.mask.to_be_bytes();
        out.extend_from_slice(&key);
        let start = out.len();
        out.extend_from_slice(payload);
        apply_mask(&mut out[start..], key);
    }
}

fn apply_mask(bytes: &mut [u8], key: [u8; 4]) {
    let mut chunks = bytes.chunks_exact_mut(4);
    for c in &mut chunks {
        c.iter_mut().zip(key).for_each(|(b, k)| *b ^= k);
    }
    chunks
        .into_remainder()
        .iter_mut()
        .zip(key)
        .for_each(|(b, k)| *b ^= k);
}

/// One hixie-76 frame: `0x00 <utf-8> 0xFF`; `0xFF 0x00` is the closing handshake.
fn hixie_frame(buf: &[u8], messages: &mut Vec<String>) -> Result<usize, String> {
    match buf.first() {
        None => Ok(0),
        Some(0x00) => match buf.iter().position(|&b| b == 0xFF) {
            None => Ok(0),
            Some(end) => {
                messages.push(utf8(buf[1..end].to_vec())?);
                Ok(end + 1)
            }
        },
        Some(0xFF) => Err("the server closed the WebSocket".into()),
        Some(b) => Err(format!("unexpected hixie-76 frame type {b:#x}")),
    }
}

fn utf8(bytes: Vec<u8>) -> Result<String, String> {
    String::from_utf8(bytes).map_err(|e| format!("a text message is not UTF-8: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unmask(frame: &[u8]) -> Vec<u8> {
        let (len, at) = match frame[1] & 0x7F {
            126 => (u16::from_be_bytes([frame[2], frame[3]]) as usize, 4),
            n => (n as usize, 2),
        };
        let key = &frame[at..at + 4];
        frame[at + 4..at + 4 + len]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i % 4])
            .collect()
    }

    #[test]
    fn rfc6455_handshake_then_frames_in_pieces() {
        let mut ws = WsClient::new(Flavor::Rfc6455);
        let mut req = Vec::new();
        ws.request("h:1", &mut req);
        assert!(String::from_utf8(req)
            .unwrap()
            .contains("Sec-WebSocket-Version: 13"));
        let mut input = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {ACCEPT}\r\n\r\n"
        )
        .into_bytes();
        input.extend_from_slice(b"\x81\x05hel");
        let (mut out, mut msgs) = (Vec::new(), Vec::new());
        ws.read(&mut input, &mut out, &mut msgs).unwrap();
        assert!(ws.is_open() && msgs.is_empty());
        input.extend_from_slice(b"lo\x01\x02ab\x89\x01p\x80\x01c");
        ws.read(&mut input, &mut out, &mut msgs).unwrap();
        assert_eq!(msgs, ["hello", "abc"]);
        assert!(input.is_empty());
        assert_eq!(&out[..2], b"\x8A\x81");
        assert_eq!(unmask(&out), b"p");
        input.extend_from_slice(b"\x88\x00");
        assert!(ws.read(&mut input, &mut out, &mut msgs).is_err());
    }

    #[test]
    fn rfc6455_client_frames_are_masked() {
        let mut ws = WsClient::new(Flavor::Rfc6455);
        let text = "x".repeat(300);
        let mut out = Vec::new();
        ws.write_text(text.as_bytes(), &mut out);
        assert_eq!(&out[..4], &[0x81, 0x80 | 126, 1, 44]);
        assert_eq!(unmask(&out), text.as_bytes());
    }

    #[test]
    fn hixie76_handshake_and_frames() {
        let mut ws = WsClient::new(Flavor::Hixie76);
        let mut req = Vec::new();
        ws.request("h:1", &mut req);
        assert!(req.ends_with(b"\r\n\r\nTm[K T2u"));
        let mut input = b"HTTP/1.1 101 WebSocket Protocol Handshake\r\nUpgrade: WebSocket\r\n\r\nfQJ,fN/4F4!~K~MH\x00hi\xff\x00h".to_vec();
        let (mut out, mut msgs) = (Vec::new(), Vec::new());
        ws.read(&mut input, &mut out, &mut msgs).unwrap();
        assert_eq!(msgs, ["hi"]);
        assert_eq!(input, b"\x00h");
        ws.write_text(b"yo", &mut out);
        assert_eq!(out, b"\x00yo\xff");
        let mut wrong = WsClient::new(Flavor::Hixie76);
        let mut input = b"HTTP/1.1 101 X\r\n\r\n0123456789abcdef".to_vec();
        assert!(wrong.read(&mut input, &mut out, &mut msgs).is_err());
    }
}
