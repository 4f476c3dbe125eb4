//! The runner behind `demo-os`: reads and checks the kernel, builds the
//! machine, runs it in slices while copying the guest's console out, and
//! turns the way it stopped into a summary line and an exit status.

pub mod cli;
pub mod monitored;
pub mod session;

use cli::{Cli, EXIT_ERROR, EXIT_USAGE, Image, KernelSource, Mode, TraceKind};
use hv_host::machine::elf::{ElfError, ElfImage};
use hv_host::machine::{LoadError, Machine, MachineConfig, MachineError};
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Instant;
use thiserror::Error;

/// Why the runner could not run the guest to a stop.
#[derive(Debug, Error)]
pub enum RunnerError {
    /// The mode needs the monitor, which does not exist yet.
    #[error("--mode {0}: not implemented yet: the monitor lands in a later issue")]
    NotImplemented(&'static str),
    /// The kernel file cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The kernel path.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The kernel is not a loadable ELF.
    #[error("{path}: {source}")]
    Elf {
        /// The kernel file, or which built-in image.
        path: String,
        /// What is wrong with it.
        source: ElfError,
    },
    /// The machine cannot be built with the requested memory.
    #[error(transparent)]
    Machine(#[from] MachineError),
    /// The monitor cannot be built, or a kernel does not fit in its VM.
    #[error(transparent)]
    Monitor(#[from] hv_host::monitor::MonitorError),
    /// A flag that does not apply to the mode.
    #[error("{0}")]
    Usage(String),
    /// The kernel does not fit in the machine.
    #[error("{path}: {source} (try a larger --mem)")]
    Load {
        /// The kernel file, or which built-in image.
        path: String,
        /// The load error.
        source: LoadError,
    },
    /// Writing the guest's output failed (a closed pipe, a full disk).
    #[error("writing the guest's output: {0}")]
    Output(#[from] io::Error),
}

impl RunnerError {
    /// The process exit status for this error.
    pub fn exit_status(&self) -> u8 {
        match self {
            RunnerError::NotImplemented(_) | RunnerError::Usage(_) => EXIT_USAGE,
            _ => EXIT_ERROR,
        }
    }
}

/// Runs the command line to completion and returns the exit status; the
/// guest's console goes to `stdout`, everything else to `stderr`.
pub fn run(cli: &Cli, stdout: &mut impl Write, stderr: &mut impl Write) -> Result<u8, RunnerError> {
    match cli.mode {
        Mode::Native => {}
        Mode::Full => return monitored::run(cli, false, stdout, stderr),
        Mode::Para => return Err(RunnerError::NotImplemented("para")),
        Mode::Compare => return Err(RunnerError::NotImplemented("compare")),
    }
    if cli.trace == Some(TraceKind::Exits) {
        return Err(RunnerError::Usage(
            "--trace exits needs the monitor (--mode full)".into(),
        ));
    }
    if cli.vms > 1 || cli.kernel.len() > 1 {
        return Err(RunnerError::Usage(
            "--vms and a repeated --kernel need the monitor (--mode full)".into(),
        ));
    }
    let (name, image) = load_image(cli.kernel_source())?;
    let mut machine = Machine::new(MachineConfig {
        ram_bytes: cli.ram_bytes(),
    })?;
    machine
        .load_elf(&image)
        .map_err(|source| RunnerError::Load { path: name, source })?;

    let started = Instant::now();
    let stop = session::run(
        &mut machine,
        cli.max_instructions,
        (cli.trace == Some(TraceKind::Insns)).then_some(&image),
        stdout,
        stderr,
    )?;
    let elapsed = started.elapsed();

    let summary = session::summary(
        machine.instructions(),
        elapsed,
        &stop.describe(&image, &machine),
    );
    writeln!(stderr, "{summary}")?;
    stderr.flush()?;
    Ok(stop.exit_status())
}

/// Reads and parses the kernel `source` names: its display name and image.
pub fn load_image(source: KernelSource<'_>) -> Result<(String, ElfImage), RunnerError> {
    let file_bytes;
    let bytes: &[u8] = match source {
        KernelSource::Builtin(Image::Unmodified) => demo_os::UNMODIFIED_IMAGE,
        KernelSource::Builtin(Image::Pv) => demo_os::PV_IMAGE,
        KernelSource::File(path) => {
            file_bytes = std::fs::read(path).map_err(|source| RunnerError::Read {
                path: path.to_owned(),
                source,
            })?;
            &file_bytes
        }
    };
    let name = source.to_string();
    let image = ElfImage::parse(bytes).map_err(|source| RunnerError::Elf {
        path: name.clone(),
        source,
    })?;
    Ok((name, image))
}
