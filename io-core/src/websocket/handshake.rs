//! Opening handshakes for the three WebSocket flavours a 0.6 server meets.
//!
//! The reference accepted only `Upgrade: WebSocket` (exact case), never answered a request it
//! rejected, and carried on with invalid hixie-76 keys. Here every check has an error with an
//! HTTP status, so the caller can always answer and close.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use md5::{Digest as _, Md5};
use sha1::Sha1;

use crate::http::request::Request;

/// Which opening handshake (and so which framing) a connection uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// No challenge; `0x00 … 0xFF` framing.
    Hixie75,
    /// MD5 challenge over Key1, Key2 and the 8 bytes after the head; `0x00 … 0xFF` framing.
    Hixie76,
    /// `Sec-WebSocket-Key` / `Sec-WebSocket-Accept`; RFC 6455 framing (also hybi-07/08).
    Rfc6455,
}

/// Why an upgrade request cannot become a WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The method is not `GET`.
    NotGet,
    /// `Connection` does not list `upgrade`, or there is no `Upgrade` header.
    NotUpgrade,
    /// `Upgrade` asks for something other than `websocket`.
    NotWebSocket,
    /// `Sec-WebSocket-Version` is missing or not 13, 8 or 7.
    UnsupportedVersion,
    /// `Sec-WebSocket-Key` does not base64-decode to 16 bytes.
    BadKey,
    /// A hixie-76 `Sec-WebSocket-Key1`/`Key2` has no spaces, no digits, a number that is not a
    /// multiple of its spaces, or a key number beyond 32 bits.
    BadKeyNumber,
    /// `Sec-WebSocket-Key2` is present without `Sec-WebSocket-Key1`.
    MissingKey1,
    /// `Sec-WebSocket-Key1` is present without `Sec-WebSocket-Key2`.
    MissingKey2,
}

impl HandshakeError {
    /// The HTTP status to answer with before closing. A 426 must carry
    /// `Sec-WebSocket-Version: 13` so the client knows what to retry with.
    pub fn status(&self) -> u16 {
        match self {
            HandshakeError::UnsupportedVersion => 426,
            _ => 400,
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HandshakeError::NotGet => "websocket upgrade must use the GET method",
            HandshakeError::NotUpgrade => {
                "not an upgrade request: need an Upgrade header and `upgrade` in Connection"
            }
            HandshakeError::NotWebSocket => "the Upgrade header must name `websocket`",
            HandshakeError::UnsupportedVersion => {
                "unsupported Sec-WebSocket-Version: this server speaks 13 (and hybi 7/8)"
            }
            HandshakeError::BadKey => {
                "Sec-WebSocket-Key must be the base64 encoding of exactly 16 bytes"
            }
            HandshakeError::BadKeyNumber => {
                "invalid Sec-WebSocket-Key1/Key2: need digits and spaces, the number divisible \
                 by the count of spaces, and a quotient that fits in 32 bits"
            }
            HandshakeError::MissingKey1 => "Sec-WebSocket-Key2 was sent without Sec-WebSocket-Key1",
            HandshakeError::MissingKey2 => "Sec-WebSocket-Key1 was sent without Sec-WebSocket-Key2",
        })
    }
}

impl std::error::Error for HandshakeError {}

