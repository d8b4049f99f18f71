//! One writer at a time: a second `Store::open` on a directory that is open for
//! writing, in this process or in another one, fails with `Error::Locked`
//! naming the directory; read-only opens keep working, and the lock is released
//! when the writer closes (or its process dies).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use trendlog::time::TimeRange;
use trendlog::{Error, Options, Store};

const CHILD_ENV: &str = "TRENDLOG_TEST_LOCK_CHILD_DIR";

fn assert_locked(r: trendlog::Result<Store>, dir: &std::path::Path) {
    match r {
        Err(Error::Locked { dir: d }) => {
            assert_eq!(d, dir);
            let msg = Error::Locked { dir: d }.to_string();
            assert!(msg.contains(&dir.display().to_string()), "{msg}");
        }
        other => panic!("expected Error::Locked, got {other:?}"),
    }
}

fn all() -> TimeRange {
    TimeRange::new(0, 2_000_000_000).unwrap()
}

#[test]
fn second_writer_in_this_process_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let a = Store::open(dir.path(), Options::default()).unwrap();
    a.record("metoo", 1_508_025_600, 3).unwrap();
    assert_locked(Store::open(dir.path(), Options::default()), dir.path());
    // A clone of the writer is not a second writer.
    let a2 = a.clone();
    a2.record("metoo", 1_508_025_660, 1).unwrap();
    // Readers are welcome while the writer holds the lock.
    let ro = Store::open_read_only(dir.path()).unwrap();
    assert_eq!(ro.total("metoo", all()).unwrap(), 4);
    assert!(matches!(
        ro.record("x", 1_508_025_600, 1),
        Err(Error::ReadOnly)
    ));
    // Still locked while any clone lives.
    drop(a);
    assert_locked(Store::open(dir.path(), Options::default()), dir.path());
    a2.close().unwrap();
    let b = Store::open(dir.path(), Options::default()).unwrap();
    assert_eq!(b.total("metoo", all()).unwrap(), 4);
    drop(ro);
}

/// Not a test on its own: the body of the child process of
/// `second_writer_in_another_process_is_locked`.
#[test]
fn lock_holder_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let store = Store::open(&dir, Options::default()).unwrap();
    store.record("metoo", 1_508_025_600, 5).unwrap();
    println!("\nLOCKED");
    // Hold the lock until the parent closes our stdin (or kills us).
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    drop(store);
}

#[test]
fn second_writer_in_another_process_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "lock_holder_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the child exited before locking"
        );
        if line.contains("LOCKED") {
            break;
        }
    }
    assert_locked(Store::open(dir.path(), Options::default()), dir.path());
    let ro = Store::open_read_only(dir.path()).unwrap();
    assert_eq!(ro.total("metoo", all()).unwrap(), 5);
    drop(ro);
    // The lock dies with its process.
    child.kill().unwrap();
    child.wait().unwrap();
    let store = Store::open(dir.path(), Options::default()).unwrap();
    assert_eq!(store.total("metoo", all()).unwrap(), 5);
}
