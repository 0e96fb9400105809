//! The HTTP/1.1 client side: request writers and an incremental response parser, for bodies
//! framed by `Content-Length` or chunked (the original answers posts chunked).

/// A response head.
#[derive(Debug)]
pub struct Head {
    pub status: u16,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    /// Bytes of the head, the blank line included.
    pub len: usize,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }
}

/// The head at the start of `buf`, or `None` while it is incomplete.
pub fn parse_head(buf: &[u8]) -> Result<Option<Head>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut r = httparse::Response::new(&mut headers);
    match r.parse(buf) {
        Ok(httparse::Status::Partial) => Ok(None),
        Ok(httparse::Status::Complete(len)) => Ok(Some(Head {
            status: r.code.unwrap_or(0),
            headers: r
                .headers
                .iter()
                .map(|h| {
                    let value = String::from_utf8_lossy(h.value).into_owned();
                    (h.name.to_ascii_lowercase(), value)
                })
                .collect(),
            len,
        })),
        Err(e) => Err(format!("malformed HTTP response ({e}): {:?}", preview(buf))),
    }
}

/// A complete response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
    /// The server will close the connection after it.
    pub close: bool,
}

/// Takes one complete response off the front of `input`, or `None` while it is incomplete.
pub fn take_response(input: &mut Vec<u8>) -> Result<Option<Response>, String> {
    let Some(head) = parse_head(input)? else {
        return Ok(None);
    };
    let (body, end) = if head.has_token("transfer-encoding", "chunked") {
        match chunked(&input[head.len..])? {
            Some((body, n)) => (body, head.len + n),
            None => return Ok(None),
        }
    } else {
        let length = match head.header("content-length") {
            Some(v) => v
                .trim()
                .parse::<usize>()
                .map_err(|_| format!("bad Content-Length {v:?}"))?,
            None => return Err(format!("a response with no length: {:?}", preview(input))),
        };
        if input.len() < head.len + length {
            return Ok(None);
        }
        (
            input[head.len..head.len + length].to_vec(),
            head.len + length,
        )
    };
    input.drain(..end);
    Ok(Some(Response {
        status: head.status,
        body,
        close: head.has_token("connection", "close"),
    }))
}

/// A complete chunked body at the start of `buf` and the bytes it took, or `None` while it is
/// incomplete. Chunk extensions and trailers are skipped.
fn chunked(buf: &[u8]) -> Result<Option<(Vec<u8>, usize)>, String> {
    let line_end = |from: usize| {
        buf[from..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map(|p| from + p)
    };
    let (mut body, mut pos) = (Vec::new(), 0);
    loop {
        let Some(end) = line_end(pos) else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&buf[pos..end]).unwrap_or("");
        let hex = line.split(';').next().unwrap_or("").trim();
        let size =
            usize::from_str_radix(hex, 16).map_err(|_| format!("bad chunk size {line:?}"))?;
        pos = end + 2;
        if size == 0 {
            // Trailers, if any, end with an empty line.
            loop {
                let Some(end) = line_end(pos) else {
                    return Ok(None);
                };
                let empty = end == pos;
                pos = end + 2;
                if empty {
                    return Ok(Some((body, pos)));
                }
            }
        }
        if buf.len() < pos + size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&buf[pos..pos + size]);
        pos += size + 2;
    }
}

/// `GET <path>`; with `close`, asks the server to close the connection after answering.
pub fn get(path: &str, host: &str, close: bool, out: &mut Vec<u8>) {
    let connection = if close { "close" } else { "keep-alive" };
    out.extend_from_slice(
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: {connection}\r\n\r\n")
            .as_bytes(),
    );
}

/// `POST <path>` of a form body.
pub fn post_form(path: &str, host: &str, body: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(
        format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nConnection: keep-alive\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(body.as_bytes());
}

/// `application/x-www-form-urlencoded` encoding of a value.
pub fn urlencode(value: &str, out: &mut String) {
    for b in value.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(b as char)
            }
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 15) as usize] as char);
            }
        }
    }
}

/// The start of `buf`, for error messages.
pub fn preview(buf: &[u8]) -> String {
    String::from_utf8_lossy(&buf[..buf.len().min(120)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_in_pieces_and_back_to_back() {
        let mut input =
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nConn".to_vec();
        let r = take_response(&mut input).unwrap().unwrap();
        assert_eq!(
            (r.status, r.body.as_slice(), r.close),
            (200, &b"ok"[..], false)
        );
        assert!(take_response(&mut input).unwrap().is_none());
        input.extend_from_slice(b"ection: close\r\nContent-Length: 3\r\n\r\nab");
        assert!(take_response(&mut input).unwrap().is_none());
        input.push(b'c');
        let r = take_response(&mut input).unwrap().unwrap();
        assert_eq!((r.body.as_slice(), r.close), (&b"abc"[..], true));
        assert!(input.is_empty());
    }

    #[test]
    fn chunked_bodies() {
        let whole = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n1;x=y\r\n!\r\n0\r\n\r\nHTTP";
        for cut in 0..whole.len() - 4 {
            let mut input = whole[..cut].to_vec();
            assert!(
                take_response(&mut input).unwrap().is_none(),
                "complete at {cut}"
            );
        }
        let mut input = whole.to_vec();
        assert_eq!(take_response(&mut input).unwrap().unwrap().body, b"ok!");
        assert_eq!(input, b"HTTP");
        let mut bad = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec();
        assert!(take_response(&mut bad).is_err());
    }

    #[test]
    fn refuses_a_body_with_no_length() {
        let mut unframed = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
        assert!(take_response(&mut unframed).is_err());
    }

    #[test]
    fn form_encoding() {
        let mut s = String::new();
        urlencode("~m~3~m~a b", &mut s);
        assert_eq!(s, "%7Em%7E3%7Em%7Ea%20b");
    }
}
