//! Streamed response bodies (htmlfile, xhr-multipart) read item by item.

use std::time::Duration;

use crate::raw::{find, Conn, Framing, Head, TIMEOUT};

/// Which streaming transport a body belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamKind {
    /// `<html><body>` plus padding, then one `<script>…</script>` per payload.
    HtmlFile,
    /// `--socketio\n`, then one `Content-Type: …\n\n<payload>\n--socketio\n` per payload (each
    /// item ends with the boundary that follows it).
    Multipart,
}

/// A streamed response whose head has been read.
pub struct Stream {
    pub conn: Conn,
    pub head: Head,
    pub framing: Framing,
    pub kind: StreamKind,
    body: Vec<u8>,
    pos: usize,
}

impl Stream {
    /// Reads the head of the response on `conn` (the request has been sent already).
    pub fn open(mut conn: Conn, kind: StreamKind) -> Stream {
        let head = conn.read_head();
        let framing = head.framing();
        Stream {
            conn,
            head,
            framing,
            kind,
            body: Vec::new(),
            pos: 0,
        }
    }

    /// The decoded body received so far.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Reads the next `n` complete items. Panics if they do not all arrive within the timeout.
    pub fn next_items(&mut self, n: usize) -> Vec<Vec<u8>> {
        let kind = self.kind;
        let pos = self.pos;
        let ok = self
            .conn
            .read_stream_until(self.framing, &mut self.body, TIMEOUT, |body| {
                count_items(kind, &body[pos..]) >= n
            });
        assert!(
            ok,
            "wanted {n} more {kind:?} items, the stream has {:?} after what was read",
            String::from_utf8_lossy(&self.body[self.pos..])
        );
        let mut items = Vec::new();
        for _ in 0..n {
            let len = item_len(kind, &self.body[self.pos..]).expect("complete item");
            items.push(self.body[self.pos..self.pos + len].to_vec());
            self.pos += len;
        }
        items
    }

    /// Waits `wait` and returns whatever more body bytes arrived (for checks that nothing did).
    pub fn extra(&mut self, wait: Duration) -> Vec<u8> {
        self.conn
            .read_stream_until(self.framing, &mut self.body, wait, |_| false);
        self.body[self.pos..].to_vec()
    }
}

fn count_items(kind: StreamKind, mut body: &[u8]) -> usize {
    let mut n = 0;
    while let Some(len) = item_len(kind, body) {
        n += 1;
        body = &body[len..];
    }
    n
}

/// Length of the complete item at the start of `body`, if there is one.
pub fn item_len(kind: StreamKind, body: &[u8]) -> Option<usize> {
    match kind {
        StreamKind::HtmlFile => {
            if let Some(rest) = body.strip_prefix(b"<html><body>") {
                // The padding ends where the next element starts.
                let spaces = rest.iter().position(|&b| b != b' ')?;
                Some(12 + spaces)
            } else if body.starts_with(b"<script>") {
                find(body, b"</script>").map(|i| i + 9)
            } else if body.is_empty() {
                None
            } else {
                // Unknown content: one item up to the next script element.
                find(&body[1..], b"<script>").map(|i| i + 1)
            }
        }
        StreamKind::Multipart => {
            const BOUNDARY: &[u8] = b"--socketio\n";
            if body.starts_with(BOUNDARY) {
                Some(BOUNDARY.len())
            } else {
                find(body, b"\n--socketio\n").map(|i| i + 1 + BOUNDARY.len())
            }
        }
    }
}
