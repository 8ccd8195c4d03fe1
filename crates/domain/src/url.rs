//! Percent-encoding, once for Gantry: query values in links, path components in URLs,
//! and decoding what arrives.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// RFC 3986's unreserved characters stay; everything else is escaped.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
/// The same, keeping `/` (a path).
const PATH: &AsciiSet = &UNRESERVED.remove(b'/');

/// Every byte but letters and digits escaped: safe as any query value.
pub fn escape(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

/// Unreserved characters kept (a path segment, an RFC 5987 value).
pub fn escape_component(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// A path, with its `/` kept.
pub fn escape_path(p: &str) -> String {
    utf8_percent_encode(p, PATH).to_string()
}

/// `next` if it is a path on this server to send a browser back to, else None.
///
/// A browser resolves a `Location` against the current URL after dropping tabs and line
/// breaks and reading `\\` as `/`, so only a path that starts with exactly one `/` and
/// holds no control characters, whitespace or backslashes cannot lead to another origin
/// (and always fits in a header).
pub fn local_path(next: &str) -> Option<&str> {
    let rest = next.strip_prefix('/')?;
    let bad = |c: char| c.is_control() || c.is_whitespace() || c == '\\';
    if rest.starts_with('/') || next.chars().any(bad) || next.len() > 2048 {
        return None;
    }
    Some(next)
}

/// Percent-decoding; bytes that are not UTF-8 become U+FFFD.
pub fn unescape(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// A value of an `application/x-www-form-urlencoded` body or query (`+` is a space).
pub fn unescape_form(s: &str) -> String {
    unescape(&s.replace('+', " "))
}

#[cfg(test)]
mod local_path_tests {
    #[test]
    fn only_paths_of_this_server() {
        for ok in ["/", "/collections/x?y=1", "/a/%09/b", "/x?u=https://e.example/", "/search?q=a%20b"] {
            assert_eq!(super::local_path(ok), Some(ok));
        }
        for bad in [
            "",
            "evil",
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example/x",
            "/\n/x",
            "/\r\nSet-Cookie: x",
            "/ /evil",
            "/\u{0}",
            "/\u{2028}x",
            "\\\\evil",
        ] {
            assert_eq!(super::local_path(bad), None, "{bad:?}");
        }
        assert_eq!(super::local_path(&format!("/{}", "a".repeat(3000))), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        assert_eq!(escape("/device?code=AB-CD"), "%2Fdevice%3Fcode%3DAB%2DCD");
        assert_eq!(escape_component("a b/ü-~"), "a%20b%2F%C3%BC-~");
        assert_eq!(escape_path("dir/a b.txt"), "dir/a%20b.txt");
        assert_eq!(unescape("a%20b%2F%C3%BC"), "a b/ü");
        assert_eq!(unescape_form("a+b%2Bc"), "a b+c");
    }
}
