//! Reading a file (or any reader) to its end in large pieces: the one loop behind
//! hashing a file, resuming a download's hash and verifying a copy.

use std::io::Read;

/// How much is read at once.
pub const CHUNK: usize = 1 << 20;

/// Hands every piece `r` yields to `each`, until the end; returns how many bytes there were.
pub fn each_chunk(r: &mut impl Read, mut each: impl FnMut(&[u8])) -> std::io::Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        each(&buf[..n]);
        total += n as u64;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sees_every_byte_once_in_order() {
        let data: Vec<u8> = (0..(super::CHUNK * 2 + 17)).map(|i| (i % 251) as u8).collect();
        let mut seen = vec![];
        let mut pieces = 0;
        let n = super::each_chunk(&mut data.as_slice(), |b| {
            seen.extend_from_slice(b);
            pieces += 1;
        })
        .unwrap();
        assert_eq!((n, seen == data), (data.len() as u64, true));
        assert!(pieces >= 3);
        assert_eq!(super::each_chunk(&mut std::io::empty(), |_| panic!("nothing to see")).unwrap(), 0);
    }
}
