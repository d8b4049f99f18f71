//! A real tmpfs of a given size, for tests of a full disk: mounted when the
//! test runs as root and `mount -t tmpfs` works there, unmounted when dropped.

use std::path::Path;
use std::process::Command;

/// A mounted tmpfs; unmounted (and its directory removed) when dropped.
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`mount -o size=`, e.g. `600k`, `4m`) on a
    /// fresh directory. `None`, with a message naming `test` on stderr, when
    /// not root or when the mount fails: the caller skips its test.
    pub fn mount(size: &str, test: &str) -> Option<Tmpfs> {
        let uid = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        if uid.as_deref().ok() != Some("0") {
            eprintln!("{test}: SKIPPED (not root, cannot mount a tmpfs)");
            return None;
        }
        let dir = tempfile::tempdir().ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("{test}: SKIPPED (mount -t tmpfs failed)");
            return None;
        }
        Some(Tmpfs { dir })
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}
