//! Shell completion scripts (`connscope completions SHELL`) and manual pages
//! (`connscope man [COMMAND] [--dir DIR]`), generated from the one source of flags,
//! `Cli::command()`, so they cannot drift from `--help`. No RFC governs these; the
//! conventions followed are man-pages(7) (section 1, one page per command named
//! `connscope-COMMAND.1` as git and cargo ship them) and each shell's completion API.
//!
//! Generation is done by `clap_complete` and `clap_mangen` (the clap project's own
//! crates, which walk the same `clap::Command` the parser uses) rather than by hand.

use crate::app::{EXIT_ERROR, EXIT_OK};
use crate::cli::{Cli, CompletionsArgs, ManArgs};
use clap::CommandFactory;
use clap_complete::Shell;
use clap_mangen::roff::{roman, Roff};
use clap_mangen::Man;
use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The program name the scripts complete and the pages describe.
pub const BIN: &str = "connscope";

/// Why a page or script could not be produced.
#[derive(Debug)]
pub enum DocsError {
    /// `connscope man NAME` named no command.
    UnknownCommand { name: String, known: Vec<String> },
    /// Creating `--dir` or writing a page into it failed.
    File { path: PathBuf, source: io::Error },
    /// Writing to standard output failed (other than a closed pipe, which is quiet).
    Output(io::Error),
}

impl fmt::Display for DocsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DocsError::UnknownCommand { name, known } => write!(
                f,
                "no command `{name}` to show a page for; commands: {}",
                known.join(", ")
            ),
            DocsError::File { path, source } => {
                write!(f, "cannot write {}: {source}", path.display())
            }
            DocsError::Output(e) => write!(f, "cannot write to standard output: {e}"),
        }
    }
}

impl std::error::Error for DocsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DocsError::UnknownCommand { .. } => None,
            DocsError::File { source, .. } => Some(source),
            DocsError::Output(e) => Some(e),
        }
    }
}

/// The completion script for `shell`, as bytes.
///
/// Generated into memory first: clap_complete's `generate` panics when its writer
/// fails, and standard output may be a closed pipe. A script is tens of kilobytes.
pub fn completion_script(shell: Shell) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), BIN, &mut script);
    script
}

/// The command tree the pages describe: built (so each subcommand knows its
/// `connscope-analyze` page name and `connscope analyze` synopsis), without clap's
/// `help` subcommand, which needs no page of its own.
fn page_tree() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// The names of the commands that have a page, in `--help` order.
pub fn page_commands() -> Vec<String> {
    page_tree()
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| c.get_name().to_owned())
        .collect()
}

/// One page: the top page for `None`, else the named command's.
fn man_for(tree: &clap::Command, command: Option<&str>) -> Result<Man, DocsError> {
    let cmd = match command {
        None => tree.clone(),
        Some(name) => tree
            .find_subcommand(name)
            .filter(|c| !c.is_hide_set())
            .cloned()
            .ok_or_else(|| DocsError::UnknownCommand {
                name: name.to_owned(),
                known: page_commands(),
            })?,
    };
    // Date, source and manual are set on the `.TH` line by `man_page`.
    Ok(Man::new(cmd))
}

/// The roff source of one page, with a SEE ALSO section linking the pages together
/// (clap_mangen lists the subcommands on the top page but links nothing back).
pub fn man_page(command: Option<&str>) -> Result<Vec<u8>, DocsError> {
    let tree = page_tree();
    let man = man_for(&tree, command)?;
    let mut rendered = Vec::new();
    // Writing into a Vec cannot fail; the error type is io's all the same.
    man.render(&mut rendered).map_err(DocsError::Output)?;
    let title = man.get_filename();
    let title = title.strip_suffix(".1").unwrap_or(&title);
    let mut page = Vec::with_capacity(rendered.len() + 64);
    // clap_mangen writes an empty date as nothing rather than `""`, which shifts the
    // source into the date's place and the manual into the source's (the footer then
    // reads "User Commands … connscope 0.1.0"). We want no date (the page is then the
    // same for every build of one version), so the `.TH` line is written here.
    for line in rendered.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b".TH ") {
            let version = tree.get_version().unwrap_or_default();
            page.extend_from_slice(
                format!(".TH {title} 1 \"\" \"{BIN} {version}\" \"User Commands\"\n").as_bytes(),
            );
        } else {
            page.extend_from_slice(line);
        }
    }
    let mut see_also = Roff::new();
    see_also.control("SH", ["SEE ALSO"]);
    let related: Vec<String> = match command {
        None => page_commands()
            .iter()
            .map(|name| format!("{BIN}-{name}(1)"))
            .collect(),
        Some(_) => vec![format!("{BIN}(1)")],
    };
    see_also.text([roman(related.join(", "))]);
    page.extend_from_slice(see_also.to_roff().as_bytes());
    Ok(page)
}

