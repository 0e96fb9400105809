//! Transcripts: one line per observed fact of an exchange, normalised so that two servers that
//! behave the same produce the same lines (session ids masked as `<SID1>`, `<SID2>`…, framing
//! lengths recomputed, Node's framing headers dropped, host and port masked).

use std::net::SocketAddr;

use crate::raw::{Framing, Head, Response};

/// Length of a string in UTF-16 code units (what the `~m~<len>~m~` prefix counts).
pub fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Encodes messages as one Socket.IO payload.
pub fn encode_frames<S: AsRef<str>>(messages: &[S]) -> String {
    let mut out = String::new();
    for m in messages {
        let m = m.as_ref();
        out.push_str(&format!("~m~{}~m~{m}", utf16_len(m)));
    }
    out
}

/// Decodes a payload leniently: well-formed `~m~<digits>~m~` frames, taking `<len>` UTF-16 units
/// (fewer if the input is shorter). Returns the messages and whatever text could not be
/// decoded.
pub fn decode_frames(payload: &str) -> (Vec<String>, String) {
    let units: Vec<u16> = payload.encode_utf16().collect();
    let marker: Vec<u16> = "~m~".encode_utf16().collect();
    let mut messages = Vec::new();
    let mut i = 0;
    while i < units.len() {
        if !units[i..].starts_with(&marker) {
            break;
        }
        let mut j = i + 3;
        let mut len: usize = 0;
        while j < units.len() && (b'0' as u16..=b'9' as u16).contains(&units[j]) {
            len = len
                .saturating_mul(10)
                .saturating_add((units[j] - b'0' as u16) as usize);
            j += 1;
        }
        if j == i + 3 || !units[j..].starts_with(&marker) {
            break;
        }
        let start = j + 3;
        let end = start.saturating_add(len).min(units.len());
        messages.push(String::from_utf16_lossy(&units[start..end]));
        i = end;
    }
    (messages, String::from_utf16_lossy(&units[i..]))
}

/// `JSON.stringify` of a string.
pub fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Parses a JSON string literal at the start of `s`. Returns its value and the number of bytes
/// of `s` it used.
pub fn parse_json_string(s: &str) -> Option<(String, usize)> {
    let b = s.as_bytes();
    if b.first() != Some(&b'"') {
        return None;
    }
    let mut units: Vec<u16> = Vec::new();
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'"' => return Some((String::from_utf16_lossy(&units), i + 1)),
            b'\\' => {
                let e = *b.get(i + 1)?;
                i += 2;
                match e {
                    b'"' => units.push(b'"' as u16),
                    b'\\' => units.push(b'\\' as u16),
                    b'/' => units.push(b'/' as u16),
                    b'b' => units.push(8),
                    b'f' => units.push(12),
                    b'n' => units.push(10),
                    b'r' => units.push(13),
                    b't' => units.push(9),
                    b'u' => {
                        let hex = s.get(i..i + 4)?;
                        units.push(u16::from_str_radix(hex, 16).ok()?);
                        i += 4;
                    }
                    _ => return None,
                }
            }
            _ => {
                let c = s[i..].chars().next()?;
                let mut buf = [0u16; 2];
                units.extend_from_slice(c.encode_utf16(&mut buf));
                i += c.len_utf8();
            }
        }
    }
    None
}

/// Escapes control characters and bytes that are not UTF-8, so that a line stays one line.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(&escape_text(s));
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                out.push_str(&escape_text(std::str::from_utf8(good).unwrap()));
                let n = e.error_len().unwrap_or(bad.len());
                for b in &bad[..n] {
                    out.push_str(&format!("\\x{b:02X}"));
                }
                rest = &bad[n..];
            }
        }
    }
    out
}

