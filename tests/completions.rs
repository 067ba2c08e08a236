//! `connscope completions SHELL` and `connscope man`, run as a user would, and the
//! output handed to the real consumers: bash, zsh and fish parse the scripts, bash
//! completes `connscope ana` with the script loaded, and man/groff render the pages.
//! A consumer that is not installed is skipped with a note on standard error
//! (`apt-get install zsh fish man-db groff-base` brings them all).

mod common;

use common::{connscope, stderr, stdout};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Every command a user can type, as `connscope --help` lists them.
const COMMANDS: &[&str] = &[
    "analyze",
    "http",
    "servers",
    "timeline",
    "live",
    "interfaces",
    "check",
    "report",
    "diff",
    "completions",
    "man",
];

fn installed(program: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("note: `{program}` is not installed; skipping its check");
    }
    found
}

/// `$ connscope ARGS…`, asserting it succeeded quietly.
fn ok(args: &[&str]) -> String {
    let out = connscope(args);
    assert!(out.status.success(), "connscope {args:?}: {}", stderr(&out));
    assert_eq!(stderr(&out), "", "connscope {args:?} wrote to stderr");
    stdout(&out)
}

/// What `man -l -` shows for `page`, with runs of spaces (justification) collapsed.
fn man_shows(page: &str) -> String {
    let out = feed("man", &["-l", "-"], page, &[("MANWIDTH", "100")]);
    assert!(out.status.success(), "man -l -: {}", stderr(&out));
    assert_eq!(stderr(&out), "", "man -l - warns");
    stdout(&out)
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `program args…` with `input` on standard input.
fn feed(program: &str, args: &[&str], input: &str, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

fn script_file(dir: &Path, shell: &str) -> String {
    let script = ok(&["completions", shell]);
    let path = dir.join(format!("connscope.{shell}"));
    std::fs::write(&path, script).expect("write script");
    path.to_str().expect("utf-8 path").to_owned()
}

/// $ connscope completions bash|zsh|fish|powershell
/// (a script naming every command and the flags users reach for)
#[test]
fn each_shell_gets_a_script_naming_every_command_and_flag() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = ok(&["completions", shell]);
        assert!(script.len() > 500, "{shell}: {} bytes", script.len());
        for command in COMMANDS {
            assert!(script.contains(command), "{shell} script lacks `{command}`");
        }
        // Long names without dashes: fish spells them `-l idle-threshold`.
        for flag in ["idle-threshold", "syn-timeout", "junit", "keep-privileges"] {
            assert!(script.contains(flag), "{shell} script lacks `{flag}`");
        }
    }
}

