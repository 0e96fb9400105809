//! The benchmark's load generator, for any Socket.IO 0.6 server (ours or the original).
//!
//! It runs on one thread with non-blocking sockets, so that on its own core it outpaces a
//! server on another, and speaks the 0.6 wire protocol itself (it shares no code with the
//! servers). Every run is bounded by a count and by a time, and prints one `result ...` line
//! of `key=value` fields; `--server-pid` adds the server's CPU time and memory over the
//! measured window. `scripts/bench` runs it against every server, and `scripts/scale` runs
//! `idle-broadcast` on several nodes at once; by hand:
//!
//! `cargo run --profile perf -p bench --bin loadgen -- --workload ws-echo --port 8080`
//!
//! `--help` lists the workloads and options; `bench/README.md` says what each measures.

use std::fmt::Display;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bench::driver::{Driver, Happened};
use bench::measure::{Figures, Window};
use bench::net::Sources;
use bench::procstat;
use bench::session::Transport;
use bench::stats::Latencies;
use bench::ws::Flavor;

const USAGE: &str = "loadgen --workload NAME [options]

workloads:
  ws-echo         each client sends a message over a WebSocket and waits for its echo
  ws-broadcast    one sender, --clients receivers; the next message once all got the last
  poll-echo       ws-echo over xhr-polling (a long poll and a connection for posts)
  idle            opens --clients WebSocket sessions and holds them --hold seconds
  idle-broadcast  opens --clients WebSocket sessions, holds them and waits for one broadcast
                  to reach them all (one instance sends it: --trigger-after)
  handshake-rate  --clients at a time: connect, xhr-polling handshake, close; again

options:
  --transport T            rfc6455 or hixie-76, for the WebSocket workloads (default rfc6455)
  --host ADDR, --port N    the server (default 127.0.0.1:8080)
  --tls-ca FILE            speak TLS (https, wss) to a server named localhost, trusting the
                           certificates in FILE (PEM)
  --clients N              clients; receivers for ws-broadcast; sessions for idle and
                           idle-broadcast (default 100)
  --size B                 bytes of each message's data, at least 16 (default 32)
  --messages N             per client; broadcasts for ws-broadcast (default 1000000)
  --duration S             longest measured window in seconds (default 10)
  --hold S                 idle: seconds to hold the sessions (default 5)
  --setup-timeout S        longest time to open the sessions before measuring (default 60)
  --connect-concurrency N  sessions being opened at once (default 100)
  --sources N              spread connections over 127.0.0.2.. (default 16; 0: do not bind)
  --server-pid PID         report the server's CPU time and memory from /proc
  --sample-at S,S..        also read the server's memory at these seconds into the window
  --rss-after S            then close everything, wait S seconds, read the server's memory

idle-broadcast:
  --hold S                 read the server's memory S seconds after the sessions are up, or
                           when the broadcast comes if that is sooner (default 5)
  --trigger-after S        this instance sends the broadcast: client 0, S seconds after its
                           sessions are up; the text carries the wall-clock send time
  --broadcast-timeout S    fail unless every client has it this long after the sessions are
                           up (plus --trigger-after) (default 60)
  --arrivals FILE          write each client's delay (microseconds, one a line) to FILE";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Workload {
    WsEcho,
    WsBroadcast,
    PollEcho,
    Idle,
    IdleBroadcast,
    HandshakeRate,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::WsEcho => "ws-echo",
            Workload::WsBroadcast => "ws-broadcast",
            Workload::PollEcho => "poll-echo",
            Workload::Idle => "idle",
            Workload::IdleBroadcast => "idle-broadcast",
            Workload::HandshakeRate => "handshake-rate",
        }
    }
}

struct Args {
    workload: Workload,
    flavor: Flavor,
    host: String,
    port: u16,
    tls_ca: Option<PathBuf>,
    clients: usize,
    size: usize,
    messages: u64,
    duration: Duration,
    hold: Duration,
    setup_timeout: Duration,
    concurrency: usize,
    sources: u8,
    server_pid: Option<u32>,
    sample_at: Vec<f64>,
    rss_after: Option<Duration>,
    trigger_after: Option<Duration>,
    broadcast_timeout: Duration,
    arrivals: Option<PathBuf>,
}

