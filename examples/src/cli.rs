//! The command line every example server takes.

use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use io_adapter::{Handle, Server, TlsConfig};
use io_core::{Options, Response};
use log::LevelFilter;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::apps::App;

/// `--port N --host ADDR --policy-port N --adapter smol|std --sessions-per-peer N
/// --tls-cert FILE --tls-key FILE --trusted-proxy ADDR --redis URL --node-id N
/// --drain-timeout S --quiet`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub port: u16,
    pub host: String,
    /// Flash policy listener; `None` turns it off.
    pub policy_port: Option<u16>,
    pub adapter: Adapter,
    /// The lowest level of log records printed (`--log-level`; `--quiet` turns them off).
    pub log_level: LevelFilter,
    /// New sessions one peer address may make per second; `None`: the default.
    pub sessions_per_peer: Option<u32>,
    /// Certificate chain and key (PEM files): serve https and wss.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Reverse proxies whose `X-Forwarded-*` headers are believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// A Redis to share broadcasts with the other nodes through.
    pub redis: Option<String>,
    /// This node's id in a cluster (the first part of its session ids).
    pub node_id: u16,
    /// How long a drain (SIGTERM) may take before the server shuts down anyway.
    pub drain_timeout: Duration,
    /// Serve `/metrics` in Prometheus' text format.
    pub metrics: bool,
    /// Refuse a session whose handshake lacks this cookie (name, value): a stand-in for an
    /// application's real check of who connects.
    pub require_cookie: Option<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adapter {
    Smol,
    Std,
    Hyper,
}

impl Adapter {
    /// The name `--adapter` takes.
    pub fn name(self) -> &'static str {
        match self {
            Adapter::Smol => "io-smol",
            Adapter::Std => "io-std",
            Adapter::Hyper => "io-hyper",
        }
    }
}

/// Which flags a program honours: every example server takes them all but those that run
/// inside a loop of their own (the custom loop, the axum application), which have no
/// adapter to choose, no standalone policy listener, no TLS and no cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    Server,
    Embedded,
}

impl Program {
    fn usage(self) -> String {
        let mut lines = vec![
            "options:",
            "  --port N          HTTP port (default 8080)",
            "  --host ADDR       address to bind (default 127.0.0.1)",
        ];
        if self == Program::Server {
            lines.push("  --policy-port N   Flash policy port (default 843; 0 turns it off)");
            lines.push("  --adapter NAME    smol, std or hyper (default smol)");
            lines.push("  --tls-cert FILE   certificate chain (PEM): serve https and wss");
            lines.push("  --tls-key FILE    its private key (PEM)");
            lines
                .push("  --redis URL       share broadcasts with other nodes (redis://host:port/)");
            lines.push("  --node-id N       this node's id in a cluster, 0 to 65535 (default 0)");
            lines.push("  --drain-timeout S seconds a drain (on SIGTERM) may take (default 10)");
            lines.push("  --metrics         serve /metrics in Prometheus' text format");
            lines.push("  --require-cookie NAME=VALUE");
            lines.push("                    refuse sessions whose handshake lacks this cookie");
        }
        lines.extend([
            "  --trusted-proxy ADDR",
            "                    a TLS-terminating proxy whose X-Forwarded-Proto, -Host and",
            "                    -For are believed (repeatable)",
        ]);
        lines.extend([
            "  --sessions-per-peer N",
            "                    new sessions one address may make per second (default 100; 0:",
            "                    no limit, e.g. behind a proxy or for a load test from one machine)",
            "  --log-level L     error, warn, info, debug or trace (default info)",
            "  --quiet           no log lines",
            "  --help            this text",
        ]);
        lines.join("\n")
    }
}

impl Args {
    /// The flags of an example server, from the process's arguments.
    pub fn parse() -> Result<Args, lexopt::Error> {
        Self::parse_from(Program::Server, lexopt::Parser::from_env())
    }

