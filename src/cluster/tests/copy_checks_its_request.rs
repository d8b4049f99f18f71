//! `copy` refuses, before connecting, a partition the deployment does not
//! have and a relative destination: exit 2 with a sentence naming the
//! mistake. Before, `--partition 7` with `-P 4` went out to a subject no
//! replica listens on and came back as "a NATS call failed: no responders",
//! and a relative `--to` was written relative to the replica's working
//! directory. Needs no nats-server: nothing listens on the address given.

use std::process::Command;

fn copy(args: &[&str]) -> (Option<i32>, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_trendlog-cluster"))
        .args(["--server", "nats://127.0.0.1:1", "-P", "4", "copy"])
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn copy_checks_its_request() {
    let (code, err) = copy(&["--partition", "7", "--replica", "a", "--to", "/data/p7-c"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("partition 7 does not exist") && err.contains("0 to 3"),
        "{err}"
    );
    let (code, err) = copy(&["--partition", "1", "--replica", "a", "--to", "p1-c"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("absolute"), "{err}");
    let (code, err) = copy(&["--partition", "1", "--replica", "a>", "--to", "/data/p1-c"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("replica name"), "{err}");
}
