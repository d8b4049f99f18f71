//! A store left by `kill -9` of a live `trendlog ingest --ack` (the normal state of a store fed
//! by `tail -f`: recent data stays in the active log) keeps every acknowledged batch through
//! damage: after a flipped bit in `tags.dict` or in the log, `verify` exits 1 naming the damage,
//! or every read answers as before, or as before minus the last acknowledged batch (the one
//! loss docs/reliability.md allows after a crash: nothing proves the last log block durable).
//! Never a clean `verify` over a lost batch that a later block proves was durable.
//!
//! The dictionary's last block holds tags first named several batches before the kill, so the
//! blocks after them prove those tags durable (the flaw this test was written for: such damage
//! was cut as a torn tail, dropping 29 of 30 acknowledged batches while `verify` said clean).
//!
//! The same for a labelled store (format version 5), whose batches also append the records of
//! their new series to `tags.series`: every byte of its last two blocks is flipped too, and a
//! durable series proves the tag it names durable.
//! `TRENDLOG_STRESS` multiplies the sampled log positions.

mod cli_support;
mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Stdio;

use cli_support::{bin, code, run, run_stdin, stderr, stdout};
use common::{stress, Rng};

/// 2017-10-15T00:00:00Z.
const T0: i64 = 1_508_025_600;
const BATCH: usize = 100;
const BATCHES: usize = 12;
/// The batch that names the last new tags; the ones after it only repeat tags.
const LAST_NEW: usize = BATCHES - 4;

/// Batch `b`'s lines: tags `t0..t9` in every batch, and `n{b}_{j}` new ones up to `LAST_NEW`;
/// labelled, with one of three platforms (so old tags gain new series too).
fn batch_lines(b: usize, rng: &mut Rng, labelled: bool) -> String {
    let mut s = String::new();
    for i in 0..BATCH {
        let ts = T0 + rng.below(1800) as i64;
        let tag = if b <= LAST_NEW && i % 10 == 0 {
            format!("n{b}_{i}")
        } else {
            format!("t{}", rng.below(10))
        };
        let count = 1 + rng.below(9);
        let platform = match labelled {
            true => format!(",{}", ["twitter", "instagram", ""][rng.below(3) as usize]),
            false => String::new(),
        };
        s.push_str(&format!("{ts},{tag},{count}{platform}\n"));
    }
    s
}

/// The arguments that ingest the batches (`extra` before the input).
fn ingest_args<'a>(labelled: bool, extra: &[&'a str]) -> Vec<&'a str> {
    let labels: &[&str] = match labelled {
        true => &[
            "--labels",
            "platform",
            "--columns",
            "timestamp,tag,count,platform",
        ],
        false => &[],
    };
    [&["ingest"][..], labels, extra, &["-"]].concat()
}

/// Where the blocks of a file that starts with a `header`-byte header start, and (last) where
/// the last one ends: block `at` is `head + len(at)` bytes long, and a length of 0 (the zeros
/// past the end) ends the walk.
fn block_starts(
    bytes: &[u8],
    header: usize,
    head: usize,
    len: impl Fn(&[u8]) -> usize,
) -> Vec<usize> {
    let mut starts = vec![header];
    while let Some(&at) = starts.last().filter(|&&at| at + head <= bytes.len()) {
        match len(&bytes[at..]) {
            0 => break,
            n => starts.push(at + head + n),
        }
    }
    starts
}

/// The reads compared: every tag's total over the whole range, and one tag's minutes.
fn reads(db: &Path, labelled: bool) -> Vec<(Vec<&'static str>, i32, String)> {
    let range = ["--from", "2017-10-14", "--to", "2017-10-16"];
    let top: Vec<&str> = [&["--json", "top", "-k", "1000"][..], &range[..]].concat();
    let query: Vec<&str> = [&["--json", "query", "t3", "--step", "1m"][..], &range[..]].concat();
    let mut asked = vec![top, query];
    if labelled {
        // Every series by its label, so damage to a value shows.
        let by: Vec<&str> = [
            &["--json", "top", "-k", "1000", "--by", "platform"][..],
            &range[..],
        ]
        .concat();
        asked.push(by);
    }
    asked
        .into_iter()
        .map(|args| {
            let o = run(db, &args);
            let c = code(&o);
            (args, c, stdout(&o))
        })
        .collect()
}

#[test]
fn damage_after_a_crash_never_silently_drops_a_durable_batch() {
    sweep(false);
}

#[test]
fn damage_after_a_crash_of_a_labelled_store_never_silently_drops_a_durable_batch() {
    sweep(true);
}

