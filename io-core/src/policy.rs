//! The Flash socket policy: the probe Flash Player sends before opening a socket, and the answer.
//!
//! Flash asks on port 843 first and then on the target port itself, so the HTTP port must
//! recognise the probe before treating the bytes as HTTP.

use bytes::Bytes;

/// What Flash Player sends: 23 bytes, NUL included.
pub const PROBE: &[u8] = b"<policy-file-request/>\0";

/// How long a standalone policy listener waits for the probe before it hangs up: Flash
/// sends it at once, so a silent peer is not Flash.
pub const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

const HEAD: &str = "<?xml version=\"1.0\"?>\n\
<!DOCTYPE cross-domain-policy SYSTEM \"http://www.macromedia.com/xml/dtds/cross-domain-policy.dtd\">\n\
<cross-domain-policy>\n";
const TAIL: &str = "</cross-domain-policy>\n\0";

/// What the first bytes of a connection turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// Still a proper prefix of the probe: the probe may arrive over several reads.
    NeedMore,
    /// The probe: answer with the policy document and close.
    Policy,
    /// Anything else, normally HTTP.
    NotPolicy,
}

/// Looks at the first bytes of a fresh connection (everything received so far).
/// NeedMore while the bytes are a proper prefix of PROBE; Policy when they start with all of
/// PROBE; otherwise NotPolicy.
pub fn classify(first_bytes: &[u8]) -> Probe {
    if first_bytes.starts_with(PROBE) {
        Probe::Policy
    } else if PROBE.starts_with(first_bytes) {
        Probe::NeedMore
    } else {
        Probe::NotPolicy
    }
}

/// The policy document: the reference's bytes plus a trailing NUL, one
/// `<allow-access-from domain="A" to-ports="B"/>` line per (domain, ports) pair.
///
/// Values are XML-escaped because they come from configuration that may hold anything; the
/// reference wrote them raw.
pub fn policy_document<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> Bytes {
    let mut doc = String::from(HEAD);
    for (domain, ports) in entries {
        doc.push_str("<allow-access-from domain=\"");
        push_escaped(&mut doc, domain);
        doc.push_str("\" to-ports=\"");
        push_escaped(&mut doc, ports);
        doc.push_str("\"/>\n");
    }
    doc.push_str(TAIL);
    Bytes::from(doc)
}

fn push_escaped(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_document_for_any_origin() {
        let expected = b"<?xml version=\"1.0\"?>\n\
<!DOCTYPE cross-domain-policy SYSTEM \"http://www.macromedia.com/xml/dtds/cross-domain-policy.dtd\">\n\
<cross-domain-policy>\n\
<allow-access-from domain=\"*\" to-ports=\"*\"/>\n\
</cross-domain-policy>\n\0";
        assert_eq!(&policy_document([("*", "*")])[..], &expected[..]);
    }

    #[test]
    fn one_line_per_entry_in_order() {
        let doc = policy_document([
            ("good.example", "*"),
            ("*", "8443"),
            ("exact.example", "80"),
        ]);
        let doc = std::str::from_utf8(&doc).unwrap();
        let lines: Vec<&str> = doc
            .lines()
            .filter(|l| l.starts_with("<allow-access-from"))
            .collect();
        assert_eq!(
            lines,
            [
                r#"<allow-access-from domain="good.example" to-ports="*"/>"#,
                r#"<allow-access-from domain="*" to-ports="8443"/>"#,
                r#"<allow-access-from domain="exact.example" to-ports="80"/>"#,
            ]
        );
        assert!(doc.ends_with("</cross-domain-policy>\n\0"));
    }

    #[test]
    fn no_entries_gives_an_empty_policy() {
        let doc = policy_document([]);
        assert!(doc.ends_with(b"<cross-domain-policy>\n</cross-domain-policy>\n\0"));
    }

    #[test]
    fn values_are_escaped() {
        let doc = policy_document([("a\"/><x y='1'>&", "<80>")]);
        let doc = std::str::from_utf8(&doc).unwrap();
        assert!(doc.contains(
            "<allow-access-from domain=\"a&quot;/&gt;&lt;x y=&apos;1&apos;&gt;&amp;\" \
             to-ports=\"&lt;80&gt;\"/>\n"
        ));
    }

    #[test]
    fn probe_recognised_at_every_split() {
        for n in 0..PROBE.len() {
            assert_eq!(classify(&PROBE[..n]), Probe::NeedMore, "{n} bytes");
        }
        assert_eq!(classify(PROBE), Probe::Policy);
        let mut longer = PROBE.to_vec();
        longer.extend_from_slice(b"GET");
        assert_eq!(classify(&longer), Probe::Policy);
    }

    #[test]
    fn other_bytes_are_not_the_probe() {
        assert_eq!(classify(b"<"), Probe::NeedMore);
        assert_eq!(classify(b"G"), Probe::NotPolicy);
        assert_eq!(classify(b"GET / HTTP/1.1\r\n\r\n"), Probe::NotPolicy);
        assert_eq!(classify(b"<policy-file-request/>x"), Probe::NotPolicy);
        assert_eq!(classify(b"<policy"), Probe::NeedMore);
        assert_eq!(classify(b"<polic!"), Probe::NotPolicy);
    }
}
