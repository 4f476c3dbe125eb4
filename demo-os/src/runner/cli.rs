//! The runner's command line.

use clap::{Parser, ValueEnum};
use demo_os::BootArgs;
use std::path::PathBuf;

/// Instructions per run slice: guest output is flushed after each.
pub const SLICE: u64 = 10_000_000;
/// Default RAM size in MiB.
pub const DEFAULT_MEM_MIB: u32 = 64;
/// Largest RAM size in MiB (the machine's limit).
pub const MAX_MEM_MIB: u32 = 256;
/// Default `--vtlb`: as many entries as the machine's TLB.
pub const DEFAULT_VTLB: u32 = 32;
/// Default `--slice` in clock ticks.
pub const DEFAULT_SLICE: u64 = 100_000;

/// Exit status when `--max-instructions` stops the guest.
pub const EXIT_LIMIT: u8 = 124;
/// Exit status when the guest stalls.
pub const EXIT_STALLED: u8 = 125;
/// Exit status when an exception routed to the host stops the guest.
pub const EXIT_TRAP: u8 = 126;
/// Exit status when the guest resets the board (Malta: a kernel panic
/// with `panic=N`, `reboot`): told apart from a power-off (0).
pub const EXIT_RESET: u8 = 123;
/// Exit status when Ctrl-C (SIGINT) stops the run.
pub const EXIT_INTERRUPTED: u8 = 130;
/// Exit status of host-side errors (unreadable or invalid kernel, ...).
pub const EXIT_ERROR: u8 = 1;
/// Exit status of usage errors and unimplemented modes (as clap uses).
pub const EXIT_USAGE: u8 = 2;

const AFTER_HELP: &str = "\
Output:
  stdout carries only the guest's console: bytes sent to the UART and UHI
  writes to fd 1, flushed every 10M instructions, whenever 64 KiB are
  pending, and at the end. UHI writes to fd 2 go to stderr, followed by the
  runner's own messages and a summary line:
  `demo-os: <N> instructions in <S> s (<M> MIPS); stopped: <reason>`.
  The host time appears only there; everything else is deterministic.
  A run longer than two seconds shows its progress on stderr when stderr
  is a terminal (instructions, MIPS, the virtual clock; under --mode
  compare which run is going), cleared at the end; never in a file or a
  pipe (HV_NO_PROGRESS=1 turns it off).
  Ctrl-C (SIGINT) ends a native, full or para run (mipssim or Malta) at
  the end of the current slice: the console is flushed, the statistics
  table and the summary say where each guest was; status 130. Under
  --mode compare it cuts the run going on, the later runs stop at once,
  and the table shows each as far as it got; status 130.
  Symbol names from the kernel are printed with control characters escaped
  (`\\x1b`). If stdout is closed at startup (`>&-`) or a write fails (a
  closed pipe, a full disk), the runner stops with an error and status 1;
  use `>/dev/null` to discard the output.

Memory map (physical, QEMU mipssim-compatible):
  0x0000_0000 .. MEM           RAM (--mem MiB)
  0x1fc0_0000 .. 0x2000_0000   boot ROM window (reads zero, writes ignored)
  0x1fd0_03f8 .. +8            16550 UART, interrupt on Cause.IP4
  kseg0 (0x8000_0000) and kseg1 (0xa000_0000) map physical 0..512 MiB,
  so the UART's transmit register is at 0xbfd0_03f8, its LSR at +5.

Boot:
  Each PT_LOAD segment of the kernel is copied to its physical address
  (p_paddr, kseg0/kseg1 addresses masked with 0x1fff_ffff) and zero-filled
  to its memory size. The CPU starts at e_entry in kernel mode as after a
  cold reset (Status.BEV=1, ERL=1) with a0 = RAM size in bytes, a1 = the
  --work scale and a2 = the --programs mask (bit i = the i-th of sieve,
  memory, sleeper, chatty, pages; 0 = all). a1 and a2 are the demo OS's
  convention; they are set for a --kernel FILE too, which may ignore them.
  Semihosting (UHI, `sdbbp 1`, operation in t9): 1 = exit(a0),
  5 = write(fd a0, buffer a1, length a2); a write of more than 4096 bytes
  is partial: it writes 4096 and returns that count in v0.
  The kernel file must be a regular file of at most 512 MiB.

