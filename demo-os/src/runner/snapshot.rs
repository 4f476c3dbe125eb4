//! Snapshots of a run: `--save-at N FILE` writes the whole machine once
//! the run has executed N instructions (every VM's together under the
//! monitor, as `--max-instructions` counts them) and runs on;
//! `--restore FILE` continues a run from such a file.
//!
//! The file ([`hv_host::snapshot`]: versioned, checksummed) holds the
//! flags that built the machine ([`MachineFlags`]: mode, board, kernels,
//! initrd, command line, memory, VMs, programs, monitor tuning) and the
//! state: the bare machine's ([`MachineImage`]) or the monitor's with
//! every VM ([`MonitorImage`]). `--restore` takes those flags from the
//! file (giving one of them again is a usage error), builds the machine
//! as the saved run did (so the kernel and initrd files must still be
//! there: the symbols come from the kernel), then loads the saved state
//! over it. From there the run is the rest of the saved run: the same
//! console output, instruction counts, statistics and exit status.
//! Output flags (`--stats-json`, `--trace`, `--timeline`,
//! `--max-instructions`, `--engine`, `--gdb`) are the restoring run's own.

use super::RunnerError;
use super::cli::{BoardKind, Cli, Image, Mode};
use clap::ArgMatches;
use clap::parser::ValueSource;
use hv_host::machine::MachineImage;
use hv_host::monitor::MonitorImage;
use hv_host::snapshot::{self as format, SnapshotError};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The flags that define the machine of a run: what `--restore` takes
/// from the file instead of the command line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineFlags {
    mode: Mode,
    image: Option<Image>,
    kernel: Vec<PathBuf>,
    board: BoardKind,
    initrd: Option<PathBuf>,
    append: String,
    mem: u32,
    vms: u32,
    vtlb: Option<u32>,
    no_idle_inference: bool,
    no_spin_inference: bool,
    share_pages: bool,
    max_host_mem: Option<u64>,
    work: u32,
    programs: Vec<u32>,
    slice: Option<u64>,
    vm: Vec<String>,
    console: Option<usize>,
}

/// The command-line names of [`MachineFlags`]' fields (clap's ids).
const MACHINE_FLAGS: [&str; 18] = [
    "mode",
    "image",
    "kernel",
    "board",
    "initrd",
    "append",
    "mem",
    "vms",
    "vtlb",
    "no_idle_inference",
    "no_spin_inference",
    "share_pages",
    "max_host_mem",
    "work",
    "programs",
    "slice",
    "vm",
    "console",
];

/// Absolute, so that a restore from another directory finds the files.
fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_owned())
}

