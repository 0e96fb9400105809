//! WebSocket opening handshakes: `classify` on arbitrary header sets, and the key functions
//! on arbitrary keys, checked against plain re-statements of the rules.
#![no_main]

use arbitrary::Arbitrary;
use io_core::websocket::handshake::{self, Flavour, HandshakeError};
use io_core::Request;
use libfuzzer_sys::fuzz_target;

const NAMES: &[&str] = &[
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Key",
    "Sec-WebSocket-Version",
    "Sec-WebSocket-Key1",
    "Sec-WebSocket-Key2",
    "Origin",
    "Sec-WebSocket-Origin",
    "Sec-WebSocket-Protocol",
    "Host",
];

const VALUES: &[&str] = &[
    "websocket",
    "WebSocket",
    "websocket, h2c",
    "h2c",
    "Upgrade",
    "keep-alive, Upgrade",
    "close",
    "13",
    " 8 ",
    "7",
    "12",
    "dGhlIHNhbXBsZSBub25jZQ==",
    " dGhlIHNhbXBsZSBub25jZQ== ",
    "dGhlIHNhbXBsZSBub25jZQ",
    "AAAAAAAAAAAAAAAAAAAAAA==",
    "4 @1  46546xW%0l 1 5",
    "12998 5 Y3 1  .P00",
    "1 2",
    "0 ",
    "99999999999999999999 9",
    "http://example.com",
    "",
];

#[derive(Debug, Arbitrary)]
enum Value {
    Known(u8),
    Bytes(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
struct Header {
    name: u8,
    /// Each bit picks upper or lower case for one character of the name.
    case: u32,
    value: Value,
}

#[derive(Debug, Arbitrary)]
struct Input {
    method: u8,
    headers: Vec<Header>,
    key3: [u8; 8],
    keys: (u32, u32),
    free_key: String,
}

fuzz_target!(|input: Input| {
    let method = ["GET", "POST", "get", "HEAD"][usize::from(input.method % 4)];
    let mut req = Request::get("/socket.io/websocket");
    req.method = method.to_owned();
    for h in &input.headers {
        let name: String = NAMES[usize::from(h.name) % NAMES.len()]
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if h.case >> (i % 32) & 1 == 1 {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect();
        let value = match &h.value {
            Value::Known(i) => VALUES[usize::from(*i) % VALUES.len()].as_bytes().to_vec(),
            Value::Bytes(b) => b.clone(),
        };
        req = req.with_header(&name, value);
    }

    let flavour = handshake::classify(&req);
    check_classify(&req, flavour);

    if let Ok(flavour) = flavour {
        match flavour {
            Flavour::Rfc6455 => {
                if let Some(key) = req.header("sec-websocket-key") {
                    check_accept(key);
                }
            }
            Flavour::Hixie76 => {
                for name in ["sec-websocket-key1", "sec-websocket-key2"] {
                    if let Some(key) = req.header(name) {
                        check_key_number(key);
                    }
                }
            }
            Flavour::Hixie75 => {}
        }
    }
    check_key_number(&input.free_key);
    check_accept(&input.free_key);

    let answer = handshake::hixie76_answer(input.keys.0, input.keys.1, &input.key3);
    assert_eq!(
        answer,
        handshake::hixie76_answer(input.keys.0, input.keys.1, &input.key3)
    );
    let origin = req.header("origin").unwrap_or("null");
    let head = handshake::hixie75_response(origin, &input.free_key);
    assert!(head.ends_with(b"\r\n\r\n"));
    let head = handshake::hixie76_response(origin, "ws://x/", req.header("sec-websocket-protocol"));
    assert!(head.ends_with(b"\r\n\r\n"));
});

/// The rules `classify` documents, restated.
fn check_classify(req: &Request, got: Result<Flavour, HandshakeError>) {
    let has = |name: &str| {
        req.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    let expected = if req.method != "GET" {
        Err(HandshakeError::NotGet)
    } else if !has("upgrade") || !req.header_has_token("connection", "upgrade") {
        Err(HandshakeError::NotUpgrade)
    } else if !req.header_has_token("upgrade", "websocket") {
        Err(HandshakeError::NotWebSocket)
    } else if has("sec-websocket-key") {
        match req.header("sec-websocket-version").map(str::trim) {
            Some("13") | Some("8") | Some("7") => Ok(Flavour::Rfc6455),
            _ => Err(HandshakeError::UnsupportedVersion),
        }
    } else {
        match (has("sec-websocket-key1"), has("sec-websocket-key2")) {
            (true, true) => Ok(Flavour::Hixie76),
            (true, false) => Err(HandshakeError::MissingKey2),
            (false, true) => Err(HandshakeError::MissingKey1),
            (false, false) => Ok(Flavour::Hixie75),
        }
    };
    assert_eq!(got, expected);
    if let Err(e) = got {
        assert!(matches!(e.status(), 400 | 426));
        let _ = e.to_string();
    }
}

/// The key's digits as one number divided by its spaces, with big arithmetic.
fn check_key_number(key: &str) {
    let digits: String = key.chars().filter(char::is_ascii_digit).collect();
    let spaces = key.chars().filter(|&c| c == ' ').count() as u128;
    let digits = digits.trim_start_matches('0');
    let expected = if key.chars().any(|c| c.is_ascii_digit()) && spaces > 0 {
        // More than 20 significant digits cannot fit the 64 bits the key is read into.
        match digits.len() {
            0 => Ok(0),
            1..=20 => {
                let n: u128 = digits.parse().expect("digits");
                if n > u128::from(u64::MAX) || !n.is_multiple_of(spaces) {
                    Err(HandshakeError::BadKeyNumber)
                } else {
                    u32::try_from(n / spaces).map_err(|_| HandshakeError::BadKeyNumber)
                }
            }
            _ => Err(HandshakeError::BadKeyNumber),
        }
    } else {
        Err(HandshakeError::BadKeyNumber)
    };
    assert_eq!(handshake::hixie76_key_number(key), expected, "key {key:?}");
}

fn check_accept(key: &str) {
    match handshake::rfc6455_accept(key) {
        Ok(accept) => {
            assert_eq!(accept.len(), 28, "SHA-1 in base64 is 28 characters");
            assert_eq!(handshake::rfc6455_accept(key.trim()), Ok(accept.clone()));
            let head = handshake::rfc6455_response(&accept);
            assert!(head.ends_with(b"\r\n\r\n"));
        }
        Err(e) => assert_eq!(e, HandshakeError::BadKey),
    }
}