/// Writes every page into `dir` (created if missing, as `mkdir -p`): `connscope.1`
/// and `connscope-COMMAND.1` for each command. Returns the paths written, top page
/// first.
pub fn write_pages(dir: &Path) -> Result<Vec<PathBuf>, DocsError> {
    std::fs::create_dir_all(dir).map_err(|source| DocsError::File {
        path: dir.to_owned(),
        source,
    })?;
    let mut names: Vec<Option<String>> = vec![None];
    names.extend(page_commands().into_iter().map(Some));
    let mut written = Vec::with_capacity(names.len());
    for name in names {
        let page = man_page(name.as_deref())?;
        let file = match &name {
            None => format!("{BIN}.1"),
            Some(name) => format!("{BIN}-{name}.1"),
        };
        let path = dir.join(file);
        std::fs::write(&path, page).map_err(|source| DocsError::File {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

/// Writes `bytes` to standard output. A closed pipe (`connscope man | head`) is not
/// an error: the reader has what it wanted.
fn print(bytes: &[u8]) -> Result<(), DocsError> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(DocsError::Output(e)),
    }
}

fn exit(result: Result<(), DocsError>) -> u8 {
    match result {
        Ok(()) => EXIT_OK,
        Err(e) => {
            crate::say!("connscope: error: {e}");
            EXIT_ERROR
        }
    }
}

/// `connscope completions SHELL`.
pub fn run_completions(args: &CompletionsArgs) -> u8 {
    exit(print(&completion_script(args.shell)))
}

/// `connscope man [COMMAND] [--dir DIR]`.
pub fn run_man(args: &ManArgs) -> u8 {
    exit(match &args.dir {
        Some(dir) => write_pages(dir).and_then(|paths| {
            let mut list = String::new();
            for path in paths {
                list.push_str(&format!("{}\n", path.display()));
            }
            print(list.as_bytes())
        }),
        None => man_page(args.command.as_deref()).and_then(|page| print(&page)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).expect("utf-8")
    }

    #[test]
    fn every_shell_script_names_every_command() {
        let commands = page_commands();
        assert!(commands.contains(&"analyze".to_owned()), "{commands:?}");
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::PowerShell] {
            let script = text(completion_script(shell));
            for name in &commands {
                assert!(script.contains(name.as_str()), "{shell}: no `{name}`");
            }
            // fish spells long flags `-l idle-threshold`.
            assert!(script.contains("idle-threshold"), "{shell}");
        }
    }

    #[test]
    fn top_page_lists_commands_and_links_their_pages() {
        let page = text(man_page(None).expect("top page"));
        assert!(page.contains(".TH connscope 1 "), "{page}");
        assert!(page.contains(".SH NAME"));
        assert!(page.contains(".SH SYNOPSIS"));
        assert!(page.contains("connscope\\-analyze(1)"), "{page}");
        // clap's `help` subcommand gets no page and no link.
        assert!(!page.contains("connscope\\-help"), "{page}");
    }

    #[test]
    fn command_page_has_its_own_name_and_flags() {
        let page = text(man_page(Some("check")).expect("check page"));
        assert!(page.contains(".TH connscope-check 1"), "{page}");
        assert!(page.contains("\\-\\-junit"), "{page}");
        assert!(page.contains("connscope(1)"), "{page}");
    }

    #[test]
    fn unknown_command_is_a_typed_error_listing_the_known_ones() {
        match man_page(Some("nope")) {
            Err(DocsError::UnknownCommand { name, known }) => {
                assert_eq!(name, "nope");
                assert!(known.contains(&"timeline".to_owned()));
            }
            other => panic!("expected UnknownCommand, got {other:?}"),
        }
    }

    #[test]
    fn dir_gets_one_page_per_command() {
        let tmp = tempfile::tempdir().expect("tempdir");
        // Missing directories are created, as `mkdir -p` would.
        let dir = tmp.path().join("man/man1");
        let written = write_pages(&dir).expect("pages");
        assert_eq!(written.len(), 1 + page_commands().len());
        assert_eq!(written[0], dir.join("connscope.1"));
        let analyze =
            std::fs::read_to_string(dir.join("connscope-analyze.1")).expect("analyze page");
        assert!(analyze.contains("\\-\\-format"), "{analyze}");
    }
}