/// A `--vm` spec with its `kernel=` and `initrd=` files made absolute.
fn absolute_spec(spec: &str) -> String {
    spec.split(',')
        .map(|piece| match piece.split_once('=') {
            Some((k @ ("kernel" | "initrd"), v)) => {
                format!("{k}={}", absolute(Path::new(v)).display())
            }
            _ => piece.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

impl MachineFlags {
    /// The flags of `cli`.
    pub fn of(cli: &Cli) -> Self {
        Self {
            mode: cli.mode,
            image: cli.image,
            kernel: cli.kernel.iter().map(|p| absolute(p)).collect(),
            board: cli.board,
            initrd: cli.initrd.as_deref().map(absolute),
            append: cli.append.clone(),
            mem: cli.mem,
            vms: cli.vms,
            vtlb: cli.vtlb,
            no_idle_inference: cli.no_idle_inference,
            no_spin_inference: cli.no_spin_inference,
            share_pages: cli.share_pages,
            max_host_mem: cli.max_host_mem,
            work: cli.work,
            programs: cli.programs.clone(),
            slice: cli.slice,
            vm: cli.vm.iter().map(|spec| absolute_spec(spec)).collect(),
            console: cli.console,
        }
    }

    /// Sets them in `cli`.
    fn apply(&self, cli: &mut Cli) {
        cli.mode = self.mode;
        cli.image = self.image;
        cli.kernel = self.kernel.clone();
        cli.board = self.board;
        cli.board_given = true;
        cli.initrd = self.initrd.clone();
        cli.append = self.append.clone();
        cli.mem = self.mem;
        cli.vms = self.vms;
        cli.vtlb = self.vtlb;
        cli.no_idle_inference = self.no_idle_inference;
        cli.no_spin_inference = self.no_spin_inference;
        cli.share_pages = self.share_pages;
        cli.max_host_mem = self.max_host_mem;
        cli.work = self.work;
        cli.programs = self.programs.clone();
        cli.slice = self.slice;
        cli.vm = self.vm.clone();
        cli.console = self.console;
    }
}

/// The saved state: the bare machine's, or the monitor's.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum State {
    /// `--mode native`.
    Native(Box<MachineImage>),
    /// `--mode full` or `para`.
    Monitor(Box<MonitorImage>),
}

/// A snapshot file's record.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Snapshot {
    /// The flags that built the machine.
    pub flags: MachineFlags,
    /// Instructions executed when it was saved.
    pub instructions: u64,
    /// The state.
    pub state: State,
}

/// Reads `--restore`'s file and puts its flags into `cli` (whose
/// `matches` tell which flags the command line gave: none of the
/// machine's may be). The state goes into `cli.restored`.
pub fn prepare_restore(cli: &mut Cli, matches: &ArgMatches) -> Result<(), RunnerError> {
    let Some(path) = cli.restore.clone() else {
        return Ok(());
    };
    let given: Vec<String> = MACHINE_FLAGS
        .iter()
        .filter(|id| matches.value_source(id) == Some(ValueSource::CommandLine))
        .map(|id| format!("--{}", id.replace('_', "-")))
        .collect();
    if !given.is_empty() {
        return Err(RunnerError::Usage(format!(
            "--restore takes the machine from the snapshot: {} cannot be given with it",
            given.join(", ")
        )));
    }
    let started = Instant::now();
    let bytes = std::fs::read(&path).map_err(|source| RunnerError::Read {
        path: path.clone(),
        source,
    })?;
    let snap: Snapshot = format::decode(&bytes).map_err(|source| RunnerError::Snapshot {
        path: path.clone(),
        source,
    })?;
    let fits = matches!(
        (&snap.state, snap.flags.mode),
        (State::Native(_), Mode::Native) | (State::Monitor(_), Mode::Full | Mode::Para)
    );
    if !fits {
        return Err(RunnerError::Snapshot {
            path,
            source: SnapshotError::Decode(format!(
                "a {:?} run's flags with the wrong kind of state",
                snap.flags.mode
            )),
        });
    }
    snap.flags.apply(cli);
    cli.restored = Some(std::rc::Rc::new(Restored {
        path,
        bytes: bytes.len(),
        read_time: started.elapsed(),
        snapshot: snap,
    }));
    Ok(())
}

/// A snapshot read for `--restore`.
#[derive(Debug)]
pub struct Restored {
    /// The file.
    pub path: PathBuf,
    /// Its size.
    pub bytes: usize,
    /// Time to read and decode it.
    pub read_time: std::time::Duration,
    /// What it holds.
    pub snapshot: Snapshot,
}

impl Restored {
    /// The error for a state that does not fit the machine built.
    pub fn error(&self, source: SnapshotError) -> RunnerError {
        RunnerError::Snapshot {
            path: self.path.clone(),
            source,
        }
    }

    /// Says on `stderr` what was restored and how long it took
    /// (`loaded` being the time to load the state into the machine).
    pub fn report(
        &self,
        loaded: std::time::Duration,
        stderr: &mut dyn Write,
    ) -> std::io::Result<()> {
        writeln!(
            stderr,
            "demo-os: restored {} ({} bytes) at instruction {} in {:.1} ms",
            self.path.display(),
            self.bytes,
            self.snapshot.instructions,
            (self.read_time + loaded).as_secs_f64() * 1e3
        )
    }
}

/// `--save-at N FILE`: where and when to save, and whether it was done.
#[derive(Debug)]
pub struct Checkpoint {
    /// Save once the run has executed this many instructions.
    pub at: u64,
    /// Into this file.
    pub path: PathBuf,
    /// The flags to store.
    pub flags: MachineFlags,
    /// Whether it was saved.
    pub done: bool,
}

impl Checkpoint {
    /// `--save-at` of `cli`, if given.
    pub fn of(cli: &Cli) -> Result<Option<Self>, RunnerError> {
        let [n, file] = cli.save_at.as_slice() else {
            return Ok(None);
        };
        let at = n.replace('_', "").parse::<u64>().map_err(|_| {
            RunnerError::Usage(format!(
                "--save-at {n} {file}: N is an instruction count (a whole number)"
            ))
        })?;
        // Created now, so that an unwritable path is an error before the
        // run rather than after it.
        let path = PathBuf::from(file);
        std::fs::File::create(&path).map_err(|source| RunnerError::WriteFile {
            path: path.clone(),
            source,
        })?;
        Ok(Some(Self {
            at,
            path,
            flags: MachineFlags::of(cli),
            done: false,
        }))
    }

    /// The run ended before the checkpoint: removes the empty file made
    /// for it, and says so on `stderr`.
    pub fn missed(&self, instructions: u64, stderr: &mut dyn Write) -> std::io::Result<()> {
        let _ = std::fs::remove_file(&self.path);
        writeln!(
            stderr,
            "demo-os: warning: the run ended at instruction {instructions}, before --save-at {}: \
             no snapshot was written to {}",
            self.at,
            self.path.display()
        )
    }

    /// Writes `state`, taken at `instructions`, to the file, and says so
    /// on `stderr` with the size and the time it took (`taken` is the
    /// time the state took to copy).
    pub fn save(
        &mut self,
        instructions: u64,
        state: State,
        taken: std::time::Duration,
        stderr: &mut dyn Write,
    ) -> Result<(), RunnerError> {
        let started = Instant::now();
        let pages = match &state {
            State::Native(m) => m.pages_stored(),
            State::Monitor(m) => m.machine().pages_stored(),
        };
        let bytes = format::encode(&Snapshot {
            flags: self.flags.clone(),
            instructions,
            state,
        });
        std::fs::write(&self.path, &bytes).map_err(|source| RunnerError::WriteFile {
            path: self.path.clone(),
            source,
        })?;
        self.done = true;
        writeln!(
            stderr,
            "demo-os: saved the machine at instruction {instructions} to {} ({} bytes, {pages} \
             memory pages) in {:.1} ms",
            self.path.display(),
            bytes.len(),
            (taken + started.elapsed()).as_secs_f64() * 1e3
        )?;
        Ok(())
    }
}
