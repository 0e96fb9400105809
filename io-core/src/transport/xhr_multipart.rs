//! XHR multipart streaming: `multipart/x-mixed-replace`, one part per payload, delimited
//! only by the connection's end.

use bytes::Bytes;

use super::Cors;
use crate::http::response::{head, Framing, Segment};

const PART_HEAD: &[u8] = b"Content-Type: text/plain\n\n";
const PART_END: &[u8] = b"\n--socketio\n";

/// The head and the first boundary. The response has no length: it ends when the
/// connection closes.
pub fn stream_start(cors: Option<&Cors>) -> Vec<Segment> {
    let mut headers = Vec::with_capacity(4);
    if let Some(c) = cors {
        headers.extend(c.headers());
    }
    headers.push((
        "Content-Type",
        "multipart/x-mixed-replace;boundary=\"socketio\"",
    ));
    vec![
        head(200, headers, Framing::UntilClose, true),
        Segment::Body(Bytes::from_static(b"--socketio\n")),
    ]
}

/// One payload as one part: its `Content-Type` line, the payload, and the next boundary.
pub fn part(payload: &[Bytes]) -> Vec<Segment> {
    let mut out = Vec::with_capacity(payload.len() + 2);
    out.push(Segment::Body(Bytes::from_static(PART_HEAD)));
    out.extend(payload.iter().cloned().map(Segment::Body));
    out.push(Segment::Body(Bytes::from_static(PART_END)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_use_bare_newlines() {
        let p: Vec<u8> =
            crate::http::response::encode(part(&[Bytes::from_static(b"~m~1~m~a")])).concat();
        assert_eq!(p, b"Content-Type: text/plain\n\n~m~1~m~a\n--socketio\n");
    }
}
