//! The server's one root secret, kept in a file outside the database (mode 0600): it
//! seals third-party tokens at rest (ChaCha20-Poly1305, bound to their user by the
//! associated data) and derives the keys that sign registry tokens and form tokens, so
//! that nothing read from the database can forge a credential.

use gantry_domain::{Error, Result};
use ring::aead;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;

#[derive(Clone)]
pub struct Sealer {
    key: Arc<aead::LessSafeKey>,
    root: Arc<ring::hmac::Key>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(***)")
    }
}

impl Sealer {
    /// The key from its file, made there (mode 0600) on first use.
    pub fn load(path: &std::path::Path) -> anyhow::Result<Sealer> {
        let hex_key = match std::fs::read_to_string(path) {
            Ok(s) => s.trim().to_string(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let k = crate::secrets::random_hex(32);
                crate::secrets::create_private_file(path, k.as_bytes())
                    .map_err(|e| anyhow::anyhow!("cannot create token key {}: {e}", path.display()))?;
                k
            }
            Err(e) => anyhow::bail!("cannot read token key {}: {e}", path.display()),
        };
        let raw = hex::decode(&hex_key)
            .ok()
            .filter(|k| k.len() == 32)
            .ok_or_else(|| anyhow::anyhow!("token key {} must hold 64 hex digits", path.display()))?;
        let key =
            aead::UnboundKey::new(&aead::CHACHA20_POLY1305, &raw).map_err(|_| anyhow::anyhow!("bad token key"))?;
        let root = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &raw);
        Ok(Sealer { key: Arc::new(aead::LessSafeKey::new(key)), root: Arc::new(root) })
    }

    /// A 32-byte key for one `purpose`, derived from the root secret (HMAC-SHA256):
    /// the same in every process that shares the key file, different per purpose.
    pub fn derive(&self, purpose: &str) -> Vec<u8> {
        ring::hmac::sign(&self.root, format!("gantry-key:{purpose}").as_bytes()).as_ref().to_vec()
    }

    fn aad(user_id: i64) -> String {
        format!("gantry-tokens:{user_id}")
    }

    /// Encrypts `value` for storage, bound to its user.
    pub fn seal<T: Serialize>(&self, user_id: i64, value: &T) -> Result<Vec<u8>> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|e| Error::internal(format!("random source: {e}")))?;
        let mut buf = serde_json::to_vec(value).map_err(|e| Error::internal(e.to_string()))?;
        let aad = Self::aad(user_id);
        self.key
            .seal_in_place_append_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(aad.as_bytes()),
                &mut buf,
            )
            .map_err(|_| Error::internal("cannot encrypt tokens"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Decrypts what [`Sealer::seal`] made for the same user.
    pub fn open<T: DeserializeOwned>(&self, user_id: i64, sealed: &[u8]) -> Result<T> {
        if sealed.len() < 12 + 16 {
            return Err(Error::internal("stored tokens are damaged"));
        }
        let (nonce, rest) = sealed.split_at(12);
        let mut buf = rest.to_vec();
        let aad = Self::aad(user_id);
        let nonce = aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| Error::internal("bad nonce"))?;
        let plain = self
            .key
            .open_in_place(nonce, aead::Aad::from(aad.as_bytes()), &mut buf)
            .map_err(|_| Error::internal("stored tokens cannot be decrypted (was the token key replaced?)"))?;
        serde_json::from_slice(plain).map_err(|e| Error::internal(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_key_is_made_once_and_private() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("token.key");
        let s1 = Sealer::load(&p).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        let first = std::fs::read_to_string(&p).unwrap();
        let s2 = Sealer::load(&p).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), first, "kept, not replaced");
        let sealed = s1.seal(7, &"secret").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(s2.open::<String>(7, &sealed).unwrap(), "secret");
        assert!(s2.open::<String>(8, &sealed).is_err(), "bound to its user");
        std::fs::write(&p, "zz").unwrap();
        assert!(Sealer::load(&p).is_err());
    }
}
