//! `connscope report` and `analyze --format html|svg`: analyse the captures, then write
//! the self-contained page (or the chart alone) that `report::html` draws from the
//! report, to a file or standard output.

use super::analyze::{analyze_files, Reading};
use super::config::Tracking;
use super::error::AppError;
use super::sink::Destination;
use super::{EXIT_ERROR, EXIT_OK};
use crate::cli::PictureFormat;
use crate::report::html;
use std::io::{self, Write};
use std::path::PathBuf;

/// What to draw, from which captures, and where to.
#[derive(Debug)]
pub struct PictureConfig {
    pub files: Vec<String>,
    pub tracking: Tracking,
    pub format: PictureFormat,
    /// `-o FILE`; standard output without one.
    pub output: Option<PathBuf>,
}

pub fn run(config: &PictureConfig) -> Result<u8, AppError> {
    let analysis = analyze_files(
        &config.files,
        &Reading::of(&config.tracking),
        Destination::Keep,
    )?;
    let text = match config.format {
        PictureFormat::Html => html::page(&analysis.report),
        PictureFormat::Svg => html::svg(&analysis.report),
    };
    let code = if analysis.input_error {
        EXIT_ERROR
    } else {
        EXIT_OK
    };
    match &config.output {
        Some(path) => {
            std::fs::write(path, text)
                .map(|()| code)
                .map_err(|cause| AppError::WriteFile {
                    path: path.display().to_string(),
                    cause,
                })
        }
        None => {
            let mut stdout = io::stdout().lock();
            let written = stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush());
            super::finish_output(written, code)
        }
    }
}
