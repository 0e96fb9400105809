//! The forever iframe: a chunked `text/html` document that never ends, one `<script>` per
//! payload calling `parent.s._(…)`.

use bytes::Bytes;

use super::{joined, script_string};
use crate::http::response::{head, Framing, Segment};

/// The head and the first chunk. IE starts to run a streamed document only after 256
/// bytes, hence the padding.
pub fn stream_start() -> Vec<Segment> {
    let mut preamble = b"<html><body>".to_vec();
    preamble.resize(256, b' ');
    vec![
        head(200, [("Content-Type", "text/html")], Framing::Chunked, true),
        Segment::Chunk(Bytes::from(preamble)),
    ]
}

/// One payload as one chunk: a `<script>` handing it to the client's `parent.s._`, escaped
/// with [`script_string`].
pub fn payload_chunk(payload: &[Bytes]) -> Segment {
    let script = format!(
        "<script>parent.s._({}, document);</script>",
        script_string(&joined(payload))
    );
    Segment::Chunk(Bytes::from(script))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk_text(segment: &Segment) -> String {
        match segment {
            Segment::Chunk(b) => String::from_utf8(b.to_vec()).unwrap(),
            other => panic!("not a chunk: {other:?}"),
        }
    }

    #[test]
    fn preamble_is_256_bytes() {
        let s = stream_start();
        let preamble = chunk_text(&s[1]);
        assert_eq!(preamble.len(), 256);
        assert!(preamble.starts_with("<html><body>     "));
    }

    #[test]
    fn script_cannot_be_closed_by_a_message() {
        let c = payload_chunk(&[Bytes::from_static(b"~m~9~m~</script>")]);
        let text = chunk_text(&c);
        assert!(text
            .contains(r#"<script>parent.s._("~m~9~m~\u003c/script\u003e", document);</script>"#));
    }
}
