//! The runner behind `demo-os`: reads and checks the kernel, builds the
//! machine (`session`) or the monitor (`monitored`), runs it in slices
//! while copying the guest's console out, and turns the way it stopped
//! into a summary line and an exit status (`target`: the one run loop).

pub mod cli;
pub mod compare;
pub mod console;
pub mod consolidate;
pub mod gdb;
pub mod monitored;
pub mod progress;
pub mod session;
pub mod snapshot;
pub mod stats_json;
pub mod svg;
pub mod target;
pub mod vmspec;

use cli::{BoardKind, Cli, EXIT_ERROR, EXIT_USAGE, Image, KernelSource, Mode};
use demo_os::BootArgs;
use hv_host::machine::board::malta::BootError;
use hv_host::machine::elf::{ElfError, ElfImage};
use hv_host::machine::{LoadError, Machine, MachineConfig, MachineError};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why the runner could not run the guest to a stop.
#[derive(Debug, Error)]
pub enum RunnerError {
    /// The kernel file cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The kernel path.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The kernel path names something other than a regular file (a
    /// device such as `/dev/zero`, a FIFO, a directory).
    #[error("{}: not a regular file", .0.display())]
    NotAFile(PathBuf),
    /// The kernel file is larger than the runner reads.
    #[error(
        "{}: {size} bytes is too large for a kernel (at most {} MiB)",
        path.display(),
        MAX_KERNEL_FILE_BYTES >> 20
    )]
    TooLarge {
        /// The kernel path.
        path: PathBuf,
        /// Its size in bytes (at least as many as were found).
        size: u64,
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
    /// Linux cannot be set up on the Malta board.
    #[error("{path}: {source} (try a larger --mem)")]
    Boot {
        /// The kernel file.
        path: String,
        /// What does not fit.
        source: BootError,
    },
    /// The kernel does not fit in the machine.
    #[error("{path}: {source} (try a larger --mem)")]
    Load {
        /// The kernel file, or which built-in image.
        path: String,
        /// The load error.
        source: LoadError,
    },
    /// stdout was closed when the runner started (see [`check_stdout`]).
    #[error(
        "stdout is closed: the guest's output would be lost (redirect it to /dev/null to discard it)"
    )]
    StdoutClosed,
    /// A file the user named for output cannot be written.
    #[error("{}: {source}", path.display())]
    WriteFile {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// A snapshot cannot be read or does not fit.
    #[error("{}: {source}", path.display())]
    Snapshot {
        /// The snapshot file.
        path: PathBuf,
        /// What is wrong.
        source: hv_host::snapshot::SnapshotError,
    },
    /// Writing the guest's output failed (a closed pipe, a full disk).
    #[error("writing the guest's output: {0}")]
    Output(#[from] io::Error),
}

impl RunnerError {
    /// The process exit status for this error.
    pub fn exit_status(&self) -> u8 {
        match self {
            RunnerError::Usage(_) => EXIT_USAGE,
            _ => EXIT_ERROR,
        }
    }
}

/// Checks that stdout was open when the runner started.
///
/// Rust's runtime puts `/dev/null` (opened read-write) on a standard
/// descriptor that is closed at startup, so with `>&-` every write would
/// succeed and the guest's output vanish silently. So the runner looks at
/// descriptor 1 before the runtime does: a constructor in `.init_array`
/// (run by the C library before `main`, hence before Rust's runtime
/// starts) records whether it was open. Any open stdout is accepted,
/// `/dev/null` included however it was opened (`>/dev/null`,
/// `1<>/dev/null`). A broken pipe later on is reported by the writes
/// themselves: Rust ignores SIGPIPE, so they fail with EPIPE.
pub fn check_stdout() -> Result<(), RunnerError> {
    if startup::STDOUT_CLOSED.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(RunnerError::StdoutClosed);
    }
    Ok(())
}

/// What the runner sees of its process before Rust's runtime starts.
mod startup {
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Whether descriptor 1 was closed when the process started.
    pub static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

    #[cfg(unix)]
    extern "C" fn record() {
        // SAFETY: fcntl(F_GETFD) only reads the descriptor table's flags
        // of descriptor 1; it touches no memory of ours.
        let closed = unsafe { libc::fcntl(1, libc::F_GETFD) } == -1;
        STDOUT_CLOSED.store(closed, Ordering::Relaxed);
    }

