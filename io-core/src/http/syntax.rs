//! The byte-level shape of a request head, checked as the bytes arrive.
//!
//! Bytes that cannot be a request (a TLS handshake typed as `https://` for the plain port,
//! binary garbage, a control character, a method or header name that is no token) are
//! refused the moment they are seen, instead of when the head limit or the request timeout
//! is reached. The check is a state machine that looks at each byte once, so it costs the
//! same however the head is split, and finds the same first error either way. It is more
//! lenient than the full parse (`httparse`), which still reads the complete head: it only
//! refuses what that parse would refuse too.

use super::parser::HttpError;

/// The first byte of a TLS record that carries a handshake (a ClientHello).
const TLS_HANDSHAKE: u8 = 0x16;

/// Where in the head the next byte falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    Method {
        len: usize,
    },
    Target {
        len: usize,
    },
    Version {
        len: usize,
    },
    /// A CR ended the request line or a header line.
    LineCr,
    /// The start of a header line, or of the empty line that ends the head.
    LineStart,
    /// A CR at the start of a line: the head ends with the LF.
    EndCr,
    Name,
    Value,
    /// The empty line arrived: the head is complete.
    End,
}

#[derive(Debug, Clone)]
pub(crate) struct HeadSyntax {
    at: At,
    version: [u8; 8],
}

impl Default for HeadSyntax {
    fn default() -> Self {
        HeadSyntax {
            at: At::Method { len: 0 },
            version: [0; 8],
        }
    }
}

impl HeadSyntax {
    /// Checks the next bytes of the head (empty lines before it excluded), up to its end.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Result<(), HttpError> {
        let mut rest = bytes;
        while let Some((&b, tail)) = rest.split_first() {
            self.at = self.step(b)?;
            // Most of a head is values, targets and names: the bytes that would leave the
            // state as it is are skipped in one go, not stepped one by one.
            let run = match self.at {
                At::Value => Some(run_of(tail, b' ')),
                At::Target { .. } => Some(run_of(tail, b' ' + 1)),
                At::Name | At::Method { .. } => tail.iter().position(|&c| !is_token(c)),
                _ => Some(0),
            }
            .unwrap_or(tail.len());
            self.at = match self.at {
                At::Target { len } => At::Target { len: len + run },
                At::Method { len } => At::Method { len: len + run },
                other => other,
            };
            rest = tail.get(run..).unwrap_or_default();
        }
        Ok(())
    }

    fn step(&mut self, b: u8) -> Result<At, HttpError> {
        let target = || HttpError::Malformed("invalid method or request target");
        let line_end = || HttpError::Malformed("invalid line ending");
        Ok(match self.at {
            At::Method { len: 0 } if b == TLS_HANDSHAKE => {
                return Err(HttpError::Malformed(
                    "this is a TLS handshake, and the port speaks plain HTTP (use http://)",
                ))
            }
            At::Method { len } if is_token(b) => At::Method { len: len + 1 },
            At::Method { len } if b == b' ' && len > 0 => At::Target { len: 0 },
            At::Method { .. } => return Err(target()),
            At::Target { len } if b == b' ' && len > 0 => At::Version { len: 0 },
            At::Target { len } if b > b' ' && b != 0x7F => At::Target { len: len + 1 },
            At::Target { .. } => return Err(target()),
            At::Version { len } if b == b'\r' || b == b'\n' => {
                let version = self.version.get(..len).unwrap_or_default();
                if version != b"HTTP/1.1" && version != b"HTTP/1.0" {
                    return Err(HttpError::UnsupportedVersion);
                }
                if b == b'\r' {
                    At::LineCr
                } else {
                    At::LineStart
                }
            }
            At::Version { len } => match self.version.get_mut(len) {
                Some(slot) => {
                    *slot = b;
                    At::Version { len: len + 1 }
                }
                None => return Err(HttpError::UnsupportedVersion),
            },
            At::LineCr if b == b'\n' => At::LineStart,
            At::LineCr => return Err(line_end()),
            At::LineStart if b == b'\n' => At::End,
            At::LineStart if b == b'\r' => At::EndCr,
            At::LineStart | At::Name if is_token(b) => At::Name,
            // A line that starts with white space continues the previous one (obsolete line
            // folding): the full parse decides what to make of it.
            At::LineStart if b == b' ' || b == b'\t' => At::Value,
            At::LineStart => return Err(HttpError::Malformed("invalid header name")),
            At::Name if b == b':' => At::Value,
            At::Name => return Err(HttpError::Malformed("invalid header name")),
            At::EndCr if b == b'\n' => At::End,
            At::EndCr => return Err(line_end()),
            At::Value if b == b'\r' => At::LineCr,
            At::Value if b == b'\n' => At::LineStart,
            At::Value if b == b'\t' || (b >= b' ' && b != 0x7F) => At::Value,
            At::Value => return Err(HttpError::Malformed("invalid header value")),
            At::End => At::End,
        })
    }
}

