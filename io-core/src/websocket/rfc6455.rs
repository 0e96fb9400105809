//! RFC 6455 framing, server side: decode masked client frames, encode unmasked server frames.
//!
//! The decoder is a byte-at-a-time state machine over header, then payload, so it gives the
//! same events however the input is split. It checks every rule a server must enforce before
//! it buffers anything: a too-big message is refused from its header alone.

use bytes::Bytes;

use super::{WsError, WsEvent};

pub const OP_CONT: u8 = 0;
pub const OP_TEXT: u8 = 1;
pub const OP_BINARY: u8 = 2;
pub const OP_CLOSE: u8 = 8;
pub const OP_PING: u8 = 9;
pub const OP_PONG: u8 = 10;

pub const CLOSE_NORMAL: u16 = 1000;
pub const CLOSE_GOING_AWAY: u16 = 1001;
pub const CLOSE_PROTOCOL_ERROR: u16 = 1002;
pub const CLOSE_UNSUPPORTED_DATA: u16 = 1003;
pub const CLOSE_INVALID_PAYLOAD: u16 = 1007;
pub const CLOSE_TOO_BIG: u16 = 1009;

/// Control frames (close, ping, pong) must fit in the short length form.
const MAX_CONTROL_PAYLOAD: usize = 125;
/// Two length bytes, up to eight extended length bytes, four mask bytes.
const MAX_HEADER: usize = 14;

#[derive(Debug)]
enum State {
    /// Collecting header bytes into `header`.
    Header,
    /// Reading the payload of `frame`.
    Payload,
    /// A close frame arrived; nothing more is read.
    Closed,
    /// The peer broke the rules; every later call reports the same error.
    Failed(WsError),
}

/// The frame whose payload is being read.
#[derive(Debug, Clone, Copy, Default)]
struct Frame {
    opcode: u8,
    fin: bool,
    mask: [u8; 4],
    /// Payload bytes still to come.
    remaining: u64,
    /// Position in the mask of the next payload byte.
    mask_offset: usize,
}

/// Incremental decoder for the frames an RFC 6455 client sends.
#[derive(Debug)]
pub struct Rfc6455Decoder {
    max_message: usize,
    header: [u8; MAX_HEADER],
    header_len: usize,
    frame: Frame,
    /// The text message being assembled, from its first fragment until its last.
    message: Option<Vec<u8>>,
    /// Length of the prefix of `message` already known to be valid UTF-8, so each fragment is
    /// checked once and bad text is refused before the message ends.
    utf8_checked: usize,
    /// Payload of the control frame in progress (at most 125 bytes).
    control: Vec<u8>,
    state: State,
}

impl Rfc6455Decoder {
    /// A decoder that refuses (with 1009) messages whose fragments add up to more than
    /// `max_message` bytes.
    pub fn new(max_message: usize) -> Self {
        Rfc6455Decoder {
            max_message,
            header: [0; MAX_HEADER],
            header_len: 0,
            frame: Frame::default(),
            message: None,
            utf8_checked: 0,
            control: Vec::new(),
            state: State::Header,
        }
    }