/// $ connscope completions tcsh
/// error: invalid value 'tcsh' … [possible values: bash, elvish, fish, powershell, zsh]
#[test]
fn unknown_shell_is_a_usage_error_naming_the_choices() {
    let out = connscope(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    for shell in ["bash", "zsh", "fish", "powershell"] {
        assert!(err.contains(shell), "{err}");
    }
}

/// $ connscope completions bash > s && bash -n s     (and zsh -n, fish -n)
#[test]
fn scripts_parse_in_their_shells() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (shell, program) in [("bash", "bash"), ("zsh", "zsh"), ("fish", "fish")] {
        if !installed(program) {
            continue;
        }
        let path = script_file(dir.path(), shell);
        let out = Command::new(program)
            .args(["-n", &path])
            .output()
            .expect("run shell");
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{program} -n: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// What bash offers for the words of `line` (the last one being completed), with
/// the script loaded as bash-completion would load it.
fn bash_offers(script: &str, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    // The completion function is whatever the script registered for `connscope`
    // (`complete -p` shows it), called as bash calls it: command, word, previous word.
    let driver = format!(
        r#"
source '{script}' || exit 3
spec=$(complete -p connscope) || exit 4
fn=${{spec#*-F }}; fn=${{fn%% *}}
COMP_WORDS=({words})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_LINE="${{COMP_WORDS[*]}}"
COMP_POINT=${{#COMP_LINE}}
"$fn" connscope "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}"
"#,
        words = quoted.join(" ")
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &driver])
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "bash driver failed ({:?}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

/// bash$ connscope ana<TAB>          → analyze
/// bash$ connscope analyze --idle-t<TAB> → --idle-threshold
/// bash$ connscope completions <TAB>  → bash elvish fish powershell zsh
#[test]
fn bash_completes_commands_flags_and_shells() {
    if !installed("bash") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let script = script_file(dir.path(), "bash");

    assert_eq!(bash_offers(&script, &["connscope", "ana"]), ["analyze"]);
    assert_eq!(
        bash_offers(&script, &["connscope", "analyze", "--idle-t"]),
        ["--idle-threshold"]
    );
    let mut shells = bash_offers(&script, &["connscope", "completions", ""]);
    shells.sort();
    for shell in ["bash", "fish", "powershell", "zsh"] {
        assert!(shells.iter().any(|s| s == shell), "{shells:?}");
    }
    // Every command, for an empty word after the program name.
    let all = bash_offers(&script, &["connscope", ""]);
    for command in COMMANDS {
        assert!(all.iter().any(|w| w == command), "{command} not in {all:?}");
    }
}

/// $ connscope man | man -l -
/// (rendered without warnings: NAME, SYNOPSIS, and every command with its page)
#[test]
fn top_page_renders_with_name_synopsis_and_every_command() {
    let page = ok(&["man"]);
    assert!(page.contains(".TH connscope 1"), "{page}");
    if installed("groff") {
        // -ww: every warning; -z: no output, only the diagnostics.
        // -k: convert UTF-8 input first (preconv), as man does.
        let out = feed("groff", &["-k", "-man", "-Tutf8", "-ww", "-z"], &page, &[]);
        assert!(out.status.success(), "groff: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "groff warns about the top page");
    }
    if !installed("man") {
        return;
    }
    let shown = man_shows(&page);
    assert!(shown.contains("NAME"), "{shown}");
    assert!(
        shown.contains("connscope - How many TCP connections"),
        "{shown}"
    );
    assert!(shown.contains("SYNOPSIS"), "{shown}");
    assert!(shown.contains("connscope [--threads]"), "{shown}");
    for command in COMMANDS {
        assert!(
            shown.contains(&format!("connscope-{command}(1)")),
            "top page lacks {command}: {shown}"
        );
    }
}

/// $ connscope man check | man -l -
#[test]
fn command_page_renders_with_its_synopsis_and_flags() {
    let page = ok(&["man", "check"]);
    if !installed("man") {
        return;
    }
    let shown = man_shows(&page);
    assert!(
        shown.contains("connscope-check - Check expectations"),
        "{shown}"
    );
    assert!(shown.contains("connscope check"), "synopsis: {shown}");
    assert!(shown.contains("--junit"), "{shown}");
    assert!(shown.contains("SEE ALSO"), "{shown}");
    assert!(shown.contains("connscope(1)"), "{shown}");
    // The footer: source on the left, then the title; no date.
    assert!(
        shown.ends_with("connscope 0.1.0 connscope-check(1)"),
        "{shown}"
    );
}

/// $ connscope man nope
/// connscope: error: no command `nope` to show a page for; commands: analyze, …
#[test]
fn page_for_unknown_command_is_an_error() {
    let out = connscope(&["man", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    assert!(err.contains("no command `nope`"), "{err}");
    assert!(err.contains("analyze"), "{err}");
}

/// $ connscope man --dir DIR/man/man1        (created as mkdir -p would)
/// DIR/man/man1/connscope.1
/// DIR/man/man1/connscope-analyze.1 …
#[test]
fn dir_writes_one_page_per_command() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("man/man1");
    let listed = ok(&["man", "--dir", dir.to_str().expect("utf-8")]);
    let mut expected = vec![dir.join("connscope.1")];
    expected.extend(
        COMMANDS
            .iter()
            .map(|c| dir.join(format!("connscope-{c}.1"))),
    );
    let listed: Vec<_> = listed.lines().map(std::path::PathBuf::from).collect();
    assert_eq!(listed.len(), expected.len(), "{listed:?}");
    for path in &expected {
        assert!(listed.contains(path), "{} not listed", path.display());
        let page = std::fs::read_to_string(path).expect("page written");
        assert!(page.contains(".SH SYNOPSIS"), "{}", path.display());
    }
    // The page written equals the page printed.
    assert_eq!(
        std::fs::read_to_string(dir.join("connscope-analyze.1")).expect("read"),
        ok(&["man", "analyze"])
    );
}

/// $ connscope man --dir FILE/man1         (FILE is a regular file: not even root can)
/// connscope: error: cannot write FILE/man1: Not a directory
#[test]
fn dir_that_cannot_be_created_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("plain");
    std::fs::write(&file, "not a directory").expect("write");
    let target = file.join("man1");
    let out = connscope(&["man", "--dir", target.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    assert!(
        err.contains(&format!("cannot write {}", target.display())),
        "{err}"
    );
}
