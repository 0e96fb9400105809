//! TLS for tests: a certificate made on the spot, servers that speak TLS, and clients that
//! trust it.
//!
//! A server started with TLS registers its address here; every [`Conn`](crate::raw::Conn)
//! to a registered address speaks TLS, so the clients and scripts written for plain TCP
//! run unchanged over TLS.

use std::collections::HashSet;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use io_adapter::TlsConfig;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

/// A self-signed certificate for `localhost` and `127.0.0.1`, in PEM.
pub struct TestCert {
    pub cert_pem: String,
    pub key_pem: String,
    der: CertificateDer<'static>,
}

impl TestCert {
    /// A new certificate and key.
    pub fn generate() -> TestCert {
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let made = rcgen::generate_simple_self_signed(names).expect("a test certificate");
        TestCert {
            cert_pem: made.cert.pem(),
            key_pem: made.signing_key.serialize_pem(),
            der: made.cert.der().clone(),
        }
    }

    /// Writes `cert.pem` and `key.pem` into `dir`; returns their paths.
    pub fn write_to(&self, dir: &std::path::Path) -> (PathBuf, PathBuf) {
        std::fs::create_dir_all(dir).expect("a directory for the certificate");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, &self.cert_pem).expect("write cert.pem");
        std::fs::write(&key, &self.key_pem).expect("write key.pem");
        (cert, key)
    }
}

/// The certificate every test server of this process uses.
pub fn cert() -> &'static TestCert {
    static CERT: OnceLock<TestCert> = OnceLock::new();
    CERT.get_or_init(TestCert::generate)
}

/// The servers' side: the test certificate.
pub fn server_config() -> TlsConfig {
    TlsConfig::from_pem(cert().cert_pem.as_bytes(), cert().key_pem.as_bytes())
        .expect("the test certificate is usable")
}

/// A client that trusts the test certificate and nothing else.
pub fn client_config() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = RootCertStore::empty();
            roots.add(cert().der.clone()).expect("a trust anchor");
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("TLS versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}

fn registry() -> &'static Mutex<HashSet<SocketAddr>> {
    static SERVERS: OnceLock<Mutex<HashSet<SocketAddr>>> = OnceLock::new();
    SERVERS.get_or_init(Mutex::default)
}

/// From now on, connections to `addr` speak TLS.
pub fn register(addr: SocketAddr) {
    registry().lock().unwrap().insert(addr);
}

/// Whether connections to `addr` speak TLS.
pub fn is_tls(addr: SocketAddr) -> bool {
    registry().lock().unwrap().contains(&addr)
}

/// A TLS client stream over `tcp` (the handshake runs with the first read or write).
pub fn client(tcp: TcpStream) -> StreamOwned<ClientConnection, TcpStream> {
    let name = ServerName::try_from("localhost").expect("a server name");
    let conn = ClientConnection::new(client_config(), name).expect("a TLS client");
    StreamOwned::new(conn, tcp)
}
