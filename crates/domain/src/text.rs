//! Text that reaches a terminal or a file name: control characters and the invisible
//! characters that reorder text (bidi overrides and isolates) are what an attacker uses
//! to hide or rewrite what a person sees.

use std::borrow::Cow;

/// Characters that change how text around them is shown without being seen themselves.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Whether `s` holds control characters (tab and line breaks included) or bidi controls.
pub fn has_hidden_controls(s: &str) -> bool {
    s.chars().any(|c| c.is_control() || is_bidi_control(c))
}

/// `s` with every control and bidi character written as `\u{…}` (tabs kept), so that
/// printing it cannot move the cursor, recolour the terminal or reorder the line.
pub fn printable(s: &str) -> Cow<'_, str> {
    let bad = |c: char| (c.is_control() && c != '\t') || is_bidi_control(c);
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.chars().map(|c| if bad(c) { format!("\\u{{{:x}}}", c as u32) } else { c.to_string() }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_hides_or_moves_text() {
        assert_eq!(printable("plain text, ünïcode"), "plain text, ünïcode");
        assert_eq!(printable("a\tb"), "a\tb");
        assert_eq!(printable("\u{1b}[2J\u{1b}]0;owned\u{7}"), "\\u{1b}[2J\\u{1b}]0;owned\\u{7}");
        assert_eq!(printable("evil\u{202e}txt.exe"), "evil\\u{202e}txt.exe");
        assert_eq!(printable("line\r\nnext"), "line\\u{d}\\u{a}next");
        assert!(
            has_hidden_controls("report\u{2066}.pdf") && has_hidden_controls("a\nb") && has_hidden_controls("a\tb")
        );
        assert!(!has_hidden_controls("data/run 1.h5"));
    }
}
