//! What the server has done, counted as it goes: for dashboards and alerts. Reading them
//! costs nothing; the counts are kept whether anyone reads them or not.

use std::fmt::Write;

use crate::transport::TransportKind;

/// Counters (since the server started) and gauges (right now).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Open connections, gauge.
    pub connections: usize,
    /// Live sessions on each transport, gauge; see [`sessions_on`](Self::sessions_on).
    pub sessions_by_transport: [usize; TransportKind::COUNT],
    /// Connections accepted.
    pub connections_total: u64,
    /// Sessions created.
    pub sessions_total: u64,
    /// Messages received from clients (heartbeats aside).
    pub messages_in: u64,
    /// Messages sent to clients, one per recipient: a broadcast to 100 counts 100.
    pub messages_out: u64,
    /// Bytes read from connections.
    pub bytes_in: u64,
    /// Bytes the adapter reported written to connections.
    pub bytes_out: u64,
    /// Connections cut off because their peer stopped reading (`max_unwritten`).
    pub slow_peers: u64,
    /// Handshakes refused: a limit, an origin not allowed, a broken WebSocket handshake, a
    /// draining node.
    pub refused: u64,
    /// Payloads or frames from clients dropped as malformed (bad framing, invalid JSON,
    /// a broken WebSocket frame).
    pub decode_errors: u64,
}

impl Metrics {
    /// Live sessions on `kind`.
    pub fn sessions_on(&self, kind: TransportKind) -> usize {
        self.sessions_by_transport
            .get(kind as usize)
            .copied()
            .unwrap_or(0)
    }

    /// Live sessions on every transport.
    pub fn sessions(&self) -> usize {
        self.sessions_by_transport.iter().sum()
    }

    /// The metrics in Prometheus' text exposition format (version 0.0.4), every name
    /// beginning with `prefix` (`socketio`, say): what a `/metrics` endpoint answers.
    pub fn prometheus(&self, prefix: &str) -> String {
        let mut out = String::new();
        let mut one = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {prefix}_{name} {help}");
            let _ = writeln!(out, "# TYPE {prefix}_{name} {kind}");
            let _ = writeln!(out, "{prefix}_{name} {value}");
        };
        one(
            "connections",
            "gauge",
            "Open connections.",
            self.connections as u64,
        );
        one(
            "connections_total",
            "counter",
            "Connections accepted.",
            self.connections_total,
        );
        one(
            "sessions_total",
            "counter",
            "Sessions created.",
            self.sessions_total,
        );
        one(
            "messages_received_total",
            "counter",
            "Messages received from clients.",
            self.messages_in,
        );
        one(
            "messages_sent_total",
            "counter",
            "Messages sent, one per recipient.",
            self.messages_out,
        );
        one(
            "bytes_received_total",
            "counter",
            "Bytes read from connections.",
            self.bytes_in,
        );
        one(
            "bytes_sent_total",
            "counter",
            "Bytes written to connections.",
            self.bytes_out,
        );
        one(
            "slow_peers_total",
            "counter",
            "Connections cut off for not reading.",
            self.slow_peers,
        );
        one(
            "handshakes_refused_total",
            "counter",
            "Handshakes refused.",
            self.refused,
        );
        one(
            "decode_errors_total",
            "counter",
            "Malformed payloads or frames dropped.",
            self.decode_errors,
        );
        let _ = writeln!(out, "# HELP {prefix}_sessions Live sessions by transport.");
        let _ = writeln!(out, "# TYPE {prefix}_sessions gauge");
        for kind in TransportKind::ALL {
            let _ = writeln!(
                out,
                "{prefix}_sessions{{transport=\"{}\"}} {}",
                kind.name(),
                self.sessions_on(kind)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_has_a_type_and_a_value_per_metric() {
        let mut m = Metrics::default();
        m.sessions_by_transport[TransportKind::XhrPolling as usize] = 3;
        m.messages_out = 12;
        let text = m.prometheus("socketio");
        assert!(text.contains(
            "# TYPE socketio_messages_sent_total counter\nsocketio_messages_sent_total 12\n"
        ));
        assert!(text.contains("socketio_sessions{transport=\"xhr-polling\"} 3\n"));
        assert!(text.contains("socketio_sessions{transport=\"websocket\"} 0\n"));
        assert_eq!(m.sessions(), 3);
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = line.rsplit_once(' ').unwrap();
            assert!(name.starts_with("socketio_"), "{line}");
            value.parse::<u64>().unwrap();
        }
    }
}