The Malta board (--board malta):
  Boots Linux as `qemu-system-mipsel -M malta -kernel FILE -initrd FILE
  -append CMDLINE` does: the initrd at the top of RAM, `rd_start=...
  rd_size=...` in front of the command line, argv/envp (memsize, ememsize,
  modetty0) at physical 0x2000, a0..a3 = 2, argv, envp, RAM size. The
  console is the PIIX4's first serial port (ttyS0): its output goes to
  stdout, stdin feeds its receive side (a terminal is put in raw mode;
  Ctrl-C stops the run). From a pipe or a file, input is given one line at
  a time, at the end of a run slice where the guest has read everything
  before and has the UART's receive interrupt enabled, so a run is
  deterministic. When that input has ended and the guest, given all of it,
  then prints nothing and idles (90% of its cycles in `wait`; under the
  monitor, every VM busy at most 10% of the time) for 60 virtual
  seconds, it waits for input that will never come: the run ends there
  with status 125 (a guest that works or prints runs on). The
  guest's power-off (PIIX4 soft-off) or reset (FPGA)
  ends the run with status 0. With --mode full (or para) the same kernel
  runs unmodified under the monitor, each VM on its own emulated Malta
  board; stdin feeds VM 0's console.

Exit status:
  0-255  the guest's UHI exit code modulo 256, like a POSIX process status
         (a negative code keeps its low 8 bits: exit(-1) gives 255)
  1      the kernel could not be read, parsed or loaded (not a regular file,
         larger than 512 MiB, not a MIPS ELF, does not fit in RAM), or
         output failed (stdout closed, a broken pipe)
  1      (--restore) the snapshot is unreadable, truncated, corrupt, of
         another format version, or does not fit the machine
  2      bad command line
  0      (Malta) the guest powered the board off
  123    (Malta) the guest reset the board (reboot, a panic with panic=N);
         the run ends there, as QEMU's -no-reboot
  124    stopped at --max-instructions
  125    the guest stalled: it waits for an interrupt none can deliver, or
         (Malta) for console input after piped stdin ended
  126    an exception routed to the host stopped the guest, or a guest
         crashed: it faults where it can make no progress, or it entered
         an exception vector that holds no handler (only zero words up to
         a fault: \"no exception handler at ...\")
  130    interrupted by Ctrl-C (SIGINT)
With several VMs the status is the first VM's (in VM order) that is not 0.

Work scale (--work N, the demo OS's a1):
  Every demo program does N times its work: the sieve counts primes below
  30000 N, memory runs 4 N rounds, the sleeper takes 6 N naps, chatty
  prints 12 N lines, pages runs N passes of 4 TLB-stress rounds. The
  results line depends only on N and --programs, the same in every mode.
  Above N = 4 the programs print summaries instead of a line per step
  (chatty still prints its lines: console output is its work). The work
  grows linearly, about 3.6 M instructions per unit. Natively --work 1
  runs 3.9 M instructions (about 0.03 s of host CPU time), --work 10
  runs 36 M (about 0.3 s) and --work 20 runs 72 M (about 0.55 s); the
  summary line on stderr gives the real figures of a run.

The monitor (--mode full):
  Each VM runs its kernel deprivileged, trapping privileged instructions
  and exceptions to the monitor, which emulates them on the VM's virtual
  CP0 and TLB. With --vms > 1 every console line is prefixed with its VM
  (`[vm0] ...`). The runner holds at most 4096 bytes of a VM's unfinished
  line: a longer line is written in pieces of 4096 bytes, each ended with
  a newline, the next prefixed `[vm0]+ `. A VM whose output ends without a
  newline gets one at the end of the run, followed by the line
  `[vm0]\\ no newline at end`. Dropping the prefixes and the newlines the
  runner added gives back each VM's output byte for byte. A table of
  per-VM statistics goes to stderr at the end. --vms, --vtlb, --slice,
  --no-idle-inference and --trace exits are for the monitor: natively
  they are usage errors (status 2), as are more --kernel files or
  --programs lists than VMs.
  --mode para offers the hypercall interface too: the PV image
  (--image pv) detects it and takes its paravirtualized paths.

The comparison (--mode compare [--json]):
  Runs the demo OS (with --work, --programs) natively, under the monitor
  fully virtualized (the unmodified image) and paravirtualized (the PV
  image with hypercalls), then a busy VM (sieve, memory, pages) alone and
  beside an idle VM (the sleeper) under both. stdout gets one table: per
  mode, guest instructions, virtual cycles, exits by reason, privileged
  instructions emulated, hypercalls by kind, TLB refills by who served
  them, frames zeroed by guest and monitor, idle ticks, machine switches,
  host wall time (the only figure that varies between runs), and whether
  the output matches native; with --json, the same as one JSON object.
  Guest consoles are not printed but compared with the native run's (the
  lines not starting with `stat `, sorted). Status 0 when every run
  exits 0 with the native output, else 1 with the reasons on stderr.
  --mem, --vtlb, --slice, --no-idle-inference and --max-instructions
  apply to every run; --kernel, --image, --vms and --trace do not apply.

The consolidation report (--mode consolidate [--json]):
  Runs the VMs of the command line (--vm specs, or --vms with --kernel
  and --programs; default: the PV demo's busy programs beside the
  unmodified demo's sleeper) under the monitor with hypercalls offered:
  each VM alone, then all together, together with page sharing, and, if
  a VM polled a clock register (Linux calibrating against the RTC),
  together without spin inference. stdout gets one table: per VM its
  clock at its end alone and together (the slowdown), its share of the
  CPU, exits, machine switches, how it ended, and whether its console is
  what it prints alone (timing lines aside: demo `stat` lines, Linux's
  timestamps, audit times, BogoMIPS, the RTC time it boots with, and the
  sched_clock and clocksource limits computed from the frequency it
  measures); for a polling VM, the other VMs'
  share of the CPU while it polled, with and without spin inference; and
  the machine memory in use, without and with page sharing. Every run
  reads no input (as `< /dev/null`). Status 0 when every VM ends and
  prints as alone, else 1 with the reasons on stderr. --share-pages and
  --no-spin-inference are usage errors (the report runs both ways).";

/// Which board the machine is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
pub enum BoardKind {
    /// QEMU's `mipssim`: RAM, boot ROM, one UART; UHI semihosting.
    Mipssim,
    /// QEMU's `malta` (CoreLV, GT-64120): boots Linux with --initrd and
    /// --append as `qemu-system-mipsel -M malta -kernel` does.
    Malta,
}

/// How the kernel runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
pub enum Mode {
    /// Directly on the emulated machine, with no monitor.
    Native,
    /// Under the monitor, fully virtualized (unmodified kernel).
    Full,
    /// Under the monitor, paravirtualized (kernel uses hypercalls).
    Para,
    /// Every mode in turn, comparing output and counts.
    Compare,
    /// Each VM alone, then all together: what sharing the CPU costs each.
    Consolidate,
}

/// Boots a MIPS32 little-endian ELF kernel on the emulated machine.
#[derive(Debug, Parser)]
#[command(name = "demo-os", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// How to run the kernel: on the bare machine (`native`); under the
    /// monitor, fully virtualized by trap-and-emulate (`full`) or offering
    /// hypercalls (`para`, for `--image pv`); or the demo every way in
    /// turn, printing one comparison table (`compare`); or the VMs each
    /// alone and then together, reporting what sharing the CPU costs each
    /// (`consolidate`).
    #[arg(long, value_enum, default_value_t = Mode::Native)]
    pub mode: Mode,

    /// Which built-in demo kernel to boot: the unmodified build (no
    /// hypercalls) or the paravirtualized build (which, with no monitor
    /// answering, takes its unmodified paths). Default: `pv` under
    /// `--mode para`, `unmodified` otherwise.
    #[arg(long, value_enum)]
    pub image: Option<Image>,

    /// Boot this kernel instead of a built-in image: any MIPS32 (r1/r2)
    /// little-endian ET_EXEC ELF file. Under the monitor, repeat it to
    /// give each VM its own kernel (VM i boots the i-th, round robin; at
    /// most --vms of them). Required with --board malta.
    #[arg(long, value_name = "FILE", conflicts_with = "image", action = clap::ArgAction::Append)]
    pub kernel: Vec<PathBuf>,

    /// The board: `mipssim` (default) or `malta` (Linux's board; natively
    /// or, with --mode full or para, each VM on its own Malta board).
    #[arg(long, value_enum, default_value_t = BoardKind::Mipssim)]
    pub board: BoardKind,

    /// Whether `--board` was given on the command line (not the default).
    #[arg(skip)]
    pub board_given: bool,

    /// Malta: an initial ramdisk, loaded at the top of RAM as QEMU's
    /// `-initrd` does (its address and size go on the command line).
    #[arg(long, value_name = "FILE")]
    pub initrd: Option<PathBuf>,

    /// Malta: the kernel command line, as QEMU's `-append`.
    #[arg(long, value_name = "CMDLINE", default_value = "")]
    pub append: String,

    /// RAM size in MiB, 1 to 256.
    #[arg(
        long,
        value_name = "MIB",
        default_value_t = DEFAULT_MEM_MIB,
        value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_MEM_MIB)),
    )]
    pub mem: u32,

    /// Stop after this many instructions (exit status 124). Without it the
    /// guest runs until it exits or stalls.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_instructions: Option<u64>,

    /// Trace to stderr: `insns` (native mode) prints every executed
    /// instruction with its count, address, symbol and disassembly;
    /// `exits` (monitor modes) prints every exit to the monitor: virtual
    /// time, VM, PC, symbol, disassembly, reason and what the monitor did.
    /// A bare --trace follows the mode: `insns` natively, `exits` under
    /// --mode full or para. Slow and verbose; pair it with
    /// --max-instructions.
    #[arg(long = "trace", value_enum, value_name = "WHAT", num_args = 0..=1)]
    pub trace_arg: Option<Option<TraceKind>>,

    /// Under the monitor: how many VMs share the CPU, each booting the
    /// kernel (or the next `--kernel`) with its own --mem of RAM.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=MAX_VMS))]
    pub vms: u32,

    /// Under the monitor: one VM described on its own, repeatable, so that
    /// different systems share the CPU: comma-separated key=value pairs
    /// of board (mipssim|malta), mem (MiB), kernel (FILE) or image
    /// (unmodified|pv), initrd and append (malta), programs (the demo's
    /// list). Example: `--vm board=malta,mem=128,kernel=vmlinuz,
    /// initrd=initrd.gz,append="console=ttyS0 rdinit=/init" --vm
    /// image=pv,programs=sieve,memory --vm image=unmodified,programs=sleeper`.
    /// Replaces --vms, --kernel, --programs, --board, --initrd and
    /// --append.
    #[arg(long = "vm", value_name = "SPEC", action = clap::ArgAction::Append)]
    pub vm: Vec<String>,

    /// Under the monitor: which VM's console takes stdin (`vm0`, the
    /// default, `vm1`, ...); it must be a Malta VM to read it.
    #[arg(long, value_name = "VM", value_parser = parse_console)]
    pub console: Option<usize>,

    /// Under the monitor: entries of each VM's virtual TLB (3 to 64;
    /// Config1.MMUSize tells the guest). Default: the machine's 32.
    #[arg(long, value_name = "N", value_parser = parse_vtlb)]
    pub vtlb: Option<u32>,

    /// Under the monitor: do not deschedule a VM that executes `wait`
    /// (it keeps the CPU for the rest of its slice), for comparison.
    #[arg(long)]
    pub no_idle_inference: bool,

    /// Under the monitor: do not skip a VM's polling loop on a device
    /// register that only time changes (Linux polling the RTC to
    /// calibrate its clock): it spins, exiting on every read, for
    /// comparison. By default the VM is descheduled until just before the
    /// register changes and sees the same values at the same ticks.
    #[arg(long)]
    pub no_spin_inference: bool,

    /// Under the monitor: transparent page sharing. Frames of the same
    /// contents (in one VM or several: the same kernel loaded twice,
    /// zeroed pages, the same programs) are backed by one machine frame,
    /// read-only; the first store through any of them gets a private
    /// copy, unseen by the guest. The monitor scans at fixed points of
    /// virtual time, so runs stay deterministic.
    #[arg(long)]
    pub share_pages: bool,

    /// Under the monitor: the most host memory the VMs may take
    /// together: their frames and the monitor's state for each (e.g.
    /// 512M, 2G; plain numbers are MiB). The VMs' --mem may add up to
    /// more (overcommit): frames are taken as VMs touch pages, and a VM
    /// that needs one when all are in use is stopped with that reason.
    /// Too small for the VMs' state at all: an error before running.
    /// Default: what the VMs' RAM adds up to, at most 3 GiB.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_host_mem: Option<u64>,

    /// The demo OS's work scale (boot argument a1): every user program
    /// does N times its work, 1 to 1000. See "Work scale" below.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        value_parser = clap::value_parser!(u32).range(1..=i64::from(demo_os::WORK_MAX)),
    )]
    pub work: u32,

    /// The demo OS programs to start (boot argument a2), comma-separated:
    /// sieve, memory, sleeper, chatty, pages. Default: all of them. Under
    /// the monitor, repeat it to give each VM its own list (VM i takes the
    /// i-th, round robin; at most --vms of them): `--vms 2 --programs
    /// sieve,pages --programs sleeper` runs a busy VM beside a mostly
    /// sleeping one.
    #[arg(long, value_name = "LIST", value_parser = parse_programs, action = clap::ArgAction::Append)]
    pub programs: Vec<u32>,

    /// Under the monitor: clock ticks a VM runs before the next runnable
    /// VM gets the CPU, at least 1000. Default: 100000.
    #[arg(long, value_name = "TICKS", value_parser = clap::value_parser!(u64).range(1000..))]
    pub slice: Option<u64>,

    /// With `--mode compare` or `consolidate`: print the report as one
    /// JSON object instead of a table.
    #[arg(long)]
    pub json: bool,

    /// With `--mode compare`: also draw the comparison as bar charts
    /// (virtual cycles, guest instructions, exits by reason, hypercalls by
    /// kind, per mode) into FILE, an SVG picture for a browser.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,

    /// Under the monitor (--mode full or para): draw what each VM did over
    /// virtual time into FILE, an SVG picture: when it held the CPU, when
    /// it was idle, and its exits by reason.
    #[arg(long, value_name = "FILE")]
    pub timeline: Option<PathBuf>,

    /// Write a built-in demo kernel (`unmodified` or `pv`) to FILE as an
    /// ELF and exit without running, to run it elsewhere (QEMU:
    /// `qemu-system-mipsel -M mipssim -semihosting -kernel FILE`) or to
    /// give gdb its symbols.
    #[arg(long, num_args = 2, value_names = ["IMAGE", "FILE"])]
    pub export_image: Vec<String>,

    /// Debug the guest with gdb: start stopped at the kernel's first
    /// instruction and wait for a debugger on ADDR, a TCP host:port on the
    /// loopback interface (`localhost:1234`) or a Unix socket path; then
    /// `gdb-multiarch KERNEL.elf -ex 'target remote ADDR'`. Registers,
    /// memory (guest-virtual, as the guest sees it), breakpoints, write,
    /// read and access watchpoints (watch, rwatch, awatch), stepping,
    /// continue, Ctrl-C. Natively, or under --mode full or para with any
    /// number of VMs: each VM is a gdb thread (`info threads`: vm0,
    /// vm1, ...; `thread 2` is VM 1), a stop stops them all.
    #[arg(long, value_name = "ADDR")]
    pub gdb: Option<String>,

    /// Also write the run's statistics (the statistics table and the
    /// summary line's figures, per VM, and the engine's counters) to FILE
    /// as JSON, for programs (keys: see `demo-os/src/runner/stats_json.rs`;
    /// a figure that does not apply is null). Any single run: native,
    /// full, para, Malta.
    #[arg(long, value_name = "FILE")]
    pub stats_json: Option<PathBuf>,

    /// The CPU engine: `jit` translates hot guest code to host code with
    /// Cranelift and interprets the rest; `interp` is the reference
    /// interpreter only. Both give the same output, instruction counts,
    /// exit status and statistics. `--trace insns` always interprets.
    /// Default: jit where the host supports it (else interp, said once on
    /// stderr), or the `HV_ENGINE` environment variable.
    #[arg(long, value_enum, value_name = "ENGINE")]
    pub engine: Option<EngineArg>,

    /// Save a snapshot of the whole machine into FILE once the run has
    /// executed N instructions (every VM's together under the monitor, as
    /// --max-instructions counts), then run on. The file holds the CPU,
    /// CP0, TLB, the RAM pages that are not all zeros, the devices, under
    /// the monitor every VM and the monitor's own state, and the flags
    /// that built the machine. --mode native, full or para.
    #[arg(long, num_args = 2, value_names = ["N", "FILE"])]
    pub save_at: Vec<String>,

    /// Continue a run from a snapshot --save-at wrote: the machine's flags
    /// (--mode, --board, --kernel, --initrd, --append, --mem, --vms,
    /// --programs, ...) come from the file and may not be given; the
    /// kernel and initrd files must still be where they were. The rest of
    /// the run prints, counts and exits as the saved run did after that
    /// point. Output flags (--stats-json, --trace, --timeline,
    /// --max-instructions, --engine, --gdb, --save-at) are this run's.
    #[arg(long, value_name = "FILE")]
    pub restore: Option<PathBuf>,

    /// The snapshot `--restore` read (set by the runner, not a flag).
    #[arg(skip)]
    pub restored: Option<std::rc::Rc<super::snapshot::Restored>>,
}

