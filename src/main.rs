//! The `automl` command: a thin layer over the library. Parsing, dispatch and printing live in
//! [`cli`]; this file only turns the outcome into an exit code.

use std::process::ExitCode;

mod cli;

fn main() -> ExitCode {
    // A panic inside a trial is reported by the trial; elsewhere it is an internal error.
    std::panic::set_hook(Box::new(|info| {
        if !automl::trials::in_trial() {
            eprintln!("automl: internal error: {info}");
        }
    }));
    match cli::main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
