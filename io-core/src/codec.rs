//! The 0.6 message framing: `~m~<len>~m~<data>`, with `~j~` for JSON and `~h~` for heartbeats.
//!
//! The reference decoder accepts almost anything (whitespace as digits, unchecked separators,
//! over-long lengths). This one is strict and says where a payload went wrong, while still
//! accepting everything the real client sends.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;

use crate::message::Message;

const MARKER: &str = "~m~";
const HEARTBEAT: &str = "~h~";
const JSON: &str = "~j~";

/// Ten digits allow lengths up to 9,999,999,999, far beyond any body limit; longer runs are
/// rejected before any arithmetic so a hostile length cannot overflow.
const MAX_LEN_DIGITS: usize = 10;

/// Length as the JS client counts it: UTF-16 code units (an emoji counts 2).
pub fn utf16_len(s: &str) -> usize {
    // ASCII, the common case, is one unit per byte: no decoding needed.
    if s.is_ascii() {
        return s.len();
    }
    s.chars().map(char::len_utf16).sum()
}

/// Appends `~m~<len>~m~<data>` to `out`.
pub fn write_frame(out: &mut Vec<u8>, data: &str) {
    out.extend_from_slice(MARKER.as_bytes());
    push_decimal(out, utf16_len(data));
    out.extend_from_slice(MARKER.as_bytes());
    out.extend_from_slice(data.as_bytes());
}

/// The data string for a message: Text unchanged, Json as "~j~" + compact JSON.
pub fn message_data(msg: &Message) -> Cow<'_, str> {
    match msg {
        Message::Text(s) => Cow::Borrowed(s),
        // `Value`'s `Display` is the compact form, the same text `serde_json::to_string` gives,
        // and it cannot fail.
        Message::Json(v) => Cow::Owned(format!("{JSON}{v}")),
    }
}

/// One complete frame for a message, ready to share between recipients.
pub fn encode(msg: &Message) -> Bytes {
    encode_text(&message_data(msg))
}

/// One frame holding the text `s` verbatim (used for the session id).
pub fn encode_text(s: &str) -> Bytes {
    // Exactly the frame's size: a `Bytes` made from a full vector needs no second allocation.
    let units = utf16_len(s);
    let mut out = Vec::with_capacity(2 * MARKER.len() + decimal_digits(units) + s.len());
    out.extend_from_slice(MARKER.as_bytes());
    push_decimal(&mut out, units);
    out.extend_from_slice(MARKER.as_bytes());
    out.extend_from_slice(s.as_bytes());
    Bytes::from(out)
}

/// How many digits [`push_decimal`] writes for `n`.
pub(crate) fn decimal_digits(n: usize) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// Appends `n` in decimal, without the formatting machinery.
pub(crate) fn push_decimal(out: &mut Vec<u8>, n: usize) {
    let start = out.len();
    let mut n = n;
    loop {
        out.push(b'0' + (n % 10) as u8);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if let Some(digits) = out.get_mut(start..) {
        digits.reverse();
    }
}

/// `~m~<len>~m~~h~<counter>`.
pub fn encode_heartbeat(counter: u64) -> Bytes {
    encode_text(&format!("{HEARTBEAT}{counter}"))
}

/// The result of decoding one payload.
///
/// Frames before the first malformed one are kept: they were well-formed and the client meant
/// them, so dropping them would lose data for no gain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// The data of each well-formed frame, in order.
    pub frames: Vec<&'a str>,
    /// What was wrong with the rest of the payload, which was ignored.
    pub error: Option<CodecError>,
}

/// Strict decoding of one payload into the data strings of its frames.
pub fn decode(payload: &str) -> Decoded<'_> {
    let mut frames = Vec::new();
    for frame in Frames::new(payload) {
        match frame {
            Ok(data) => frames.push(data),
            Err(error) => {
                return Decoded {
                    frames,
                    error: Some(error),
                }
            }
        }
    }
    Decoded {
        frames,
        error: None,
    }
}