    /// The flags `program` honours; any other is an error.
    pub fn parse_from(program: Program, mut p: lexopt::Parser) -> Result<Args, lexopt::Error> {
        use lexopt::prelude::*;
        let server = program == Program::Server;
        let mut args = Args {
            port: 8080,
            host: "127.0.0.1".into(),
            // The custom loop runs no policy listener: policy probes are answered inline.
            policy_port: server.then_some(843),
            adapter: Adapter::Smol,
            log_level: LevelFilter::Info,
            sessions_per_peer: None,
            tls: None,
            trusted_proxies: Vec::new(),
            redis: None,
            node_id: 0,
            drain_timeout: Duration::from_secs(10),
            metrics: false,
            require_cookie: None,
        };
        let (mut cert, mut key) = (None, None);
        while let Some(arg) = p.next()? {
            match arg {
                Long("port") => args.port = p.value()?.parse()?,
                Long("host") => args.host = p.value()?.string()?,
                Long("policy-port") if server => {
                    let port: u16 = p.value()?.parse()?;
                    args.policy_port = (port != 0).then_some(port);
                }
                Long("adapter") if server => {
                    args.adapter = match p.value()?.string()?.as_str() {
                        "smol" => Adapter::Smol,
                        "std" => Adapter::Std,
                        "hyper" => Adapter::Hyper,
                        other => {
                            return Err(format!(
                                "unknown adapter {other:?}; use smol, std or hyper"
                            )
                            .into())
                        }
                    }
                }
                Long("tls-cert") if server => cert = Some(PathBuf::from(p.value()?)),
                Long("tls-key") if server => key = Some(PathBuf::from(p.value()?)),
                Long("trusted-proxy") => args.trusted_proxies.push(p.value()?.parse()?),
                Long("redis") if server => args.redis = Some(p.value()?.string()?),
                Long("node-id") if server => args.node_id = p.value()?.parse()?,
                Long("drain-timeout") if server => {
                    args.drain_timeout = Duration::from_secs_f64(p.value()?.parse()?)
                }
                Long("quiet") => args.log_level = LevelFilter::Off,
                Long("metrics") if server => args.metrics = true,
                Long("require-cookie") if server => {
                    let pair = p.value()?.string()?;
                    let (name, value) = pair
                        .split_once('=')
                        .filter(|(n, _)| !n.is_empty())
                        .ok_or("--require-cookie takes NAME=VALUE")?;
                    args.require_cookie = Some((name.to_owned(), value.to_owned()));
                }
                Long("log-level") => {
                    let name = p.value()?.string()?;
                    args.log_level = name.parse().map_err(|_| {
                        format!("unknown log level {name:?}; use error, warn, info, debug or trace")
                    })?;
                }
                Long("sessions-per-peer") => args.sessions_per_peer = Some(p.value()?.parse()?),
                Long("help") | Short('h') => {
                    println!("{}", program.usage());
                    std::process::exit(0);
                }
                _ => return Err(arg.unexpected()),
            }
        }
        args.tls = match (cert, key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => return Err("--tls-cert and --tls-key go together".into()),
        };
        Ok(args)
    }

    /// Default options with the flags applied; installs the logger at `--log-level`.
    pub fn options(&self) -> Options {
        keep_memory_returnable();
        let mut options = Options::default();
        options.flash_policy_server = self.policy_port;
        if let Some(n) = self.sessions_per_peer {
            options.limits.max_new_sessions_per_peer = n;
        }
        options.trusted_proxies = self.trusted_proxies.clone();
        options.node_id = self.node_id;
        crate::logger::install(self.log_level);
        options
    }

    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The TLS configuration from `--tls-cert` and `--tls-key`, if given.
    pub fn tls_config(&self) -> io::Result<Option<TlsConfig>> {
        match &self.tls {
            None => Ok(None),
            Some((cert, key)) => Ok(Some(TlsConfig::from_pem_files(cert, key)?)),
        }
    }

