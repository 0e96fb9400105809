//! The measured window: wall time, the server's CPU time (and the load generator's own, to
//! show it was not the bottleneck) and the server's memory at chosen moments.

use std::time::{Duration, Instant};

use crate::procstat::{self, Memory};

pub struct Window {
    server: Option<u32>,
    start: Instant,
    server_cpu: f64,
    own_cpu: f64,
    /// Seconds into the window at which to read the server's memory, with what was read.
    samples: Vec<(f64, Option<Memory>)>,
}

/// What a window measured.
pub struct Figures {
    pub seconds: f64,
    pub server_cpu: Option<f64>,
    pub own_cpu: f64,
    pub memory: Option<Memory>,
    pub samples: Vec<(f64, Memory)>,
}

impl Window {
    /// Starts now; `sample_at` are seconds into the window to read the server's memory at.
    pub fn start(server: Option<u32>, sample_at: &[f64]) -> Window {
        Window {
            server,
            start: Instant::now(),
            server_cpu: server
                .and_then(|p| procstat::cpu_seconds(p).ok())
                .unwrap_or(0.0),
            own_cpu: procstat::cpu_seconds(std::process::id()).unwrap_or(0.0),
            samples: sample_at.iter().map(|&s| (s, None)).collect(),
        }
    }

    pub fn started(&self) -> Instant {
        self.start
    }

    /// Takes the memory samples that are due.
    pub fn tick(&mut self, now: Instant) {
        let elapsed = now.duration_since(self.start).as_secs_f64();
        for (_, taken) in self
            .samples
            .iter_mut()
            .filter(|(at, t)| t.is_none() && *at <= elapsed)
        {
            *taken = self.server.and_then(|p| procstat::memory(p).ok());
        }
    }

    /// How long until the next sample is due, if one is.
    pub fn next_sample(&self, now: Instant) -> Option<Duration> {
        let elapsed = now.duration_since(self.start).as_secs_f64();
        self.samples
            .iter()
            .filter(|(_, t)| t.is_none())
            .map(|(at, _)| Duration::from_secs_f64((at - elapsed).max(0.0)))
            .min()
    }

    pub fn finish(mut self) -> Figures {
        let now = Instant::now();
        self.tick(now);
        Figures {
            seconds: now.duration_since(self.start).as_secs_f64(),
            server_cpu: self
                .server
                .and_then(|p| procstat::cpu_seconds(p).ok())
                .map(|c| c - self.server_cpu),
            own_cpu: procstat::cpu_seconds(std::process::id()).unwrap_or(0.0) - self.own_cpu,
            memory: self.server.and_then(|p| procstat::memory(p).ok()),
            samples: self
                .samples
                .into_iter()
                .filter_map(|(at, m)| Some((at, m?)))
                .collect(),
        }
    }
}
