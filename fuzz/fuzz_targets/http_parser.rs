//! The incremental request parser on arbitrary bytes cut at arbitrary points.
//!
//! Feeding the bytes in pieces must give the same requests, leftover and error as feeding
//! them whole, and the parser must never hold more than its limits allow.
#![no_main]

use arbitrary::Arbitrary;
use io_core::http::parser::{HttpError, RequestParser};
use io_core::Request;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    /// Picks `max_head` and `max_body`, small so the limits are hit.
    head_limit: u8,
    body_limit: u8,
    /// Where the bytes are cut, as offsets reduced modulo the length.
    cuts: Vec<u16>,
    data: Vec<u8>,
}

#[derive(Debug, PartialEq)]
struct Outcome {
    /// Requests completed before the stream ended or broke.
    requests: Vec<Request>,
    /// The error that broke the stream, or the bytes the parser left to the next layer.
    end: Result<Vec<u8>, HttpError>,
}

fuzz_target!(|input: Input| {
    let max_head = 16 + usize::from(input.head_limit) * 4;
    let max_body = usize::from(input.body_limit);
    let data = &input.data;

    let pieces = io_core_fuzz::split(data, &input.cuts);

    let whole = drive(&[data], max_head, max_body);
    let split = drive(&pieces, max_head, max_body);
    assert_eq!(whole, split, "pieces: {pieces:?}");
    let bytewise: Vec<&[u8]> = data.chunks(1).collect();
    assert_eq!(whole, drive(&bytewise, max_head, max_body));
});

/// Feeds `pieces` as the server does: unconsumed bytes are kept and fed again with the next
/// piece. Stops after an upgrade request, whose following bytes belong to the next layer.
fn drive(pieces: &[&[u8]], max_head: usize, max_body: usize) -> Outcome {
    let mut parser = RequestParser::new(max_head, max_body);
    let mut pending = Vec::new();
    let mut requests = Vec::new();
    let mut upgraded = false;
    for piece in pieces {
        pending.extend_from_slice(piece);
        while !upgraded && !pending.is_empty() {
            let progress = match parser.feed(&pending) {
                Ok(p) => p,
                Err(e) => {
                    // Errors are sticky.
                    assert_eq!(parser.feed(b"GET / HTTP/1.1\r\n\r\n"), Err(e.clone()));
                    assert_eq!(parser.feed(b""), Err(e.clone()));
                    assert!((400..600).contains(&e.status()));
                    let _ = e.to_string();
                    return Outcome {
                        requests,
                        end: Err(e),
                    };
                }
            };
            assert!(progress.consumed <= pending.len());
            pending.drain(..progress.consumed);
            check_bounded(&parser, max_head, max_body);
            match progress.request {
                Some(request) => {
                    check_request(&request, max_head, max_body);
                    assert!(
                        parser.is_idle(),
                        "a finished request leaves nothing buffered"
                    );
                    upgraded = request.is_upgrade();
                    requests.push(request);
                }
                None => {
                    assert!(pending.is_empty(), "an incomplete request takes all input");
                    break;
                }
            }
        }
    }
    Outcome {
        requests,
        end: Ok(pending),
    }
}

/// A request never holds more than the limits let in.
fn check_request(request: &Request, max_head: usize, max_body: usize) {
    assert!(request.body.len() <= max_body, "body over the limit");
    let head = request.method.len()
        + request.target.len()
        + request
            .headers
            .iter()
            .map(|(n, v)| n.len() + v.len())
            .sum::<usize>();
    assert!(head <= max_head, "head over the limit");
}

/// What the parser holds, measured through its `Debug` form: every buffered byte prints as
/// at most a few characters, so the form's length bounds the buffers.
fn check_bounded(parser: &RequestParser, max_head: usize, max_body: usize) {
    let shown = format!("{parser:?}").len();
    let bound = 8 * (max_head + max_body) + 64 * 40 + 1024;
    assert!(
        shown <= bound,
        "parser holds too much: {shown} > {bound} debug characters"
    );
}
