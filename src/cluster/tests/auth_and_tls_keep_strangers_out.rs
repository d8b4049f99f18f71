//! Against a cluster that requires a user and password (and TLS with a CA,
//! generated at test time with the openssl CLI when it is installed): the
//! runners, publisher and router work with the credentials; a client without
//! them, or with a wrong password, can neither publish into the partitions nor
//! ask the router; the password never appears in any process's output.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use trendlog_cluster::connect::Connection;
use trendlog_cluster::partition::Names;
use trendlog_cluster::router;
use trendlog_cluster::wire::{Answer, Request};

/// CA, server certificate and key for 127.0.0.1, or `None` without openssl.
fn make_certs(dir: &Path) -> Option<(std::path::PathBuf, std::path::PathBuf, std::path::PathBuf)> {
    let run = |args: &[&str]| {
        Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .ok()?;
    let ok = run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=trendlog test CA",
    ]) && run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]) && run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    ok.then(|| {
        (
            dir.join("ca.pem"),
            dir.join("server.pem"),
            dir.join("server.key"),
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_and_tls_keep_strangers_out() {
    let bin = require_nats!();
    let certs_dir = tempfile::tempdir().unwrap();
    let tls = make_certs(certs_dir.path());
    if tls.is_none() {
        eprintln!(
            "TLS part SKIPPED: the openssl CLI is not installed; running with user/password only"
        );
    }
    let password = format!("pw-{}-secret", std::process::id());
    let secure = Secure {
        user: "trendlog".into(),
        password: password.clone(),
        tls: tls.clone(),
    };
    let cluster = Cluster::start(&bin, Some(secure));
    let names = Names::new("au", 2).unwrap();
    let conn = cluster.connection();
    assert!(
        !format!("{conn:?}").contains(&password),
        "Debug must not show the password"
    );
    let client = conn.connect(Duration::from_secs(30)).await.unwrap();
    streams(&client, &names).await;
    let stores = cluster.stores();
    let runners: Vec<Runner> = (0..2)
        .map(|p| {
            Runner::start(
                &cluster,
                "au",
                2,
                p,
                "a",
                &stores.join(format!("p{p}")),
                &[],
            )
        })
        .collect();
    let router_task = tokio::spawn(router::serve(
        client.clone(),
        names.clone(),
        Duration::from_secs(2),
    ));
    let ledger = publish_one_round(&client, &names, "au-pub", 41, 5_000).await;
    let last = stream_last(&client, &names).await;
    wait_caught_up(
        &client,
        &names,
        &[(0, "a"), (1, "a")],
        &last,
        Duration::from_secs(60),
    )
    .await;
    let total = Request::Total {
        tag: "metoo".into(),
        from: 0,
        to: 2_000_000_000,
    };
    let reply = router::ask(&client, &names, &total, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(reply.answer, Some(Answer::Total(ledger.per_tag["metoo"])));

    // Strangers: no credentials, a wrong password, or plain text to a TLS server.
    let mut strangers = Vec::new();
    let mut none = Connection::new(cluster.urls());
    none.tls_ca = tls.as_ref().map(|t| t.0.clone());
    strangers.push(("no credentials", none.clone()));
    let mut wrong = none.clone();
    wrong.user = Some("trendlog".into());
    wrong.password = Some("guess".into());
    strangers.push(("a wrong password", wrong));
    if tls.is_some() {
        let mut plain = Connection::new(
            cluster
                .urls()
                .iter()
                .map(|u| u.replace("tls://", "nats://")),
        );
        plain.user = Some("trendlog".into());
        plain.password = Some(password.clone());
        strangers.push(("the right password without TLS", plain));
    }
    for (what, c) in strangers {
        let r = c.connect(Duration::from_secs(2)).await;
        assert!(r.is_err(), "a client with {what} connected");
        let msg = r.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(!msg.contains(&password), "an error shows the password");
    }
    // The binary, as an operator runs it: refused without credentials, answers with them.
    let exe = env!("CARGO_BIN_EXE_trendlog-cluster");
    let body = serde_json::to_string(&total).unwrap();
    let mut cmd = Command::new(exe);
    cmd.args([
        "--server",
        &cluster.urls().join(","),
        "--prefix",
        "au",
        "-P",
        "2",
        "ask",
        &body,
        "--timeout-ms",
        "3000",
    ]);
    if let Some((ca, _, _)) = &tls {
        cmd.arg("--tls-ca").arg(ca);
    }
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "ask without credentials must fail");
    let out = cmd
        .env("TRENDLOG_NATS_USER", "trendlog")
        .env("TRENDLOG_NATS_PASSWORD", &password)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ask with credentials: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reply: trendlog_cluster::wire::RouterReply = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reply.answer, Some(Answer::Total(ledger.per_tag["metoo"])));
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&password));
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&password));
    drop(runners);
    router_task.abort();
    for r in 0..2 {
        let log = std::fs::read_to_string(cluster.dir.path().join(format!("runner-{r}-a.log")))
            .unwrap_or_default();
        assert!(!log.contains(&password), "runner {r} logged the password");
    }
    eprintln!(
        "auth_and_tls_keep_strangers_out: TLS {}, strangers refused, {} events exact",
        if tls.is_some() {
            "on (CA generated by openssl)"
        } else {
            "SKIPPED"
        },
        ledger.events
    );
}
