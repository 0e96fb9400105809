//! The fuzz targets' seed corpus (`fuzz/seeds/<target>/`): what real clients send, byte for
//! byte, so that a fuzzer starts from real exchanges instead of from nothing.
//!
//! Every seed is made here, and this test fails when a committed seed differs from what it
//! makes (or is missing), so the seeds cannot drift from the protocol. After a deliberate
//! change: `UPDATE_SEEDS=1 cargo test -p tests --test fuzz_seeds`, and commit `fuzz/seeds/`.
//!
//! Targets whose input is a byte string take the exchange as it is. `http_parser` and
//! `hixie_frames` take structured input, written here in the layout the `arbitrary` crate
//! (1.x) reads: one byte per `u8` parameter, then each list as its elements, each preceded
//! by an odd byte ("one more"), ended by an even one (the empty list of cut points is a
//! single 0). The structured targets (`rfc6455_frames`, `handshake`,
//! `server`) start from the minimized corpus of their long runs instead (`fuzz/README.md`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use io_core::websocket::rfc6455::{client_frame, OP_CLOSE, OP_TEXT};

const SESSION: &str = "0000c0ffee00c0ffee00c0ffee00c0ffee00";

/// The head of every request the 0.6 client sends, and a few others a server meets.
fn requests() -> Vec<(&'static str, Vec<u8>)> {
    let post = |transport: &str, data: &str| {
        let body = format!("data={}", percent(data));
        format!(
            "POST /socket.io/{transport}/{SESSION}/send HTTP/1.1\r\nHost: localhost:8080\r\n\
             Content-Type: application/x-www-form-urlencoded; charset=UTF-8\r\n\
             Content-Length: {}\r\nOrigin: http://localhost:8080\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    };
    let get = |target: &str| {
        format!(
            "GET {target} HTTP/1.1\r\nHost: localhost:8080\r\nConnection: keep-alive\r\n\
             User-Agent: Mozilla/5.0\r\nAccept: */*\r\nReferer: http://localhost:8080/\r\n\r\n"
        )
        .into_bytes()
    };
    vec![
        (
            "xhr-polling-handshake",
            get("/socket.io/xhr-polling//1733000000000"),
        ),
        (
            "xhr-polling-poll",
            get(&format!("/socket.io/xhr-polling/{SESSION}/1733000000001")),
        ),
        ("xhr-polling-post", post("xhr-polling", "~m~5~m~hello")),
        (
            "xhr-polling-post-batch",
            post("xhr-polling", "~m~4~m~~h~1~m~10~m~~j~{\"a\":1}"),
        ),
        (
            "jsonp-polling-handshake",
            get("/socket.io/jsonp-polling//1733000000000/0"),
        ),
        ("jsonp-polling-post", post("jsonp-polling", "~m~2~m~hé")),
        ("htmlfile", get("/socket.io/htmlfile//1733000000000")),
        (
            "xhr-multipart",
            get("/socket.io/xhr-multipart//1733000000000"),
        ),
        ("client-script", get("/socket.io/socket.io.js")),
        (
            "preflight",
            b"OPTIONS /socket.io/xhr-polling/x/send HTTP/1.1\r\nHost: localhost:8080\r\n\
              Origin: http://example.com\r\nAccess-Control-Request-Method: POST\r\n\
              Access-Control-Request-Headers: Content-Type\r\n\r\n"
                .to_vec(),
        ),
        ("hixie-76-upgrade", hixie76()),
        ("rfc6455-upgrade", rfc6455()),
        (
            "chunked-post",
            b"POST /socket.io/xhr-polling/x/send HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
              7\r\ndata=%7\r\n3\r\nEm%\r\n0\r\n\r\n"
                .to_vec(),
        ),
        (
            "pipelined",
            [
                get("/socket.io/xhr-polling//1"),
                get("/socket.io/xhr-polling//2"),
            ]
            .concat(),
        ),
        (
            "tls-client-hello",
            vec![
                0x16, 0x03, 0x01, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x2b, 0x03, 0x03,
            ],
        ),
    ]
}

/// The worked example of the hixie-76 handshake, key3 included, then one frame.
fn hixie76() -> Vec<u8> {
    let mut r = b"GET /socket.io/websocket HTTP/1.1\r\nHost: example.com\r\nUpgrade: WebSocket\r\n\
                  Connection: Upgrade\r\nOrigin: http://example.com\r\n\
                  Sec-WebSocket-Key1: 18x 6]8vM;54 *(5:  {   U1]8  z [  8\r\n\
                  Sec-WebSocket-Key2: 1_ tx7X d  <  nw  334J702) 7]o}` 0\r\n\r\nTm[K T2u"
        .to_vec();
    r.extend(hixie_frames());
    r
}

fn rfc6455() -> Vec<u8> {
    let mut r =
        b"GET /socket.io/websocket HTTP/1.1\r\nHost: localhost:8080\r\nUpgrade: websocket\r\n\
                  Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                  Sec-WebSocket-Version: 13\r\nOrigin: http://localhost:8080\r\n\r\n"
            .to_vec();
    r.extend(client_frame(OP_TEXT, true, b"~m~5~m~hello", [1, 2, 3, 4]));
    r.extend(client_frame(
        OP_CLOSE,
        true,
        &1000u16.to_be_bytes(),
        [9, 8, 7, 6],
    ));
    r
}

/// What a hixie client sends after its handshake: messages, a heartbeat echo, the close.
fn hixie_frames() -> Vec<u8> {
    let mut f = Vec::new();
    for text in [
        "~m~5~m~hello",
        "~m~4~m~~h~1",
        "~m~10~m~~j~{\"a\":1}",
        "~m~2~m~hé",
    ] {
        f.push(0x00);
        f.extend_from_slice(text.as_bytes());
        f.push(0xFF);
    }
    f.extend_from_slice(&[0xFF, 0x00]);
    f
}

/// `application/x-www-form-urlencoded` as browsers write it.
fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                char::from(b).to_string()
            }
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A list of bytes as `arbitrary` reads a `Vec<u8>`: each byte after a 1 ("one more").
fn arbitrary_list(bytes: &[u8]) -> Vec<u8> {
    bytes.iter().flat_map(|&b| [1, b]).collect()
}

/// Every seed, by target and file name.
fn seeds() -> BTreeMap<(&'static str, String), Vec<u8>> {
    let mut all = BTreeMap::new();
    let payloads = [
        ("session-id", format!("~m~36~m~{SESSION}")),
        ("message", "~m~5~m~hello".to_owned()),
        ("heartbeat", "~m~4~m~~h~1".to_owned()),
        ("json", "~m~10~m~~j~{\"a\":1}".to_owned()),
        ("batch", "~m~4~m~~h~1~m~5~m~hello~m~2~m~😀".to_owned()),
        ("utf16", "~m~3~m~é😀".to_owned()),
    ];
    for (name, p) in &payloads {
        all.insert(("codec_decode", (*name).to_owned()), p.clone().into_bytes());
        // form: the first byte picks the field name looked up (0: `data`).
        let body = format!("data={}", percent(p));
        all.insert(
            ("form", (*name).to_owned()),
            [&[0u8][..], body.as_bytes()].concat(),
        );
    }
    for (name, bytes) in requests() {
        // Largest limits (255: a 1,036-byte head, a 255-byte body), no cut points.
        let input = [&[255, 255, 0][..], &arbitrary_list(&bytes)].concat();
        all.insert(("http_parser", name.to_owned()), input);
        all.insert(("policy_probe", name.to_owned()), bytes);
    }
    all.insert(
        ("policy_probe", "policy-request".to_owned()),
        b"<policy-file-request/>\0".to_vec(),
    );
    all.insert(
        ("hixie_frames", "client-session".to_owned()),
        [&[255, 0][..], &arbitrary_list(&hixie_frames())].concat(),
    );
    all
}

fn seeds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds")
}

