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

/// Percent-decoding; bytes that are not UTF-8 become U+FFFD.
pub fn unescape(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// A value of an `application/x-www-form-urlencoded` body or query (`+` is a space).
pub fn unescape_form(s: &str) -> String {
    unescape(&s.replace('+', " "))
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
