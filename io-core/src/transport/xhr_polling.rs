//! XHR long polling: one `text/plain` body per GET, messages up in `POST …/send`.

use bytes::Bytes;

use super::Cors;
use crate::http::response::{head, Framing, Segment};

/// The answer to a poll: the payload as the whole body (empty when `duration` ran out).
pub fn poll_response(payload: &[Bytes], cors: Option<&Cors>, keep_alive: bool) -> Vec<Segment> {
    let len = payload.iter().map(Bytes::len).sum();
    let mut headers = vec![("Content-Type", "text/plain; charset=UTF-8")];
    if let Some(c) = cors {
        headers.extend(c.headers());
    }
    let mut out = Vec::with_capacity(payload.len() + 1);
    out.push(head(200, headers, Framing::Length(len), keep_alive));
    out.extend(payload.iter().cloned().map(Segment::Body));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_the_payload_verbatim() {
        let out = poll_response(
            &[
                Bytes::from_static(b"~m~5~m~hello"),
                Bytes::from_static(b"~m~2~m~\xf0\x9f\x98\x80"),
            ],
            None,
            true,
        );
        let all: Vec<u8> = crate::http::response::encode(out).concat();
        let text = String::from_utf8(all).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=UTF-8\r\n"));
        assert!(text.contains("Content-Length: 23\r\n"));
        assert!(text.ends_with("\r\n\r\n~m~5~m~hello~m~2~m~😀"));
    }
}
