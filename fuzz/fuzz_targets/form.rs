//! `form_value` on arbitrary bodies and field names.
#![no_main]

use io_core::http::form::{form_value, FormError};
use libfuzzer_sys::fuzz_target;

const NAMES: &[&str] = &["data", "", "a", "d a", "~", "é"];

fuzz_target!(|input: &[u8]| {
    let Some((&pick, body)) = input.split_first() else {
        return;
    };
    let name = NAMES[usize::from(pick) % NAMES.len()];
    match form_value(body, name) {
        Ok(value) => {
            // The value, encoded again as the only field, reads back the same.
            let encoded = format!("{}={}", encode(name), encode(&value));
            assert_eq!(form_value(encoded.as_bytes(), name), Ok(value.clone()));
            // A second field of the same name makes it ambiguous.
            let twice = format!("{encoded}&{encoded}");
            assert_eq!(
                form_value(twice.as_bytes(), name),
                Err(FormError::Repeated(name.to_owned()))
            );
        }
        Err(FormError::BadEscape { offset }) => {
            assert_eq!(
                body.get(offset),
                Some(&b'%'),
                "offset {offset} is not a `%`"
            );
        }
        Err(FormError::Missing(n)) | Err(FormError::Repeated(n)) => assert_eq!(n, name),
        Err(FormError::InvalidUtf8) => {}
        Err(other) => panic!("an error form_value never gives: {other:?}"),
    }
});

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else if b == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
