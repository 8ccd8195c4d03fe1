//! The signing key of the built-in Auth: RSA 2048, made once and kept (PKCS#8 PEM,
//! mode 0600) in the data directory; id_tokens are RS512 JWTs.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::sha2::Sha512;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use std::path::Path;

pub struct Keys {
    signer: SigningKey<Sha512>,
    jwk: Value,
    pub kid: String,
}

impl Keys {
    pub fn load_or_create(path: &Path) -> anyhow::Result<Keys> {
        let key = match std::fs::read_to_string(path) {
            Ok(pem) => RsaPrivateKey::from_pkcs8_pem(&pem)
                .map_err(|e| anyhow::anyhow!("{} is not a valid key: {e}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)?;
                let pem = key.to_pkcs8_pem(LineEnding::LF)?;
                write_private(path, pem.as_bytes())?;
                key
            }
            Err(e) => return Err(e.into()),
        };
        let n = B64.encode(key.n().to_bytes_be());
        let e = B64.encode(key.e().to_bytes_be());
        let kid = hex::encode(&<sha2::Sha256 as sha2::Digest>::digest(n.as_bytes())[..8]);
        let jwk = json!({"kty": "RSA", "alg": "RS512", "use": "sig", "kid": kid, "n": n, "e": e});
        Ok(Keys { signer: SigningKey::<Sha512>::new(key), jwk, kid })
    }

    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk] })
    }

    /// Signs claims as an RS512 JWT.
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": "RS512", "typ": "JWT", "kid": self.kid});
        let input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
        let sig = self.signer.sign(input.as_bytes());
        format!("{input}.{}", B64.encode(sig.to_bytes()))
    }
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p)?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::signature::Verifier;

    #[test]
    fn key_is_made_once_and_signatures_verify() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("auth-key.pem");
        let k1 = Keys::load_or_create(&p).unwrap();
        let k2 = Keys::load_or_create(&p).unwrap();
        assert_eq!(k1.jwks(), k2.jwks(), "the key is kept");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        let jwt = k1.sign(&json!({"sub": "x"}));
        let (input, sig) = jwt.rsplit_once('.').unwrap();
        let pem = std::fs::read_to_string(&p).unwrap();
        let key = RsaPrivateKey::from_pkcs8_pem(&pem).unwrap();
        let vk = VerifyingKey::<Sha512>::new(key.to_public_key());
        let sig = Signature::try_from(B64.decode(sig).unwrap().as_slice()).unwrap();
        assert!(vk.verify(input.as_bytes(), &sig).is_ok());
        assert!(vk.verify(b"tampered", &sig).is_err());
    }
}
