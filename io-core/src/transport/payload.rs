//! One payload on its way out, with each transport's wrapping of it built at most once: a
//! broadcast hands the same `Payload` to every recipient, so the RFC 6455 header, the
//! htmlfile script and the escaped JSONP string are made once, not once per session.

use bytes::Bytes;

use super::{htmlfile, joined, script_string};
use crate::http::response::Segment;
use crate::websocket::rfc6455;

/// Below this size a WebSocket message is built as one buffer (header, payload, trailer):
/// copying a small payload once is cheaper than a vectored write per recipient.
const ONE_BUFFER_BELOW: usize = 4096;

pub(crate) struct Payload {
    /// The encoded frames, shared by every recipient.
    pub frames: Vec<Bytes>,
    htmlfile: Option<Segment>,
    script: Option<Bytes>,
    rfc6455_header: Option<Bytes>,
    rfc6455_message: Option<Bytes>,
    hixie_message: Option<Bytes>,
    /// For one recipient only: each wrapping is handed over as built, not kept. Keeping it
    /// would cost a second allocation (sharing a `Bytes` made from a `Vec` allocates its
    /// reference count) for nobody to share it with.
    pub once: bool,
}

/// A wrapping kept in `slot` for the next recipient, or handed over whole if `once`.
fn built<T: Clone>(slot: &mut Option<T>, once: bool, build: impl FnOnce() -> T) -> T {
    if once {
        return slot.take().unwrap_or_else(build);
    }
    slot.get_or_insert_with(build).clone()
}

impl Payload {
    pub fn new(frames: Vec<Bytes>) -> Self {
        Payload {
            frames,
            htmlfile: None,
            script: None,
            rfc6455_header: None,
            rfc6455_message: None,
            hixie_message: None,
            once: false,
        }
    }

    /// A payload for one recipient: its wrappings are not kept for others.
    pub fn once(frames: Vec<Bytes>) -> Self {
        Payload {
            once: true,
            ..Payload::new(frames)
        }
    }

    /// Whether the whole message is small enough to be built as one buffer.
    pub fn is_small(&self) -> bool {
        self.len() < ONE_BUFFER_BELOW
    }

    /// A small payload as one whole RFC 6455 text message.
    pub fn rfc6455_message(&mut self) -> Bytes {
        let len = self.len();
        let frames = &self.frames;
        built(&mut self.rfc6455_message, self.once, || {
            let mut out = Vec::with_capacity(rfc6455::frame_header_len(len) + len);
            rfc6455::push_frame_header(&mut out, rfc6455::OP_TEXT, len);
            for f in frames {
                out.extend_from_slice(f);
            }
            Bytes::from(out)
        })
    }

    /// A small payload as one whole hixie message: 0x00, the text, 0xFF.
    pub fn hixie_message(&mut self) -> Bytes {
        let frames = &self.frames;
        built(&mut self.hixie_message, self.once, || {
            let start = Bytes::from_static(crate::websocket::hixie::FRAME_START);
            join(
                std::iter::once(&start).chain(frames),
                crate::websocket::hixie::FRAME_END,
            )
        })
    }

    pub fn len(&self) -> usize {
        self.frames.iter().map(Bytes::len).sum()
    }

    /// The `<script>parent.s._(…)</script>` chunk of an htmlfile stream.
    pub fn htmlfile_chunk(&mut self) -> Segment {
        let frames = &self.frames;
        built(&mut self.htmlfile, self.once, || {
            htmlfile::payload_chunk(frames)
        })
    }

    /// The payload as a JavaScript string literal, safe inside `<script>`.
    pub fn script_string(&mut self) -> Bytes {
        let frames = &self.frames;
        built(&mut self.script, self.once, || {
            Bytes::from(script_string(&joined(frames)))
        })
    }

    /// The header of one RFC 6455 text frame holding the whole payload.
    pub fn rfc6455_header(&mut self) -> Bytes {
        let len = self.len();
        built(&mut self.rfc6455_header, self.once, || {
            rfc6455::frame_header(rfc6455::OP_TEXT, len)
        })
    }
}

fn join<'a>(parts: impl Iterator<Item = &'a Bytes> + Clone, tail: &[u8]) -> Bytes {
    let len = parts.clone().map(Bytes::len).sum::<usize>() + tail.len();
    let mut out = Vec::with_capacity(len);
    for p in parts {
        out.extend_from_slice(p);
    }
    out.extend_from_slice(tail);
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_for_one_recipient_keeps_no_wrapping() {
        let mut p = Payload::once(vec![Bytes::from_static(b"~m~2~m~hi")]);
        let a = p.rfc6455_message();
        assert_eq!(&a[..], b"\x81\x09~m~2~m~hi");
        assert!(p.rfc6455_message.is_none(), "handed over, not kept");
        assert_eq!(p.rfc6455_message(), a, "built again, the same");
        assert_eq!(&p.hixie_message()[..], b"\x00~m~2~m~hi\xff");
        assert!(p.hixie_message.is_none());
    }

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
        assert_eq!(&p.rfc6455_message()[..], b"\x81\x09~m~2~m~<>");
        assert_eq!(p.rfc6455_message().as_ptr(), p.rfc6455_message().as_ptr());
        assert_eq!(&p.hixie_message()[..], b"\x00~m~2~m~<>\xff");
        assert_eq!(p.hixie_message().as_ptr(), p.hixie_message().as_ptr());
    }
}
