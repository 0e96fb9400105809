//! The six transports. Each module owns what is particular to it: how a payload is
//! wrapped on the wire, and the headers it answers with. What they share lives here.

use std::fmt;

pub mod htmlfile;
pub mod jsonp_polling;
mod payload;

pub(crate) use payload::Payload;
pub mod websocket;
pub mod xhr_multipart;
pub mod xhr_polling;

/// A transport's name, as it appears in URLs and in the `transports` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TransportKind {
    /// `websocket`: a native WebSocket, in the hixie-75, hixie-76 or RFC 6455 flavour.
    WebSocket = 0,
    /// `flashsocket`: the same WebSocket protocol from the client's Flash fallback, which needs
    /// the Flash policy (the policy server, or the inline answer).
    FlashSocket = 1,
    /// `htmlfile`: the forever iframe, a chunked HTML document with a `<script>` per payload
    /// (Internet Explorer).
    HtmlFile = 2,
    /// `xhr-multipart`: one `multipart/x-mixed-replace` response streaming a part per payload.
    XhrMultipart = 3,
    /// `xhr-polling`: long polling with `XMLHttpRequest`; messages go up by POST.
    XhrPolling = 4,
    /// `jsonp-polling`: long polling through `<script>` tags, for browsers without
    /// cross-origin XHR.
    JsonpPolling = 5,
}

impl TransportKind {
    /// How many transports there are; the discriminants run from 0 to `COUNT - 1`.
    pub const COUNT: usize = 6;
    /// The seed's default order of preference.
    pub const ALL: [TransportKind; 6] = [
        TransportKind::WebSocket,
        TransportKind::FlashSocket,
        TransportKind::HtmlFile,
        TransportKind::XhrMultipart,
        TransportKind::XhrPolling,
        TransportKind::JsonpPolling,
    ];

    /// The name in URLs and in the `transports` option (`xhr-polling`, …).
    pub fn name(self) -> &'static str {
        match self {
            TransportKind::WebSocket => "websocket",
            TransportKind::FlashSocket => "flashsocket",
            TransportKind::HtmlFile => "htmlfile",
            TransportKind::XhrMultipart => "xhr-multipart",
            TransportKind::XhrPolling => "xhr-polling",
            TransportKind::JsonpPolling => "jsonp-polling",
        }
    }

    /// The transport with exactly this name (case-sensitive); `str::parse` does the same with
    /// an error that lists the valid names.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// One HTTP response per payload; the session lives between polls.
    pub fn is_polling(self) -> bool {
        matches!(
            self,
            TransportKind::XhrPolling | TransportKind::JsonpPolling
        )
    }

    /// Carried over an upgraded socket.
    pub fn is_websocket(self) -> bool {
        matches!(self, TransportKind::WebSocket | TransportKind::FlashSocket)
    }

    /// Reached with `XMLHttpRequest`, so cross-origin pages need CORS headers.
    pub fn uses_cors(self) -> bool {
        matches!(
            self,
            TransportKind::XhrPolling | TransportKind::XhrMultipart
        )
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown transport name in the `transports` option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownTransport(pub String);

impl fmt::Display for UnknownTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown transport {:?}; expected one of websocket, flashsocket, htmlfile, \
             xhr-multipart, xhr-polling, jsonp-polling",
            self.0
        )
    }
}

impl std::error::Error for UnknownTransport {}

impl std::str::FromStr for TransportKind {
    type Err = UnknownTransport;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s).ok_or_else(|| UnknownTransport(s.to_owned()))
    }
}

/// CORS answer for one cross-origin XHR request from an allowed origin.
///
/// The reference sent `Access-Control-Allow-Origin: *` together with
/// `Allow-Credentials: true`, a pair browsers refuse; we echo the origin instead, and say
/// `Vary: Origin` so that caches keep answers for different origins apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    /// The request's `Origin`, echoed as `Access-Control-Allow-Origin`.
    pub origin: String,
    /// Also send `Access-Control-Allow-Credentials: true`: for xhr-multipart, and for requests
    /// that carry cookies.
    pub credentials: bool,
}

impl Cors {
    /// The header fields to add to the response.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        [
            Some(("Access-Control-Allow-Origin", self.origin.as_str())),
            self.credentials
                .then_some(("Access-Control-Allow-Credentials", "true")),
            Some(("Vary", "Origin")),
        ]
        .into_iter()
        .flatten()
    }
}

/// A payload as a JavaScript string literal that is also safe inside an HTML `<script>`.
///
/// JSON escaping alone lets `</script>` through (the reference's htmlfile XSS); escaping
/// `<`, `>` and `&` closes that, and U+2028/U+2029 are escaped because older JavaScript
/// engines end a string literal at them. Everything outside printable ASCII is escaped
/// too, so the result means the same whatever charset the browser guesses for the
/// document or script (htmlfile and JSONP responses name none, as in the original).
pub fn script_string(payload: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(payload.len() + 2);
    out.push('"');
    for c in payload.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The payload's segments joined into one string (they are whole UTF-8 frames).
pub(crate) fn joined(payload: &[bytes::Bytes]) -> String {
    let mut s = Vec::with_capacity(payload.iter().map(|b| b.len()).sum());
    for b in payload {
        s.extend_from_slice(b);
    }
    String::from_utf8(s).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in TransportKind::ALL {
            assert_eq!(k.name().parse::<TransportKind>(), Ok(k));
        }
        assert!("inexistent".parse::<TransportKind>().is_err());
    }

    #[test]
    fn script_string_escapes_markup() {
        let s = script_string("~m~9~m~</script>\u{2028}\"\\");
        assert_eq!(s, r#""~m~9~m~\u003c/script\u003e\u2028\"\\""#);
        // Still a JSON string that decodes to the original.
        let back: String = serde_json::from_str(&s).unwrap();
        assert_eq!(back, "~m~9~m~</script>\u{2028}\"\\");
    }

    proptest::proptest! {
        #[test]
        fn script_string_is_json_and_has_no_markup(s in "\\PC*") {
            let lit = script_string(&s);
            proptest::prop_assert!(!lit.contains('<') && !lit.contains('>') && !lit.contains('&'));
            proptest::prop_assert!(lit.bytes().all(|b| (0x20..0x7f).contains(&b)));
            let back: String = serde_json::from_str(&lit).unwrap();
            proptest::prop_assert_eq!(back, s);
        }
    }
}
