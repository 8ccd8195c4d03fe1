//! Failed password sign-ins per account: after `MAX_FAILURES` within `FAILURE_WINDOW`,
//! the account's password sign-in waits until the window has passed (in memory, so per
//! server process; bounded).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const MAX_FAILURES: u32 = 5;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Accounts remembered at most; older windows are dropped first.
const MAX_ACCOUNTS: usize = 10_000;

#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginLimiter {
    /// Seconds to wait before `account` may try again, if it is locked.
    pub fn locked(&self, account: &str) -> Option<u64> {
        let m = self.failures.lock().unwrap();
        let (n, since) = m.get(&account.to_lowercase())?;
        let left = FAILURE_WINDOW.saturating_sub(since.elapsed());
        (*n >= MAX_FAILURES && !left.is_zero()).then(|| left.as_secs().max(1))
    }

    pub fn failed(&self, account: &str) {
        let mut m = self.failures.lock().unwrap();
        if m.len() > MAX_ACCOUNTS {
            m.retain(|_, (_, since)| since.elapsed() < FAILURE_WINDOW);
        }
        let e = m.entry(account.to_lowercase()).or_insert((0, Instant::now()));
        if e.1.elapsed() >= FAILURE_WINDOW {
            *e = (0, Instant::now());
        }
        e.0 += 1;
    }

    pub fn succeeded(&self, account: &str) {
        self.failures.lock().unwrap().remove(&account.to_lowercase());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn five_failures_lock_an_account() {
        let l = super::LoginLimiter::default();
        for _ in 0..super::MAX_FAILURES - 1 {
            l.failed("password:Alice");
        }
        assert_eq!(l.locked("password:alice"), None);
        l.failed("password:alice");
        assert!(l.locked("password:ALICE").is_some_and(|s| s > 60));
        assert_eq!(l.locked("password:bob"), None);
        l.succeeded("password:alice");
        assert_eq!(l.locked("password:alice"), None);
    }
}
