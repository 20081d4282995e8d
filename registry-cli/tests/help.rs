//! Every command `regcli --help` lists has a one-line summary there and, in its own `--help`, examples: two to
//! five lines running it, after an `Examples:` line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{regcli, shown, stdout};

/// The commands `regcli --help` lists (without `help`).
fn commands() -> Vec<(String, String)> {
    let out = regcli(&["--help"]);
    assert!(out.status.success(), "{}", shown(&out));
    let help = stdout(&out);
    let listed = help.split_once("Commands:\n").map(|(_, rest)| rest).expect("a command list");
    listed
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.trim().split_once(' ').map(|(c, s)| (c.to_string(), s.trim().to_string())))
        .filter(|(c, _)| c != "help")
        .collect()
}

#[test]
fn every_command_has_a_short_summary_and_examples_in_its_help() {
    let commands = commands();
    for expected in ["sync", "cp", "ls", "catalog", "inspect", "export", "mutate", "login", "serve", "completion"] {
        assert!(commands.iter().any(|(c, _)| c == expected), "{expected} in {commands:?}");
    }
    assert_eq!(commands.len(), 20, "{commands:?}");
    for (command, summary) in &commands {
        assert!(summary.len() <= 100, "{command}'s summary is one short line: {summary}");
        let out = regcli(&[command, "--help"]);
        assert!(out.status.success(), "{}", shown(&out));
        let help = stdout(&out);
        let examples = help.split_once("Examples:\n").map(|(_, e)| e).unwrap_or_else(|| panic!("{command}: {help}"));
        let count = examples.lines().take_while(|l| l.starts_with("  ") && l.contains("regcli ")).count();
        assert!((2..=5).contains(&count), "{command}: {count} examples\n{help}");
    }
}