    /// Consumes all of `input`; appends Text (reassembled, validated UTF-8), Ping, Pong and
    /// Close events to `out`.
    ///
    /// Protocol errors carry the close code to send (1002, 1003, 1007 or 1009, following
    /// RFC 6455 §5 and §7.4). Events decoded before an error stay in `out`; once failed, the
    /// decoder keeps returning the same error. After a Close event, further input is ignored.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<WsEvent>) -> Result<(), WsError> {
        loop {
            let step = match &self.state {
                State::Closed => return Ok(()),
                State::Failed(err) => return Err(err.clone()),
                State::Header => self.read_header(&mut input),
                State::Payload => self.read_payload(&mut input, out),
            };
            match step {
                Ok(true) => {}
                Ok(false) => return Ok(()),
                Err(err) => {
                    self.message = None;
                    self.control = Vec::new();
                    self.state = State::Failed(err.clone());
                    return Err(err);
                }
            }
        }
    }

    /// Moves header bytes from `input`; `Ok(false)` when more input is needed.
    fn read_header(&mut self, input: &mut &[u8]) -> Result<bool, WsError> {
        if self.header_len < 2 {
            if !self.fill_header(input, 2) {
                return Ok(false);
            }
            self.check_first_bytes()?;
        }
        let need = 2 + extended_len_bytes(self.header[1]) + 4;
        if !self.fill_header(input, need) {
            return Ok(false);
        }
        self.start_frame()?;
        Ok(true)
    }

    /// Copies bytes from `input` until the header holds `upto` bytes; whether it does.
    fn fill_header(&mut self, input: &mut &[u8], upto: usize) -> bool {
        let want = upto.saturating_sub(self.header_len).min(input.len());
        let (head, rest) = input.split_at(want);
        if let Some(dst) = self.header.get_mut(self.header_len..self.header_len + want) {
            dst.copy_from_slice(head);
            self.header_len += want;
        }
        *input = rest;
        self.header_len >= upto
    }

    /// The checks the first two bytes allow, done before waiting for the rest of the header.
    fn check_first_bytes(&self) -> Result<(), WsError> {
        let [b0, b1, ..] = self.header;
        let fin = b0 & 0x80 != 0;
        let opcode = b0 & 0x0F;
        if b0 & 0x70 != 0 {
            return Err(WsError::protocol(
                "RSV bits are set but no extension was negotiated",
            ));
        }
        if b1 & 0x80 == 0 {
            return Err(WsError::protocol("client frame is not masked"));
        }
        match opcode {
            OP_CLOSE | OP_PING | OP_PONG => {
                if !fin {
                    return Err(WsError::protocol("control frame is fragmented (FIN=0)"));
                }
                if usize::from(b1 & 0x7F) > MAX_CONTROL_PAYLOAD {
                    return Err(WsError::protocol(
                        "control frame payload is longer than 125 bytes",
                    ));
                }
            }
            OP_CONT if self.message.is_none() => {
                return Err(WsError::protocol(
                    "continuation frame without a message in progress",
                ));
            }
            OP_CONT => {}
            OP_TEXT | OP_BINARY if self.message.is_some() => {
                return Err(WsError::protocol(
                    "new data frame before the fragmented message in progress ended",
                ));
            }
            OP_TEXT => {}
            OP_BINARY => {
                return Err(WsError::unsupported(
                    "binary messages are not supported; send text",
                ));
            }
            _ => return Err(WsError::protocol("reserved opcode")),
        }
        Ok(())
    }

    /// The header is complete: check the length and get ready for the payload.
    fn start_frame(&mut self) -> Result<(), WsError> {
        let h = self.header;
        let (len, mask_at) = match h[1] & 0x7F {
            126 => (u64::from(u16::from_be_bytes([h[2], h[3]])), 4),
            127 => (
                u64::from_be_bytes([h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9]]),
                10,
            ),
            short => (u64::from(short), 2),
        };
        if len >> 63 != 0 {
            return Err(WsError::protocol(
                "64-bit payload length has its most significant bit set",
            ));
        }
        let mut mask = [0; 4];
        if let Some(src) = h.get(mask_at..mask_at + 4) {
            mask.copy_from_slice(src);
        }
        let opcode = h[0] & 0x0F;
        match opcode {
            OP_TEXT | OP_CONT => {
                let so_far = self.message.as_ref().map_or(0, Vec::len);
                let total = u64::try_from(so_far)
                    .unwrap_or(u64::MAX)
                    .saturating_add(len);
                if total > u64::try_from(self.max_message).unwrap_or(u64::MAX) {
                    return Err(WsError::too_big(
                        "message is larger than the configured maximum message size",
                    ));
                }
                if opcode == OP_TEXT {
                    self.message = Some(Vec::new());
                    self.utf8_checked = 0;
                }
            }
            _ => self.control.clear(),
        }
        self.frame = Frame {
            opcode,
            fin: h[0] & 0x80 != 0,
            mask,
            remaining: len,
            mask_offset: 0,
        };
        self.header_len = 0;
        self.state = State::Payload;
        Ok(())
    }

    /// Moves payload bytes from `input`, unmasking them; finishes the frame when it is whole.
    fn read_payload(&mut self, input: &mut &[u8], out: &mut Vec<WsEvent>) -> Result<bool, WsError> {
        let n = usize::try_from(self.frame.remaining).map_or(input.len(), |r| r.min(input.len()));
        let (chunk, rest) = input.split_at(n);
        *input = rest;
        let target = match self.frame.opcode {
            OP_TEXT | OP_CONT => self.message.get_or_insert_with(Vec::new),
            _ => &mut self.control,
        };
        let start = target.len();
        target.extend_from_slice(chunk);
        let mask = self.frame.mask.iter().cycle().skip(self.frame.mask_offset);
        for (b, m) in target.iter_mut().skip(start).zip(mask) {
            *b ^= m;
        }
        self.frame.mask_offset = (self.frame.mask_offset + n % 4) % 4;
        self.frame.remaining -= n as u64;
        if self.frame.remaining > 0 {
            return Ok(false);
        }
        self.finish_frame(out)?;
        Ok(true)
    }

    fn finish_frame(&mut self, out: &mut Vec<WsEvent>) -> Result<(), WsError> {
        self.state = State::Header;
        match self.frame.opcode {
            OP_PING => out.push(WsEvent::Ping(Bytes::copy_from_slice(&self.control))),
            OP_PONG => out.push(WsEvent::Pong(Bytes::copy_from_slice(&self.control))),
            OP_CLOSE => {
                out.push(parse_close(&self.control)?);
                self.state = State::Closed;
                self.message = None;
            }
            _ => {
                self.check_utf8()?;
                if self.frame.fin {
                    let message = self.message.take().unwrap_or_default();
                    let text = String::from_utf8(message).map_err(|_| BAD_UTF8)?;
                    out.push(WsEvent::Text(text));
                }
            }
        }
        Ok(())
    }

    /// Checks the part of the message that arrived since the last check. A code point cut at
    /// the end of a non-final fragment is left for the next fragment to complete.
    fn check_utf8(&mut self) -> Result<(), WsError> {
        let Some(message) = &self.message else {
            return Ok(());
        };
        let pending = message.get(self.utf8_checked..).unwrap_or_default();
        match std::str::from_utf8(pending) {
            Ok(_) => self.utf8_checked = message.len(),
            Err(e) if e.error_len().is_none() && !self.frame.fin => {
                self.utf8_checked += e.valid_up_to();
            }
            Err(_) => return Err(BAD_UTF8),
        }
        Ok(())
    }
}

