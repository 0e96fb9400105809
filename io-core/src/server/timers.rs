//! Timers: arming deadlines and acting on those that passed.

use std::time::Instant;

use crate::conn::ConnId;
use crate::session::{Attached, DisconnectReason};
use crate::timer::{TimerKey, TimerKind, TimerOwner};

use super::Server;

impl Server {
    pub(super) fn arm(&mut self, owner: TimerOwner, kind: TimerKind, at: Instant) {
        self.timers.set(TimerKey { owner, kind }, at);
    }

    pub(super) fn disarm(&mut self, owner: TimerOwner, kind: TimerKind) {
        self.timers.cancel(TimerKey { owner, kind });
    }

    /// A request began: it has `request_timeout` to arrive whole.
    pub(super) fn arm_request_timer(&mut self, id: ConnId, now: Instant) {
        let at = now + self.opts.limits.request_timeout;
        self.arm(TimerOwner::Conn(id), TimerKind::Close, at);
    }

    /// No request under way: the connection may sit like this for `idle_timeout`.
    pub(super) fn arm_idle_timer(&mut self, id: ConnId, now: Instant) {
        let at = now + self.opts.limits.idle_timeout;
        self.arm(TimerOwner::Conn(id), TimerKind::Close, at);
    }

    /// A hixie-76 head arrived: key3 has `handshake_timeout` to follow.
    pub(super) fn arm_key3_timer(&mut self, id: ConnId, now: Instant) {
        let at = now + self.opts.limits.handshake_timeout;
        self.arm(TimerOwner::Conn(id), TimerKind::Close, at);
    }

    pub(super) fn cancel_request_timer(&mut self, id: ConnId) {
        self.disarm(TimerOwner::Conn(id), TimerKind::Close);
    }

    pub(super) fn fire(&mut self, key: TimerKey, now: Instant) {
        match (key.owner, key.kind) {
            (TimerOwner::Conn(id), _) => {
                let busy = self.conns.get(&id).is_some_and(|c| !c.parser.is_idle());
                if busy {
                    self.error_response(id, 408, "the request took too long to arrive", now);
                } else {
                    self.close_conn(id, now);
                }
            }
            (TimerOwner::Session(sid), TimerKind::Close) => {
                self.end_session(sid, DisconnectReason::TransportClosed, now)
            }
            (TimerOwner::Session(sid), TimerKind::HeartbeatInterval) => {
                self.send_heartbeat(sid, now)
            }
            (TimerOwner::Session(sid), TimerKind::HeartbeatTimeout) => {
                self.end_session(sid, DisconnectReason::HeartbeatTimeout, now)
            }
            (TimerOwner::Session(sid), TimerKind::PollDuration) => {
                // `duration` ran out: an empty payload completes the held poll.
                let polling = self
                    .sessions
                    .get(&sid)
                    .is_some_and(|s| matches!(s.attached, Some(Attached::Poll { .. })));
                if polling {
                    self.write_payload(sid, Vec::new(), now);
                }
            }
        }
    }
}
