//! nginx (Debian's package) as a child process, for tests of the configurations in
//! `examples/nginx/`: the configuration is the committed file with its addresses and paths
//! replaced, wrapped in a main configuration that keeps everything in a directory of the
//! test's own.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running nginx; stopped on drop.
pub struct Nginx {
    child: Child,
    dir: PathBuf,
}

/// Where nginx is: `$NGINX`, else Debian's path.
pub fn binary() -> PathBuf {
    std::env::var_os("NGINX")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/usr/sbin/nginx".into())
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The committed configuration `examples/nginx/<name>`, with each `from` replaced by its
/// `to`. Every `from` must occur, so that the file and the test cannot drift apart.
pub fn example_config(name: &str, replace: &[(&str, String)]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/nginx")
        .join(name);
    let mut text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    for (from, to) in replace {
        assert!(text.contains(from), "{name} no longer contains {from:?}");
        text = text.replace(from, to);
    }
    text
}

impl Nginx {
    /// Starts nginx with `http_config` inside its `http` block, and waits until `listen`
    /// accepts connections.
    pub fn start(http_config: &str, listen: SocketAddr) -> Nginx {
        let nginx = binary();
        assert!(
            nginx.exists(),
            "nginx not found at {}: install it (apt-get install -y nginx) or set NGINX",
            nginx.display()
        );
        let dir =
            std::env::temp_dir().join(format!("io-nginx-{}-{}", std::process::id(), listen.port()));
        std::fs::create_dir_all(&dir).expect("nginx's directory");
        let d = dir.display();
        let main = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log warn;\nevents {{ worker_connections 1024; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  \
             proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  \
             uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n{http_config}\n}}\n"
        );
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, main).expect("write nginx.conf");
        let child = Command::new(&nginx)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", nginx.display()));
        let mut n = Nginx { child, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&listen, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = n.child.try_wait() {
                let mut said = String::new();
                if let Some(mut e) = n.child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut said);
                }
                panic!("nginx exited ({status}): {said}{}", n.error_log());
            }
            assert!(
                Instant::now() < deadline,
                "nginx does not listen on {listen}: {}",
                n.error_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        n
    }

    /// What nginx logged, for failure messages.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