const BAD_UTF8: WsError = WsError::invalid_payload("text message is not valid UTF-8");

/// How many extended length bytes follow the second header byte.
fn extended_len_bytes(b1: u8) -> usize {
    match b1 & 0x7F {
        126 => 2,
        127 => 8,
        _ => 0,
    }
}

fn parse_close(payload: &[u8]) -> Result<WsEvent, WsError> {
    match payload {
        [] => Ok(WsEvent::Close {
            code: None,
            reason: String::new(),
        }),
        [_] => Err(WsError::protocol(
            "close payload is 1 byte; it must be empty or start with a 2-byte code",
        )),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999) {
                return Err(WsError::protocol(
                    "close code is reserved or not allowed on the wire",
                ));
            }
            let reason = std::str::from_utf8(reason)
                .map_err(|_| WsError::protocol("close reason is not valid UTF-8"))?;
            Ok(WsEvent::Close {
                code: Some(code),
                reason: reason.to_owned(),
            })
        }
    }
}

/// Appends the second header byte and any extended length, in the shortest form.
fn push_len(buf: &mut Vec<u8>, mask_bit: u8, len: usize) {
    if len <= MAX_CONTROL_PAYLOAD {
        buf.push(mask_bit | len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        buf.push(mask_bit | 126);
        buf.extend_from_slice(&len.to_be_bytes());
    } else {
        buf.push(mask_bit | 127);
        buf.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

/// Unmasked server frame header for a payload of `len` bytes (shortest length form), FIN set.
///
/// Sending the header and the payload as two buffers saves copying large messages.
pub fn frame_header(opcode: u8, len: usize) -> Bytes {
    let mut header = Vec::with_capacity(10);
    header.push(0x80 | (opcode & 0x0F));
    push_len(&mut header, 0, len);
    Bytes::from(header)
}

/// A whole close frame. The reason is cut (at a character boundary) to the 123 bytes a control
/// frame has room for, so the frame is always valid.
pub fn close_frame(code: u16, reason: &str) -> Bytes {
    let mut end = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let reason = reason.get(..end).unwrap_or_default();
    let mut frame = frame_header(OP_CLOSE, 2 + reason.len()).to_vec();
    frame.extend_from_slice(&code.to_be_bytes());
    frame.extend_from_slice(reason.as_bytes());
    Bytes::from(frame)
}

/// A whole pong frame. A ping's payload is at most 125 bytes; anything beyond that is cut so
/// the pong is always a valid control frame.
pub fn pong_frame(payload: &[u8]) -> Bytes {
    let payload = payload.get(..MAX_CONTROL_PAYLOAD).unwrap_or(payload);
    let mut frame = frame_header(OP_PONG, payload.len()).to_vec();
    frame.extend_from_slice(payload);
    Bytes::from(frame)
}

/// A masked client frame, for tests and fuzzing.
pub fn client_frame(opcode: u8, fin: bool, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(MAX_HEADER + payload.len());
    frame.push(if fin { 0x80 } else { 0 } | (opcode & 0x0F));
    push_len(&mut frame, 0x80, payload.len());
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
    frame
}