/// The frames of one payload, decoded one at a time: what [`decode`] collects, without a
/// vector for the common payload of one frame. After an error it yields nothing more.
pub struct Frames<'a> {
    payload: &'a str,
    pos: usize,
}

impl<'a> Frames<'a> {
    /// Iterates over `payload`, one whole HTTP body or WebSocket message, from its first frame.
    pub fn new(payload: &'a str) -> Self {
        Frames { payload, pos: 0 }
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<&'a str, CodecError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.payload.len() {
            return None;
        }
        match decode_frame(self.payload, self.pos) {
            Ok((data, next)) => {
                self.pos = next;
                Some(Ok(data))
            }
            Err(e) => {
                self.pos = self.payload.len();
                Some(Err(e))
            }
        }
    }
}

/// Decodes the frame starting at byte `start`; returns its data and where the next one starts.
fn decode_frame(payload: &str, start: usize) -> Result<(&str, usize), CodecError> {
    let after_marker = expect_marker(payload, start)?;
    let rest = payload.get(after_marker..).unwrap_or_default();
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let bad_length = CodecError::BadLength {
        offset: after_marker,
    };
    if digits == 0 || digits > MAX_LEN_DIGITS || (digits > 1 && rest.starts_with('0')) {
        return Err(bad_length);
    }
    let declared: u64 = rest
        .get(..digits)
        .and_then(|d| d.parse().ok())
        .ok_or(bad_length)?;
    let data_start = expect_marker(payload, after_marker + digits)?;
    let data = payload.get(data_start..).unwrap_or_default();
    let data_len = take_utf16_units(data, declared, data_start)?;
    let data = data.get(..data_len).unwrap_or_default();
    Ok((data, data_start + data_len))
}

/// Checks that `~m~` starts at byte `at` and returns the position just after it.
fn expect_marker(payload: &str, at: usize) -> Result<usize, CodecError> {
    match payload.get(at..) {
        Some(rest) if rest.starts_with(MARKER) => Ok(at + MARKER.len()),
        _ => Err(CodecError::MissingMarker { offset: at }),
    }
}

/// The number of bytes at the start of `data` that hold exactly `units` UTF-16 code units.
/// `base` is where `data` starts in the payload, for error offsets.
fn take_utf16_units(data: &str, units: u64, base: usize) -> Result<usize, CodecError> {
    // Where the first `units` bytes are ASCII, they are exactly `units` units.
    if let Some(prefix) = usize::try_from(units)
        .ok()
        .and_then(|n| data.as_bytes().get(..n))
    {
        if prefix.is_ascii() {
            return Ok(prefix.len());
        }
    }
    let mut counted: u64 = 0;
    for (i, c) in data.char_indices() {
        if counted == units {
            return Ok(i);
        }
        counted += c.len_utf16() as u64;
        if counted > units {
            return Err(CodecError::SplitSurrogate { offset: base + i });
        }
    }
    if counted == units {
        Ok(data.len())
    } else {
        Err(CodecError::Truncated {
            declared: units,
            available: counted,
        })
    }
}

/// What one frame's data means on the server side.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A heartbeat reply; holds the text after `~h~`, normally the counter the server sent.
    Heartbeat(String),
    /// An application message, text or JSON.
    Message(Message),
}

/// Where the text of a payload that is exactly one plain text frame starts: the usual
/// WebSocket message, which can then become its message without a copy. `None` for any
/// other payload (several frames, a heartbeat, JSON, a framing error).
pub fn lone_text(payload: &str) -> Option<usize> {
    let mut frames = Frames::new(payload);
    let (Some(Ok(data)), None) = (frames.next(), frames.next()) else {
        return None;
    };
    if data.starts_with(HEARTBEAT) || data.starts_with(JSON) {
        return None;
    }
    // The frame's data ends where the payload does: it is the payload's tail.
    Some(payload.len() - data.len())
}