    /// Runs `app` on the chosen adapter until the process ends: on SIGTERM or SIGINT the
    /// server drains (its sessions end, their clients connect again elsewhere) and exits
    /// once its last connection is gone, or after `--drain-timeout`; a second signal
    /// exits at once.
    pub fn run(&self, app: impl Attach) -> io::Result<()> {
        let tls = self.tls_config()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let cluster = match &self.redis {
            Some(url) => format!(", node {} on {url}", self.node_id),
            None => String::new(),
        };
        eprintln!(
            "{app:?} server on {scheme}://{}/ ({}{cluster})",
            self.addr(),
            self.adapter.name()
        );
        match self.adapter {
            Adapter::Std => {
                let server = io_std::Server::bind(self.addr(), self.options())?;
                let handle = self.start(server, tls, &app)?;
                handle.stopped();
                Ok(())
            }
            Adapter::Smol => {
                let server = io_smol::Server::bind(self.addr(), self.options())?;
                let handle = self.start(server, tls, &app)?;
                smol::block_on(handle.stopped());
                Ok(())
            }
            Adapter::Hyper => {
                let server = io_hyper::Server::bind(self.addr(), self.options())?;
                let handle = self.start(server, tls, &app)?;
                smol::block_on(handle.stopped());
                Ok(())
            }
        }
    }

    /// Starts `app` on `server` with TLS, the bus and `/metrics` as the flags say, and
    /// drains it on a signal.
    fn start<R: io_adapter::Adapter>(
        &self,
        server: Server<R>,
        tls: Option<TlsConfig>,
        app: &impl Attach,
    ) -> io::Result<Handle<R>> {
        let server = match tls {
            Some(tls) => server.tls(tls),
            None => server,
        };
        let bus = match &self.redis {
            Some(url) => Some(io_redis::RedisBus::new(url)?),
            None => None,
        };
        let server = match &bus {
            Some(bus) => server.bus(bus.clone())?,
            None => server,
        };
        let server = match self.require_cookie.clone() {
            Some((name, value)) => server.on_authorize(move |handshake, verdict| {
                if handshake.cookie(&name) == Some(value.as_str()) {
                    verdict.accept();
                } else {
                    verdict.refuse(format!("no valid {name} cookie"));
                }
            })?,
            None => server,
        };
        let handle: Arc<OnceLock<Handle<R>>> = Arc::default();
        let server = if self.metrics {
            let handle = handle.clone();
            server.route("/metrics", move |_| metrics_page(handle.get(), bus.as_ref()))
        } else {
            server
        };
        let started = app.attach(server).spawn()?;
        let _ = handle.set(started.clone());
        self.drain_on_signal(started.clone())?;
        Ok(started)
    }

    /// Drains `handle` on the first SIGTERM or SIGINT; exits on the second.
    fn drain_on_signal<R: io_adapter::Adapter>(&self, handle: Handle<R>) -> io::Result<()> {
        let mut signals = Signals::new([SIGTERM, SIGINT])?;
        let within = self.drain_timeout;
        std::thread::Builder::new().name("signals".into()).spawn(move || {
            let mut signals = signals.forever();
            if signals.next().is_some() {
                log::info!("draining: ending every session, then exiting");
                handle.drain(within);
            }
            if signals.next().is_some() {
                std::process::exit(1);
            }
        })?;
        Ok(())
    }
}

/// `/metrics` in Prometheus' text format: the server's, and the bus's when there is one.
fn metrics_page<R: io_adapter::Adapter>(
    handle: Option<&Handle<R>>,
    bus: Option<&io_redis::RedisBus>,
) -> Response {
    let Some(handle) = handle else {
        return Response::with_body(503, "text/plain", "starting\n");
    };
    let mut text = handle.metrics().prometheus("socketio");
    if let Some(bus) = bus {
        let c = bus.counters();
        for (name, help, value) in [
            ("published", "Publications Redis accepted.", c.published),
            ("received", "Publications received from Redis.", c.received),
            ("dropped", "Publications dropped (Redis unreachable or behind).", c.dropped),
        ] {
            text.push_str(&format!(
                "# HELP socketio_bus_{name}_total {help}\n# TYPE socketio_bus_{name}_total counter\n\
                 socketio_bus_{name}_total {value}\n"
            ));
        }
    }
    Response::with_body(200, "text/plain; version=0.0.4; charset=utf-8", text)
}

/// What an example server does, on either adapter.
pub trait Attach: std::fmt::Debug {
    /// Sets the callbacks of `server`.
    fn attach<R: io_adapter::Adapter>(&self, server: Server<R>) -> Server<R>;
}

