//! Hixie-75/76 framing: text frames are `0x00`, UTF-8 bytes, `0xFF`.
//!
//! The reference decoded the stream as text first, so a real U+FFFD ended a frame early, two
//! frames in one read came out as one, and the buffer was rescanned from the start on every read.
//! This decoder works on bytes, scans each input byte once, and caps the frame size.

use super::{WsError, WsEvent};

/// Starts every text frame.
pub const FRAME_START: &[u8] = &[0x00];
/// Ends every text frame.
pub const FRAME_END: &[u8] = &[0xFF];
/// The hixie-76 closing handshake, in either direction.
pub const CLOSE: &[u8] = &[0xFF, 0x00];

#[derive(Debug)]
enum State {
    /// Between frames: the next byte says what comes.
    Idle,
    /// Inside a text frame; its bytes so far are in the decoder's buffer.
    Text,
    /// Saw `0xFF` where a frame should start; only `0x00` (the closing handshake) may follow.
    Closing,
    /// The closing handshake is complete; nothing more is read.
    Closed,
    /// The peer broke the rules; every later call reports the same error.
    Failed(WsError),
}

/// Incremental decoder for hixie-75/76 frames.
#[derive(Debug)]
pub struct HixieDecoder {
    max_frame: usize,
    /// Payload of the frame in progress; never longer than `max_frame`.
    buffer: Vec<u8>,
    state: State,
}

impl HixieDecoder {
    /// A decoder that refuses frames whose payload exceeds `max_frame` bytes.
    pub fn new(max_frame: usize) -> Self {
        HixieDecoder {
            max_frame,
            buffer: Vec::new(),
            state: State::Idle,
        }
    }

    /// Consumes all of `input`, appending complete events to `out`. A frame is 0x00, UTF-8
    /// bytes, 0xFF.
    ///
    /// The pair `0xFF 0x00` is the closing handshake and yields `WsEvent::Close` with no code;
    /// after it, further input is ignored. Errors: a frame starting with any other byte
    /// (length-prefixed `0x80..` frames included), invalid UTF-8 in a frame, or a frame longer
    /// than `max_frame`, reported as soon as the limit is passed. Events decoded before an error
    /// stay in `out`; once failed, the decoder keeps returning the same error.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<WsEvent>) -> Result<(), WsError> {
        while let Some((&first, rest)) = input.split_first() {
            match &self.state {
                State::Idle => {
                    self.state = match first {
                        0x00 => State::Text,
                        0xFF => State::Closing,
                        _ => return self.fail(WsError::protocol(FRAME_TYPE)),
                    };
                    input = rest;
                }
                State::Closing => {
                    if first != 0x00 {
                        return self.fail(WsError::protocol(FRAME_TYPE));
                    }
                    self.state = State::Closed;
                    out.push(WsEvent::Close {
                        code: None,
                        reason: String::new(),
                    });
                    return Ok(());
                }
                State::Text => {
                    let end = input.iter().position(|&b| b == 0xFF);
                    let chunk = input.get(..end.unwrap_or(input.len())).unwrap_or_default();
                    if chunk.len() > self.max_frame.saturating_sub(self.buffer.len()) {
                        return self.fail(WsError::too_big(TOO_BIG));
                    }
                    self.buffer.extend_from_slice(chunk);
                    let Some(end) = end else { return Ok(()) };
                    match String::from_utf8(std::mem::take(&mut self.buffer)) {
                        Ok(text) => out.push(WsEvent::Text(text)),
                        Err(_) => return self.fail(WsError::invalid_payload(BAD_UTF8)),
                    }
                    self.state = State::Idle;
                    input = input.get(end + 1..).unwrap_or_default();
                }
                State::Closed => return Ok(()),
                State::Failed(err) => return Err(err.clone()),
            }
        }
        match &self.state {
            State::Failed(err) => Err(err.clone()),
            _ => Ok(()),
        }
    }

    fn fail(&mut self, err: WsError) -> Result<(), WsError> {
        self.buffer = Vec::new();
        self.state = State::Failed(err.clone());
        Err(err)
    }
}

const FRAME_TYPE: &str =
    "hixie frame does not start with 0x00 (binary and length-prefixed frames are not supported)";
