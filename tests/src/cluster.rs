//! A cluster on one machine for tests: Redis, nodes (the `cluster-node` program of this
//! crate, one process each) and nginx in front with `examples/nginx/cluster.conf`.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::nginx::{example_config, free_port, Nginx};
use crate::redis_server::Redis;

/// One node: a `cluster-node` process.
pub struct Node {
    pub id: u16,
    pub addr: SocketAddr,
    child: Child,
}

impl Node {
    /// Starts `program` (this crate's `cluster-node`: an integration test has its path in
    /// `CARGO_BIN_EXE_cluster-node`) as node `id` on `adapter` (`smol` or `std`) with the
    /// Redis at `redis`, and waits until it listens.
    pub fn start(program: &Path, id: u16, redis: &str, adapter: &str) -> Node {
        let port = free_port();
        let child = Command::new(program)
            .args(["--port", &port.to_string(), "--node-id", &id.to_string()])
            .args(["--redis", redis, "--adapter", adapter, "--policy-port", "0"])
            .args(["--trusted-proxy", "127.0.0.1", "--sessions-per-peer", "0"])
            .args(["--drain-timeout", "5", "--quiet"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a cluster node");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut node = Node { id, addr, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(
                node.child.try_wait().ok().flatten().is_none(),
                "node {id} exited"
            );
            assert!(
                Instant::now() < deadline,
                "node {id} does not listen on {addr}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        node
    }

    /// Kills it at once, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Asks it to drain (SIGTERM).
    pub fn drain(&self) {
        let pid = self.child.id().to_string();
        let ok = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(ok.is_ok_and(|s| s.success()), "kill -TERM {pid}");
    }

    /// Waits up to `timeout` for the process to exit; whether it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Redis, three nodes (1 and 3 on io-smol, 2 on io-std) and nginx in front.
pub struct Cluster {
    pub redis: Redis,
    pub nodes: Vec<Node>,
    pub nginx: Nginx,
    /// Where clients connect: nginx.
    pub public: SocketAddr,
}

impl Cluster {
    /// Starts it all; `program` is the node program (see [`Node::start`]).
    pub fn start(program: &str) -> Cluster {
        let redis = Redis::start();
        let nodes: Vec<Node> = [(1, "smol"), (2, "std"), (3, "smol")]
            .into_iter()
            .map(|(id, adapter)| Node::start(Path::new(program), id, &redis.url(), adapter))
            .collect();
        let public = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let mut replace: Vec<(&str, String)> = vec![("listen 8080;", format!("listen {public};"))];
        for (default, node) in ["127.0.0.1:8081;", "127.0.0.1:8082;", "127.0.0.1:8083;"]
            .into_iter()
            .zip(&nodes)
        {
            replace.push((default, format!("{};", node.addr)));
        }
        let nginx = Nginx::start(&example_config("cluster.conf", &replace), public);
        Cluster {
            redis,
            nodes,
            nginx,
            public,
        }
    }

    /// The node with this id.
    pub fn node(&mut self, id: u16) -> &mut Node {
        self.nodes
            .iter_mut()
            .find(|n| n.id == id)
            .expect("a node of that id")
    }
}

/// The node a session id says owns it.
pub fn node_of(sid: &str) -> u16 {
    u16::from_str_radix(sid.get(..4).expect("a session id"), 16).expect("hex")
}