    /// Run by the C library's start-up code before `main`.
    #[cfg(all(unix, not(target_os = "macos")))]
    #[used]
    // SAFETY: the section holds pointers to functions taking nothing and
    // returning nothing, which `record` is; it runs once, single-threaded,
    // before `main`, and only stores into an atomic.
    #[unsafe(link_section = ".init_array")]
    static RECORD: extern "C" fn() = record;
}

/// Largest kernel file the runner reads: far more than any image that fits
/// in the largest RAM (256 MiB) needs, with room for symbols.
pub const MAX_KERNEL_FILE_BYTES: u64 = 512 << 20;

/// Reads and parses the kernel. A file is read only if it is a regular
/// file of at most [`MAX_KERNEL_FILE_BYTES`], and its bytes are dropped
/// once parsed (the image keeps its own copy of the segments).
fn parse_kernel(source: &KernelSource<'_>, name: &str) -> Result<ElfImage, RunnerError> {
    let file_bytes;
    let bytes: &[u8] = match *source {
        KernelSource::Builtin(Image::Unmodified) => demo_os::UNMODIFIED_IMAGE,
        KernelSource::Builtin(Image::Pv) => demo_os::PV_IMAGE,
        KernelSource::File(path) => {
            file_bytes = read_kernel_file(path)?;
            &file_bytes
        }
    };
    ElfImage::parse(bytes).map_err(|source| RunnerError::Elf {
        path: name.to_owned(),
        source,
    })
}

