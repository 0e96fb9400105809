//! Timers: arming deadlines and acting on those that passed.

use std::time::{Duration, Instant};

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

    /// The connection's one deadline: `request_timeout` once a request has begun,
    /// `idle_timeout` while none is under way, `handshake_timeout` while hixie-76 key3 is due.
    pub(super) fn arm_conn_timer(&mut self, id: ConnId, within: Duration, now: Instant) {
        self.arm(TimerOwner::Conn(id), TimerKind::Close, now + within);
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