const TOO_BIG: &str = "hixie frame is longer than the configured maximum frame size";
const BAD_UTF8: &str = "hixie text frame is not valid UTF-8";

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(chunks: &[&[u8]], max: usize) -> (Vec<WsEvent>, Result<(), WsError>) {
        let mut dec = HixieDecoder::new(max);
        let mut out = Vec::new();
        for chunk in chunks {
            if let Err(e) = dec.feed(chunk, &mut out) {
                return (out, Err(e));
            }
        }
        (out, Ok(()))
    }

    fn text(s: &str) -> WsEvent {
        WsEvent::Text(s.to_owned())
    }

    fn close() -> WsEvent {
        WsEvent::Close {
            code: None,
            reason: String::new(),
        }
    }

    #[test]
    fn frames_in_one_read() {
        let (events, res) = decode_all(&[b"\x00one\xff\x00\xff\x00three\xff"], 100);
        assert_eq!(res, Ok(()));
        assert_eq!(events, vec![text("one"), text(""), text("three")]);
    }

    #[test]
    fn replacement_character_is_text() {
        let (events, res) = decode_all(&[b"\x00a\xef\xbf\xbdb\xff"], 100);
        assert_eq!(res, Ok(()));
        assert_eq!(events, vec![text("a\u{FFFD}b")]);
    }

    #[test]
    fn closing_handshake_stops_decoding() {
        let (events, res) = decode_all(&[b"\x00hi\xff\xff", b"\x00\x00ignored\xff\x42"], 100);
        assert_eq!(res, Ok(()));
        assert_eq!(events, vec![text("hi"), close()]);
    }

    #[test]
    fn bad_frame_types() {
        for input in [&b"x"[..], b"\x80\x05hello", b"\xff\x01", b"\x00ok\xff\x01"] {
            let (_, res) = decode_all(&[input], 100);
            assert_eq!(res.unwrap_err().close_code, 1002, "{input:?}");
        }
    }

    #[test]
    fn invalid_utf8() {
        let (_, res) = decode_all(&[b"\x00\xc3\x28\xff"], 100);
        assert_eq!(res.unwrap_err().close_code, 1007);
    }

    #[test]
    fn frame_size_limit() {
        let (events, res) = decode_all(&[b"\x0012345\xff"], 5);
        assert_eq!((events, res), (vec![text("12345")], Ok(())));
        // The limit trips before the terminator is seen, so nothing past it is buffered.
        let mut dec = HixieDecoder::new(5);
        let mut out = Vec::new();
        assert_eq!(dec.feed(b"\x00123", &mut out), Ok(()));
        assert_eq!(dec.feed(b"456", &mut out).unwrap_err().close_code, 1009);
        assert!(dec.buffer.len() <= 5);
        // Failure is sticky.
        assert_eq!(dec.feed(b"\xff", &mut out).unwrap_err().close_code, 1009);
        assert!(out.is_empty());
    }

    #[test]
    fn every_split_point() {
        let input: &[u8] =
            b"\x00~m~17~m~19192249367198078\xff\x00\xe2\x82\xac\xef\xbf\xbd\xff\xff\x00";
        let (whole, res) = decode_all(&[input], 64);
        assert_eq!(res, Ok(()));
        assert_eq!(
            whole,
            vec![
                text("~m~17~m~19192249367198078"),
                text("€\u{FFFD}"),
                close()
            ]
        );
        for i in 0..=input.len() {
            let (a, b) = input.split_at(i);
            assert_eq!(
                decode_all(&[a, b], 64),
                (whole.clone(), Ok(())),
                "split at {i}"
            );
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(decode_all(&bytes, 64), (whole, Ok(())));
    }

    proptest! {
        #[test]
        fn frames_survive_any_split(
            texts in proptest::collection::vec(any::<String>(), 0..5),
            with_close in any::<bool>(),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
        ) {
            let mut input = Vec::new();
            let mut expected = Vec::new();
            for t in &texts {
                input.extend_from_slice(FRAME_START);
                input.extend_from_slice(t.as_bytes());
                input.extend_from_slice(FRAME_END);
                expected.push(WsEvent::Text(t.clone()));
            }
            if with_close {
                input.extend_from_slice(CLOSE);
                expected.push(close());
            }
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(input.len() + 1)).collect();
            points.sort_unstable();
            let mut chunks = Vec::new();
            let mut start = 0;
            for p in points {
                chunks.push(&input[start..p]);
                start = p;
            }
            chunks.push(&input[start..]);
            prop_assert_eq!(decode_all(&chunks, 1 << 16), (expected, Ok(())));
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            data in proptest::collection::vec(any::<u8>(), 0..512),
            max in 0usize..64,
            chunk in 1usize..32,
        ) {
            let mut dec = HixieDecoder::new(max);
            let mut out = Vec::new();
            for c in data.chunks(chunk) {
                let _ = dec.feed(c, &mut out);
                prop_assert!(dec.buffer.len() <= max);
            }
        }
    }
}