fn parse() -> Result<Args, lexopt::Error> {
    use lexopt::prelude::*;
    let mut a = Args {
        workload: Workload::WsEcho,
        flavor: Flavor::Rfc6455,
        host: "127.0.0.1".into(),
        port: 8080,
        tls_ca: None,
        clients: 100,
        size: 32,
        messages: 1_000_000,
        duration: Duration::from_secs(10),
        hold: Duration::from_secs(5),
        setup_timeout: Duration::from_secs(60),
        concurrency: 100,
        sources: 16,
        server_pid: None,
        sample_at: Vec::new(),
        rss_after: None,
        trigger_after: None,
        broadcast_timeout: Duration::from_secs(60),
        arrivals: None,
    };
    let mut workload = None;
    // Whether an option that only idle-broadcast takes was given.
    let mut broadcast_only = false;
    let seconds =
        |v: f64| Duration::try_from_secs_f64(v).map_err(|e| lexopt::Error::from(e.to_string()));
    let mut p = lexopt::Parser::from_env();
    while let Some(arg) = p.next()? {
        match arg {
            Long("workload") => {
                workload = Some(match p.value()?.string()?.as_str() {
                    "ws-echo" => Workload::WsEcho,
                    "ws-broadcast" => Workload::WsBroadcast,
                    "poll-echo" => Workload::PollEcho,
                    "idle" => Workload::Idle,
                    "idle-broadcast" => Workload::IdleBroadcast,
                    "handshake-rate" => Workload::HandshakeRate,
                    w => return Err(format!("unknown workload {w:?}").into()),
                })
            }
            Long("transport") => {
                a.flavor = match p.value()?.string()?.as_str() {
                    "rfc6455" => Flavor::Rfc6455,
                    "hixie-76" => Flavor::Hixie76,
                    t => {
                        return Err(
                            format!("unknown transport {t:?}; use rfc6455 or hixie-76").into()
                        )
                    }
                }
            }
            Long("host") => a.host = p.value()?.string()?,
            Long("port") => a.port = p.value()?.parse()?,
            Long("tls-ca") => a.tls_ca = Some(PathBuf::from(p.value()?)),
            Long("clients") => a.clients = p.value()?.parse()?,
            Long("size") => a.size = p.value()?.parse()?,
            Long("messages") => a.messages = p.value()?.parse()?,
            Long("duration") => a.duration = seconds(p.value()?.parse()?)?,
            Long("hold") => a.hold = seconds(p.value()?.parse()?)?,
            Long("setup-timeout") => a.setup_timeout = seconds(p.value()?.parse()?)?,
            Long("connect-concurrency") => a.concurrency = p.value()?.parse()?,
            Long("sources") => a.sources = p.value()?.parse()?,
            Long("server-pid") => a.server_pid = Some(p.value()?.parse()?),
            Long("sample-at") => {
                let list = p.value()?.string()?;
                for s in list.split(',') {
                    a.sample_at.push(
                        s.trim()
                            .parse()
                            .map_err(|_| format!("bad --sample-at {list:?}"))?,
                    );
                }
            }
            Long("rss-after") => a.rss_after = Some(seconds(p.value()?.parse()?)?),
            Long("trigger-after") => {
                a.trigger_after = Some(seconds(p.value()?.parse()?)?);
                broadcast_only = true;
            }
            Long("broadcast-timeout") => {
                a.broadcast_timeout = seconds(p.value()?.parse()?)?;
                broadcast_only = true;
            }
            Long("arrivals") => {
                a.arrivals = Some(PathBuf::from(p.value()?));
                broadcast_only = true;
            }
            Long("help") | Short('h') => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            _ => return Err(arg.unexpected()),
        }
    }
    a.workload = workload.ok_or("--workload is required")?;
    if broadcast_only && a.workload != Workload::IdleBroadcast {
        return Err(
            "--trigger-after, --broadcast-timeout and --arrivals belong to idle-broadcast".into(),
        );
    }
    if a.clients == 0 || a.messages == 0 || a.concurrency == 0 || a.sources > 250 {
        return Err(
            "--clients, --messages and --connect-concurrency must be over 0, --sources at most 250"
                .into(),
        );
    }
    if a.size < 16 {
        return Err(
            "--size must be at least 16 (the data holds the client and a sequence number)".into(),
        );
    }
    Ok(a)
}

