//! Helpers shared by the tests that drive the `trendlog` binary as a user
//! would: one fresh process per question.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_trendlog"))
}

/// `../shared/data`, or `None` (with a message) where it is absent.
pub fn data_dir() -> Option<PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    if d.is_dir() {
        Some(d)
    } else {
        eprintln!("skipped: {} is absent", d.display());
        None
    }
}

/// `ingest` of CSV lines `timestamp,tag,count,platform,region` into a store
/// with (or declaring) the label keys `platform,region`.
pub const INGEST_LABELLED: [&str; 5] = [
    "ingest",
    "--labels",
    "platform,region",
    "--columns",
    "timestamp,tag,count,platform,region",
];

/// `trendlog --db DB ARGS...` with empty standard input.
pub fn run(db: &Path, args: &[&str]) -> Output {
    run_bytes(db, args, &[])
}

/// `trendlog --db DB ARGS...` reading `input` on standard input.
pub fn run_stdin(db: &Path, args: &[&str], input: &str) -> Output {
    run_bytes(db, args, input.as_bytes())
}

/// Like [`run_stdin`] with bytes, fed from a thread so a large input never
/// deadlocks against the child's output; a child that exits before reading
/// (a locked store) is not an error.
pub fn run_bytes(db: &Path, args: &[&str], input: &[u8]) -> Output {
    let mut child = bin()
        .arg("--db")
        .arg(db)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let o = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    o
}

/// The exit code.
pub fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Standard output as JSON, after asserting exit code 0.
pub fn json(o: &Output) -> serde_json::Value {
    assert_eq!(code(o), 0, "stderr: {}", stderr(o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// A running `ingest --ack` fed through a pipe: its stdin, and its ack lines
/// as they come (read on a thread, so a test can wait with a limit).
pub struct Ingesting {
    pub child: std::process::Child,
    pub input: std::process::ChildStdin,
    pub acks: std::sync::mpsc::Receiver<String>,
}

/// Starts `trendlog --db DB ingest --ack ARGS...` reading stdin.
pub fn spawn_ingest(db: &Path, args: &[&str]) -> Ingesting {
    use std::io::BufRead;
    let mut child = bin()
        .arg("--db")
        .arg(db)
        .args(["ingest", "--ack"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = child.stdin.take().unwrap();
    let out = std::io::BufReader::new(child.stdout.take().unwrap());
    let (tx, acks) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in out.lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Ingesting { child, input, acks }
}
