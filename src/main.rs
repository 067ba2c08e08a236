//! The `connscope` binary: parse flags, hand them to the library, exit with its code
//! (0 ok, 1 a check failed, 2 usage or input error).
#![forbid(unsafe_code)]

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match connscope::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match connscope::app::run(cli) {
        Ok(code) => ExitCode::from(code),
        // The one place an error that stops the run is said.
        Err(e) => {
            connscope::say!("connscope: error: {e}");
            ExitCode::from(connscope::app::EXIT_ERROR)
        }
    }
}