/// The fixed suffix RFC 6455 appends to the client's key before hashing.
const RFC6455_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Which handshake this upgrade request uses.
///
/// `Upgrade` must name `websocket` and `Connection` must list `upgrade`, both as
/// case-insensitive tokens: hixie clients send `WebSocket`, RFC 6455 ones `websocket`, and
/// Firefox sends `Connection: keep-alive, Upgrade`. `Sec-WebSocket-Key` present → RFC 6455
/// (versions 13, 8, 7); Key1 and Key2 → hixie-76; neither → hixie-75. Keys themselves are
/// checked later, by [`rfc6455_accept`] and [`hixie76_key_number`].
pub fn classify(req: &Request) -> Result<Flavour, HandshakeError> {
    if req.method != "GET" {
        return Err(HandshakeError::NotGet);
    }
    if req.header_bytes("upgrade").is_none() || !req.header_has_token("connection", "upgrade") {
        return Err(HandshakeError::NotUpgrade);
    }
    if !req.header_has_token("upgrade", "websocket") {
        return Err(HandshakeError::NotWebSocket);
    }
    if req.header_bytes("sec-websocket-key").is_some() {
        return match req.header("sec-websocket-version").map(str::trim) {
            Some("13" | "8" | "7") => Ok(Flavour::Rfc6455),
            _ => Err(HandshakeError::UnsupportedVersion),
        };
    }
    let key1 = req.header_bytes("sec-websocket-key1").is_some();
    let key2 = req.header_bytes("sec-websocket-key2").is_some();
    match (key1, key2) {
        (true, true) => Ok(Flavour::Hixie76),
        (true, false) => Err(HandshakeError::MissingKey2),
        (false, true) => Err(HandshakeError::MissingKey1),
        (false, false) => Ok(Flavour::Hixie75),
    }
}

/// The number a hixie-76 key stands for: its digits read as one decimal number, divided by its
/// count of U+0020 spaces.
///
/// Invalid when there are no spaces or no digits, the number is not a multiple of the spaces,
/// or it (or the quotient) does not fit: the reference logged such keys and accepted them anyway.
pub fn hixie76_key_number(key: &str) -> Result<u32, HandshakeError> {
    let mut number: u64 = 0;
    let mut digits = 0usize;
    let mut spaces: u64 = 0;
    for b in key.bytes() {
        match b {
            b'0'..=b'9' => {
                number = number
                    .checked_mul(10)
                    .and_then(|n| n.checked_add(u64::from(b - b'0')))
                    .ok_or(HandshakeError::BadKeyNumber)?;
                digits += 1;
            }
            b' ' => spaces += 1,
            _ => {}
        }
    }
    if digits == 0 || spaces == 0 {
        return Err(HandshakeError::BadKeyNumber);
    }
    let (quotient, remainder) = (number / spaces, number % spaces);
    if remainder != 0 {
        return Err(HandshakeError::BadKeyNumber);
    }
    u32::try_from(quotient).map_err(|_| HandshakeError::BadKeyNumber)
}

/// The 16 bytes a hixie-76 server sends right after its response head:
/// MD5(key1 big-endian ++ key2 big-endian ++ key3).
///
/// `key3` is exactly the first 8 bytes after the request head; anything after them is already
/// frame data and belongs to the decoder.
pub fn hixie76_answer(key1: u32, key2: u32, key3: &[u8; 8]) -> [u8; 16] {
    let mut md5 = Md5::new();
    md5.update(key1.to_be_bytes());
    md5.update(key2.to_be_bytes());
    md5.update(key3);
    md5.finalize().into()
}

/// The `Sec-WebSocket-Accept` value: base64(SHA-1(key ++ GUID)).
///
/// The key must base64-decode to exactly 16 bytes; surrounding whitespace is ignored because
/// the client hashes the key without it.
pub fn rfc6455_accept(key: &str) -> Result<String, HandshakeError> {
    let key = key.trim();
    match STANDARD.decode(key) {
        Ok(raw) if raw.len() == 16 => {}
        _ => return Err(HandshakeError::BadKey),
    }
    let mut sha1 = Sha1::new();
    sha1.update(key.as_bytes());
    sha1.update(RFC6455_GUID.as_bytes());
    Ok(STANDARD.encode(sha1.finalize()))
}

