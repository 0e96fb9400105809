//! Socket.IO 0.6 framing: a message is `~m~<len>~m~<data>`, `len` counted in UTF-16 units.

const MARKER: &str = "~m~";

/// Appends `~m~<len>~m~<data>` to `out`.
pub fn encode(data: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(MARKER.as_bytes());
    out.extend_from_slice(utf16_len(data).to_string().as_bytes());
    out.extend_from_slice(MARKER.as_bytes());
    out.extend_from_slice(data.as_bytes());
}

/// `~m~<len>~m~<data>` as a string.
pub fn encoded(data: &str) -> String {
    format!("{MARKER}{}{MARKER}{data}", utf16_len(data))
}

pub fn utf16_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.encode_utf16().count()
    }
}

/// The data of every frame in `payload`, in order.
pub fn decode(payload: &str) -> Result<Vec<&str>, String> {
    let mut frames = Vec::new();
    let mut rest = payload;
    while !rest.is_empty() {
        let bad = || format!("malformed Socket.IO payload {payload:?}");
        let after = rest.strip_prefix(MARKER).ok_or_else(bad)?;
        let digits = after.find(MARKER).ok_or_else(bad)?;
        let len: usize = after[..digits].parse().map_err(|_| bad())?;
        let data = &after[digits + MARKER.len()..];
        let end = byte_offset(data, len).ok_or_else(bad)?;
        frames.push(&data[..end]);
        rest = &data[end..];
    }
    Ok(frames)
}

/// The byte offset just past the first `units` UTF-16 units of `s`, if `s` is that long.
fn byte_offset(s: &str, units: usize) -> Option<usize> {
    if s.is_ascii() {
        return (units <= s.len()).then_some(units);
    }
    let mut counted = 0;
    for (i, c) in s.char_indices() {
        if counted == units {
            return Some(i);
        }
        counted += c.len_utf16();
    }
    (counted == units).then_some(s.len())
}

/// A heartbeat's data is `~h~<n>`; the client answers with the same frame.
pub fn is_heartbeat(data: &str) -> bool {
    data.starts_with("~h~")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut out = Vec::new();
        encode("hello", &mut out);
        encode("~h~1", &mut out);
        encode("€😀", &mut out);
        let s = String::from_utf8(out).unwrap();
        assert_eq!(s, "~m~5~m~hello~m~4~m~~h~1~m~3~m~€😀");
        assert_eq!(decode(&s).unwrap(), ["hello", "~h~1", "€😀"]);
        assert_eq!(encoded("ab"), "~m~2~m~ab");
    }

    #[test]
    fn malformed() {
        assert!(decode("~m~9~m~short").is_err());
        assert!(decode("~m~x~m~a").is_err());
        assert!(decode("hello").is_err());
        assert!(is_heartbeat("~h~12") && !is_heartbeat("h"));
    }
}