fn main() {
    let args = parse().unwrap_or_else(|e| {
        eprintln!("loadgen: {e} (try --help)");
        std::process::exit(2)
    });
    match run(&args) {
        Ok(line) => println!("{line}"),
        Err(e) => {
            eprintln!("loadgen: {} failed: {e}", args.workload.name());
            std::process::exit(1)
        }
    }
}

fn run(a: &Args) -> Result<String, String> {
    let target = resolve(&a.host, a.port)?;
    let transport = match a.workload {
        Workload::PollEcho | Workload::HandshakeRate => Transport::XhrPolling,
        _ => Transport::Ws(a.flavor),
    };
    let slots = a.clients + usize::from(a.workload == Workload::WsBroadcast);
    let handshake_only = a.workload == Workload::HandshakeRate;
    let sources = Sources::new(target.ip(), a.sources);
    let mut d = Driver::new(target, transport, handshake_only, sources, slots)
        .map_err(|e| e.to_string())?;
    if let Some(ca) = &a.tls_ca {
        d = d.tls(bench::tls::client_config(ca)?);
    }

    let mut r = Report(vec!["result".to_string()]);
    r.put("workload", a.workload.name());
    r.put("transport", transport.name());
    if a.tls_ca.is_some() {
        r.put("tls", "yes");
    }
    r.put("clients", a.clients);
    if matches!(
        a.workload,
        Workload::WsEcho | Workload::PollEcho | Workload::WsBroadcast
    ) {
        r.put("size", a.size);
    }
    let start_memory = a.server_pid.map(server_memory).transpose()?;
    if let Some(m) = start_memory {
        r.put("rss_kib_start", m.rss_kib);
    }
    match a.workload {
        Workload::WsEcho | Workload::PollEcho => echo(a, &mut d, &mut r)?,
        Workload::WsBroadcast => broadcast(a, &mut d, &mut r)?,
        Workload::Idle => idle(a, &mut d, &mut r, start_memory)?,
        Workload::IdleBroadcast => idle_broadcast(a, &mut d, &mut r, start_memory)?,
        Workload::HandshakeRate => handshakes(a, &mut d, &mut r)?,
    }
    if let Some(wait) = a.rss_after {
        d.close_all();
        eprintln!(
            "loadgen: load stopped; reading the server's memory again in {} s",
            wait.as_secs_f64()
        );
        std::thread::sleep(wait);
        if let Some(pid) = a.server_pid {
            r.put("rss_kib_after", server_memory(pid)?.rss_kib);
        }
    }
    Ok(r.0.join(" "))
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("no address for {host}"))
}

fn server_memory(pid: u32) -> Result<procstat::Memory, String> {
    procstat::memory(pid)
        .map_err(|e| format!("cannot read the memory of server process {pid}: {e}"))
}

/// Opens sessions in slots `0..n`, at most `--connect-concurrency` at a time.
fn open_all(a: &Args, d: &mut Driver, n: usize) -> Result<Duration, String> {
    let start = Instant::now();
    let deadline = start + a.setup_timeout;
    let (mut next, mut open, mut reported) = (0, 0, start);
    while open < n {
        while next < n && next - open < a.concurrency {
            d.start(next)?;
            next += 1;
        }
        let now = Instant::now();
        if now >= deadline {
            let s = a.setup_timeout.as_secs_f64();
            return Err(format!(
                "only {open} of {n} sessions opened within {s} s (--setup-timeout)"
            ));
        }
        if n >= 2000 && now - reported >= Duration::from_secs(2) {
            eprintln!("loadgen: {open} of {n} sessions open");
            reported = now;
        }
        d.poll((deadline - now).min(TICK), |_, h| {
            if let Happened::Open(_) = h {
                open += 1;
            }
            Ok(())
        })?;
    }
    Ok(start.elapsed())
}