/// Escapes control characters in text (a backslash is left alone, so JSON stays readable).
pub fn escape_text(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// A part of a transcript line; rendered only when the transcript is finished, so that session
/// ids learnt later are masked everywhere.
#[derive(Clone, Debug)]
enum Piece {
    /// Literal text (ids and the host are masked; control characters escaped).
    Text(String),
    /// A Socket.IO payload: decoded, ids masked, re-encoded.
    Payload(String),
    /// A Socket.IO payload shown as a JSON string literal (htmlfile, jsonp).
    JsonPayload(String),
    /// Bytes that may not be UTF-8 (escaped as `\xNN`; masked only if they are UTF-8).
    Bytes(Vec<u8>),
}

/// Lines describing one exchange. `who` in each line names the simulated client (`A`, `B`…).
pub struct Transcript {
    entries: Vec<Vec<Piece>>,
    sids: Vec<String>,
    host: String,
}

impl Transcript {
    /// `addr` is the server's address; `127.0.0.1:<port>` is shown as `<host>`.
    pub fn new(addr: SocketAddr) -> Transcript {
        Transcript {
            entries: Vec::new(),
            sids: Vec::new(),
            host: addr.to_string(),
        }
    }

    /// Records a session id (the first frame a new session receives). Returns it.
    pub fn learn_sid(&mut self, sid: &str) -> String {
        assert!(!sid.is_empty(), "empty session id");
        if !self.sids.iter().any(|s| s == sid) {
            self.sids.push(sid.to_string());
        }
        sid.to_string()
    }

    /// Learns the session id from the first frame of `payload` and returns it.
    pub fn learn_sid_from_payload(&mut self, payload: &str) -> String {
        let (messages, _) = decode_frames(payload);
        let first = messages
            .first()
            .unwrap_or_else(|| panic!("no session id in payload {payload:?}"));
        self.learn_sid(&first.clone())
    }

    /// Session ids seen so far, in order.
    pub fn sids(&self) -> &[String] {
        &self.sids
    }

    /// A line `<prefix><bytes>`, the bytes escaped where they are not UTF-8.
    pub fn note_bytes(&mut self, prefix: &str, bytes: &[u8]) {
        self.entries.push(vec![
            Piece::Text(prefix.to_string()),
            Piece::Bytes(bytes.to_vec()),
        ]);
    }

    /// A free-form line (control characters are escaped when it is rendered).
    pub fn note(&mut self, line: impl Into<String>) {
        self.entries.push(vec![Piece::Text(line.into())]);
    }

    /// A request line: `A> POST /path  <extra>` and, for a form body, the decoded payload.
    pub fn request(
        &mut self,
        who: &str,
        method: &str,
        path: &str,
        extra: &str,
        data: Option<&str>,
    ) {
        let mut line = format!("{who}> {method} {path}");
        if !extra.is_empty() {
            line.push_str("  ");
            line.push_str(extra);
        }
        let mut pieces = vec![Piece::Text(line)];
        if let Some(d) = data {
            pieces.push(Piece::Text("  data=".into()));
            pieces.push(Piece::Payload(d.to_string()));
        }
        self.entries.push(pieces);
    }

    /// Something a client sends that is one payload (a WebSocket frame): `A> <label>: <payload>`.
    pub fn sent(&mut self, who: &str, label: &str, payload: &str) {
        self.entries.push(vec![
            Piece::Text(format!("{who}> {label}: ")),
            Piece::Payload(payload.to_string()),
        ]);
    }

    /// A normalised response: status line, headers (lower-case names, sorted, without `date`,
    /// `connection`, `keep-alive`, `content-length`, `transfer-encoding`), then the body.
    pub fn response(&mut self, who: &str, response: &Response) {
        self.head(who, &response.head);
        let mut body_line = vec![Piece::Text(format!("{who}<   body: "))];
        body_line.extend(body_pieces(&response.body));
        if let Some(declared) = response.head.header("content-length") {
            let declared: usize = declared.trim().parse().unwrap_or(usize::MAX);
            if declared != response.body.len() || response.framing == Framing::Chunked {
                body_line.push(Piece::Text(format!(
                    "  [content-length {declared} but body has {} bytes]",
                    response.body.len()
                )));
            }
        }
        self.entries.push(body_line);
    }

    /// The normalised status line and headers of a response (see [`Transcript::response`]).
    pub fn head(&mut self, who: &str, head: &Head) {
        self.note(format!("{who}< {}", strip_version(&head.status_line)));
        for (name, value) in normalised_headers(head) {
            self.note(format!("{who}<   {name}: {value}"));
        }
    }

    /// A WebSocket 101 head, line by line as received (only ids and the host masked).
    pub fn ws_head(&mut self, who: &str, head: &Head) {
        let text = String::from_utf8_lossy(&head.raw).into_owned();
        for line in text.split("\r\n").filter(|l| !l.is_empty()) {
            self.note(format!("{who}< {line}"));
        }
    }

    /// A line `<who><   <label>: <body>` whose body is recognised as a payload, a JSONP call,
    /// an htmlfile script element or plain text.
    pub fn item(&mut self, who: &str, label: &str, body: &[u8]) {
        let mut pieces = vec![Piece::Text(format!("{who}<   {label}: "))];
        pieces.extend(body_pieces(body));
        self.entries.push(pieces);
    }

    /// A line `<who><   <prefix><payload><suffix>` where `payload` is a Socket.IO payload.
    pub fn payload_line(&mut self, who: &str, prefix: &str, payload: &str, suffix: &str) {
        self.entries.push(vec![
            Piece::Text(format!("{who}<   {prefix}")),
            Piece::Payload(payload.to_string()),
            Piece::Text(suffix.to_string()),
        ]);
    }

    /// The finished, normalised lines.
    pub fn lines(&self) -> Vec<String> {
        let mut sids: Vec<(usize, &String)> = self.sids.iter().enumerate().collect();
        // Longer ids first, so that an id that is a substring of another cannot break it.
        sids.sort_by_key(|(_, s)| std::cmp::Reverse(s.len()));
        let mask = |s: &str| -> String {
            let mut out = s.replace(&self.host, "<host>");
            for (i, sid) in &sids {
                out = out.replace(sid.as_str(), &format!("<SID{}>", i + 1));
            }
            out
        };
        let payload = |p: &str| -> String {
            let (messages, rest) = decode_frames(p);
            let messages: Vec<String> = messages.iter().map(|m| mask(m)).collect();
            encode_frames(&messages) + &mask(&rest)
        };
        self.entries
            .iter()
            .map(|pieces| {
                pieces
                    .iter()
                    .map(|piece| match piece {
                        Piece::Text(t) => escape_text(&mask(t)),
                        Piece::Payload(p) => escape_text(&payload(p)),
                        Piece::JsonPayload(p) => escape_text(&json_string(&payload(p))),
                        Piece::Bytes(b) => match std::str::from_utf8(b) {
                            Ok(t) => escape_text(&mask(t)),
                            Err(_) => escape_bytes(b),
                        },
                    })
                    .collect::<String>()
            })
            .collect()
    }
}

fn strip_version(status_line: &str) -> String {
    status_line
        .split_once(' ')
        .map(|(v, rest)| {
            if v.starts_with("HTTP/") {
                rest.to_string()
            } else {
                status_line.to_string()
            }
        })
        .unwrap_or_else(|| status_line.to_string())
}

/// Header fields with lower-case names, sorted, without the framing and connection headers
/// that are Node artefacts.
pub fn normalised_headers(head: &Head) -> Vec<(String, String)> {
    const DROP: [&str; 5] = [
        "date",
        "connection",
        "keep-alive",
        "content-length",
        "transfer-encoding",
    ];
    let mut headers: Vec<(String, String)> = head
        .headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
        .filter(|(n, _)| !DROP.contains(&n.as_str()))
        .collect();
    headers.sort();
    headers
}

/// Splits a body into pieces: a whole Socket.IO payload, a JSONP call or an htmlfile script
/// element with its payload, or plain text.
fn body_pieces(body: &[u8]) -> Vec<Piece> {
    let Ok(text) = std::str::from_utf8(body) else {
        return vec![Piece::Bytes(body.to_vec())];
    };
    if text.is_empty() {
        return vec![Piece::Text("(empty)".into())];
    }
    if text.starts_with("~m~") {
        return vec![Piece::Payload(text.to_string())];
    }
    for (open, close) in [
        ("<script>parent.s._(", ", document);</script>"),
        ("io.JSONP[", ");"),
    ] {
        let Some(rest) = text.strip_prefix(open) else {
            continue;
        };
        // For JSONP, the index and `]._(` come before the string.
        let (prefix, rest) = if open.starts_with("io.JSONP") {
            match rest.split_once("]._(") {
                Some((index, rest)) if index.bytes().all(|b| b.is_ascii_digit()) => {
                    (format!("{open}{index}]._("), rest)
                }
                _ => break,
            }
        } else {
            (open.to_string(), rest)
        };
        if let Some((value, used)) = parse_json_string(rest) {
            if &rest[used..] == close {
                return vec![
                    Piece::Text(prefix),
                    Piece::JsonPayload(value),
                    Piece::Text(close.to_string()),
                ];
            }
        }
        break;
    }
    vec![Piece::Text(text.to_string())]
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn frames_round_trip_with_utf16_lengths() {
        let msgs = ["a", "😀", "~j~{\"b\":1}", ""];
        let p = encode_frames(&msgs);
        assert_eq!(p, "~m~1~m~a~m~2~m~😀~m~10~m~~j~{\"b\":1}~m~0~m~");
        let (back, rest) = decode_frames(&p);
        assert_eq!(back, msgs);
        assert_eq!(rest, "");
        let (back, rest) = decode_frames("~m~3~m~abcjunk");
        assert_eq!(back, ["abc"]);
        assert_eq!(rest, "junk");
    }

    #[test]
    fn ids_of_any_length_normalise_alike() {
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let render = |sid: &str| {
            let mut t = Transcript::new(addr);
            let payload = encode_frames(&[sid]);
            t.learn_sid_from_payload(&payload);
            t.item("A", "body", payload.as_bytes());
            let msg = format!("~j~{{\"announcement\":\"{sid} connected\"}}");
            t.item("A", "body", encode_frames(&[msg]).as_bytes());
            let call = format!("io.JSONP[3]._({});", json_string(&encode_frames(&[sid])));
            t.item("A", "body", call.as_bytes());
            t.lines()
        };
        let short = render("8030345743042513");
        let long = render("123456789012345678901234567890123456789");
        assert_eq!(short, long);
        assert_eq!(short[0], "A<   body: ~m~6~m~<SID1>");
        assert_eq!(
            short[1],
            "A<   body: ~m~38~m~~j~{\"announcement\":\"<SID1> connected\"}"
        );
        assert_eq!(short[2], "A<   body: io.JSONP[3]._(\"~m~6~m~<SID1>\");");
    }

    #[test]
    fn json_strings() {
        let s = "a\"b\\c\n\u{1}😀</script>";
        let j = json_string(s);
        assert_eq!(parse_json_string(&j), Some((s.to_string(), j.len())));
        assert_eq!(
            parse_json_string("\"\\u003c\\ud83d\\ude00\"").unwrap().0,
            "<😀"
        );
    }
}
