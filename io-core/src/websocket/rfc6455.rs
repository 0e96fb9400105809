//! RFC 6455 framing, server side: decode masked client frames, encode unmasked server frames.
//!
//! The decoder is a byte-at-a-time state machine over header, then payload, so it gives the
//! same events however the input is split. It checks every rule a server must enforce before
//! it buffers anything: a too-big message is refused from its header alone.

use bytes::Bytes;

use super::{WsError, WsEvent};

/// Opcode of a continuation frame: the next fragment of the message in progress.
pub const OP_CONT: u8 = 0;
/// Opcode of a text message's first frame; the message must be UTF-8.
pub const OP_TEXT: u8 = 1;
/// Opcode of a binary message's first frame.
pub const OP_BINARY: u8 = 2;
/// Opcode of a close frame, which starts or answers the closing handshake.
pub const OP_CLOSE: u8 = 8;
/// Opcode of a ping, to be answered with a pong carrying the same payload.
pub const OP_PING: u8 = 9;
/// Opcode of a pong: the answer to a ping, or an unsolicited heartbeat.
pub const OP_PONG: u8 = 10;

/// Close code for a normal close; also the answer to a close frame that carried no code.
pub const CLOSE_NORMAL: u16 = 1000;
/// Close code for an endpoint going away, such as a server shutting down.
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// Close code for a peer that broke the framing rules.
pub const CLOSE_PROTOCOL_ERROR: u16 = 1002;
/// Close code for a kind of message the endpoint does not take (binary, for Socket.IO).
pub const CLOSE_UNSUPPORTED_DATA: u16 = 1003;
/// Close code for a text message that is not valid UTF-8.
pub const CLOSE_INVALID_PAYLOAD: u16 = 1007;
/// Close code for a message larger than the endpoint accepts.
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
    /// Binary messages are decoded rather than refused.
    binary: bool,
    /// The message being assembled is binary: no UTF-8 rules apply.
    message_binary: bool,
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
            binary: false,
            message_binary: false,
            state: State::Header,
        }
    }

    /// The same decoder for an endpoint that takes binary messages too (a plain WebSocket
    /// echo, such as the one the conformance suite runs against): they arrive as
    /// [`WsEvent::Binary`] instead of failing with 1003.
    pub fn with_binary(mut self) -> Self {
        self.binary = true;
        self
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
            OP_BINARY if self.binary => {}
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
            OP_TEXT | OP_BINARY | OP_CONT => {
                let so_far = self.message.as_ref().map_or(0, Vec::len);
                let total = u64::try_from(so_far)
                    .unwrap_or(u64::MAX)
                    .saturating_add(len);
                if total > u64::try_from(self.max_message).unwrap_or(u64::MAX) {
                    return Err(WsError::too_big(
                        "message is larger than the configured maximum message size",
                    ));
                }
                if opcode != OP_CONT {
                    // Room for the whole frame at once, unless the peer claims a length it
                    // may never send: then the vector grows as the bytes arrive.
                    let room = usize::try_from(len).map_or(0, |l| l.min(PREALLOCATE_UP_TO));
                    self.message = Some(Vec::with_capacity(room));
                    self.utf8_checked = 0;
                    self.message_binary = opcode == OP_BINARY;
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
            OP_TEXT | OP_BINARY | OP_CONT => self.message.get_or_insert_with(Vec::new),
            _ => &mut self.control,
        };
        let start = target.len();
        target.extend_from_slice(chunk);
        if let Some(added) = target.get_mut(start..) {
            unmask(added, self.frame.mask, self.frame.mask_offset);
        }
        self.frame.mask_offset = (self.frame.mask_offset + n % 4) % 4;
        self.frame.remaining -= n as u64;
        if self.frame.remaining > 0 {
            // Text that arrives in pieces is checked piece by piece, so that a bad byte
            // fails the connection at once rather than after the rest of a long frame.
            if matches!(self.frame.opcode, OP_TEXT | OP_CONT) && !self.message_binary {
                self.check_utf8()?;
            }
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
            _ if self.frame.fin && self.message_binary => {
                let message = self.message.take().unwrap_or_default();
                out.push(WsEvent::Binary(Bytes::from(message)));
            }
            _ if self.message_binary => {}
            _ if self.frame.fin => {
                // A message in one frame that arrived in one read, the usual case, is
                // validated once, here. One that came in pieces had them checked as they
                // came (so that bad text fails fast), and `from_utf8` checks it whole once
                // more.
                let message = self.message.take().unwrap_or_default();
                self.utf8_checked = 0;
                let text = String::from_utf8(message).map_err(|_| BAD_UTF8)?;
                out.push(WsEvent::Text(text));
            }
            _ => self.check_utf8()?,
        }
        Ok(())
    }

    /// Checks the part of the message that arrived since the last check. A code point cut at
    /// the end of what has arrived is left for the next bytes to complete; the whole message
    /// is checked once more when it ends.
    fn check_utf8(&mut self) -> Result<(), WsError> {
        let Some(message) = &self.message else {
            return Ok(());
        };
        let pending = message.get(self.utf8_checked..).unwrap_or_default();
        match std::str::from_utf8(pending) {
            Ok(_) => self.utf8_checked = message.len(),
            Err(e) if e.error_len().is_none() => {
                self.utf8_checked += e.valid_up_to();
            }
            Err(_) => return Err(BAD_UTF8),
        }
        Ok(())
    }
}