impl Attach for App {
    fn attach<R: io_adapter::Adapter>(&self, server: Server<R>) -> Server<R> {
        App::attach(*self, server)
    }
}

/// glibc raises its threshold for giving large blocks their own mapping each time it frees
/// one, so after a burst of sessions the server's tables come from the heap and their memory
/// stays with the process once the sessions are gone. Fixing the threshold at its starting
/// value (128 KiB) keeps large tables in mappings of their own, which go back to the system
/// when the tables shrink. Setting `MALLOC_MMAP_THRESHOLD_=131072` in the environment does
/// the same for any program.
fn keep_memory_returnable() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: mallopt only changes the allocator's tuning; it is called before the server
    // starts any thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, lexopt::Error> {
        Args::parse_from(Program::Server, lexopt::Parser::from_args(args.iter().copied()))
    }

    #[test]
    fn the_custom_loop_refuses_the_flags_it_would_ignore() {
        let parse = |args: &[&str]| {
            Args::parse_from(Program::Embedded, lexopt::Parser::from_args(args.iter().copied()))
        };
        let a = parse(&["--port", "9000", "--quiet", "--sessions-per-peer", "0"]).unwrap();
        assert_eq!(
            (a.port, a.log_level, a.sessions_per_peer, a.policy_port),
            (9000, LevelFilter::Off, Some(0), None)
        );
        assert!(parse(&["--adapter", "std"]).is_err());
        assert!(parse(&["--policy-port", "0"]).is_err());
        assert!(!Program::Embedded.usage().contains("--adapter"));
        assert!(Program::Server.usage().contains("--adapter"));
    }

    #[test]
    fn defaults_and_flags() {
        let a = parse(&[]).unwrap();
        assert_eq!((a.port, a.host.as_str(), a.policy_port), (8080, "127.0.0.1", Some(843)));
        let a = parse(&["--port", "9000", "--policy-port", "0", "--adapter", "std"]).unwrap();
        assert_eq!((a.port, a.policy_port), (9000, None));
        assert_eq!(a.adapter, Adapter::Std);
        assert_eq!(parse(&[]).unwrap().adapter, Adapter::Smol);
        assert!(parse(&["--adapter", "tokio"]).is_err());
        assert!(parse(&["--port", "x"]).is_err());
    }

    #[test]
    fn tls_takes_a_certificate_and_a_key_together() {
        let a = parse(&["--tls-cert", "c.pem", "--tls-key", "k.pem"]).unwrap();
        assert_eq!(a.tls, Some(("c.pem".into(), "k.pem".into())));
        assert!(parse(&["--tls-cert", "c.pem"]).is_err());
        assert!(parse(&["--tls-key", "k.pem"]).is_err());
        let err = a.tls_config().unwrap_err().to_string();
        assert!(err.contains("c.pem"), "{err}");
        let a = parse(&["--trusted-proxy", "127.0.0.1", "--trusted-proxy", "::1"]).unwrap();
        assert_eq!(a.options().trusted_proxies.len(), 2);
        assert!(parse(&["--trusted-proxy", "nginx"]).is_err());
    }

    #[test]
    fn the_log_level_is_a_name() {
        assert_eq!(parse(&[]).unwrap().log_level, LevelFilter::Info);
        let a = parse(&["--log-level", "debug"]).unwrap();
        assert_eq!(a.log_level, LevelFilter::Debug);
        assert!(parse(&["--log-level", "loud"]).is_err());
    }

    #[test]
    fn a_node_of_a_cluster() {
        let a = parse(&["--redis", "redis://127.0.0.1:6379/", "--node-id", "3"]).unwrap();
        assert_eq!(a.redis.as_deref(), Some("redis://127.0.0.1:6379/"));
        assert_eq!(a.options().node_id, 3);
        assert!(parse(&["--node-id", "70000"]).is_err());
        let a = parse(&["--drain-timeout", "2.5"]).unwrap();
        assert_eq!(a.drain_timeout, Duration::from_millis(2500));
    }
}