/// `--engine`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EngineArg {
    /// Hot code translated to host code, the rest interpreted.
    Jit,
    /// The reference interpreter only.
    Interp,
}

/// Parses `--vtlb`: the sizes the monitor accepts, and why not fewer.
/// A size in bytes: a number with an optional suffix K, M or G (MiB
/// without one).
fn parse_size(arg: &str) -> Result<u64, String> {
    let t = arg.trim();
    let (num, shift) = match t.char_indices().last() {
        Some((i, 'K' | 'k')) => (&t[..i], 10),
        Some((i, 'M' | 'm')) => (&t[..i], 20),
        Some((i, 'G' | 'g')) => (&t[..i], 30),
        _ => (t, 20),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{arg}` is not a size (a number with K, M or G, e.g. 512M)"))?;
    n.checked_mul(1 << shift)
        .filter(|&b| b > 0)
        .ok_or_else(|| format!("`{arg}` is not a size this host can have"))
}

fn parse_vtlb(arg: &str) -> Result<u32, String> {
    use hv_host::monitor::vtlb::{MAX_ENTRIES, MIN_ENTRIES};
    let n: u32 = arg.parse().map_err(|e| format!("{e}"))?;
    if (MIN_ENTRIES as u32..=MAX_ENTRIES as u32).contains(&n) {
        return Ok(n);
    }
    Err(format!(
        "a virtual TLB has {MIN_ENTRIES} to {MAX_ENTRIES} entries. At least {MIN_ENTRIES}: \
         an instruction in a branch delay slot can need three pairs of pages in the TLB at \
         once (the branch's, its own and its data's); with fewer, its TLB refills evict each \
         other for ever, on hardware as under the monitor"
    ))
}

/// Parses `--programs` into the program mask.
fn parse_programs(list: &str) -> Result<u32, demo_os::ProgramListError> {
    demo_os::program_mask(list)
}

/// Parses `--console vmN`.
fn parse_console(arg: &str) -> Result<usize, String> {
    arg.strip_prefix("vm")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("`{arg}` is not a VM: say vm0, vm1, ..."))
}

/// Largest `--vms`.
pub const MAX_VMS: i64 = 1024;

/// What `--trace` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TraceKind {
    /// Every executed instruction (native mode).
    Insns,
    /// Every exit to the monitor (monitor modes).
    Exits,
}

/// The built-in demo kernel images.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
pub enum Image {
    /// The unmodified kernel: no hypercall instruction at all.
    Unmodified,
    /// The paravirtualized kernel: detects the monitor at boot.
    Pv,
}

/// Where the kernel comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KernelSource<'a> {
    /// A built-in demo image.
    Builtin(Image),
    /// A file named with `--kernel`.
    File(&'a std::path::Path),
}

impl std::fmt::Display for KernelSource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KernelSource::Builtin(Image::Unmodified) => f.write_str("built-in unmodified image"),
            KernelSource::Builtin(Image::Pv) => f.write_str("built-in pv image"),
            KernelSource::File(p) => write!(f, "{}", p.display()),
        }
    }
}

impl Cli {
    /// The kernel to boot: the first `--kernel FILE` if given, else the
    /// `--image`.
    pub fn kernel_source(&self) -> KernelSource<'_> {
        self.kernel_source_of(0)
    }

    /// The built-in image to boot: `--image`, else the PV build under
    /// `--mode para` and the unmodified one otherwise.
    pub fn image(&self) -> Image {
        self.image
            .unwrap_or(if matches!(self.mode, Mode::Para | Mode::Consolidate) {
                Image::Pv
            } else {
                Image::Unmodified
            })
    }

    /// The kernel VM `i` boots: the `--kernel` files round robin, else the
    /// `--image`.
    pub fn kernel_source_of(&self, i: usize) -> KernelSource<'_> {
        match self.kernel.len() {
            0 => KernelSource::Builtin(self.image()),
            n => KernelSource::File(&self.kernel[i % n]),
        }
    }

    /// What `--trace` asks for: a bare `--trace` follows the mode (`insns`
    /// natively, `exits` under the monitor).
    pub fn trace(&self) -> Option<TraceKind> {
        match self.trace_arg {
            None => None,
            Some(Some(kind)) => Some(kind),
            Some(None) if self.mode == Mode::Native => Some(TraceKind::Insns),
            Some(None) => Some(TraceKind::Exits),
        }
    }

    /// Entries of each VM's virtual TLB (`--vtlb`).
    pub fn vtlb_entries(&self) -> u32 {
        self.vtlb.unwrap_or(DEFAULT_VTLB)
    }

    /// Clock ticks of a VM's time slice (`--slice`).
    pub fn slice_ticks(&self) -> u64 {
        self.slice.unwrap_or(DEFAULT_SLICE)
    }

    /// The monitor-only tuning flags given on the command line (they mean
    /// nothing natively).
    pub fn monitor_tuning_flags(&self) -> Vec<&'static str> {
        let mut flags = Vec::new();
        if self.vtlb.is_some() {
            flags.push("--vtlb");
        }
        if self.slice.is_some() {
            flags.push("--slice");
        }
        if self.no_idle_inference {
            flags.push("--no-idle-inference");
        }
        if self.no_spin_inference {
            flags.push("--no-spin-inference");
        }
        if self.share_pages {
            flags.push("--share-pages");
        }
        if self.max_host_mem.is_some() {
            flags.push("--max-host-mem");
        }
        flags
    }

    /// RAM size in bytes.
    pub fn ram_bytes(&self) -> u32 {
        self.mem << 20
    }

    /// The boot arguments `--work` and `--programs` give (a1, a2).
    pub fn boot_args(&self) -> BootArgs {
        self.boot_args_of(0)
    }

    /// The VMs to run under the monitor: the `--vm` specs, else `--vms`
    /// VMs from the run-wide flags (`--kernel` and `--programs` round
    /// robin).
    pub fn vm_specs(&self) -> Result<Vec<super::vmspec::VmSpec>, String> {
        if self.vm.is_empty() {
            return Ok((0..self.vms as usize)
                .map(|i| super::vmspec::VmSpec {
                    board: self.board,
                    mem: self.mem,
                    kernel: match self.kernel.len() {
                        0 => None,
                        n => Some(self.kernel[i % n].clone()),
                    },
                    image: self.image(),
                    initrd: self.initrd.clone(),
                    append: self.append.clone(),
                    args: self.boot_args_of(i),
                })
                .collect());
        }
        let mut given = Vec::new();
        for (flag, is) in [
            ("--vms", self.vms != 1),
            ("--kernel", !self.kernel.is_empty()),
            ("--programs", !self.programs.is_empty()),
            ("--board", self.board_given),
            ("--initrd", self.initrd.is_some()),
            ("--append", !self.append.is_empty()),
        ] {
            if is {
                given.push(flag);
            }
        }
        if !given.is_empty() {
            return Err(format!(
                "--vm describes each VM whole: {} cannot be given with it (put it in the --vm specs)",
                given.join(", ")
            ));
        }
        if self.vm.len() > MAX_VMS as usize {
            return Err(format!(
                "{} --vm specs: at most {MAX_VMS} VMs",
                self.vm.len()
            ));
        }
        self.vm
            .iter()
            .map(|spec| super::vmspec::parse(spec, self.mem, self.image(), self.work))
            .collect()
    }

    /// Whether stdin feeds a guest console: the console VM (`--console`,
    /// else VM 0) is a Malta board, the one whose UART reads it.
    pub fn takes_stdin(&self) -> bool {
        match self.vm.get(self.console.unwrap_or(0)) {
            Some(spec) if self.mode != Mode::Native => {
                super::vmspec::parse(spec, self.mem, self.image(), self.work)
                    .is_ok_and(|s| s.board == BoardKind::Malta)
            }
            _ => self.board == BoardKind::Malta,
        }
    }

    /// The boot arguments of VM `i` (the `--programs` lists round robin).
    pub fn boot_args_of(&self, i: usize) -> BootArgs {
        let programs = match self.programs.len() {
            0 => 0,
            n => self.programs[i % n],
        };
        BootArgs {
            work: self.work,
            programs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("demo-os").chain(args.iter().copied()))
    }

    #[test]
    fn command_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults() {
        let cli = parse(&["--kernel", "k.elf"]).unwrap();
        assert_eq!(cli.mode, Mode::Native);
        assert_eq!(cli.ram_bytes(), 64 << 20);
        assert_eq!(cli.max_instructions, None);
        assert_eq!(
            cli.kernel_source(),
            KernelSource::File(std::path::Path::new("k.elf"))
        );
        let cli = parse(&[]).unwrap();
        assert_eq!(
            cli.kernel_source(),
            KernelSource::Builtin(Image::Unmodified)
        );
        let cli = parse(&["--image", "pv"]).unwrap();
        assert_eq!(cli.kernel_source(), KernelSource::Builtin(Image::Pv));
        assert!(parse(&["--image", "pv", "--kernel", "k"]).is_err());
    }

    #[test]
    fn monitor_tuning_flags_are_known_when_given() {
        let cli = parse(&[]).unwrap();
        assert_eq!(cli.vtlb_entries(), 32);
        assert_eq!(cli.slice_ticks(), 100_000);
        assert!(cli.monitor_tuning_flags().is_empty());
        let cli = parse(&["--vtlb", "32", "--slice", "100000"]).unwrap();
        assert_eq!(cli.monitor_tuning_flags(), ["--vtlb", "--slice"]);
        let cli = parse(&["--vtlb", "8", "--slice", "5000", "--no-idle-inference"]).unwrap();
        assert_eq!((cli.vtlb_entries(), cli.slice_ticks()), (8, 5000));
        assert_eq!(
            cli.monitor_tuning_flags(),
            ["--vtlb", "--slice", "--no-idle-inference"]
        );
        for bad in [&["--vtlb", "0"][..], &["--vtlb", "65"], &["--slice", "999"]] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn mem_range_is_checked() {
        assert_eq!(
            parse(&["--kernel", "k", "--mem", "256"])
                .unwrap()
                .ram_bytes(),
            256 << 20
        );
        assert_eq!(
            parse(&["--kernel", "k", "--mem", "1"]).unwrap().ram_bytes(),
            1 << 20
        );
        for bad in ["0", "257", "lots"] {
            let e = parse(&["--kernel", "k", "--mem", bad]).unwrap_err();
            assert_eq!(
                e.kind(),
                clap::error::ErrorKind::ValueValidation,
                "--mem {bad}"
            );
        }
        assert!(parse(&["--kernel", "k", "--mem", "-1"]).is_err());
    }

    #[test]
    fn modes_and_limits_parse() {
        let cli = parse(&[
            "--mode",
            "compare",
            "--kernel",
            "k",
            "--max-instructions",
            "5",
        ])
        .unwrap();
        assert_eq!(cli.mode, Mode::Compare);
        assert_eq!(cli.max_instructions, Some(5));
        assert!(parse(&["--mode", "fast", "--kernel", "k"]).is_err());
        assert!(parse(&["--kernel", "k", "--max-instructions", "0"]).is_err());
    }

    #[test]
    fn vtlb_sizes_below_three_are_refused_with_the_reason() {
        assert_eq!(parse(&["--vtlb", "3"]).unwrap().vtlb_entries(), 3);
        assert_eq!(parse(&["--vtlb", "64"]).unwrap().vtlb_entries(), 64);
        for bad in ["0", "1", "2", "65", "many"] {
            let e = parse(&["--vtlb", bad]).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation, "{bad}");
        }
        assert!(parse(&["--vtlb", "-1"]).is_err());
        let text = parse(&["--vtlb", "2"]).unwrap_err().to_string();
        assert!(
            text.contains("At least 3") && text.contains("branch delay slot"),
            "{text}"
        );
    }

    #[test]
    fn work_and_programs_become_boot_arguments() {
        assert_eq!(parse(&[]).unwrap().boot_args(), BootArgs::DEFAULT);
        let cli = parse(&["--work", "7", "--programs", "sleeper, pages,sleeper"]).unwrap();
        assert_eq!(
            cli.boot_args(),
            BootArgs {
                work: 7,
                programs: 0b10100
            }
        );
        assert_eq!(parse(&["--work", "1000"]).unwrap().work, 1000);
        for bad in ["0", "1001", "-3", "many"] {
            assert!(parse(&["--work", bad]).is_err(), "--work {bad}");
        }
        for bad in ["shell", "", "sieve,", "Sieve"] {
            let e = parse(&["--programs", bad]).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation);
            let text = e.to_string();
            assert!(
                text.contains("the programs are sieve, memory, sleeper, chatty, pages"),
                "{text}"
            );
        }
    }

    #[test]
    fn help_documents_flags_memory_map_and_exit_codes() {
        let help = Cli::command().render_help().to_string();
        for needle in [
            "--mode",
            "--kernel",
            "--mem",
            "--max-instructions",
            "--work",
            "--programs",
            "--json",
            "--mode compare",
            "a1 = the",
            "0xbfd0_03f8",
            "124",
            "125",
            "Memory map",
            "[vm0]+ ",
            "no newline at end",
        ] {
            assert!(help.contains(needle), "help lacks {needle}:\n{help}");
        }
    }
}