/// The hixie-75 response head.
///
/// `origin` and `location` are written as given. The reference wrote `undefined` when the
/// request had no Origin or Host; choose real values (or reject) before calling this.
pub fn hixie75_response(origin: &str, location: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Web Socket Protocol Handshake\r\n\
         Upgrade: WebSocket\r\n\
         Connection: Upgrade\r\n\
         WebSocket-Origin: {origin}\r\n\
         WebSocket-Location: {location}\r\n\
         \r\n"
    )
    .into_bytes()
}

/// The hixie-76 response head, without the 16-byte answer that follows it.
///
/// It can be sent before key3 arrives, which keeps proxies that hold the body back until they
/// see a 101 working. `protocol` is the request's `Sec-WebSocket-Protocol`, echoed verbatim
/// because the Flash client insists on seeing one of its own protocols.
pub fn hixie76_response(origin: &str, location: &str, protocol: Option<&str>) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 101 WebSocket Protocol Handshake\r\n\
         Upgrade: WebSocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Origin: {origin}\r\n\
         Sec-WebSocket-Location: {location}\r\n"
    );
    if let Some(protocol) = protocol {
        head.push_str("Sec-WebSocket-Protocol: ");
        head.push_str(protocol);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// The RFC 6455 response head. No subprotocol and no extensions: the 0.6 client asks for
/// none, and browsers fail the connection when the server picks one they did not offer.
pub fn rfc6455_response(accept: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\
         \r\n"
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY1: &str = "18x 6]8vM;54 *(5:  {   U1]8  z [  8";
    const KEY2: &str = "1_ tx7X d  <  nw  334J702) 7]o}` 0";

    fn upgrade(upgrade: &str, connection: &str) -> Request {
        Request::get("/socket.io/websocket")
            .with_header("Upgrade", upgrade)
            .with_header("Connection", connection)
    }

    #[test]
    fn hixie76_worked_example() {
        let n1 = hixie76_key_number(KEY1).unwrap();
        let n2 = hixie76_key_number(KEY2).unwrap();
        assert_eq!((n1, n2), (155_712_099, 173_347_027));
        assert_eq!(&hixie76_answer(n1, n2, b"Tm[K T2u"), b"fQJ,fN/4F4!~K~MH");
    }

    #[test]
    fn hixie76_invalid_keys() {
        for key in [
            "12345",                     // no spaces
            "1 2 3",                     // 123 is not a multiple of 2
            "   ",                       // no digits
            "",                          // nothing
            "9 9999999999",              // 99999999999 / 1 does not fit in u32
            "1 23456789012345678901234", // overflows u64
        ] {
            assert_eq!(
                hixie76_key_number(key),
                Err(HandshakeError::BadKeyNumber),
                "{key:?}"
            );
        }
        assert_eq!(hixie76_key_number("4294967295 "), Ok(u32::MAX));
        assert_eq!(hixie76_key_number(" 0"), Ok(0));
    }

    #[test]
    fn rfc6455_example_and_bad_keys() {
        assert_eq!(
            rfc6455_accept("dGhlIHNhbXBsZSBub25jZQ==").unwrap(),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(
            rfc6455_accept(" dGhlIHNhbXBsZSBub25jZQ== ").unwrap(),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        for key in [
            "",
            "not base64!",
            "dGhlIHNhbXBsZSBub25j",     // 15 bytes
            "dGhlIHNhbXBsZSBub25jZTE=", // 17 bytes
            "dGhlIHNhbXBsZSBub25jZQ",   // padding missing
        ] {
            assert_eq!(rfc6455_accept(key), Err(HandshakeError::BadKey), "{key:?}");
        }
    }

    #[test]
    fn classify_rfc6455_versions() {
        let req = |version: Option<&str>| {
            let r = upgrade("websocket", "Upgrade")
                .with_header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
            match version {
                Some(v) => r.with_header("Sec-WebSocket-Version", v),
                None => r,
            }
        };
        for v in ["13", "8", "7", " 13 "] {
            assert_eq!(classify(&req(Some(v))), Ok(Flavour::Rfc6455), "{v}");
        }
        for v in [Some("12"), Some("6"), Some("abc"), None] {
            let err = classify(&req(v)).unwrap_err();
            assert_eq!(err, HandshakeError::UnsupportedVersion, "{v:?}");
            assert_eq!(err.status(), 426);
        }
    }

    #[test]
    fn classify_firefox_connection_list() {
        let req = upgrade("websocket", "keep-alive, Upgrade")
            .with_header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
            .with_header("Sec-WebSocket-Version", "13");
        assert_eq!(classify(&req), Ok(Flavour::Rfc6455));
    }

    #[test]
    fn classify_hixie() {
        let req = upgrade("WebSocket", "Upgrade");
        assert_eq!(classify(&req), Ok(Flavour::Hixie75));
        let both = req
            .clone()
            .with_header("Sec-WebSocket-Key1", KEY1)
            .with_header("Sec-WebSocket-Key2", KEY2);
        assert_eq!(classify(&both), Ok(Flavour::Hixie76));
        let only1 = req.clone().with_header("Sec-WebSocket-Key1", KEY1);
        assert_eq!(classify(&only1), Err(HandshakeError::MissingKey2));
        let only2 = req.with_header("Sec-WebSocket-Key2", KEY2);
        assert_eq!(classify(&only2), Err(HandshakeError::MissingKey1));
    }

    #[test]
    fn classify_rejections() {
        let mut post = upgrade("websocket", "Upgrade");
        post.method = "POST".into();
        assert_eq!(classify(&post), Err(HandshakeError::NotGet));

        let plain = Request::get("/socket.io/websocket");
        assert_eq!(classify(&plain), Err(HandshakeError::NotUpgrade));
        let no_upgrade_token = upgrade("websocket", "keep-alive");
        assert_eq!(classify(&no_upgrade_token), Err(HandshakeError::NotUpgrade));
        let no_upgrade_header =
            Request::get("/socket.io/websocket").with_header("Connection", "Upgrade");
        assert_eq!(
            classify(&no_upgrade_header),
            Err(HandshakeError::NotUpgrade)
        );

        let h2c = upgrade("h2c", "Upgrade");
        let err = classify(&h2c).unwrap_err();
        assert_eq!(err, HandshakeError::NotWebSocket);
        assert_eq!(err.status(), 400);
    }

    #[test]
    fn response_heads() {
        assert_eq!(
            hixie75_response("http://a.example", "ws://a.example/socket.io/websocket"),
            b"HTTP/1.1 101 Web Socket Protocol Handshake\r\n\
              Upgrade: WebSocket\r\n\
              Connection: Upgrade\r\n\
              WebSocket-Origin: http://a.example\r\n\
              WebSocket-Location: ws://a.example/socket.io/websocket\r\n\
              \r\n"
        );
        let head76 = b"HTTP/1.1 101 WebSocket Protocol Handshake\r\n\
              Upgrade: WebSocket\r\n\
              Connection: Upgrade\r\n\
              Sec-WebSocket-Origin: http://a.example\r\n\
              Sec-WebSocket-Location: wss://a.example/socket.io/flashsocket\r\n";
        let mut without = head76.to_vec();
        without.extend_from_slice(b"\r\n");
        assert_eq!(
            hixie76_response(
                "http://a.example",
                "wss://a.example/socket.io/flashsocket",
                None
            ),
            without
        );
        let mut with = head76.to_vec();
        with.extend_from_slice(b"Sec-WebSocket-Protocol: a, b\r\n\r\n");
        assert_eq!(
            hixie76_response(
                "http://a.example",
                "wss://a.example/socket.io/flashsocket",
                Some("a, b")
            ),
            with
        );
        assert_eq!(
            rfc6455_response("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
            b"HTTP/1.1 101 Switching Protocols\r\n\
              Upgrade: websocket\r\n\
              Connection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
              \r\n"
        );
    }
}
