//! What the commands print for people and scripts. A reader that stops early
//! (`gantry ls | head -1`) closes the pipe: the command then ends quietly with
//! success, as Unix tools do, instead of failing on the write.

use std::io::Write;

/// Writes one line to standard output; see [`out!`](crate::out).
pub fn line(args: std::fmt::Arguments) {
    let mut o = std::io::stdout().lock();
    if let Err(e) = writeln!(o, "{args}") {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        let _ = writeln!(std::io::stderr(), "gantry: cannot write the output: {e}");
        std::process::exit(1);
    }
}

/// `println!` for command output: a closed pipe ends the command quietly.
#[macro_export]
macro_rules! out {
    ($($t:tt)*) => { $crate::output::line(format_args!($($t)*)) };
}