/// Wakes the loop this often at least, to see deadlines and samples come.
const TICK: Duration = Duration::from_millis(100);

/// Polls until `deadline` or until `finished` says so, taking the window's samples.
fn run_until<F>(d: &mut Driver, w: &mut Window, deadline: Instant, mut f: F) -> Result<(), String>
where
    F: FnMut(&mut Driver, Happened) -> Result<Flow, String>,
{
    let mut finished = false;
    while !finished {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        w.tick(now);
        let sample = w.next_sample(now).unwrap_or(TICK);
        let wait = deadline
            .saturating_duration_since(now)
            .min(sample)
            .min(TICK);
        d.poll(wait, |d, h| {
            if !finished {
                finished = f(d, h)? == Flow::Done || Instant::now() >= deadline;
            }
            Ok(())
        })?;
    }
    Ok(())
}

#[derive(PartialEq, Eq)]
enum Flow {
    More,
    Done,
}

/// `<client>:<seq>:` padded with `x` to `size` bytes.
fn message(client: usize, seq: u64, size: usize) -> String {
    let mut m = format!("{client}:{seq}:");
    let pad = size.saturating_sub(m.len());
    m.extend(std::iter::repeat_n('x', pad));
    m
}

fn short(s: &str) -> &str {
    &s[..s.char_indices().nth(60).map_or(s.len(), |(i, _)| i)]
}

/// ws-echo and poll-echo: each client sends a message and waits for its echo before the next.
fn echo(a: &Args, d: &mut Driver, r: &mut Report) -> Result<(), String> {
    let n = a.clients;
    open_all(a, d, n)?;
    let mut w = Window::start(a.server_pid, &a.sample_at);
    let deadline = w.started() + a.duration;
    // Per client: messages sent, the one awaited (empty once done) and when it was sent.
    let mut clients: Vec<(u64, String, Instant)> = vec![(0, String::new(), w.started()); n];
    for (i, c) in clients.iter_mut().enumerate() {
        *c = (1, message(i, 0, a.size), Instant::now());
        d.send(i, &c.1)?;
    }
    let (mut rtts, mut done) = (Latencies::default(), 0);
    run_until(d, &mut w, deadline, |d, h| {
        let Happened::Message(i, data) = h else {
            return Ok(Flow::More);
        };
        let (sent, expected, at) = &mut clients[i];
        if data != *expected {
            let (got, want) = (short(&data), short(expected));
            return Err(format!("client {i}: got {got:?}, not the echo of {want:?}"));
        }
        let now = Instant::now();
        rtts.record(now - *at);
        if *sent < a.messages && now < deadline {
            *expected = message(i, *sent, a.size);
            *sent += 1;
            *at = now;
            d.send(i, expected)?;
        } else {
            expected.clear();
            done += 1;
        }
        Ok(if done == n { Flow::Done } else { Flow::More })
    })?;
    let f = w.finish();
    if rtts.is_empty() {
        return Err(format!(
            "nothing was measured: no echo came back in {:.1} s",
            f.seconds
        ));
    }
    r.window(&f, rtts.len() as u64, "messages");
    r.latencies(&mut rtts);
    Ok(())
}

