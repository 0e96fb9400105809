//! `application/x-www-form-urlencoded` bodies, as the XHR and JSONP transports post them.
//!
//! Only whole bodies are decoded: the reference decoded each TCP read on its own and so broke
//! UTF-8 sequences split across reads.

use std::fmt;

/// The single value of field `name`: `+` is a space, `%XX` is a byte; the decoded bytes must be
/// UTF-8.
///
/// Other fields are ignored, but their names are decoded to compare them with `name`, so a bad
/// escape in any field name is reported.
pub fn form_value(body: &[u8], name: &str) -> Result<String, FormError> {
    let mut found: Option<(&[u8], usize)> = None;
    let mut start = 0;
    for field in body.split(|&b| b == b'&') {
        let field_start = start;
        start += field.len() + 1;
        if field.is_empty() {
            continue;
        }
        let (key, value, value_start) = match field.iter().position(|&b| b == b'=') {
            Some(eq) => (
                field.get(..eq).unwrap_or_default(),
                field.get(eq + 1..).unwrap_or_default(),
                field_start + eq + 1,
            ),
            None => (field, &[][..], field_start + field.len()),
        };
        if decode(key, field_start)? != name.as_bytes() {
            continue;
        }
        if found.is_some() {
            return Err(FormError::Repeated(name.to_owned()));
        }
        found = Some((value, value_start));
    }
    let (value, value_start) = found.ok_or_else(|| FormError::Missing(name.to_owned()))?;
    String::from_utf8(decode(value, value_start)?).map_err(|_| FormError::InvalidUtf8)
}

/// Percent-decodes `raw`, which starts at byte `base` of the body (for error offsets).
fn decode(raw: &[u8], base: usize) -> Result<Vec<u8>, FormError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = raw.get(i + 1).and_then(|&h| hex_value(h));
                let lo = raw.get(i + 2).and_then(|&l| hex_value(l));
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push((hi << 4) | lo),
                    _ => return Err(FormError::BadEscape { offset: base + i }),
                }
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    Ok(out)
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Why a form field could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FormError {
    /// The field is not in the body.
    Missing(String),
    /// The field appears more than once, so which value is meant is unclear.
    Repeated(String),
    /// A `%` at this byte offset of the body is not followed by two hex digits.
    BadEscape {
        /// Where the `%` is, in bytes from the start of the body.
        offset: usize,
    },
    /// The decoded value is not UTF-8.
    InvalidUtf8,
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormError::Missing(name) => write!(f, "form body has no `{name}` field"),
            FormError::Repeated(name) => {
                write!(f, "form body has more than one `{name}` field")
            }
            FormError::BadEscape { offset } => write!(
                f,
                "form body has a `%` not followed by two hex digits at byte {offset}"
            ),
            FormError::InvalidUtf8 => f.write_str("form value is not valid UTF-8 once decoded"),
        }
    }
}

impl std::error::Error for FormError {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_the_data_field() {
        assert_eq!(form_value(b"data=~m~1~m~a", "data").unwrap(), "~m~1~m~a");
        assert_eq!(
            form_value(b"data=%7Em%7E2%7Em%7E%F0%9F%98%80", "data").unwrap(),
            "~m~2~m~😀"
        );
        assert_eq!(form_value(b"data=a+b%2Bc", "data").unwrap(), "a b+c");
        assert_eq!(form_value(b"x=1&&data=v&y", "data").unwrap(), "v");
        assert_eq!(form_value(b"data=", "data").unwrap(), "");
        assert_eq!(form_value(b"data", "data").unwrap(), "");
        assert_eq!(form_value(b"d%61ta=v", "data").unwrap(), "v");
        assert_eq!(form_value(b"data=a=b", "data").unwrap(), "a=b");
        assert_eq!(form_value("data=é".as_bytes(), "data").unwrap(), "é");
    }

    #[test]
    fn other_fields_are_ignored() {
        assert_eq!(form_value(b"x=%zz&data=ok&dat=1", "data").unwrap(), "ok");
    }

    #[test]
    fn reports_each_error() {
        assert_eq!(
            form_value(b"", "data"),
            Err(FormError::Missing("data".into()))
        );
        assert_eq!(
            form_value(b"datum=1", "data"),
            Err(FormError::Missing("data".into()))
        );
        assert_eq!(
            form_value(b"data=a&data=b", "data"),
            Err(FormError::Repeated("data".into()))
        );
        assert_eq!(
            form_value(b"data=a%2", "data"),
            Err(FormError::BadEscape { offset: 6 })
        );
        assert_eq!(
            form_value(b"x=1&data=%g0", "data"),
            Err(FormError::BadEscape { offset: 9 })
        );
        assert_eq!(
            form_value(b"d%ata=1", "data"),
            Err(FormError::BadEscape { offset: 1 })
        );
        assert_eq!(form_value(b"data=%FF", "data"), Err(FormError::InvalidUtf8));
        assert_eq!(
            form_value(b"data=%F0%9F", "data"),
            Err(FormError::InvalidUtf8)
        );
    }

    fn percent_encode(s: &str, plus_for_space: bool) -> String {
        let mut out = String::new();
        for &b in s.as_bytes() {
            if b == b' ' && plus_for_space {
                out.push('+');
            } else if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }

    proptest! {
        #[test]
        fn encoded_strings_decode_back(s in any::<String>(), plus in any::<bool>()) {
            let body = format!("a=1&data={}&b=%zz", percent_encode(&s, plus));
            prop_assert_eq!(form_value(body.as_bytes(), "data").unwrap(), s);
        }

        #[test]
        fn never_panics(body in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = form_value(&body, "data");
        }

        #[test]
        fn never_panics_on_near_forms(body in "(data|=|&|%|[0-9a-fA-F]|\\+|é){0,30}") {
            let _ = form_value(body.as_bytes(), "data");
        }
    }
}
