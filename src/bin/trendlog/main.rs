//! `trendlog`: the command-line face of the trendlog engine. One module per
//! subcommand; `out` holds what they share (exit codes, time ranges, tables,
//! numbers and sparklines for people, JSON for scripts).
//!
//! The interface (names, flags, exit codes, JSON shapes) is a contract that
//! users' scripts rely on (issue 5): add to it, never change it.

/// `eprintln!` that never panics: stderr closed early (`trendlog ... 2>&1 |
/// head`) must not turn a finished command into a panic; the message is lost
/// and the exit code stands.
macro_rules! err_line {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// `print!` and `println!` for every command: when stdout is a pipe the
/// reader closed (`trendlog inspect | head -1`), the process ends quietly
/// with exit 0 instead of panicking; any other failure to write stdout is
/// exit 1 with a message.
macro_rules! print {
    ($($arg:tt)*) => { crate::write_stdout(format_args!($($arg)*)) };
}
macro_rules! println {
    () => { crate::write_stdout(format_args!("\n")) };
    ($($arg:tt)*) => { crate::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// What [`print!`] and [`println!`] call.
fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    if let Err(e) = std::io::stdout().lock().write_fmt(args) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        err_line!("trendlog: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

mod bursts;
mod compact;
mod demo;
mod demo_spread;
mod export;
mod ingest;
mod inspect;
mod labels;
mod out;
mod parse;
#[cfg(test)]
mod parse_tests;
mod query;
mod retention;
mod spread;
mod top;
mod trending;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use out::Fail;

/// Per-minute hashtag counts: load events, ask for series, top tags and
/// trends, look inside a store and check it for damage.
#[derive(Parser, Debug)]
#[command(name = "trendlog", version, about, long_about = None)]
#[command(after_help = "\
Exit codes: 0 success; 1 runtime error (I/O, damage found, store locked);
2 bad usage or rejected input.

Example:
  trendlog demo
  trendlog --db ./trendlog-data top -k 5     (the demo's store; demo-N inside it when
                                              ./trendlog-data held something else)")]
struct Cli {
    /// The store directory.
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        default_value = "./trendlog-data"
    )]
    db: PathBuf,
    /// Print exactly one JSON document on stdout instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    Ingest(ingest::Args),
    Query(query::Args),
    Top(top::Args),
    Trending(trending::Args),
    Bursts(bursts::Args),
    Spread(spread::Args),
    Compact(compact::Args),
    Inspect(inspect::Args),
    Verify(verify::Args),
    Export(export::Args),
    Retention(retention::Args),
    Demo(demo::Args),
}

/// Lets a negative number reach the parser of every argument that takes a
/// value, so `-k -3` or `--prior -1` is refused by that parser (naming the
/// option) or by the command's own range check (naming the valid range),
/// rather than by clap as "unexpected argument '-3'".
fn negatives_reach_parsers(cmd: clap::Command) -> clap::Command {
    cmd.mut_args(|a| {
        if a.get_action().takes_values() {
            a.allow_negative_numbers(true)
        } else {
            a
        }
    })
    .mut_subcommands(negatives_reach_parsers)
}

/// What every subcommand is given besides its own arguments.
pub struct Global {
    /// `--db`.
    pub db: PathBuf,
    /// `--json`.
    pub json: bool,
    /// Whether `--db` was given (the demo picks its own place otherwise).
    pub db_given: bool,
}

/// How many times `--db` is given before any `--`. Clap refuses a repeat
/// within one level, but a `--db` before the subcommand and another after it
/// would silently leave the later one in force.
fn db_flags(args: impl IntoIterator<Item = std::ffi::OsString>) -> usize {
    args.into_iter()
        .skip(1)
        .take_while(|a| a != "--")
        .filter(|a| {
            let b = a.as_encoded_bytes();
            b == b"--db" || b.starts_with(b"--db=")
        })
        .count()
}

fn main() -> ExitCode {
    let mut cmd = negatives_reach_parsers(<Cli as clap::CommandFactory>::command());
    if db_flags(std::env::args_os()) > 1 {
        cmd.error(
            clap::error::ErrorKind::ArgumentConflict,
            "the argument '--db <DIR>' cannot be used multiple times",
        )
        .exit();
    }
    let matches = cmd.get_matches();
    let db_given = matches.value_source("db") == Some(clap::parser::ValueSource::CommandLine)
        || matches.subcommand().is_some_and(|(_, m)| {
            m.value_source("db") == Some(clap::parser::ValueSource::CommandLine)
        });
    let cli = match <Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let g = Global {
        db: cli.db,
        json: cli.json,
        db_given,
    };
    let res = match cli.command {
        Command::Ingest(a) => ingest::run(&g, a),
        Command::Query(a) => query::run(&g, a),
        Command::Top(a) => top::run(&g, a),
        Command::Trending(a) => trending::run(&g, a),
        Command::Bursts(a) => bursts::run(&g, a),
        Command::Spread(a) => spread::run(&g, a),
        Command::Compact(a) => compact::run(&g, a),
        Command::Inspect(a) => inspect::run(&g, a),
        Command::Verify(a) => verify::run(&g, a),
        Command::Export(a) => export::run(&g, a),
        Command::Retention(a) => retention::run(&g, a),
        Command::Demo(a) => demo::run(&g, a),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail { code, msg }) => {
            if !msg.is_empty() {
                err_line!("trendlog: {msg}");
            }
            ExitCode::from(code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::db_flags;

    #[test]
    fn a_db_before_and_after_the_subcommand_is_counted_twice() {
        let count = |a: &[&str]| db_flags(a.iter().map(std::ffi::OsString::from));
        assert_eq!(count(&["trendlog", "--db", "a", "query", "x"]), 1);
        assert_eq!(count(&["trendlog", "--db", "a", "query", "--db", "b"]), 2);
        assert_eq!(count(&["trendlog", "--db=a", "top", "--db=b"]), 2);
        assert_eq!(count(&["trendlog", "query", "--", "--db"]), 0);
        assert_eq!(count(&["trendlog", "--dbx", "query"]), 0);
    }
}
