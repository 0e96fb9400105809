//! Writes a new self-signed certificate for `localhost` and `127.0.0.1` (`cert.pem`,
//! `key.pem`) into the directory given, for tests that run servers over TLS from outside
//! Rust (the browser tests).
//!
//! ```text
//! test-cert DIR
//! ```

fn main() {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: test-cert DIR");
        std::process::exit(2);
    };
    let (cert, key) = tests::tls::TestCert::generate().write_to(std::path::Path::new(&dir));
    println!("{}\n{}", cert.display(), key.display());
}
