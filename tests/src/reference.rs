//! Running the reference server (npm `socket.io@0.6.18`, see `reference/`) as a child process.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// A server under test. The reference server's child process is killed when this is dropped.
pub struct Target {
    pub addr: SocketAddr,
    child: Option<Child>,
}

impl Target {
    /// A server that something else runs (for example our own server on a thread).
    pub fn external(addr: SocketAddr) -> Target {
        Target { addr, child: None }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The folder holding `server.js`, `shim.js` and the npm lock file.
pub fn reference_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("reference")
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

/// Starts `node server.js --mode <mode> --port <free port>` in `reference/`, passing
/// `transport_options_json` (a JSON object keyed by transport name, or `""` for none) as
/// `--transport-options`, and waits until the port accepts connections.
pub fn reference(mode: &str, transport_options_json: &str) -> Target {
    let dir = reference_dir();
    let modules = dir.join("node_modules");
    assert!(
        modules.join("socket.io").is_dir(),
        "the reference server is not installed: run `npm ci` in the tests/reference folder \
         (expected {})",
        modules.display()
    );
    let mut last_error = String::new();
    // A port picked as free can be taken by someone else before node binds it: retry then.
    for _ in 0..5 {
        let port = free_port();
        let mut cmd = Command::new("node");
        cmd.current_dir(&dir)
            .env("NODE_PATH", &modules)
            .arg("server.js")
            .arg("--mode")
            .arg(mode)
            .arg("--port")
            .arg(port.to_string());
        if !transport_options_json.is_empty() {
            cmd.arg("--transport-options").arg(transport_options_json);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `node` (is Node.js installed?): {e}"));
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut target = Target {
            addr,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return target;
            }
            if let Some(status) = target
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                last_error = format!("node exited with {status} before accepting connections");
                break;
            }
            if Instant::now() > deadline {
                last_error = "node did not accept connections within 10 s".to_string();
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("could not start the reference server: {last_error}");
}