/// The most a frame header makes the decoder reserve before its payload arrives.
const PREALLOCATE_UP_TO: usize = 64 * 1024;

/// XORs `buf` with the masking key, starting `offset` bytes into it; eight bytes at a time,
/// since every byte a client sends is masked.
fn unmask(buf: &mut [u8], mask: [u8; 4], offset: usize) {
    let mut key = [0u8; 8];
    for (k, m) in key.iter_mut().zip(mask.iter().cycle().skip(offset % 4)) {
        *k = *m;
    }
    let word = u64::from_ne_bytes(key);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ word).to_ne_bytes());
    }
    for (b, k) in chunks.into_remainder().iter_mut().zip(key) {
        *b ^= k;
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

/// Appends an unmasked server frame header (shortest length form, FIN set) to `out`: for a
/// message built as one buffer.
pub fn push_frame_header(out: &mut Vec<u8>, opcode: u8, len: usize) {
    out.push(0x80 | (opcode & 0x0F));
    push_len(out, 0, len);
}

/// The size of [`frame_header`] for a payload of `len` bytes.
pub fn frame_header_len(len: usize) -> usize {
    match len {
        0..=MAX_CONTROL_PAYLOAD => 2,
        126..=0xFFFF => 4,
        _ => 10,
    }
}

/// Unmasked server frame header for a payload of `len` bytes (shortest length form), FIN set.
///
/// Sending the header and the payload as two buffers saves copying large messages.
pub fn frame_header(opcode: u8, len: usize) -> Bytes {
    // Exactly the header's size, so that the `Bytes` needs no second allocation.
    let mut header = Vec::with_capacity(frame_header_len(len));
    push_frame_header(&mut header, opcode, len);
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    fn frame(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
        client_frame(opcode, fin, payload, MASK)
    }

    fn decode(chunks: &[&[u8]], max: usize) -> (Vec<WsEvent>, Result<(), WsError>) {
        let mut dec = Rfc6455Decoder::new(max);
        let mut out = Vec::new();
        for chunk in chunks {
            if let Err(e) = dec.feed(chunk, &mut out) {
                return (out, Err(e));
            }
        }
        (out, Ok(()))
    }

    /// The close code a decoder fails with on `input`, fed in one piece.
    fn fails_with(input: &[u8], max: usize) -> u16 {
        match decode(&[input], max).1 {
            Err(e) => e.close_code,
            Ok(()) => panic!("accepted {input:02x?}"),
        }
    }

    fn text(s: &str) -> WsEvent {
        WsEvent::Text(s.to_owned())
    }

    #[test]
    fn single_text_frame() {
        let input = frame(OP_TEXT, true, b"Hello");
        assert_eq!(decode(&[&input], 100), (vec![text("Hello")], Ok(())));
        // The RFC's own example of a masked "Hello".
        let rfc = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        assert_eq!(input, rfc);
    }

    #[test]
    fn fragments_with_control_frames_between() {
        let mut input = frame(OP_TEXT, false, b"Hel");
        input.extend(frame(OP_PING, true, b"p"));
        input.extend(frame(OP_CONT, false, b""));
        input.extend(frame(OP_PONG, true, b""));
        input.extend(frame(OP_CONT, true, b"lo"));
        assert_eq!(
            decode(&[&input], 5),
            (
                vec![
                    WsEvent::Ping(Bytes::from_static(b"p")),
                    WsEvent::Pong(Bytes::new()),
                    text("Hello"),
                ],
                Ok(())
            )
        );
    }

    #[test]
    fn unmasked_frame() {
        let mut input = frame(OP_TEXT, true, b"hi");
        input[1] &= 0x7F;
        assert_eq!(fails_with(&input[..2], 100), 1002);
    }

    #[test]
    fn rsv_bits() {
        for bit in [0x40, 0x20, 0x10] {
            let mut input = frame(OP_TEXT, true, b"hi");
            input[0] |= bit;
            assert_eq!(fails_with(&input, 100), 1002, "{bit:#x}");
        }
    }

    #[test]
    fn reserved_opcodes() {
        for op in (3..=7).chain(11..=15) {
            assert_eq!(fails_with(&frame(op, true, b""), 100), 1002, "{op}");
        }
    }

    #[test]
    fn control_frame_rules() {
        let long = [b'x'; 126];
        for op in [OP_CLOSE, OP_PING, OP_PONG] {
            assert_eq!(fails_with(&frame(op, true, &long), 1000), 1002, "{op}");
            assert_eq!(fails_with(&frame(op, false, b""), 1000), 1002, "{op}");
        }
        let max = [b'x'; 125];
        assert_eq!(
            decode(&[&frame(OP_PING, true, &max)], 0),
            (vec![WsEvent::Ping(Bytes::copy_from_slice(&max))], Ok(()))
        );
    }

    #[test]
    fn fragmentation_rules() {
        assert_eq!(fails_with(&frame(OP_CONT, true, b"x"), 100), 1002);
        for op in [OP_TEXT, OP_BINARY] {
            let mut input = frame(OP_TEXT, false, b"a");
            input.extend(frame(op, true, b"b"));
            assert_eq!(fails_with(&input, 100), 1002, "{op}");
        }
        // A finished message does not leave a continuation acceptable.
        let mut input = frame(OP_TEXT, true, b"a");
        input.extend(frame(OP_CONT, true, b"b"));
        assert_eq!(decode(&[&input], 100).1.unwrap_err().close_code, 1002);
    }

    #[test]
    fn length_top_bit() {
        let mut input = vec![0x81, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0];
        input.extend_from_slice(&MASK);
        assert_eq!(fails_with(&input, usize::MAX), 1002);
    }

    #[test]
    fn too_big_from_header_alone() {
        let input = frame(OP_TEXT, true, &[b'a'; 70_000]);
        // Header only (2 + 8 + 4 bytes): refused before any payload arrives.
        assert_eq!(fails_with(&input[..14], 69_999), 1009);
        assert_eq!(decode(&[&input], 70_000).1, Ok(()));
        // The sum of fragments counts, not each fragment.
        let mut input = frame(OP_TEXT, false, b"abc");
        input.extend(frame(OP_CONT, true, b"de"));
        assert_eq!(fails_with(&input, 4), 1009);
        assert_eq!(decode(&[&input], 5), (vec![text("abcde")], Ok(())));
        // The largest legal length is refused without overflow, even mid-message.
        let mut input = frame(OP_TEXT, false, b"abc");
        input.extend([0x80, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        input.extend_from_slice(&MASK);
        assert_eq!(fails_with(&input, u32::MAX as usize), 1009);
    }

    #[test]
    fn utf8_rules() {
        assert_eq!(fails_with(&frame(OP_TEXT, true, b"\xc3\x28"), 100), 1007);
        // A code point cut across fragments is legal.
        let mut input = frame(OP_TEXT, false, b"\xe2\x82");
        input.extend(frame(OP_CONT, true, b"\xac"));
        assert_eq!(decode(&[&input], 100), (vec![text("€")], Ok(())));
        // A message that ends inside a code point is not.
        let mut input = frame(OP_TEXT, false, b"a");
        input.extend(frame(OP_CONT, true, b"\xe2\x82"));
        assert_eq!(fails_with(&input, 100), 1007);
        // Bad text is refused at the end of its fragment, before the message ends.
        assert_eq!(fails_with(&frame(OP_TEXT, false, b"\xff"), 100), 1007);
        // U+FFFD itself is fine.
        let input = frame(OP_TEXT, true, "\u{FFFD}".as_bytes());
        assert_eq!(decode(&[&input], 100), (vec![text("\u{FFFD}")], Ok(())));
    }

    #[test]
    fn binary_is_unsupported() {
        assert_eq!(fails_with(&frame(OP_BINARY, true, b"\x01"), 100), 1003);
        assert_eq!(fails_with(&frame(OP_BINARY, false, b""), 100), 1003);
    }

    #[test]
    fn bad_text_in_a_frame_that_arrives_in_pieces_fails_at_once() {
        let bad = frame(OP_TEXT, true, b"ab\xffcdefghij");
        let mut dec = Rfc6455Decoder::new(100);
        let mut out = Vec::new();
        // The header, the mask and three payload bytes: the frame is far from over.
        let err = dec.feed(&bad[..2 + 4 + 3], &mut out).unwrap_err();
        assert_eq!(err.close_code, 1007);
        // A character cut between two reads is only waited for.
        let good = frame(OP_TEXT, true, "aé😀z".as_bytes());
        let pieces: Vec<&[u8]> = good.chunks(1).collect();
        assert_eq!(decode(&pieces, 100), (vec![text("aé😀z")], Ok(())));
    }

    #[test]
    fn binary_is_decoded_when_asked_for() {
        let decode_binary = |chunks: &[&[u8]]| {
            let mut dec = Rfc6455Decoder::new(100).with_binary();
            let mut out = Vec::new();
            let result = chunks.iter().try_for_each(|c| dec.feed(c, &mut out));
            (out, result)
        };
        let bin = |b: &'static [u8]| WsEvent::Binary(Bytes::from_static(b));
        // Any bytes at all, UTF-8 or not, in one frame or in fragments around a ping.
        let one = frame(OP_BINARY, true, b"\xff\x00\xfe");
        assert_eq!(decode_binary(&[&one]), (vec![bin(b"\xff\x00\xfe")], Ok(())));
        let mut fragmented = frame(OP_BINARY, false, b"\xff");
        fragmented.extend(frame(OP_PING, true, b"p"));
        fragmented.extend(frame(OP_CONT, true, b"\xfe"));
        let expected = vec![WsEvent::Ping(Bytes::from_static(b"p")), bin(b"\xff\xfe")];
        assert_eq!(decode_binary(&[&fragmented]), (expected.clone(), Ok(())));
        let bytewise: Vec<&[u8]> = fragmented.chunks(1).collect();
        assert_eq!(decode_binary(&bytewise), (expected, Ok(())));
        // Text keeps its rules, and a binary message cannot interrupt a text one.
        let bad_text = frame(OP_TEXT, true, b"\xff");
        assert_eq!(
            decode_binary(&[&bad_text]).1.map_err(|e| e.close_code),
            Err(1007)
        );
        let mut mixed = frame(OP_TEXT, false, b"a");
        mixed.extend(frame(OP_BINARY, true, b"b"));
        assert_eq!(
            decode_binary(&[&mixed]).1.map_err(|e| e.close_code),
            Err(1002)
        );
        let big = frame(OP_BINARY, true, &[0; 101]);
        assert_eq!(
            decode_binary(&[&big]).1.map_err(|e| e.close_code),
            Err(1009)
        );
    }

    #[test]
    fn close_payloads() {
        let close = |payload: &[u8]| decode(&[&frame(OP_CLOSE, true, payload)], 100);
        assert_eq!(
            close(b""),
            (
                vec![WsEvent::Close {
                    code: None,
                    reason: String::new()
                }],
                Ok(())
            )
        );
        assert_eq!(
            close(b"\x03\xe8bye"),
            (
                vec![WsEvent::Close {
                    code: Some(1000),
                    reason: "bye".into()
                }],
                Ok(())
            )
        );
        assert_eq!(close(b"\x03").1.unwrap_err().close_code, 1002);
        assert_eq!(close(b"\x03\xe8\xff").1.unwrap_err().close_code, 1002);
        for code in [1000u16, 1003, 1007, 1011, 3000, 4999] {
            let (events, res) = close(&code.to_be_bytes());
            assert_eq!(res, Ok(()), "{code}");
            assert_eq!(
                events,
                vec![WsEvent::Close {
                    code: Some(code),
                    reason: String::new()
                }]
            );
        }
        for code in [0u16, 999, 1004, 1005, 1006, 1012, 1015, 2999, 5000, 65535] {
            assert_eq!(
                close(&code.to_be_bytes()).1.unwrap_err().close_code,
                1002,
                "{code}"
            );
        }
    }

    #[test]
    fn input_after_close_is_ignored() {
        let mut input = frame(OP_CLOSE, true, b"");
        input.extend_from_slice(b"\x00garbage");
        input.extend(frame(OP_TEXT, true, b"late"));
        let (events, res) = decode(&[&input, b"more"], 100);
        assert_eq!(res, Ok(()));
        assert_eq!(events.len(), 1);
    }

    #[test]
    fn errors_are_sticky() {
        let mut dec = Rfc6455Decoder::new(100);
        let mut out = Vec::new();
        assert!(dec.feed(&frame(OP_CONT, true, b""), &mut out).is_err());
        let again = dec.feed(&frame(OP_TEXT, true, b"ok"), &mut out);
        assert_eq!(again.unwrap_err().close_code, 1002);
        assert!(out.is_empty());
    }

    #[test]
    fn unmasking_matches_byte_by_byte_at_every_offset_and_length() {
        let mask = [0x12, 0x34, 0x56, 0x78];
        for offset in 0..4 {
            for len in 0..40 {
                let data: Vec<u8> = (0..len as u8).collect();
                let mut fast = data.clone();
                unmask(&mut fast, mask, offset);
                let slow: Vec<u8> = data
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b ^ mask[(offset + i) % 4])
                    .collect();
                assert_eq!(fast, slow, "offset {offset}, length {len}");
            }
        }
    }

    #[test]
    fn frame_header_length_forms() {
        assert_eq!(&frame_header(OP_TEXT, 0)[..], [0x81, 0]);
        assert_eq!(&frame_header(OP_TEXT, 125)[..], [0x81, 125]);
        assert_eq!(&frame_header(OP_TEXT, 126)[..], [0x81, 126, 0, 126]);
        assert_eq!(&frame_header(OP_TEXT, 65535)[..], [0x81, 126, 0xFF, 0xFF]);
        assert_eq!(
            &frame_header(OP_TEXT, 65536)[..],
            [0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0]
        );
        assert_eq!(&frame_header(OP_PING, 3)[..], [0x89, 3]);
    }

    #[test]
    fn control_frames_out() {
        assert_eq!(&close_frame(1000, "")[..], [0x88, 2, 0x03, 0xE8]);
        assert_eq!(&close_frame(1001, "bye")[..], b"\x88\x05\x03\xe9bye");
        // 62 two-byte characters are 124 bytes: the reason is cut to 61 of them.
        let long = "é".repeat(62);
        let frame = close_frame(1000, &long);
        assert_eq!(frame.len(), 2 + 2 + 122);
        assert_eq!(frame[1], 124);
        assert_eq!(&pong_frame(b"abc")[..], b"\x8a\x03abc");
        assert_eq!(pong_frame(&[0; 200]).len(), 2 + 125);
    }

    /// Splits `input` at the sorted `points` and decodes the pieces in order.
    fn decode_split(
        input: &[u8],
        points: &[usize],
        max: usize,
    ) -> (Vec<WsEvent>, Result<(), WsError>) {
        let mut points: Vec<usize> = points.iter().map(|&p| p.min(input.len())).collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut start = 0;
        for p in points {
            chunks.push(&input[start..p]);
            start = p;
        }
        chunks.push(&input[start..]);
        decode(&chunks, max)
    }

    prop_compose! {
        /// A text message cut into fragments at arbitrary bytes (code points included), each
        /// with its own mask, with pings interleaved; and the events it must produce.
        fn fragmented_message()(
            text in any::<String>(),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
            masks in proptest::collection::vec(any::<[u8; 4]>(), 7),
            pings in proptest::collection::vec(
                (any::<prop::sample::Index>(), proptest::collection::vec(any::<u8>(), 0..=125)),
                0..4,
            ),
        ) -> (Vec<u8>, Vec<WsEvent>, usize) {
            let bytes = text.as_bytes();
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
            points.sort_unstable();
            points.push(bytes.len());
            let mut input = Vec::new();
            let mut events = Vec::new();
            let mut start = 0;
            for (i, &end) in points.iter().enumerate() {
                for (at, payload) in &pings {
                    if at.index(points.len()) == i {
                        input.extend(client_frame(OP_PING, true, payload, masks[6]));
                        events.push(WsEvent::Ping(Bytes::copy_from_slice(payload)));
                    }
                }
                let opcode = if i == 0 { OP_TEXT } else { OP_CONT };
                let last = i + 1 == points.len();
                input.extend(client_frame(opcode, last, &bytes[start..end], masks[i]));
                start = end;
            }
            events.push(WsEvent::Text(text.clone()));
            (input, events, bytes.len())
        }
    }

    proptest! {
        #[test]
        fn fragments_decode_the_same_however_split(
            (input, expected, len) in fragmented_message(),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let whole = (expected, Ok(()));
            prop_assert_eq!(&decode(&[&input], len), &whole);
            if input.len() <= 600 {
                for i in 0..=input.len() {
                    prop_assert_eq!(&decode_split(&input, &[i], len), &whole, "split at {}", i);
                }
            }
            let points: Vec<usize> = cuts.iter().map(|c| c.index(input.len() + 1)).collect();
            prop_assert_eq!(&decode_split(&input, &points, len), &whole);
            let bytes: Vec<&[u8]> = input.chunks(1).collect();
            prop_assert_eq!(&decode(&bytes, len), &whole);
            if len > 0 {
                prop_assert_eq!(decode(&[&input], len - 1).1.unwrap_err().close_code, 1009);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            data in proptest::collection::vec(any::<u8>(), 0..512),
            max in 0usize..256,
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let points: Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
            let _ = decode_split(&data, &points, max);
        }

        #[test]
        fn arbitrary_frames_never_panic(
            frames in proptest::collection::vec(
                (0u8..16, any::<bool>(), proptest::collection::vec(any::<u8>(), 0..200), any::<[u8; 4]>()),
                0..8,
            ),
            max in 0usize..512,
            chunk in 1usize..64,
        ) {
            let input: Vec<u8> = frames
                .iter()
                .flat_map(|(op, fin, payload, mask)| client_frame(*op, *fin, payload, *mask))
                .collect();
            let mut dec = Rfc6455Decoder::new(max);
            let mut out = Vec::new();
            for c in input.chunks(chunk) {
                let _ = dec.feed(c, &mut out);
                prop_assert!(dec.message.as_ref().map_or(0, Vec::len) <= max);
                prop_assert!(dec.control.len() <= MAX_CONTROL_PAYLOAD);
            }
        }
    }
}
