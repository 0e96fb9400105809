//! JSONP polling: each poll is a `<script src>` answered with `io.JSONP[i]._("…");`.

use bytes::Bytes;

use super::{joined, script_string};
use crate::http::response::{head, Framing, Segment};

/// Longest index we accept. The client's index counts jsonp sockets on one page.
const MAX_INDEX_DIGITS: usize = 6;

/// The client's index into its `io.JSONP` array: the last path segment, digits only.
///
/// The reference took the last digit run of the raw URL with a regular expression and
/// crashed the process when there was none; we read it from the path and refuse anything
/// but 1–6 digits.
pub fn parse_index(path: &str) -> Option<u32> {
    let last = path.trim_end_matches('/').rsplit('/').next()?;
    if last.is_empty() || last.len() > MAX_INDEX_DIGITS || !last.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    last.parse().ok()
}

/// The answer to a poll: `io.JSONP[index]._("…");` carrying the payload (empty when
/// `duration` ran out).
pub fn poll_response(index: u32, payload: &[Bytes], keep_alive: bool) -> Vec<Segment> {
    poll_response_with(
        index,
        Bytes::from(script_string(&joined(payload))),
        keep_alive,
    )
}

/// The same, with the payload already escaped as a script string (shared by the recipients
/// of a broadcast).
pub(crate) fn poll_response_with(index: u32, script: Bytes, keep_alive: bool) -> Vec<Segment> {
    let call = Bytes::from(format!("io.JSONP[{index}]._("));
    let len = call.len() + script.len() + 2;
    vec![
        head(
            200,
            [("Content-Type", "text/javascript; charset=UTF-8")],
            Framing::Length(len),
            keep_alive,
        ),
        Segment::Body(call),
        Segment::Body(script),
        Segment::Body(Bytes::from_static(b");")),
    ]
}

/// What a page from a refused origin gets instead of the payload.
pub fn refused_response(keep_alive: bool) -> Vec<Segment> {
    script_response(
        "alert('Cross domain security restrictions not met');".into(),
        keep_alive,
    )
}

fn script_response(body: String, keep_alive: bool) -> Vec<Segment> {
    vec![
        head(
            200,
            [("Content-Type", "text/javascript; charset=UTF-8")],
            Framing::Length(body.len()),
            keep_alive,
        ),
        Segment::Body(Bytes::from(body)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_the_last_segment() {
        assert_eq!(
            parse_index("/socket.io/jsonp-polling//1300000000001/7"),
            Some(7)
        );
        assert_eq!(parse_index("/socket.io/jsonp-polling/123/1300/0/"), Some(0));
        assert_eq!(parse_index("/socket.io/jsonp-polling/"), None);
        assert_eq!(
            parse_index("/socket.io/jsonp-polling//12/99999999999999999999"),
            None
        );
        assert_eq!(parse_index("/socket.io/jsonp-polling//12/1a"), None);
    }

    #[test]
    fn body_calls_the_index() {
        let out = poll_response(3, &[Bytes::from_static(b"~m~3~m~</b")], false);
        let bytes = crate::http::response::encode(out).concat();
        let body = br#"io.JSONP[3]._("~m~3~m~\u003c/b");"#;
        assert!(bytes.ends_with(body), "{}", String::from_utf8_lossy(&bytes));
        let head = String::from_utf8_lossy(&bytes[..bytes.len() - body.len()]).into_owned();
        assert!(head.contains(&format!("Content-Length: {}\r\n", body.len())));
    }
}
