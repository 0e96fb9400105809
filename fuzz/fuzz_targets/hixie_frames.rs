//! The hixie-75/76 frame decoder on arbitrary bytes, fed whole and in pieces.
#![no_main]

use arbitrary::Arbitrary;
use io_core::websocket::hixie::HixieDecoder;
use io_core::websocket::{WsError, WsEvent};
use io_core_fuzz::{feed_all, split};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    max_frame: u8,
    cuts: Vec<u16>,
    data: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let max_frame = usize::from(input.max_frame);
    let data = &input.data;
    let pieces = split(data, &input.cuts);

    let whole = run(&[data], max_frame);
    assert_eq!(whole, run(&pieces, max_frame), "pieces: {pieces:?}");
    let bytewise: Vec<&[u8]> = data.chunks(1).collect();
    assert_eq!(whole, run(&bytewise, max_frame));

    let (events, result) = &whole;
    for (i, ev) in events.iter().enumerate() {
        match ev {
            WsEvent::Text(text) => assert!(text.len() <= max_frame),
            WsEvent::Close { code, reason } => {
                assert_eq!((code, reason.as_str()), (&None, ""));
                assert_eq!(i, events.len() - 1, "nothing is decoded after the close");
            }
            other => panic!("hixie decoded {other:?}"),
        }
    }
    if let Err(e) = result {
        assert!(matches!(e.close_code, 1002 | 1007 | 1009));
    }
});

fn run(pieces: &[&[u8]], max_frame: usize) -> (Vec<WsEvent>, Result<(), WsError>) {
    let mut decoder = HixieDecoder::new(max_frame);
    feed_all(pieces, |piece, events| decoder.feed(piece, events))
}