/// Interprets one frame's data: `~h~x` is a heartbeat, `~j~json` a JSON message, anything else
/// text.
pub fn interpret(data: &str) -> Result<Incoming, CodecError> {
    if let Some(rest) = data.strip_prefix(HEARTBEAT) {
        Ok(Incoming::Heartbeat(rest.to_owned()))
    } else if let Some(rest) = data.strip_prefix(JSON) {
        serde_json::from_str(rest)
            .map(|v| Incoming::Message(Message::Json(v)))
            .map_err(|e| CodecError::InvalidJson(e.to_string()))
    } else {
        Ok(Incoming::Message(Message::Text(data.to_owned())))
    }
}

/// Why a payload, or one frame's data, was rejected. Offsets are byte offsets in the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodecError {
    /// A frame did not start with `~m~`, or its length was not followed by `~m~`.
    MissingMarker {
        /// Where the `~m~` should have started.
        offset: usize,
    },
    /// The length was empty, not plain ASCII digits, zero-padded, or absurdly long.
    BadLength {
        /// Where the length starts, just after its `~m~`.
        offset: usize,
    },
    /// The length asked for more UTF-16 units than the payload holds.
    Truncated {
        /// The frame's length, in UTF-16 units.
        declared: u64,
        /// The UTF-16 units left in the payload after the length.
        available: u64,
    },
    /// The length ends between the two halves of a character outside the BMP.
    SplitSurrogate {
        /// Where the character that the length cuts in two starts.
        offset: usize,
    },
    /// The text after `~j~` is not JSON; holds the parser's explanation.
    InvalidJson(String),
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::MissingMarker { offset } => {
                write!(f, "malformed frame: expected `~m~` at byte {offset}")
            }
            CodecError::BadLength { offset } => write!(
                f,
                "malformed frame: the length at byte {offset} must be 1 to {MAX_LEN_DIGITS} \
                 ASCII digits without leading zeros"
            ),
            CodecError::Truncated {
                declared,
                available,
            } => write!(
                f,
                "truncated frame: its length is {declared} UTF-16 units \
                 but only {available} follow"
            ),
            CodecError::SplitSurrogate { offset } => write!(
                f,
                "malformed frame: its length ends inside the character at byte {offset} \
                 (lengths count UTF-16 units; characters outside the BMP count 2)"
            ),
            CodecError::InvalidJson(why) => write!(f, "invalid JSON after `~j~`: {why}"),
        }
    }
}

impl std::error::Error for CodecError {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    #[test]
    fn encodes_the_reference_examples() {
        assert_eq!(&encode(&Message::text("a"))[..], b"~m~1~m~a");
        assert_eq!(
            &encode(&Message::json(json!({"b": 1})))[..],
            b"~m~10~m~~j~{\"b\":1}"
        );
        assert_eq!(&encode(&Message::text(""))[..], b"~m~0~m~");
        assert_eq!(&encode(&Message::text("é"))[..], "~m~1~m~é".as_bytes());
        assert_eq!(&encode(&Message::text("😀"))[..], "~m~2~m~😀".as_bytes());
        assert_eq!(&encode_heartbeat(1)[..], b"~m~4~m~~h~1");
        assert_eq!(&encode_text("1234")[..], b"~m~4~m~1234");
    }

