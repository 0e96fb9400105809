//! A logger that keeps every record, for tests that check what the server logs and at which
//! level. One per test process (the `log` facade has one logger); tests running side by side
//! pick their own records out by what they contain (a port, a session id).

use std::sync::{Mutex, OnceLock};

use log::{Level, LevelFilter, Log, Metadata, Record};

/// One record as it was logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub level: Level,
    /// The module that logged it (`io_core::server::sessions`, say).
    pub target: String,
    pub message: String,
}

struct Keeper(Mutex<Vec<Logged>>);

impl Log for Keeper {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &Record<'_>) {
        let logged = Logged {
            level: record.level(),
            target: record.target().to_owned(),
            message: record.args().to_string(),
        };
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(logged);
    }

    fn flush(&self) {}
}

fn keeper() -> &'static Keeper {
    static KEEPER: OnceLock<&'static Keeper> = OnceLock::new();
    KEEPER.get_or_init(|| {
        let keeper: &'static Keeper = Box::leak(Box::new(Keeper(Mutex::new(Vec::new()))));
        log::set_logger(keeper).expect("no other logger in a test process");
        log::set_max_level(LevelFilter::Trace);
        keeper
    })
}

/// Starts keeping records (from now on, in this process).
pub fn capture() {
    keeper();
}

/// Every record kept so far whose message contains `needle`.
pub fn containing(needle: &str) -> Vec<Logged> {
    keeper()
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|l| l.message.contains(needle))
        .cloned()
        .collect()
}
