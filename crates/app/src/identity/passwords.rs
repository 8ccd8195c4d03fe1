//! Local passwords, hashed with argon2. Hashing is slow on purpose, so the operations
//! run it on the blocking pool, never on the async workers, and at most one hash per
//! core at a time: a burst of sign-ins waits its turn instead of taking every blocking
//! thread (and argon2's 19 MiB each).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use gantry_domain::{Error, Result};
use std::sync::LazyLock;
use tokio::sync::Semaphore;

static HASHING: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)));

/// Runs `f` on the blocking pool once one of the hashing permits is free.
async fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let _permit = HASHING.acquire().await.ok()?;
    tokio::task::spawn_blocking(f).await.ok()
}

/// A new argon2 hash of `password` (at least 8 characters).
pub fn hash_password(password: &str) -> Result<String> {
    if password.len() < 8 {
        return Err(Error::invalid("passwords need at least 8 characters"));
    }
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw).map_err(|e| Error::internal(format!("random source: {e}")))?;
    let salt = SaltString::encode_b64(&raw).map_err(|e| Error::internal(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(format!("hash password: {e}")))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// [`hash_password`] on the blocking pool.
pub async fn hash_blocking(password: String) -> Result<String> {
    bounded(move || hash_password(&password)).await.ok_or_else(|| Error::internal("password hashing stopped"))?
}

/// Checks `password` against `hash` on the blocking pool. Without a hash (unknown user,
/// or no password set) a dummy hash is checked, so both cost the same.
pub async fn verify_blocking(password: String, hash: Option<String>) -> bool {
    static DUMMY: LazyLock<String> =
        LazyLock::new(|| hash_password("no such user, no such password").unwrap_or_default());
    bounded(move || {
        let ok = verify_password(&password, hash.as_deref().unwrap_or(&DUMMY));
        ok && hash.is_some()
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords() {
        let h = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(hash_password("short").is_err());
        assert!(verify_blocking("correct horse".into(), Some(h.clone())).await);
        assert!(!verify_blocking("wrong horse".into(), Some(h)).await);
        assert!(!verify_blocking("no such user, no such password".into(), None).await, "no hash never passes");
    }

    /// On a runtime with one thread, the hash still runs on another thread: the async
    /// worker is never the one hashing.
    #[tokio::test]
    async fn hashing_runs_off_the_async_worker() {
        let here = std::thread::current().id();
        let there = bounded(|| std::thread::current().id()).await.unwrap();
        assert_ne!(here, there);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_hashes_at_once_than_cores() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let runs: Vec<_> = (0..cores * 4)
            .map(|_| {
                let (now, most) = (now.clone(), most.clone());
                tokio::spawn(bounded(move || {
                    most.fetch_max(now.fetch_add(1, SeqCst) + 1, SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    now.fetch_sub(1, SeqCst);
                }))
            })
            .collect();
        for r in runs {
            assert!(r.await.unwrap().is_some());
        }
        assert!(most.load(SeqCst) <= cores, "{} hashes ran at once on {cores} cores", most.load(SeqCst));
        assert!(most.load(SeqCst) >= 1);
    }
}
