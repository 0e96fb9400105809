//! New sessions per peer address per second: what stops one host from creating sessions
//! in a loop (the original let it, each session holding memory until its close timeout).
//!
//! A fixed one-second window per address. IPv6 addresses count by their /64 prefix, since
//! one host commonly has a whole /64 to pick addresses from; IPv4-mapped IPv6 addresses
//! count as the IPv4 address. Addresses are kept in a `BTreeMap` (no iteration order that
//! depends on process randomness) and forgotten once their window has passed, so the table
//! holds at most the addresses seen in about the last second, twice over.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(1);
/// Below this many addresses the table is not pruned at all.
const PRUNE_FLOOR: usize = 1024;

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    count: u32,
}

#[derive(Debug, Default)]
pub(crate) struct HandshakeRates {
    windows: BTreeMap<IpAddr, Window>,
    /// Prune again once the table has grown to this size.
    prune_at: usize,
}

impl HandshakeRates {
    /// Counts a new session from `peer`. False when it would be more than `limit` in its
    /// current second (0: no limit), and then it is not counted.
    pub fn admit(&mut self, peer: IpAddr, limit: u32, now: Instant) -> bool {
        if limit == 0 {
            return true;
        }
        let window = self.windows.entry(key(peer)).or_insert(Window {
            start: now,
            count: 0,
        });
        if now.saturating_duration_since(window.start) >= WINDOW {
            *window = Window {
                start: now,
                count: 0,
            };
        }
        if window.count >= limit {
            return false;
        }
        window.count += 1;
        if self.windows.len() >= self.prune_at.max(PRUNE_FLOOR) {
            self.windows
                .retain(|_, w| now.saturating_duration_since(w.start) < WINDOW);
            self.prune_at = 2 * self.windows.len();
        }
        true
    }

    /// How many addresses are remembered.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.windows.len()
    }
}

/// The address a peer is counted under.
fn key(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V4(_) => peer,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !(u128::MAX >> 64);
                IpAddr::V6(prefix.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn each_address_gets_its_limit_per_second() {
        let mut rates = HandshakeRates::default();
        let t0 = Instant::now();
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let b = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        for _ in 0..3 {
            assert!(rates.admit(a, 3, t0));
        }
        assert!(!rates.admit(a, 3, t0 + Duration::from_millis(999)));
        assert!(rates.admit(b, 3, t0), "another address has its own count");
        assert!(rates.admit(a, 3, t0 + WINDOW), "a new second");
        assert!(rates.admit(a, 0, t0), "0 is no limit");
    }

    #[test]
    fn ipv6_hosts_count_by_their_64_prefix() {
        let mut rates = HandshakeRates::default();
        let t0 = Instant::now();
        let one: Ipv6Addr = "2001:db8:1:2::1".parse().unwrap();
        let same_host: Ipv6Addr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: Ipv6Addr = "2001:db8:1:3::1".parse().unwrap();
        assert!(rates.admit(one.into(), 1, t0));
        assert!(!rates.admit(same_host.into(), 1, t0));
        assert!(rates.admit(other.into(), 1, t0));
        let mapped: Ipv6Addr = "::ffff:10.0.0.1".parse().unwrap();
        assert!(rates.admit(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 1, t0));
        assert!(!rates.admit(mapped.into(), 1, t0));
    }

    #[test]
    fn the_table_forgets_addresses_whose_second_has_passed() {
        let mut rates = HandshakeRates::default();
        let t0 = Instant::now();
        for second in 0..10u64 {
            let now = t0 + Duration::from_secs(second);
            for i in 0..1000u32 {
                let peer = IpAddr::V4(Ipv4Addr::from(second as u32 * 1000 + i));
                assert!(rates.admit(peer, 5, now));
            }
            assert!(rates.len() <= 2 * 1000 + PRUNE_FLOOR, "{}", rates.len());
        }
    }
}