/// `tchar` of RFC 9110 §5.6.2.
fn is_token(b: u8) -> bool {
    TOKEN.get(usize::from(b)).copied().unwrap_or(false)
}

/// How many bytes at the start of `bytes` are at least `low` and not DEL: eight at a time,
/// since values and targets are most of a head.
fn run_of(bytes: &[u8], low: u8) -> usize {
    const ONES: u64 = u64::MAX / 255;
    let mut done = 0;
    for chunk in bytes.chunks_exact(8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        // A byte below `low` (which is at most 128), or a byte equal to DEL.
        let below = x.wrapping_sub(ONES * u64::from(low)) & !x & (ONES * 0x80);
        let d = x ^ (ONES * 0x7F);
        let del = d.wrapping_sub(ONES) & !d & (ONES * 0x80);
        if below | del != 0 {
            break;
        }
        done += 8;
    }
    let tail = bytes.get(done..).unwrap_or_default();
    done + tail
        .iter()
        .position(|&c| c < low || c == 0x7F)
        .unwrap_or(tail.len())
}

#[expect(
    clippy::indexing_slicing,
    reason = "a constant: b < 256 indexes a table of 256"
)]
static TOKEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    fn check(bytes: &[u8]) -> Result<(), HttpError> {
        HeadSyntax::default().feed(bytes)
    }

    #[test]
    fn real_heads_pass() {
        for head in [
            &b"GET /socket.io/xhr-polling//1?t=2 HTTP/1.1\r\nHost: x\r\nX-Empty:\r\n\r\n"[..],
            b"POST /a HTTP/1.0\nContent-Length: 3\n\n",
            b"GET / HTTP/1.1\r\nUser-Agent: Mozilla/5.0 (X11; Linux) \xc3\xa9\r\n\tfolded\r\n\r\n",
        ] {
            assert_eq!(check(head), Ok(()), "{:?}", String::from_utf8_lossy(head));
        }
    }

    #[test]
    fn each_impossible_byte_is_refused_where_it_is() {
        let malformed = |m: &'static str| Err(HttpError::Malformed(m));
        assert!(
            matches!(check(b"\x16\x03\x01"), Err(HttpError::Malformed(m)) if m.contains("TLS"))
        );
        assert_eq!(check(b"G{T"), malformed("invalid method or request target"));
        assert_eq!(
            check(b" GET"),
            malformed("invalid method or request target")
        );
        assert_eq!(
            check(b"GET /\x00"),
            malformed("invalid method or request target")
        );
        assert_eq!(
            check(b"GET / HTTP/9.1\r"),
            Err(HttpError::UnsupportedVersion)
        );
        assert_eq!(
            check(b"GET / HTTP/1.1.1"),
            Err(HttpError::UnsupportedVersion)
        );
        assert_eq!(
            check(b"GET / HTTP/1.1\rX"),
            malformed("invalid line ending")
        );
        assert_eq!(
            check(b"GET / HTTP/1.1\r\nBad Name"),
            malformed("invalid header name")
        );
        assert_eq!(
            check(b"GET / HTTP/1.1\r\n:x"),
            malformed("invalid header name")
        );
        assert_eq!(
            check(b"GET / HTTP/1.1\r\nA: b\x01"),
            malformed("invalid header value")
        );
        assert_eq!(
            check(b"GET / HTTP/1.1\r\nA: b\r\n\rX"),
            malformed("invalid line ending")
        );
    }

    #[test]
    fn runs_stop_at_the_first_byte_that_ends_them() {
        for len in 0..40 {
            for stop in [0x00, 0x09, 0x1F, b' ', 0x7F] {
                let mut bytes: Vec<u8> =
                    (0..len).map(|i| [b'a', 0x80, 0xFF, b'~'][i % 4]).collect();
                let expected = bytes.len();
                bytes.push(stop);
                bytes.extend_from_slice(b"more");
                let want = |low: u8| {
                    if stop < low || stop == 0x7F {
                        expected
                    } else {
                        bytes.len()
                    }
                };
                assert_eq!(
                    run_of(&bytes, b' '),
                    want(b' '),
                    "len {len}, stop {stop:#x}"
                );
                assert_eq!(
                    run_of(&bytes, b' ' + 1),
                    want(b' ' + 1),
                    "len {len}, stop {stop:#x}"
                );
            }
        }
    }

    #[test]
    fn the_first_error_is_found_however_the_bytes_are_split() {
        let input = b"GET / HTTP/1.1\r\nA: b\r\nBad\x01: \x02\r\n\r\n";
        let whole = check(input);
        assert!(whole.is_err());
        for at in 0..=input.len() {
            let mut s = HeadSyntax::default();
            let (a, b) = input.split_at(at);
            assert_eq!(s.feed(a).and_then(|()| s.feed(b)), whole, "split at {at}");
        }
    }
}
