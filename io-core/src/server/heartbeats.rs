//! Heartbeats: exactly one cycle per session, started at each attach.

use std::time::Instant;

use crate::codec;
use crate::session::{Heartbeat, SessionId};
use crate::timer::{TimerKind, TimerOwner};

use super::Server;

impl Server {
    pub(super) fn start_heartbeat(&mut self, sid: SessionId, now: Instant) {
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        if s.attached.is_none() {
            return;
        }
        s.heartbeat = Heartbeat::Interval;
        let at = now + s.opts.heartbeat_interval;
        self.disarm(TimerOwner::Session(sid), TimerKind::HeartbeatTimeout);
        self.arm(TimerOwner::Session(sid), TimerKind::HeartbeatInterval, at);
    }

    pub(super) fn stop_heartbeat(&mut self, sid: SessionId) {
        if let Some(s) = self.sessions.get_mut(&sid) {
            s.heartbeat = Heartbeat::Off;
        }
        self.disarm(TimerOwner::Session(sid), TimerKind::HeartbeatInterval);
        self.disarm(TimerOwner::Session(sid), TimerKind::HeartbeatTimeout);
    }

    pub(super) fn on_heartbeat(&mut self, sid: SessionId, echo: &str, now: Instant) {
        let Some(s) = self.sessions.get(&sid) else {
            return;
        };
        // Only the echo of the heartbeat in flight counts; anything else is ignored, so a
        // client can never start a second chain.
        if s.heartbeat == Heartbeat::AwaitingEcho && echo == s.heartbeat_counter.to_string() {
            self.start_heartbeat(sid, now);
        }
    }

    pub(super) fn send_heartbeat(&mut self, sid: SessionId, now: Instant) {
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        let Some(timeout) = s.opts.timeout else {
            return;
        };
        s.heartbeat_counter += 1;
        s.heartbeat = Heartbeat::AwaitingEcho;
        let frame = codec::encode_heartbeat(s.heartbeat_counter);
        self.arm(
            TimerOwner::Session(sid),
            TimerKind::HeartbeatTimeout,
            now + timeout,
        );
        self.deliver(sid, frame, now);
    }
}