#[test]
fn committed_seeds_are_what_the_exchanges_make() {
    let update = std::env::var_os("UPDATE_SEEDS").is_some();
    let mut stale = Vec::new();
    for ((target, name), bytes) in seeds() {
        let path = seeds_dir().join(target).join(&name);
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        } else if std::fs::read(&path).ok().as_ref() != Some(&bytes) {
            stale.push(format!("{target}/{name}"));
        }
    }
    assert!(
        stale.is_empty(),
        "seeds missing or changed: {stale:?}; run UPDATE_SEEDS=1 cargo test -p tests --test \
         fuzz_seeds and commit fuzz/seeds/"
    );
}

#[test]
fn the_seeds_are_what_the_server_takes() {
    // A seed that the parser refused would start the fuzzer on an error path only.
    use io_core::http::parser::RequestParser;
    for (name, bytes) in requests() {
        let mut parser = RequestParser::new(16 * 1024, 1024);
        let result = parser.feed(&bytes);
        if name == "tls-client-hello" {
            assert!(result.is_err(), "{name}");
        } else {
            let progress = result.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(progress.request.is_some(), "{name}: not one whole request");
        }
    }
    let decoded = io_core::codec::decode("~m~4~m~~h~1~m~5~m~hello~m~2~m~😀");
    assert_eq!(decoded.frames, ["~h~1", "hello", "😀"]);
    assert_eq!(decoded.error, None);
}