/// Reads `path`, refusing anything but a regular file of at most
/// [`MAX_KERNEL_FILE_BYTES`] (`/dev/zero`, a FIFO or a directory would
/// otherwise be read until memory runs out, or block). The read itself is
/// bounded too, in case the file grows meanwhile.
pub(crate) fn read_kernel_file(path: &Path) -> Result<Vec<u8>, RunnerError> {
    let read_error = |source| RunnerError::Read {
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_error)?;
    if !meta.is_file() {
        return Err(RunnerError::NotAFile(path.to_owned()));
    }
    let too_large = |size| RunnerError::TooLarge {
        path: path.to_owned(),
        size,
    };
    if meta.len() > MAX_KERNEL_FILE_BYTES {
        return Err(too_large(meta.len()));
    }
    // Opened after the check: a FIFO would block here.
    let file = File::open(path).map_err(read_error)?;
    if !file.metadata().map_err(read_error)?.is_file() {
        return Err(RunnerError::NotAFile(path.to_owned()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_KERNEL_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_KERNEL_FILE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Runs the command line to completion and returns the exit status; the
/// guest's console goes to `stdout`, everything else to `stderr`.
pub fn run(cli: &Cli, stdout: &mut impl Write, stderr: &mut impl Write) -> Result<u8, RunnerError> {
    if let [image, file] = cli.export_image.as_slice() {
        let bytes = match image.as_str() {
            "unmodified" => demo_os::UNMODIFIED_IMAGE,
            "pv" => demo_os::PV_IMAGE,
            other => {
                return Err(RunnerError::Usage(format!(
                    "--export-image {other}: the built-in images are `unmodified` and `pv`"
                )));
            }
        };
        let path = PathBuf::from(file);
        std::fs::write(&path, bytes).map_err(|source| RunnerError::WriteFile { path, source })?;
        writeln!(stderr, "demo-os: wrote the {image} kernel to {file}")?;
        return Ok(0);
    }
    select_engine(cli, stderr)?;
    if !cli.vm.is_empty() && !matches!(cli.mode, Mode::Full | Mode::Para | Mode::Consolidate) {
        return Err(RunnerError::Usage(
            "--vm describes the VMs of a run under the monitor (--mode full, para or consolidate)"
                .into(),
        ));
    }
    if cli.console.is_some() && !matches!(cli.mode, Mode::Full | Mode::Para) {
        return Err(RunnerError::Usage(
            "--console picks the VM that reads stdin in a run under the monitor (--mode full or para)"
                .into(),
        ));
    }
    if cli.board == BoardKind::Malta && cli.mode == Mode::Compare {
        return Err(RunnerError::Usage(
            "--board malta runs with --mode native, full or para, not compare".into(),
        ));
    }
    if cli.board == BoardKind::Mipssim && (cli.initrd.is_some() || !cli.append.is_empty()) {
        return Err(RunnerError::Usage(
            "--initrd and --append need --board malta".into(),
        ));
    }
    if cli.json && !matches!(cli.mode, Mode::Compare | Mode::Consolidate) {
        return Err(RunnerError::Usage(
            "--json is for --mode compare and --mode consolidate".into(),
        ));
    }
    if cli.timeline.is_some() && !matches!(cli.mode, Mode::Full | Mode::Para) {
        return Err(RunnerError::Usage(
            "--timeline draws the VMs of a run under the monitor (--mode full or para)".into(),
        ));
    }
    if cli.svg.is_some() && cli.mode != Mode::Compare {
        return Err(RunnerError::Usage("--svg is for --mode compare".into()));
    }
    if cli.gdb.is_some() && matches!(cli.mode, Mode::Compare | Mode::Consolidate) {
        return Err(RunnerError::Usage(
            "--gdb debugs one run: --mode native, full or para".into(),
        ));
    }
    if matches!(cli.mode, Mode::Compare | Mode::Consolidate) && !cli.save_at.is_empty() {
        return Err(RunnerError::Usage(
            "--save-at saves one run: --mode native, full or para".into(),
        ));
    }
    if cli.stats_json.is_some() && matches!(cli.mode, Mode::Compare | Mode::Consolidate) {
        return Err(RunnerError::Usage(
            "--stats-json is for a single run; --mode compare and consolidate have --json".into(),
        ));
    }
    if cli.board == BoardKind::Malta && cli.kernel.is_empty() {
        return Err(RunnerError::Usage(
            "--board malta boots a Linux kernel: name it with --kernel FILE \
             (the built-in demo images are for the mipssim board)"
                .into(),
        ));
    }
    if cli.board == BoardKind::Mipssim && !cli.board_given {
        // A Linux kernel on the default board would run its decompressor
        // and then spin silently: Debian's kernels are Malta kernels.
        for path in &cli.kernel {
            if let Ok((name, image)) = load_image(cli::KernelSource::File(path))
                && let Some(why) = image.linux
            {
                return Err(RunnerError::Usage(format!(
                    "{name} looks like a Linux kernel ({why}): boot it with --board malta \
                     (give --board mipssim to run it on mipssim anyway)"
                )));
            }
        }
    }
    match cli.mode {
        Mode::Native => session::run(cli, stdout, stderr),
        Mode::Full => monitored::run(cli, false, stdout, stderr),
        Mode::Para => monitored::run(cli, true, stdout, stderr),
        Mode::Compare => compare::run(cli, stdout, stderr),
        Mode::Consolidate => consolidate::run(cli, stdout, stderr),
    }
}

/// Builds a bare machine with `ram_bytes` of RAM, loads `image` (called
/// `name` in errors) and sets its boot arguments.
pub fn boot_machine(
    ram_bytes: u32,
    name: &str,
    image: &ElfImage,
    args: BootArgs,
) -> Result<Machine, RunnerError> {
    let mut machine = Machine::new(MachineConfig { ram_bytes })?;
    machine
        .load_elf(image)
        .map_err(|source| RunnerError::Load {
            path: name.to_owned(),
            source,
        })?;
    for (reg, value) in args.registers() {
        machine.set_gpr(reg, value);
    }
    Ok(machine)
}

/// Sets the engine every machine of this run starts with: `--engine`,
/// else `HV_ENGINE`, else jit; jit where the host has no code generator
/// falls back to the interpreter, said once on stderr.
fn select_engine(cli: &Cli, stderr: &mut impl Write) -> io::Result<()> {
    use hv_host::machine::Engine;
    let wanted = match cli.engine {
        Some(cli::EngineArg::Jit) => Engine::Jit,
        Some(cli::EngineArg::Interp) => Engine::Interp,
        None => Engine::default_for_new_machines(),
    };
    let engine = if wanted == Engine::Jit && !Engine::jit_supported() {
        writeln!(
            stderr,
            "demo-os: the jit engine is not available on this host ({}); using the interpreter",
            std::env::consts::ARCH
        )?;
        Engine::Interp
    } else {
        wanted
    };
    Engine::set_default(engine);
    Ok(())
}

/// Reads and parses the kernel `source` names: its display name and image.
pub fn load_image(source: KernelSource<'_>) -> Result<(String, ElfImage), RunnerError> {
    let name = source.to_string();
    let image = parse_kernel(&source, &name)?;
    Ok((name, image))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_process_started_with_stdout_open() {
        // The constructor ran before the test harness: its stdout is open.
        assert!(check_stdout().is_ok());
    }
}
