//! What several fuzz targets do alike: cut an input into pieces, and feed a decoder piece
//! by piece.

use io_core::websocket::{WsError, WsEvent};

/// Cuts `data` at the given points (taken modulo its length, in order).
pub fn split<'a>(data: &'a [u8], cuts: &[u16]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = cuts
        .iter()
        .map(|&c| usize::from(c) % (data.len() + 1))
        .collect();
    cuts.sort_unstable();
    let mut pieces = Vec::new();
    let mut start = 0;
    for cut in cuts {
        pieces.push(&data[start..cut]);
        start = cut;
    }
    pieces.push(&data[start..]);
    pieces
}

/// Every event a WebSocket decoder gives for `pieces`, and its first error; once it has
/// failed, each later feed must give the same error and no event.
pub fn feed_all(
    pieces: &[&[u8]],
    mut feed: impl FnMut(&[u8], &mut Vec<WsEvent>) -> Result<(), WsError>,
) -> (Vec<WsEvent>, Result<(), WsError>) {
    let mut events = Vec::new();
    let mut result = Ok(());
    for piece in pieces {
        let before = events.len();
        let r = feed(piece, &mut events);
        match (&result, r) {
            (Ok(()), r) => result = r,
            (Err(first), r) => {
                assert_eq!(Err(first.clone()), r, "a failed decoder changed its error");
                assert_eq!(events.len(), before, "a failed decoder decoded more");
            }
        }
    }
    (events, result)
}
