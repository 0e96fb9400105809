//! One payload on its way out, with each transport's wrapping of it built at most once: a
//! broadcast hands the same `Payload` to every recipient, so the RFC 6455 header, the
//! htmlfile script and the escaped JSONP string are made once, not once per session.

use bytes::Bytes;

use super::{htmlfile, joined, script_string};
use crate::http::response::Segment;
use crate::websocket::rfc6455;

pub(crate) struct Payload {
    /// The encoded frames, shared by every recipient.
    pub frames: Vec<Bytes>,
    htmlfile: Option<Segment>,
    script: Option<Bytes>,
    rfc6455_header: Option<Bytes>,
}

impl Payload {
    pub fn new(frames: Vec<Bytes>) -> Self {
        Payload {
            frames,
            htmlfile: None,
            script: None,
            rfc6455_header: None,
        }
    }

    pub fn len(&self) -> usize {
        self.frames.iter().map(Bytes::len).sum()
    }

    /// The `<script>parent.s._(…)</script>` chunk of an htmlfile stream.
    pub fn htmlfile_chunk(&mut self) -> Segment {
        self.htmlfile
            .get_or_insert_with(|| htmlfile::payload_chunk(&self.frames))
            .clone()
    }

    /// The payload as a JavaScript string literal, safe inside `<script>`.
    pub fn script_string(&mut self) -> Bytes {
        self.script
            .get_or_insert_with(|| Bytes::from(script_string(&joined(&self.frames))))
            .clone()
    }

    /// The header of one RFC 6455 text frame holding the whole payload.
    pub fn rfc6455_header(&mut self) -> Bytes {
        let len = self.len();
        self.rfc6455_header
            .get_or_insert_with(|| rfc6455::frame_header(rfc6455::OP_TEXT, len))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_wrapping_is_built_once() {
        let mut p = Payload::new(vec![Bytes::from_static(b"~m~2~m~<>")]);
        let (a, b) = (p.script_string(), p.script_string());
        assert_eq!(a.as_ptr(), b.as_ptr());
        assert_eq!(&a[..], br#""~m~2~m~\u003c\u003e""#);
        let (Segment::Chunk(a), Segment::Chunk(b)) = (p.htmlfile_chunk(), p.htmlfile_chunk())
        else {
            panic!("htmlfile wraps a payload in a chunk")
        };
        assert_eq!(a.as_ptr(), b.as_ptr());
        assert_eq!(p.rfc6455_header().as_ptr(), p.rfc6455_header().as_ptr());
        assert_eq!(&p.rfc6455_header()[..], [0x81, 9]);
    }
}