fn sweep(labelled: bool) {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    let mut rng = Rng(7);
    let batches: Vec<String> = (0..BATCHES)
        .map(|b| batch_lines(b, &mut rng, labelled))
        .collect();

    // Feed every batch, wait for the last acknowledgement, then kill -9 with stdin still open.
    let mut child = bin()
        .arg("--db")
        .arg(&live)
        .args(ingest_args(
            labelled,
            &["--ack", "--batch-size", &BATCH.to_string()],
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(batches.concat().as_bytes()).unwrap();
    stdin.flush().unwrap();
    let want = format!("committed {}", BATCH * BATCHES);
    let mut acks = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(
        acks.any(|l| l.unwrap() == want),
        "ingest never acknowledged every batch"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    drop(stdin);

    // The answers with every batch, and without the last one (built by a clean ingest).
    let full = reads(&live, labelled);
    assert!(full.iter().all(|r| r.1 == 0), "{full:?}");
    let shorter = dir.path().join("shorter");
    let o = run_stdin(
        &shorter,
        &ingest_args(labelled, &[]),
        &batches[..BATCHES - 1].concat(),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let minus_last = reads(&shorter, labelled);
    assert_ne!(full, minus_last);
    let v = run(&live, &["verify"]);
    assert_eq!(
        code(&v),
        0,
        "the crashed store verifies clean: {}",
        stderr(&v)
    );

    // Positions: every byte of the dictionary's last two blocks (format 4: a 0x00 mark, a
    // 24-bit body length, a CRC32, the body), a sample of its other bytes, and of the log's.
    let log_name = std::fs::read_dir(&live)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|n| n.ends_with(".log"))
        .unwrap();
    let mut targets: Vec<(String, usize)> = Vec::new();
    let dict = std::fs::read(live.join("tags.dict")).unwrap();
    let dict_starts = block_starts(&dict, 16, 8, |b| {
        assert_eq!(b[0], 0, "a block starts with its mark");
        u32::from_le_bytes([b[1], b[2], b[3], 0]) as usize
    });
    let dict_end = dict.iter().rposition(|&b| b != 0).unwrap() + 1;
    assert_eq!(
        dict_starts.last(),
        Some(&dict_end),
        "blocks end where the bytes do"
    );
    // The series file (labelled, format 5): a header of 16 bytes, then blocks of a 32-bit body
    // length, a CRC32 and the body.
    assert!(
        dict_starts.len() > LAST_NEW + 1,
        "one block per batch with new tags"
    );
    let mut files = vec![("tags.dict", dict_starts)];
    if labelled {
        let series = std::fs::read(live.join("tags.series")).unwrap();
        let s = block_starts(&series, 16, 8, |b| {
            u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
        });
        files.push(("tags.series", s));
    }
    for (name, starts) in &mut files {
        let end = starts.pop().unwrap();
        let tail = starts[starts.len() - 2];
        targets.extend((tail..end).map(|p| (name.to_string(), p)));
        for _ in 0..40 * stress() {
            targets.push((
                name.to_string(),
                16 + rng.below((tail - 16) as u64) as usize,
            ));
        }
    }
    let log = std::fs::read(live.join(&log_name)).unwrap();
    let log_end = log.iter().rposition(|&b| b != 0).unwrap() + 1;
    for _ in 0..60 * stress() {
        targets.push((
            log_name.clone(),
            64 + rng.below((log_end - 64) as u64) as usize,
        ));
    }

    let mut failures = Vec::new();
    for (i, (file, pos)) in targets.iter().enumerate() {
        let db = dir.path().join(format!("d{i}"));
        std::fs::create_dir(&db).unwrap();
        for e in std::fs::read_dir(&live).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), db.join(e.file_name())).unwrap();
        }
        let path = db.join(file);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[*pos] ^= 1 << (i % 8);
        std::fs::write(&path, &bytes).unwrap();
        let v = run(&db, &["verify"]);
        let got = reads(&db, labelled);
        let ok = match code(&v) {
            1 => got.iter().all(|r| r.1 != 101),
            0 => got == full || got == minus_last,
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{file} byte {pos} bit {}: verify exit {}, reads {:?}",
                i % 8,
                code(&v),
                got.iter().map(|r| r.1).collect::<Vec<_>>()
            ));
        }
        std::fs::remove_dir_all(&db).unwrap();
    }
    assert!(
        failures.is_empty(),
        "{} of {} damaged crash images lost acknowledged data silently or panicked:\n{}",
        failures.len(),
        targets.len(),
        failures.join("\n")
    );
}
