//! The forever iframe: a chunked `text/html` document that never ends, one `<script>` per
//! payload calling `parent.s._(…)`.

use bytes::Bytes;

use super::{joined, script_string};
use crate::http::response::{chunk, write_head, Framing};

/// The head and the first chunk. IE starts to run a streamed document only after 256
/// bytes, hence the padding.
pub fn stream_start() -> Vec<Bytes> {
    let mut preamble = b"<html><body>".to_vec();
    preamble.resize(256, b' ');
    vec![
        write_head(200, [("Content-Type", "text/html")], Framing::Chunked, true),
        chunk(&preamble),
    ]
}

pub fn payload_chunk(payload: &[Bytes]) -> Bytes {
    chunk(
        format!(
            "<script>parent.s._({}, document);</script>",
            script_string(&joined(payload))
        )
        .as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preamble_is_256_bytes() {
        let s = stream_start();
        assert_eq!(&s[1][..5], b"100\r\n");
        assert_eq!(s[1].len(), 5 + 256 + 2);
    }

    #[test]
    fn script_cannot_be_closed_by_a_message() {
        let c = payload_chunk(&[Bytes::from_static(b"~m~9~m~</script>")]);
        let text = std::str::from_utf8(&c).unwrap();
        assert!(text
            .contains(r#"<script>parent.s._("~m~9~m~\u003c/script\u003e", document);</script>"#));
    }
}