/// ws-broadcast: slot 0 sends, slots 1..=n receive; the next message goes out once every
/// receiver has the last one.
fn broadcast(a: &Args, d: &mut Driver, r: &mut Report) -> Result<(), String> {
    let n = a.clients;
    open_all(a, d, n + 1)?;
    let mut w = Window::start(a.server_pid, &a.sample_at);
    let deadline = w.started() + a.duration;
    let (mut round, mut got, mut deliveries) = (0u64, 0, 0u64);
    // The round each receiver last got, to catch duplicates.
    let mut last = vec![u64::MAX; n + 1];
    let mut expected = message(0, round, a.size);
    let mut at = Instant::now();
    d.send(0, &expected)?;
    let mut rounds = Latencies::default();
    run_until(d, &mut w, deadline, |d, h| {
        let Happened::Message(i, data) = h else {
            return Ok(Flow::More);
        };
        if i == 0 {
            return Err(format!(
                "the sender got {:?}; a broadcast goes to the others only",
                short(&data)
            ));
        }
        if data != expected || last[i] == round {
            let want = short(&expected);
            return Err(format!(
                "receiver {i}: got {:?} while {want:?} was broadcast",
                short(&data)
            ));
        }
        last[i] = round;
        got += 1;
        deliveries += 1;
        if got < n {
            return Ok(Flow::More);
        }
        let now = Instant::now();
        rounds.record(now - at);
        round += 1;
        got = 0;
        if round >= a.messages || now >= deadline {
            return Ok(Flow::Done);
        }
        expected = message(0, round, a.size);
        at = now;
        d.send(0, &expected)?;
        Ok(Flow::More)
    })?;
    let f = w.finish();
    if deliveries == 0 {
        return Err(format!(
            "nothing was measured: no broadcast arrived in {:.1} s",
            f.seconds
        ));
    }
    r.window(&f, deliveries, "deliveries");
    r.put("broadcasts", rounds.len());
    r.latencies(&mut rounds);
    Ok(())
}

/// idle: opens the sessions, holds them (answering heartbeats), closes them.
fn idle(
    a: &Args,
    d: &mut Driver,
    r: &mut Report,
    before: Option<procstat::Memory>,
) -> Result<(), String> {
    let n = a.clients;
    let setup = open_all(a, d, n)?;
    eprintln!(
        "loadgen: all {n} sessions established in {:.1} s; holding them {} s",
        setup.as_secs_f64(),
        a.hold.as_secs_f64()
    );
    let mut w = Window::start(a.server_pid, &a.sample_at);
    let end = w.started() + a.hold;
    run_until(d, &mut w, end, |_, _| Ok(Flow::More))?;
    let f = w.finish();
    r.put("sessions", n);
    r.put("setup_s", format!("{:.2}", setup.as_secs_f64()));
    r.put("seconds", format!("{:.3}", f.seconds));
    if let Some(cpu) = f.server_cpu {
        r.put("server_cpu_s", format!("{cpu:.2}"));
    }
    if let (Some(held), Some(before)) = (f.memory, before) {
        r.put("rss_kib_held", held.rss_kib);
        r.put("hwm_kib_held", held.hwm_kib);
        let per = (held.rss_kib as f64 - before.rss_kib as f64) / n as f64;
        r.put("kib_per_session", format!("{per:.2}"));
    }
    r.samples(&f);
    Ok(())
}

/// The text of the idle-broadcast message: the wall-clock time it was sent, in microseconds
/// since the Unix epoch (the processes of a run share the machine's clock).
fn stamp(micros: u64) -> String {
    format!("idle-broadcast sent_us={micros}")
}

fn parse_stamp(data: &str) -> Option<u64> {
    data.strip_prefix("idle-broadcast sent_us=")?.parse().ok()
}

