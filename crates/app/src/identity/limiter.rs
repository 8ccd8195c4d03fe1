//! Throttling password guesses, per account *and* source address, with back-off: after
//! `FREE_TRIES` failures of an account from one address, that address waits `FIRST_WAIT`,
//! then twice as long after each further failure (at most `MAX_WAIT`) before trying that
//! account again; an address that
//! fails across many accounts (`FREE_TRIES_PER_ADDRESS`) waits likewise for all of them.
//! Another address is not held back, so nobody can lock a user out by failing on purpose.
//! In memory, per server process, bounded; a failure is forgotten `FORGET` after it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const FREE_TRIES: u32 = 5;
pub const FREE_TRIES_PER_ADDRESS: u32 = 50;
pub const FIRST_WAIT: Duration = Duration::from_secs(30);
pub const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
pub const FORGET: Duration = Duration::from_secs(15 * 60);
/// Entries remembered at most; forgotten ones are dropped first.
const MAX_ENTRIES: usize = 50_000;

#[derive(Clone, Copy)]
struct Failures {
    n: u32,
    last: Instant,
}

impl Failures {
    /// How long after the last failure the next try must wait.
    fn wait(&self, free: u32) -> Duration {
        if self.n < free {
            return Duration::ZERO;
        }
        let doubling = (self.n - free).min(20);
        (FIRST_WAIT * (1u32 << doubling)).min(MAX_WAIT)
    }

    fn left(&self, free: u32) -> Duration {
        self.wait(free).saturating_sub(self.last.elapsed())
    }
}

#[derive(Default)]
pub struct LoginLimiter {
    accounts: Mutex<HashMap<(String, Option<IpAddr>), Failures>>,
    addresses: Mutex<HashMap<IpAddr, Failures>>,
}

/// The account a sign-in tries, in one form for throttling: `KIND:name`, the name
/// trimmed (as sign-in looks it up) and lower-cased (so case variants count together).
pub fn account(kind: &str, username: &str) -> String {
    format!("{kind}:{}", username.trim().to_lowercase())
}

fn note<K: std::hash::Hash + Eq>(m: &mut HashMap<K, Failures>, key: K) {
    if m.len() >= MAX_ENTRIES {
        m.retain(|_, f| f.last.elapsed() < FORGET);
    }
    let now = Instant::now();
    let f = m.entry(key).or_insert(Failures { n: 0, last: now });
    if f.last.elapsed() >= FORGET {
        f.n = 0;
    }
    f.n += 1;
    f.last = now;
}

impl LoginLimiter {
    /// Seconds `from` must wait before trying `account` again, if it must.
    pub fn locked(&self, account: &str, from: Option<IpAddr>) -> Option<u64> {
        let mut left = self.accounts.lock().unwrap().get(&(account.to_string(), from)).map(|f| f.left(FREE_TRIES));
        if let Some(a) = from
            && let Some(f) = self.addresses.lock().unwrap().get(&a)
        {
            left = left.max(Some(f.left(FREE_TRIES_PER_ADDRESS)));
        }
        left.filter(|l| !l.is_zero()).map(|l| l.as_secs().max(1))
    }

    pub fn failed(&self, account: &str, from: Option<IpAddr>) {
        note(&mut self.accounts.lock().unwrap(), (account.to_string(), from));
        if let Some(a) = from {
            note(&mut self.addresses.lock().unwrap(), a);
        }
    }

    /// A good password from `from` clears that address's failures on the account.
    pub fn succeeded(&self, account: &str, from: Option<IpAddr>) {
        self.accounts.lock().unwrap().remove(&(account.to_string(), from));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn failures_hold_back_only_the_address_that_made_them_with_back_off() {
        let l = LoginLimiter::default();
        let (a, b) = (ip("192.0.2.1"), ip("192.0.2.2"));
        for _ in 0..FREE_TRIES - 1 {
            l.failed("password:eve", a);
        }
        assert_eq!(l.locked("password:eve", a), None);
        l.failed("password:eve", a);
        assert!(l.locked("password:eve", a).is_some_and(|s| s > 25 && s <= 30));
        assert_eq!(l.locked("password:eve", b), None, "another address is not locked out");
        assert_eq!(l.locked("password:bob", a), None);
        for _ in 0..4 {
            l.failed("password:eve", a);
        }
        assert!(l.locked("password:eve", a).is_some_and(|s| s > 475 && s <= 480), "the wait doubles with each failure");
        for _ in 0..30 {
            l.failed("password:eve", a);
        }
        assert!(l.locked("password:eve", a).is_some_and(|s| s > 895 && s <= 900), "and is bounded");
        l.succeeded("password:eve", a);
        assert_eq!(l.locked("password:eve", a), None);
    }

    #[test]
    fn an_address_guessing_across_accounts_is_held_back_everywhere() {
        let l = LoginLimiter::default();
        let a = ip("192.0.2.9");
        for i in 0..FREE_TRIES_PER_ADDRESS {
            l.failed(&format!("password:user{i}"), a);
        }
        assert!(l.locked("password:someone-else", a).is_some());
        assert_eq!(l.locked("password:someone-else", ip("192.0.2.10")), None);
    }

    #[test]
    fn usernames_have_one_form() {
        assert_eq!(account("password", "  EVE "), "password:eve");
        assert_eq!(account("password", "eve"), account("password", "Eve\t"));
    }
}