    #[test]
    fn json_keeps_key_order() {
        let v: Value = serde_json::from_str(r#"{"z":1,"a":[true,null]}"#).unwrap();
        assert_eq!(
            message_data(&Message::json(v)),
            r#"~j~{"z":1,"a":[true,null]}"#
        );
    }

    #[test]
    fn decodes_well_formed_payloads() {
        let ok = |payload: &str, frames: &[&str]| {
            assert_eq!(
                decode(payload),
                Decoded {
                    frames: frames.to_vec(),
                    error: None
                },
                "{payload:?}"
            );
        };
        ok("", &[]);
        ok("~m~0~m~", &[""]);
        ok("~m~1~m~a", &["a"]);
        ok("~m~2~m~😀~m~1~m~é", &["😀", "é"]);
        ok(
            "~m~5~m~hello~m~29~m~~j~{\"echo\":\"😀</script><b>x\"}",
            &["hello", "~j~{\"echo\":\"😀</script><b>x\"}"],
        );
        ok("~m~3~m~~m~~m~0~m~", &["~m~", ""]);
    }

    fn bad(payload: &str, frames: &[&str], error: CodecError) {
        assert_eq!(
            decode(payload),
            Decoded {
                frames: frames.to_vec(),
                error: Some(error)
            },
            "{payload:?}"
        );
    }

    #[test]
    fn rejects_the_reference_quirks() {
        use CodecError::*;
        // Whitespace read as a digit.
        bad("~m~ 7~m~echo-me", &[], BadLength { offset: 3 });
        // Separator not checked.
        bad("~m~7XYZecho-me", &[], MissingMarker { offset: 4 });
        // Over-long length.
        bad(
            "~m~99~m~short",
            &[],
            Truncated {
                declared: 99,
                available: 5,
            },
        );
        // Empty length.
        bad("~m~~m~abc", &[], BadLength { offset: 3 });
        // Digits without a terminator.
        bad("~m~12", &[], MissingMarker { offset: 5 });
        // Sign, fraction, exponent.
        bad("~m~-1~m~abc", &[], BadLength { offset: 3 });
        bad("~m~1.5~m~abc", &[], MissingMarker { offset: 4 });
        bad("~m~1e1~m~abcdefghij", &[], MissingMarker { offset: 4 });
        // Short length leaves garbage where the next frame should start.
        bad(
            "~m~3~m~abc~m~3x~m~def",
            &["abc"],
            MissingMarker { offset: 14 },
        );
        // A trailing marker is not an empty frame.
        bad("~m~3~m~abc~m~", &["abc"], BadLength { offset: 13 });
        // Trailing garbage is reported, not dropped silently.
        bad("~m~1~m~ab", &["a"], MissingMarker { offset: 8 });
        // A length ending inside a surrogate pair.
        bad("~m~1~m~😀~m~1~m~x", &[], SplitSurrogate { offset: 7 });
    }

    #[test]
    fn rejects_other_malformed_lengths() {
        use CodecError::*;
        bad("~m~01~m~a", &[], BadLength { offset: 3 });
        bad("~m~00~m~", &[], BadLength { offset: 3 });
        bad("~m~12345678901~m~", &[], BadLength { offset: 3 });
        bad("~m~+1~m~a", &[], BadLength { offset: 3 });
        bad("~m~١~m~a", &[], BadLength { offset: 3 });
        bad("~m~1~M~a", &[], MissingMarker { offset: 4 });
        bad("x~m~1~m~a", &[], MissingMarker { offset: 0 });
        bad("~m", &[], MissingMarker { offset: 0 });
        bad(
            "~m~9999999999~m~",
            &[],
            Truncated {
                declared: 9_999_999_999,
                available: 0,
            },
        );
    }

    #[test]
    fn encoded_lengths_are_decimal_utf16_units() {
        for n in [0, 1, 9, 10, 99, 100, 12345] {
            let s = "a".repeat(n);
            assert_eq!(&encode_text(&s)[..], format!("~m~{n}~m~{s}").as_bytes());
        }
        assert_eq!(
            &encode_text("\u{1F600}é")[..],
            "~m~3~m~\u{1F600}é".as_bytes()
        );
        let mut out = Vec::new();
        write_frame(&mut out, "héllo");
        assert_eq!(out, "~m~5~m~héllo".as_bytes());
    }

    #[test]
    fn frames_stop_at_the_first_error() {
        let mut it = Frames::new("~m~1~m~a~m~20~m~b~m~1~m~c");
        assert_eq!(it.next(), Some(Ok("a")));
        assert!(matches!(it.next(), Some(Err(CodecError::Truncated { .. }))));
        assert_eq!(it.next(), None);
    }

    #[test]
    fn a_lone_text_frame_is_found_in_place() {
        assert_eq!(lone_text("~m~2~m~hi"), Some(7));
        assert_eq!(lone_text("~m~0~m~"), Some(7));
        assert_eq!(lone_text("~m~2~m~hi~m~1~m~x"), None, "two frames");
        assert_eq!(lone_text("~m~4~m~~h~1"), None, "a heartbeat");
        assert_eq!(lone_text("~m~5~m~~j~[]"), None, "JSON");
        assert_eq!(lone_text("~m~3~m~hi"), None, "truncated");
        assert_eq!(lone_text("hi"), None, "no frame");
    }

    #[test]
    fn interprets_heartbeats_json_and_text() {
        assert_eq!(
            interpret("~h~12").unwrap(),
            Incoming::Heartbeat("12".into())
        );
        assert_eq!(
            interpret("~j~[1,2]").unwrap(),
            Incoming::Message(Message::json(json!([1, 2])))
        );
        assert_eq!(
            interpret("~j~5").unwrap(),
            Incoming::Message(Message::json(json!(5)))
        );
        assert_eq!(
            interpret("hi ~j~").unwrap(),
            Incoming::Message(Message::text("hi ~j~"))
        );
        assert!(matches!(
            interpret("~j~{oops"),
            Err(CodecError::InvalidJson(_))
        ));
    }

    #[test]
    fn errors_explain_themselves() {
        let e = CodecError::Truncated {
            declared: 9,
            available: 2,
        };
        assert_eq!(
            e.to_string(),
            "truncated frame: its length is 9 UTF-16 units but only 2 follow"
        );
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let float = any::<f64>().prop_filter_map("finite and round-trips", |f| {
            let v = Value::from(f);
            let back: Value = serde_json::from_str(&v.to_string()).ok()?;
            (f.is_finite() && back == v).then_some(v)
        });
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            float,
            any::<String>().prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                prop::collection::vec((any::<String>(), inner), 0..6)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn frames_round_trip(texts in prop::collection::vec(any::<String>(), 0..8)) {
            let mut payload = Vec::new();
            for t in &texts {
                write_frame(&mut payload, t);
            }
            let payload = String::from_utf8(payload).unwrap();
            let decoded = decode(&payload);
            prop_assert_eq!(decoded.error, None);
            prop_assert_eq!(decoded.frames, texts.iter().map(String::as_str).collect::<Vec<_>>());
        }

        #[test]
        fn utf16_len_matches_std(s in any::<String>()) {
            prop_assert_eq!(utf16_len(&s), s.encode_utf16().count());
        }

        #[test]
        fn text_round_trips(s in any::<String>()
            .prop_filter("not a heartbeat or JSON", |s| !s.starts_with("~h~") && !s.starts_with("~j~")))
        {
            let msg = Message::text(s);
            prop_assert_eq!(interpret(&message_data(&msg)).unwrap(), Incoming::Message(msg));
        }

        #[test]
        fn json_round_trips(v in json_value()) {
            let msg = Message::json(v);
            prop_assert_eq!(interpret(&message_data(&msg)).unwrap(), Incoming::Message(msg));
        }

        #[test]
        fn encoded_messages_decode(v in json_value(), s in any::<String>()) {
            let mut payload = encode(&Message::json(v.clone())).to_vec();
            payload.extend_from_slice(&encode(&Message::text(s.clone())));
            let payload = String::from_utf8(payload).unwrap();
            let decoded = decode(&payload);
            prop_assert_eq!(decoded.error, None);
            prop_assert_eq!(decoded.frames.len(), 2);
            prop_assert_eq!(interpret(decoded.frames[0]).unwrap(), Incoming::Message(Message::json(v)));
            prop_assert_eq!(decoded.frames[1], s.as_str());
        }

        #[test]
        fn decode_never_panics(s in any::<String>()) {
            let _ = decode(&s);
        }

        #[test]
        fn decode_never_panics_on_near_frames(s in "(~m~|~|m|[0-9]|😀|é|x){0,40}") {
            let decoded = decode(&s);
            let mut again = Vec::new();
            for f in &decoded.frames {
                write_frame(&mut again, f);
            }
            // Whatever was accepted is exactly a prefix of the payload.
            prop_assert!(s.as_bytes().starts_with(&again));
            prop_assert_eq!(decoded.error.is_none(), again.len() == s.len());
        }
    }
}
