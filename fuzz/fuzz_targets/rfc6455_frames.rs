//! The RFC 6455 frame decoder on client streams built from raw bytes and well-formed masked
//! frames, fed whole and in pieces.
#![no_main]

use arbitrary::Arbitrary;
use io_core::websocket::rfc6455::{self, Rfc6455Decoder};
use io_core::websocket::{WsError, WsEvent};
use io_core_fuzz::{feed_all, split};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Piece {
    Raw(Vec<u8>),
    Frame {
        opcode: u8,
        fin: bool,
        payload: Vec<u8>,
        mask: [u8; 4],
    },
    /// A text frame with a payload that is valid UTF-8.
    Text {
        fin: bool,
        continuation: bool,
        text: String,
        mask: [u8; 4],
    },
    /// A close frame with a code and a reason.
    Close {
        code: u16,
        reason: String,
        mask: [u8; 4],
    },
    /// A frame header claiming a 64-bit length.
    LongHeader {
        first: u8,
        len: u64,
    },
}

#[derive(Debug, Arbitrary)]
struct Input {
    max_message: u16,
    cuts: Vec<u16>,
    pieces: Vec<Piece>,
}

fuzz_target!(|input: Input| {
    let max_message = usize::from(input.max_message % 1024);
    let mut data = Vec::new();
    for piece in &input.pieces {
        match piece {
            Piece::Raw(bytes) => data.extend_from_slice(bytes),
            Piece::Frame {
                opcode,
                fin,
                payload,
                mask,
            } => data.extend(rfc6455::client_frame(*opcode, *fin, payload, *mask)),
            Piece::Text {
                fin,
                continuation,
                text,
                mask,
            } => {
                let op = if *continuation {
                    rfc6455::OP_CONT
                } else {
                    rfc6455::OP_TEXT
                };
                data.extend(rfc6455::client_frame(op, *fin, text.as_bytes(), *mask));
            }
            Piece::Close { code, reason, mask } => {
                let mut payload = code.to_be_bytes().to_vec();
                payload.extend_from_slice(reason.as_bytes());
                data.extend(rfc6455::client_frame(
                    rfc6455::OP_CLOSE,
                    true,
                    &payload,
                    *mask,
                ));
            }
            Piece::LongHeader { first, len } => {
                data.push(*first);
                data.push(0x80 | 127);
                data.extend_from_slice(&len.to_be_bytes());
                data.extend_from_slice(&[1, 2, 3, 4]);
            }
        }
    }

    let pieces = split(&data, &input.cuts);
    let whole = run(&[&data], max_message);
    assert_eq!(whole, run(&pieces, max_message), "pieces: {pieces:?}");
    let bytewise: Vec<&[u8]> = data.chunks(1).collect();
    assert_eq!(whole, run(&bytewise, max_message));

    // Binary allowed: text decodes exactly as before; binary messages obey the same limit.
    let binary = run_binary(&pieces, max_message);
    assert_eq!(binary, run_binary(&bytewise, max_message));
    for ev in &binary.0 {
        if let WsEvent::Binary(b) = ev {
            assert!(b.len() <= max_message);
        }
    }

    let (events, result) = &whole;
    for (i, ev) in events.iter().enumerate() {
        match ev {
            WsEvent::Text(text) => assert!(text.len() <= max_message),
            WsEvent::Binary(_) => panic!("binary messages are refused unless asked for"),
            WsEvent::Ping(p) | WsEvent::Pong(p) => {
                assert!(p.len() <= 125);
                let pong = rfc6455::pong_frame(p);
                assert_eq!(&pong[2..], &p[..]);
            }
            WsEvent::Close { code, reason } => {
                assert_eq!(i, events.len() - 1, "nothing is decoded after the close");
                if let Some(code) = code {
                    let frame = rfc6455::close_frame(*code, reason);
                    assert!(frame.len() <= 127);
                }
            }
            other => panic!("an event the decoder never makes: {other:?}"),
        }
    }
    if let Err(e) = result {
        assert!(matches!(e.close_code, 1002 | 1003 | 1007 | 1009));
    }
});

fn run(pieces: &[&[u8]], max_message: usize) -> (Vec<WsEvent>, Result<(), WsError>) {
    let mut decoder = Rfc6455Decoder::new(max_message);
    feed_all(pieces, |piece, events| decoder.feed(piece, events))
}

fn run_binary(pieces: &[&[u8]], max_message: usize) -> (Vec<WsEvent>, Result<(), WsError>) {
    let mut decoder = Rfc6455Decoder::new(max_message).with_binary();
    feed_all(pieces, |piece, events| decoder.feed(piece, events))
}
