//! The runner: boots a MIPS32 little-endian ELF kernel on the emulated
//! machine (`demo-os --help` explains the flags, the memory map and the
//! exit statuses; `demo-os --version` names the build: the crate version,
//! the hypercall ABI version and the git commit `build.rs` found).

mod runner;

use clap::{CommandFactory, FromArgMatches};
use runner::cli::Cli;
use std::io::{self, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let version: &'static str = Box::leak(
        format!(
            "{} (ABI {}, commit {})",
            env!("CARGO_PKG_VERSION"),
            hv_abi::ABI_VERSION,
            env!("HV_GIT_COMMIT")
        )
        .into_boxed_str(),
    );
    let matches = Cli::command()
        .version(version)
        .disable_version_flag(true)
        .arg(
            clap::Arg::new("version")
                .short('V')
                .long("version")
                .action(clap::ArgAction::Version)
                .help("Print the version, the hypercall ABI version and the commit")
                .long_help(
                    "Print the runner's version, the hypercall ABI version and the \
                     commit it was built from: `demo-os 0.1.0 (ABI 1.2, commit abc1234)` \
                     (`unknown` when built outside a git checkout)",
                ),
        )
        .get_matches();
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    cli.board_given = matches.value_source("board") == Some(clap::parser::ValueSource::CommandLine);
    if let Err(e) = runner::snapshot::prepare_restore(&mut cli, &matches) {
        let _ = writeln!(io::stderr(), "demo-os: error: {e}");
        return ExitCode::from(e.exit_status());
    }
    if let Err(e) = runner::check_stdout() {
        let _ = writeln!(io::stderr(), "demo-os: error: {e}");
        return ExitCode::from(e.exit_status());
    }
    let stdout = io::stdout();
    let mut stdout = io::BufWriter::new(stdout.lock());
    let stderr = io::stderr();
    let mut stderr = stderr.lock();
    let result = runner::run(&cli, &mut stdout, &mut stderr).and_then(|status| {
        // Dropping a BufWriter would discard a flush error.
        stdout.flush()?;
        Ok(status)
    });
    let status = match result {
        Ok(status) => status,
        Err(e) => {
            // Output already written stays; the error names what failed.
            let _ = stdout.flush();
            let _ = writeln!(stderr, "demo-os: error: {e}");
            e.exit_status()
        }
    };
    ExitCode::from(status)
}
