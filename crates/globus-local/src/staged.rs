//! A destination file that appears under its final name only when it is complete.
//!
//! On Linux the bytes go to an unnamed file in the destination directory (`O_TMPFILE`),
//! which is linked under its final name at the end: one directory change per file, and a
//! crash leaves nothing behind. Where that is not available, and to replace an existing
//! file atomically, a hidden `.NAME.part-TAG` file is renamed over the destination.

use std::fs::File;
use std::io::Seek;
use std::path::{Path, PathBuf};

pub struct Staged {
    file: File,
    dst: PathBuf,
    tmp: PathBuf,
    anonymous: bool,
    published: bool,
}

impl Staged {
    /// Starts the file that will become `dst`; `tag` keeps temporary names of concurrent
    /// tasks apart.
    pub fn create(dst: &Path, tag: &str) -> std::io::Result<Staged> {
        let name = dst.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = dst.with_file_name(format!(".{name}.part-{tag}"));
        #[cfg(target_os = "linux")]
        {
            use rustix::fs::{Mode, OFlags};
            let dir = dst.parent().unwrap_or(Path::new("."));
            let flags = OFlags::RDWR | OFlags::TMPFILE | OFlags::CLOEXEC;
            match rustix::fs::open(dir, flags, Mode::from_bits_truncate(0o666)) {
                Ok(fd) => {
                    return Ok(Staged {
                        file: File::from(fd),
                        dst: dst.into(),
                        tmp,
                        anonymous: true,
                        published: false,
                    });
                }
                // File systems without unnamed files fall back to the named temporary.
                Err(e) if [rustix::io::Errno::OPNOTSUPP, rustix::io::Errno::ISDIR].contains(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let file = File::options().read(true).write(true).create(true).truncate(true).open(&tmp)?;
        Ok(Staged { file, dst: dst.into(), tmp, anonymous: false, published: false })
    }

    /// Removes the named temporary files of `tag` that a crash left in `dir`.
    pub fn remove_leftovers(dir: &Path, tag: &str) {
        let suffix = format!(".part-{tag}");
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') && name.ends_with(&suffix) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }

    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Reads the whole staged content from the start (to verify a checksum).
    pub fn read_back(&mut self, each: impl FnMut(&[u8])) -> std::io::Result<()> {
        self.file.rewind()?;
        gantry_domain::chunks::each_chunk(&mut self.file, each).map(drop)
    }

    /// Gives the file its final name, replacing whatever file had it.
    pub fn publish(mut self) -> std::io::Result<()> {
        #[cfg(target_os = "linux")]
        if self.anonymous {
            use rustix::fs::{AtFlags, CWD, linkat};
            use std::os::fd::AsRawFd;
            let proc = format!("/proc/self/fd/{}", self.file.as_raw_fd());
            match linkat(CWD, &proc, CWD, &self.dst, AtFlags::SYMLINK_FOLLOW) {
                Ok(()) => {
                    self.published = true;
                    return Ok(());
                }
                // The destination exists: link under the temporary name, then rename over it.
                Err(rustix::io::Errno::EXIST) => {
                    let _ = std::fs::remove_file(&self.tmp);
                    linkat(CWD, &proc, CWD, &self.tmp, AtFlags::SYMLINK_FOLLOW)?;
                    self.anonymous = false;
                }
                Err(e) => return Err(e.into()),
            }
        }
        std::fs::rename(&self.tmp, &self.dst)?;
        self.published = true;
        Ok(())
    }
}

impl Drop for Staged {
    /// An unpublished file is thrown away (an unnamed one vanishes by itself).
    fn drop(&mut self) {
        if !self.published && !self.anonymous {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Staged;
    use std::io::Write;

    fn names(dir: &std::path::Path) -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    #[test]
    fn appears_only_when_published() {
        let d = tempfile::tempdir().unwrap();
        let dst = d.path().join("out.bin");
        let mut s = Staged::create(&dst, "t1").unwrap();
        s.file().write_all(b"hello").unwrap();
        assert!(!dst.exists(), "visible before publish");
        let mut seen = vec![];
        s.read_back(|b| seen.extend_from_slice(b)).unwrap();
        assert_eq!(seen, b"hello");
        s.publish().unwrap();
        assert_eq!(std::fs::read(&dst).unwrap(), b"hello");
        assert_eq!(names(d.path()), ["out.bin"]);
    }

    #[test]
    fn replaces_an_existing_file_and_a_dropped_one_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        let dst = d.path().join("out.bin");
        std::fs::write(&dst, b"old content").unwrap();
        let mut s = Staged::create(&dst, "t2").unwrap();
        s.file().write_all(b"new").unwrap();
        assert_eq!(std::fs::read(&dst).unwrap(), b"old content");
        s.publish().unwrap();
        assert_eq!(std::fs::read(&dst).unwrap(), b"new");

        let mut s = Staged::create(&d.path().join("other"), "t3").unwrap();
        s.file().write_all(b"x").unwrap();
        drop(s);
        assert_eq!(names(d.path()), ["out.bin"]);
    }
}
