//! The example servers' logger: every `log` record at or above the chosen level, one line
//! on stderr with the local time, as the original printed through `sys.log`. The libraries
//! print nothing without a logger; an application of your own installs any `log` logger
//! (`env_logger`, `simplelog`, a `tracing` bridge) instead.

use std::io::Write;

use log::{LevelFilter, Log, Metadata, Record};

struct Stderr {
    level: LevelFilter,
}

impl Log for Stderr {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        // One write per line, so that lines from several threads do not interleave.
        let line = format!(
            "{} {:<5} {}: {}\n",
            local_time(),
            record.level(),
            record.target(),
            record.args()
        );
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// Installs the logger at `level` (`Off`: nothing is printed). A second call changes
/// nothing.
pub fn install(level: LevelFilter) {
    if log::set_boxed_logger(Box::new(Stderr { level })).is_ok() {
        log::set_max_level(level);
    }
}

/// The local time, `2026-12-01 15:40:12.345`.
pub fn local_time() -> String {
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = libc::time_t::try_from(now.as_secs()).unwrap_or(0);
    // SAFETY: `localtime_r` writes only into `tm`, which lives on this stack frame; the
    // time zone it reads is set up by the C library.
    #[allow(unsafe_code)]
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        tm
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        now.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_local_time_reads_as_a_date_and_a_time() {
        let t = super::local_time();
        assert_eq!(t.len(), 23, "{t}");
        assert!(t.starts_with("20"), "{t}");
        assert_eq!(&t[10..11], " ");
        assert_eq!(&t[19..20], ".");
    }
}
