//! The Flash policy probe check on arbitrary first bytes: the answer for a longer prefix
//! never goes back on the answer for a shorter one.
#![no_main]

use io_core::policy::{classify, Probe, PROBE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let whole = classify(data);
    let expected = if data.starts_with(PROBE) {
        Probe::Policy
    } else if PROBE.starts_with(data) {
        Probe::NeedMore
    } else {
        Probe::NotPolicy
    };
    assert_eq!(whole, expected);
    if whole == Probe::NeedMore {
        assert!(data.len() < PROBE.len());
    }

    // Bytes arriving one read at a time: NeedMore, then a final answer that never changes.
    let mut settled: Option<Probe> = None;
    for end in 0..=data.len() {
        let probe = classify(&data[..end]);
        match settled {
            Some(answer) => assert_eq!(probe, answer, "prefix of {end} bytes changed its answer"),
            None if probe != Probe::NeedMore => settled = Some(probe),
            None => assert!(end < PROBE.len()),
        }
    }
    assert_eq!(settled.unwrap_or(Probe::NeedMore), whole);

    // The probe followed by anything is the probe.
    let mut with_probe = PROBE.to_vec();
    with_probe.extend_from_slice(data);
    assert_eq!(classify(&with_probe), Probe::Policy);
});