fn wall_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// idle-broadcast: opens the sessions and holds them (answering heartbeats) until one
/// broadcast has reached every client, recording when it reached each, from the send time
/// it carries. With `--trigger-after`, client 0 sends it that long after the sessions are
/// up; the broadcast goes to every other client, so client 0 expects none.
fn idle_broadcast(
    a: &Args,
    d: &mut Driver,
    r: &mut Report,
    before: Option<procstat::Memory>,
) -> Result<(), String> {
    let n = a.clients;
    let setup = open_all(a, d, n)?;
    let up = Instant::now();
    let trigger = a.trigger_after;
    let timeout = a.broadcast_timeout;
    match trigger {
        Some(t) => eprintln!(
            "loadgen: all {n} sessions established in {:.1} s; sending the broadcast in {} s",
            setup.as_secs_f64(),
            t.as_secs_f64()
        ),
        None => eprintln!(
            "loadgen: all {n} sessions established in {:.1} s; waiting for the broadcast (at most {} s)",
            setup.as_secs_f64(),
            timeout.as_secs_f64()
        ),
    }
    let expected = n - usize::from(trigger.is_some());
    let send_at = trigger.map(|t| up + t);
    let deadline = up + trigger.unwrap_or_default() + timeout;
    let hold_end = up + a.hold;
    let read_memory = || a.server_pid.map(server_memory).transpose();
    let mut held: Option<procstat::Memory> = None;
    let mut memory_read = false;
    // Each client's delay in microseconds, once the broadcast reached it.
    let mut delays: Vec<Option<u64>> = vec![None; n];
    let (mut got, mut sent, mut last_at) = (0usize, false, up);
    let w = Window::start(a.server_pid, &[]);
    while got < expected || (send_at.is_some() && !sent) {
        let now = Instant::now();
        if now >= deadline {
            let first = delays.iter().flatten().min();
            return Err(match (got, first) {
                (0, _) => format!(
                    "no client got the broadcast within {} s of the sessions being up \
                     (--broadcast-timeout{})",
                    (deadline - up).as_secs_f64(),
                    if trigger.is_some() {
                        " + --trigger-after"
                    } else {
                        ""
                    }
                ),
                (_, first) => format!(
                    "only {got} of {expected} clients got the broadcast within {} s \
                     (the first after {:.1} ms)",
                    (deadline - up).as_secs_f64(),
                    first.copied().unwrap_or(0) as f64 / 1000.0
                ),
            });
        }
        if !memory_read && now >= hold_end {
            held = read_memory()?;
            memory_read = true;
        }
        if send_at.is_some_and(|at| !sent && now >= at) {
            d.send(0, &stamp(wall_micros()))?;
            sent = true;
        }
        let mut wait = TICK.min(deadline - now);
        if !memory_read {
            wait = wait.min(hold_end.saturating_duration_since(now));
        }
        if let Some(at) = send_at.filter(|_| !sent) {
            wait = wait.min(at.saturating_duration_since(now));
        }
        d.poll(wait, |_, h| {
            let Happened::Message(i, data) = h else {
                return Ok(());
            };
            let arrived = wall_micros();
            if !memory_read {
                // The broadcast came before --hold was up: the memory is read as it arrives.
                held = read_memory()?;
                memory_read = true;
            }
            if trigger.is_some() && i == 0 {
                return Err(format!(
                    "the sender got {:?}; a broadcast goes to the others only",
                    short(&data)
                ));
            }
            let sent_us = parse_stamp(&data)
                .ok_or_else(|| format!("client {i}: got {:?}, not the broadcast", short(&data)))?;
            if delays[i].is_some() {
                return Err(format!("client {i}: got the broadcast twice"));
            }
            delays[i] = Some(arrived.saturating_sub(sent_us));
            got += 1;
            last_at = Instant::now();
            Ok(())
        })?;
    }
    let f = w.finish();
    if !memory_read {
        held = read_memory()?;
    }
    let mut latencies = Latencies::default();
    for &us in delays.iter().flatten() {
        latencies.record(Duration::from_micros(us));
    }
    r.put("sessions", n);
    r.put("trigger", if trigger.is_some() { "yes" } else { "no" });
    r.put("expected", expected);
    r.put("received", got);
    let ms = |us: u32| format!("{:.1}", f64::from(us) / 1000.0);
    if let Some(last) = latencies.percentile(100.0) {
        r.put("last_ms", ms(last));
    }
    if let Some(p50) = latencies.percentile(50.0) {
        r.put("p50_ms", ms(p50));
    }
    r.put("setup_s", format!("{:.2}", setup.as_secs_f64()));
    r.put("waited_s", format!("{:.2}", (last_at - up).as_secs_f64()));
    if let Some(cpu) = f.server_cpu {
        r.put("server_cpu_s", format!("{cpu:.2}"));
    }
    if let (Some(held), Some(before)) = (held, before) {
        r.put("rss_kib_held", held.rss_kib);
        r.put("hwm_kib_held", held.hwm_kib);
        let per = (held.rss_kib as f64 - before.rss_kib as f64) / n as f64;
        r.put("kib_per_session", format!("{per:.2}"));
    }
    if let Some(path) = &a.arrivals {
        let mut text = String::with_capacity(got * 8);
        for us in delays.iter().flatten() {
            text.push_str(&us.to_string());
            text.push('\n');
        }
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// handshake-rate: every slot in turn connects, takes a session id over xhr-polling and
/// closes, until its count or the time is up.
fn handshakes(a: &Args, d: &mut Driver, r: &mut Report) -> Result<(), String> {
    let n = a.clients;
    let mut w = Window::start(a.server_pid, &a.sample_at);
    let deadline = w.started() + a.duration;
    let mut slots = vec![(0u64, Instant::now()); n]; // handshakes done, when the current began
    for (i, s) in slots.iter_mut().enumerate() {
        d.start(i)?;
        s.1 = Instant::now();
    }
    let (mut active, mut times) = (n, Latencies::default());
    run_until(d, &mut w, deadline, |d, h| {
        match h {
            Happened::Open(i) => {
                slots[i].0 += 1;
                times.record(slots[i].1.elapsed());
            }
            Happened::Finished(i) if slots[i].0 < a.messages && Instant::now() < deadline => {
                d.start(i)?;
                slots[i].1 = Instant::now();
            }
            Happened::Finished(_) => active -= 1,
            Happened::Message(..) => {}
        }
        Ok(if active == 0 { Flow::Done } else { Flow::More })
    })?;
    let f = w.finish();
    if times.is_empty() {
        return Err(format!(
            "nothing was measured: no handshake was answered in {:.1} s",
            f.seconds
        ));
    }
    r.window(&f, times.len() as u64, "handshakes");
    r.latencies(&mut times);
    Ok(())
}

/// The result line's fields.
struct Report(Vec<String>);

impl Report {
    fn put(&mut self, key: &str, value: impl Display) {
        self.0.push(format!("{key}={value}"));
    }

    /// The count over the window, per second and per second of server CPU.
    fn window(&mut self, f: &Figures, count: u64, unit: &str) {
        self.put("count", count);
        self.put("unit", unit);
        self.put("seconds", format!("{:.3}", f.seconds));
        self.put("rate", format!("{:.0}", count as f64 / f.seconds));
        if let Some(cpu) = f.server_cpu {
            self.put("server_cpu_s", format!("{cpu:.2}"));
            self.put("server_cpu_pct", format!("{:.0}", 100.0 * cpu / f.seconds));
            if cpu > 0.0 {
                self.put("per_cpu_s", format!("{:.0}", count as f64 / cpu));
            }
        }
        self.put(
            "loadgen_cpu_pct",
            format!("{:.0}", 100.0 * f.own_cpu / f.seconds),
        );
        if let Some(m) = f.memory {
            self.put("rss_kib_end", m.rss_kib);
            self.put("hwm_kib_end", m.hwm_kib);
        }
        self.samples(f);
    }

    fn samples(&mut self, f: &Figures) {
        for (at, m) in &f.samples {
            self.put(&format!("rss_kib_{at}s"), m.rss_kib);
            self.put(&format!("hwm_kib_{at}s"), m.hwm_kib);
        }
    }

    fn latencies(&mut self, l: &mut Latencies) {
        for (key, p) in [("p50_us", 50.0), ("p99_us", 99.0), ("max_us", 100.0)] {
            if let Some(us) = l.percentile(p) {
                self.put(key, us);
            }
        }
    }
}
