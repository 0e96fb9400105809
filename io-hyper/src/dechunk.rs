//! Takes the chunk framing off a chunked body the core wrote, so that hyper can frame the
//! data its own way. The core writes `{hex size}\r\n{data}\r\n` and ends with `0\r\n\r\n`:
//! anything else is its bug, reported as an error rather than guessed around.

use bytes::{Buf, Bytes, BytesMut};

/// Where the decoder is in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dechunk {
    /// Before a chunk's size line.
    Size,
    /// Inside a chunk: this many data bytes to go.
    Data(usize),
    /// After a chunk's data: its CRLF.
    DataEnd,
    /// After the last chunk's size line: the final CRLF.
    LastEnd,
    /// The body is complete.
    Done,
}

/// What one step gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Data of the body.
    Data(Bytes),
    /// More input is needed.
    More,
    /// The body is complete.
    Done,
}

/// The chunked framing was not the core's: the exchange is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadChunk;

/// A size line longer than this is not one the core wrote.
const MAX_SIZE_LINE: usize = 18;

impl Dechunk {
    /// Decodes from the front of `input` what can be, consuming it.
    pub fn step(&mut self, input: &mut BytesMut) -> Result<Step, BadChunk> {
        loop {
            match *self {
                Dechunk::Done => return Ok(Step::Done),
                Dechunk::Data(n) => {
                    if input.is_empty() {
                        return Ok(Step::More);
                    }
                    let take = n.min(input.len());
                    let data = input.split_to(take).freeze();
                    *self = if take == n {
                        Dechunk::DataEnd
                    } else {
                        Dechunk::Data(n - take)
                    };
                    return Ok(Step::Data(data));
                }
                Dechunk::DataEnd | Dechunk::LastEnd => {
                    if input.len() < 2 {
                        return Ok(Step::More);
                    }
                    if input.get(..2) != Some(b"\r\n") {
                        return Err(BadChunk);
                    }
                    input.advance(2);
                    *self = if *self == Dechunk::LastEnd {
                        Dechunk::Done
                    } else {
                        Dechunk::Size
                    };
                }
                Dechunk::Size => {
                    let Some(end) = input.windows(2).position(|w| w == b"\r\n") else {
                        return if input.len() > MAX_SIZE_LINE {
                            Err(BadChunk)
                        } else {
                            Ok(Step::More)
                        };
                    };
                    let line = input.get(..end).ok_or(BadChunk)?;
                    let size = std::str::from_utf8(line)
                        .ok()
                        .and_then(|s| usize::from_str_radix(s, 16).ok())
                        .ok_or(BadChunk)?;
                    input.advance(end + 2);
                    *self = if size == 0 {
                        Dechunk::LastEnd
                    } else {
                        Dechunk::Data(size)
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `wire` fed in pieces of `at` bytes, collecting the data.
    fn decode(wire: &[u8], at: usize) -> Result<(Vec<u8>, bool), BadChunk> {
        let mut d = Dechunk::Size;
        let mut input = BytesMut::new();
        let mut out = Vec::new();
        for piece in wire.chunks(at.max(1)) {
            input.extend_from_slice(piece);
            loop {
                match d.step(&mut input)? {
                    Step::Data(b) => out.extend_from_slice(&b),
                    Step::More => break,
                    Step::Done => return Ok((out, true)),
                }
            }
        }
        Ok((out, false))
    }

    #[test]
    fn the_data_comes_out_however_the_input_is_split() {
        let wire = b"5\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n";
        for at in 1..=wire.len() {
            let (data, done) = decode(wire, at).unwrap();
            assert_eq!(data, b"helloabcdefghijklmnopqrstuvwxyz", "split at {at}");
            assert!(done, "split at {at}");
        }
    }

    #[test]
    fn an_unfinished_body_asks_for_more() {
        assert_eq!(decode(b"5\r\nhel", 100).unwrap(), (b"hel".to_vec(), false));
        assert_eq!(decode(b"0\r\n", 100).unwrap(), (Vec::new(), false));
    }

    #[test]
    fn framing_the_core_never_writes_is_an_error() {
        for bad in [
            &b"zz\r\nhello\r\n"[..],
            b"5\r\nhelloXX",
            b"0\r\nX\r\n",
            b"1234567890123456789012",
        ] {
            assert_eq!(decode(bad, 100), Err(BadChunk), "{bad:?}");
        }
    }
}
