//! Running kernels under the monitor (`--mode full`): builds one VM per
//! `--vms`, loads each its kernel, and runs the monitor as a [`Target`]
//! of the run loop: each VM's console copied out (each line prefixed with
//! its VM when there are several, so that their output stays apart; see
//! [`ConsoleMux`] for how long lines are cut), the exit trace printed if
//! asked, and the per-VM statistics table before the summary line on
//! stderr.

use super::cli::BoardKind;
use super::cli::{Cli, TraceKind};
use super::console::ConsoleInput;
use super::target::{self, Sink, Step, Stop, Target, location};
use super::vmspec::VmSpec;
use super::{RunnerError, load_image};
use demo_os::BootArgs;
use hv_host::addr::GuestVirtAddr;
use hv_host::machine::board;
use hv_host::machine::board::malta::LinuxBoot;
use hv_host::machine::elf::ElfImage;
use hv_host::machine::insn::Instruction;
use hv_host::monitor::stats::{ExitReason, PRIV_NAMES, VmStats};
use hv_host::monitor::{Monitor, MonitorConfig, MonitorExit, VmConfig, VmId, VmStop};
use std::io::{self, Write};

/// Longest piece of one console line the runner holds for a VM when
/// several VMs share stdout: a line longer than this is written in pieces
/// of this many bytes (see [`ConsoleMux`]), so a guest that never writes a
/// newline costs at most this much host memory.
pub const LINE_MAX: usize = 4096;

/// Copies VM consoles to one stream: as they are with one VM, line by
/// line with a prefix with several, so that their output stays apart.
///
/// With several VMs every output line is one of:
///
/// - `[vmN] text\n`: the start of a line of VM N (or all of it);
/// - `[vmN]+ text\n`: more of VM N's previous line, which was longer than
///   [`LINE_MAX`] bytes: the runner cut it there and added the newline
///   before this piece (a piece holds at most [`LINE_MAX`] bytes, never
///   none);
/// - `[vmN]\ no newline at end\n`: VM N's output ended without a newline:
///   the runner added the newline of the line before.
///
/// Dropping the prefixes and the newlines the runner added gives back
/// each VM's output byte for byte. A VM holds at most [`LINE_MAX`] bytes
/// here, and every byte is looked at once, so time is linear.
pub struct ConsoleMux {
    prefixed: bool,
    vms: Vec<PendingLine>,
}

/// The unfinished line of one VM.
#[derive(Clone, Default)]
struct PendingLine {
    /// Bytes of the current line not yet written (at most [`LINE_MAX`]).
    held: Vec<u8>,
    /// Whether the current line was cut: its next piece is a `+` line.
    continued: bool,
}

impl ConsoleMux {
    /// Output of `vms` VMs (prefixed if more than one).
    pub fn new(vms: usize) -> Self {
        Self {
            prefixed: vms > 1,
            vms: vec![PendingLine::default(); vms],
        }
    }

    /// Bytes held for `vm`, waiting for the rest of their line.
    #[cfg(test)]
    fn held(&self, vm: usize) -> usize {
        self.vms[vm].held.len()
    }

    /// Copies `bytes` of VM `vm`'s output to `out`.
    pub fn write(&mut self, vm: usize, mut bytes: &[u8], out: &mut impl Write) -> io::Result<()> {
        if !self.prefixed {
            return out.write_all(bytes);
        }
        let line = &mut self.vms[vm];
        while !bytes.is_empty() {
            let room = LINE_MAX - line.held.len();
            // A newline within `room` ends the line; a byte past `room`
            // that is not a newline means the line is too long.
            let look = &bytes[..bytes.len().min(room + 1)];
            if let Some(nl) = look.iter().position(|&b| b == b'\n') {
                line.put(vm, &bytes[..=nl], out)?;
                line.continued = false;
                bytes = &bytes[nl + 1..];
            } else if bytes.len() > room {
                line.put(vm, &bytes[..room], out)?;
                out.write_all(b"\n")?;
                line.continued = true;
                bytes = &bytes[room..];
            } else {
                line.held.extend_from_slice(bytes);
                break;
            }
        }
        Ok(())
    }

    /// Writes the VMs' unfinished last lines, each followed by the mark
    /// that says the guest wrote no newline there.
    pub fn finish(&mut self, out: &mut impl Write) -> io::Result<()> {
        for (vm, line) in self.vms.iter_mut().enumerate() {
            if !line.held.is_empty() {
                line.put(vm, b"\n", out)?;
                writeln!(out, "[vm{vm}]\\ no newline at end")?;
                line.continued = false;
            }
        }
        Ok(())
    }
}

impl PendingLine {
    /// Writes the prefix, the held bytes and `tail` as one piece.
    fn put(&mut self, vm: usize, tail: &[u8], out: &mut impl Write) -> io::Result<()> {
        let mark = if self.continued { "+" } else { "" };
        write!(out, "[vm{vm}]{mark} ")?;
        out.write_all(&self.held)?;
        self.held.clear();
        out.write_all(tail)
    }
}

/// One guest to boot in a VM: its display name, image and boot arguments.
#[derive(Clone, Copy, Debug)]
pub struct Guest<'a> {
    /// The kernel's display name (for error messages).
    pub name: &'a str,
    /// The kernel.
    pub image: &'a ElfImage,
    /// The boot arguments set after loading (`a1`, `a2`).
    pub args: BootArgs,
    /// On a Malta VM: boot it as Linux (initrd, command line) instead.
    pub linux: Option<LinuxBoot<'a>>,
}

/// The monitor configuration the command line asks for; `hypercalls`
/// offers the hypercall interface (`--mode para`).
pub fn monitor_config(cli: &Cli, hypercalls: bool) -> MonitorConfig {
    MonitorConfig {
        slice_ticks: cli.slice_ticks(),
        idle_inference: !cli.no_idle_inference,
        spin_inference: !cli.no_spin_inference,
        trace_exits: cli.trace() == Some(TraceKind::Exits),
        hypercalls,
        share_pages: cli.share_pages,
        host_memory_limit: cli.max_host_mem,
    }
}

/// The VM configuration (RAM, TLB size) the command line asks for.
pub fn vm_config(cli: &Cli) -> VmConfig {
    VmConfig {
        ram_bytes: cli.ram_bytes(),
        vtlb_entries: cli.vtlb_entries() as usize,
        board: board_of(cli.board),
    }
}

/// The machine's board kind for the command line's.
fn board_of(b: BoardKind) -> board::BoardKind {
    match b {
        BoardKind::Mipssim => board::BoardKind::Mipssim,
        BoardKind::Malta => board::BoardKind::Malta,
    }
}

/// The monitor and its VMs, VM `i` running `images[i]`.
pub struct Monitored<'a> {
    pub(super) mon: Monitor,
    images: Vec<&'a ElfImage>,
    /// The VM whose console takes stdin (`--console`).
    console_vm: usize,
}

/// Builds a monitor with one VM per guest (VM `i` boots `guests[i]`,
/// configured as `vms[i]`), loaded and given its boot arguments.
pub fn build<'a>(
    config: MonitorConfig,
    vms: &[VmConfig],
    guests: &[Guest<'a>],
) -> Result<Monitored<'a>, RunnerError> {
    let mut mon = Monitor::new(config, vms)?;
    for (i, g) in guests.iter().enumerate() {
        if let Some(boot) = &g.linux {
            mon.boot_linux(VmId(i), g.image, boot)
                .map_err(|e| RunnerError::Usage(format!("{}: {e}", g.name)))?;
            continue;
        }
        mon.load(VmId(i), g.image)
            .map_err(|e| RunnerError::Usage(format!("{}: {e}", g.name)))?;
        for (reg, value) in g.args.registers() {
            mon.set_gpr(VmId(i), reg, value);
        }
    }
    Ok(Monitored {
        mon,
        images: guests.iter().map(|g| g.image).collect(),
        console_vm: 0,
    })
}

impl From<&VmStop> for Stop {
    fn from(s: &VmStop) -> Self {
        match s {
            VmStop::Exited(code) => Stop::Exited(*code),
            VmStop::PowerOff => Stop::PowerOff,
            VmStop::Reset => Stop::Reset,
            VmStop::Stalled => Stop::Stalled,
            VmStop::Crashed(c) => Stop::Crashed(c.clone()),
        }
    }
}

impl Target for Monitored<'_> {
    fn vm_count(&self) -> usize {
        self.mon.vm_count()
    }

    fn instructions(&self) -> u64 {
        (0..self.mon.vm_count())
            .filter_map(|i| self.mon.stats(VmId(i)))
            .map(|s| s.guest_instructions)
            .sum()
    }

    /// VM 0's console takes stdin.
    fn feed(&mut self, input: &mut ConsoleInput) {
        input.feed_vm(&mut self.mon, VmId(self.console_vm));
    }

    fn run(&mut self, budget: u64) -> Step {
        match self.mon.run(budget) {
            MonitorExit::AllStopped => Step::Stopped,
            MonitorExit::BudgetExhausted | MonitorExit::OutputPending => Step::Running,
        }
    }

    /// Every VM's console and UHI stderr, then the exit trace.
    fn drain(&mut self, sink: &mut dyn Sink) -> io::Result<()> {
        for i in 0..self.mon.vm_count() {
            let out = self.mon.take_console(VmId(i));
            if !out.is_empty() {
                sink.console(i, &out)?;
            }
            let err = self.mon.take_stderr(VmId(i));
            if !err.is_empty() {
                sink.stderr().write_all(&err)?;
            }
        }
        sink.flush()?;
        for r in self.mon.take_trace() {
            let at = location(self.images[r.vm.0], r.pc, r.insn);
            writeln!(
                sink.stderr(),
                "{:>12} {} {at} [{}] {}",
                r.tick,
                r.vm,
                r.reason,
                r.action
            )?;
        }
        sink.flush()
    }

    fn stopped(&self, vm: usize) -> Option<Stop> {
        self.mon.stop_reason(VmId(vm)).map(Stop::from)
    }

    fn save_state(&self) -> super::snapshot::State {
        super::snapshot::State::Monitor(Box::new(self.mon.snapshot()))
    }

    fn pc(&self, vm: usize) -> GuestVirtAddr {
        self.mon.vm_pc(VmId(vm)).unwrap_or_default()
    }

    fn fetch(&self, vm: usize, pc: GuestVirtAddr) -> Option<Instruction> {
        self.mon.guest_word(VmId(vm), pc)
    }

    fn image(&self, vm: usize) -> &ElfImage {
        self.images[vm]
    }

    fn stats(&self, vm: usize) -> VmStats {
        self.mon.stats(VmId(vm)).unwrap_or_default()
    }

    fn ticks(&self) -> u64 {
        self.mon.ticks()
    }

    fn engine(&self) -> (hv_host::machine::Engine, hv_host::machine::JitStats) {
        (self.mon.engine(), self.mon.jit_stats())
    }

    /// The statistics table.
    fn report(&self, ends: &[Stop], out: &mut dyn Write) -> io::Result<()> {
        write_stats(&self.mon, ends, out)?;
        if self.mon.config().hypercalls {
            // Offered, never used: say so once, or the run looks like a
            // paravirtualized one when it was full virtualization.
            let silent: Vec<String> = (0..self.vm_count())
                .filter(|&vm| self.stats(vm).hypercalls.iter().all(|&n| n == 0))
                .map(|vm| format!("vm{vm}"))
                .collect();
            if !silent.is_empty() {
                writeln!(
                    out,
                    "demo-os: note: {} made no hypercall under --mode para: its kernel does not \
                     use the hypercall interface, so it ran fully virtualized",
                    silent.join(", ")
                )?;
            }
        }
        Ok(())
    }
}

/// The VMs of a run under the monitor as the command line gives them
/// (`--vm` specs, or `--vms` with `--kernel`, `--programs`, ...), their
/// kernels and initrds read.
pub struct Loaded {
    /// Each VM's spec.
    pub specs: Vec<VmSpec>,
    images: Vec<(String, ElfImage)>,
    initrds: Vec<Option<Vec<u8>>>,
}

impl Loaded {
    /// Reads the command line's VMs: an error for too many kernels or
    /// program lists, a bad spec, a file that cannot be read or a Linux
    /// kernel on a mipssim spec.
    pub fn load(cli: &Cli) -> Result<Self, RunnerError> {
        Self::load_specs(cli, cli.vm_specs().map_err(RunnerError::Usage)?)
    }

    /// [`Loaded::load`] for VMs described by `specs`.
    pub fn load_specs(cli: &Cli, specs: Vec<VmSpec>) -> Result<Self, RunnerError> {
        let n = cli.vms as usize;
        for (flag, what, given) in [
            ("--kernel", "files", cli.kernel.len()),
            ("--programs", "lists", cli.programs.len()),
        ] {
            if given > n {
                return Err(RunnerError::Usage(format!(
                    "{given} {flag} {what} for {n} VM{s}: give at most one per VM \
                     (--vms {given} runs {given} VMs)",
                    s = if n == 1 { "" } else { "s" },
                )));
            }
        }
        let mut images: Vec<(String, ElfImage)> = Vec::with_capacity(specs.len());
        let mut initrds: Vec<Option<Vec<u8>>> = Vec::with_capacity(specs.len());
        for spec in &specs {
            let source = match &spec.kernel {
                Some(path) => super::cli::KernelSource::File(path),
                None => super::cli::KernelSource::Builtin(spec.image),
            };
            let (name, image) = load_image(source)?;
            if spec.board == BoardKind::Mipssim
                && !cli.vm.is_empty()
                && let Some(why) = image.linux
            {
                return Err(RunnerError::Usage(format!(
                    "{name} looks like a Linux kernel ({why}): give its --vm board=malta"
                )));
            }
            images.push((name, image));
            initrds.push(match (spec.board, spec.initrd.as_deref()) {
                (BoardKind::Malta, Some(path)) => Some(super::read_kernel_file(path)?),
                _ => None,
            });
        }
        Ok(Self {
            specs,
            images,
            initrds,
        })
    }

    /// Each VM's kernel name (the file's, or the built-in image's).
    pub fn name(&self, vm: usize) -> &str {
        &self.images[vm].0
    }

    /// What to boot in each VM.
    pub fn guests(&self) -> Vec<Guest<'_>> {
        self.images
            .iter()
            .zip(&self.specs)
            .zip(&self.initrds)
            .map(|(((name, image), spec), initrd)| Guest {
                name,
                image,
                args: spec.args,
                linux: (spec.board == BoardKind::Malta).then(|| LinuxBoot {
                    kernel_name: name,
                    initrd: initrd.as_deref(),
                    cmdline: &spec.append,
                }),
            })
            .collect()
    }

    /// Each VM's configuration: its RAM and board, the rest from the
    /// command line.
    pub fn vm_configs(&self, cli: &Cli) -> Vec<VmConfig> {
        self.specs
            .iter()
            .map(|spec| VmConfig {
                ram_bytes: spec.mem << 20,
                board: board_of(spec.board),
                ..vm_config(cli)
            })
            .collect()
    }
}

/// Runs the command line under the monitor; `hypercalls` offers the
/// hypercall interface (`--mode para`).
pub fn run(
    cli: &Cli,
    hypercalls: bool,
    stdout: &mut impl Write,
    stderr: &mut impl Write,
) -> Result<u8, RunnerError> {
    if cli.trace() == Some(TraceKind::Insns) {
        return Err(RunnerError::Usage(
            "--trace insns is for native mode; under the monitor use --trace exits".into(),
        ));
    }
    let loaded = Loaded::load(cli)?;
    let n = loaded.specs.len();
    let console_vm = cli.console.unwrap_or(0);
    if console_vm >= n {
        return Err(RunnerError::Usage(format!(
            "--console vm{console_vm}: the run has {n} VM{}",
            if n == 1 { "" } else { "s" }
        )));
    }
    let guests = loaded.guests();
    let vms = loaded.vm_configs(cli);
    let mut monitored = build(monitor_config(cli, hypercalls), &vms, &guests)?;
    monitored.console_vm = console_vm;
    if cli.timeline.is_some() {
        monitored.mon.record_timeline();
    }
    if let Some(r) = &cli.restored {
        let super::snapshot::State::Monitor(image) = &r.snapshot.state else {
            return Err(r.error(hv_host::snapshot::SnapshotError::Mismatch(
                "it holds a bare machine, this run is under the monitor".into(),
            )));
        };
        let started = std::time::Instant::now();
        monitored.mon.restore(image).map_err(|e| r.error(e))?;
        r.report(started.elapsed(), stderr)?;
    }
    let mut console = ConsoleMux::new(n);
    if let Some(addr) = &cli.gdb {
        let addr = super::gdb::GdbAddr::parse(addr).map_err(RunnerError::Usage)?;
        let slice = Target::slice(&monitored);
        let Monitored {
            mon,
            images,
            console_vm,
        } = monitored;
        let served = super::gdb::serve(
            super::gdb::Host::Monitor(Box::new(mon)),
            &addr,
            super::gdb::Limits {
                slice,
                max_instructions: cli.max_instructions,
            },
            stderr,
        )?;
        let super::gdb::Host::Monitor(mon) = served.host else {
            unreachable!("serve gives back the host it was given");
        };
        monitored = Monitored {
            mon: *mon,
            images,
            console_vm,
        };
        console = served.console;
        if served.ended == Some(Stop::Interrupted) {
            // Killed by the debugger: the summary says where, at once.
            super::console::interrupt();
        }
    }
    let status = target::run_with_summary_from(&mut monitored, cli, console, stdout, stderr)?;
    if let (Some(path), Some(t)) = (&cli.timeline, monitored.mon.timeline()) {
        let mode = if hypercalls { "para" } else { "full" };
        let title = format!("demo-os --mode {mode}: the VMs over virtual time");
        std::fs::write(path, super::svg::timeline(&title, t)).map_err(|source| {
            RunnerError::WriteFile {
                path: path.clone(),
                source,
            }
        })?;
    }
    Ok(status)
}

/// A row of many VMs' figures as three: their sum, least and most (a row
/// that is not all counts: the value if all VMs have it, else `mixed`).
fn summarize(cols: &[String]) -> Vec<String> {
    let nums: Option<Vec<u64>> = cols.iter().map(|c| c.parse().ok()).collect();
    match nums {
        Some(n) => vec![
            n.iter().sum::<u64>().to_string(),
            n.iter().min().copied().unwrap_or(0).to_string(),
            n.iter().max().copied().unwrap_or(0).to_string(),
        ],
        None => {
            let same = cols.windows(2).all(|w| w[0] == w[1]);
            let v = if same {
                cols.first().cloned().unwrap_or_default()
            } else {
                "mixed".into()
            };
            vec![v, "-".into(), "-".into()]
        }
    }
}

/// The statistics table: one column per VM (past
/// [`super::target::GROUP_PAST`] VMs, their sum, least and most).
fn write_stats(mon: &Monitor, ends: &[Stop], out: &mut dyn Write) -> io::Result<()> {
    let stats: Vec<VmStats> = (0..mon.vm_count())
        .filter_map(|i| mon.stats(VmId(i)))
        .collect();
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut row = |name: &str, f: &dyn Fn(&VmStats) -> String| {
        rows.push((name.to_string(), stats.iter().map(f).collect()));
    };
    row("guest instructions", &|s| s.guest_instructions.to_string());
    row("  emulated by the monitor", &|s| {
        s.emulated_instructions.to_string()
    });
    row("vm cycles", &|s| s.virtual_cycles().to_string());
    row("  monitor cycles", &|s| s.monitor_cycles.to_string());
    row("exits", &|s| s.exits_total().to_string());
    for r in ExitReason::ALL {
        if stats.iter().any(|s| s.exit_count(r) > 0) {
            row(&format!("  {}", r.name()), &|s| s.exit_count(r).to_string());
        }
    }
    for (i, name) in PRIV_NAMES.iter().enumerate() {
        if stats.iter().any(|s| s.privileged[i] > 0) {
            row(&format!("    emulated {name}"), &|s| {
                s.privileged[i].to_string()
            });
        }
    }
    for call in hv_abi::Hypercall::ALL {
        let n = call.number() as usize;
        if stats.iter().any(|s| s.hypercalls[n] > 0) {
            row(&format!("  hypercall {call}"), &|s| {
                s.hypercalls[n].to_string()
            });
        }
    }
    row("exceptions forwarded to the guest", &|s| {
        s.forwarded.to_string()
    });
    row("tlb misses served by the software tlb", &|s| {
        s.stlb_refills.to_string()
    });
    row("  share of misses on pages the vm's tlb maps", &|s| {
        s.stlb_hit_percent()
            .map_or("-".into(), |p| format!("{p:.1}%"))
    });
    row("tlb misses forwarded to the guest", &|s| {
        s.refills_forwarded.to_string()
    });
    row("  its refill written straight to the real tlb", &|s| {
        s.prefills.to_string()
    });
    row("tlb refills walked from the guest's tables", &|s| {
        s.walked_refills.to_string()
    });
    row("kseg0/kseg1 fills by the monitor", &|s| {
        s.unmapped_fills.to_string()
    });
    row("frames zeroed by the monitor", &|s| {
        s.frames_zeroed.to_string()
    });
    row("frames in use", &|s| s.frames_in_use.to_string());
    if mon.config().share_pages {
        row("  merged by page sharing", &|s| s.frames_merged.to_string());
        row("  copied on write", &|s| s.cow_breaks.to_string());
    }
    if mon.config().hypercalls {
        row("  released by the guest (balloon)", &|s| {
            s.frames_released.to_string()
        });
        row("  reclaimed by the guest", &|s| {
            s.frames_reclaimed.to_string()
        });
        row("  touched while released", &|s| {
            s.released_touched.to_string()
        });
    }
    row("frames vouched zero (page-zeroed)", &|s| {
        s.frames_vouched.to_string()
    });
    row("first writes caught (write tracking)", &|s| {
        s.dirty_tracking_faults.to_string()
    });
    row("machine switches", &|s| s.machine_switches.to_string());
    row("idle ticks", &|s| s.idle_ticks.to_string());
    row("spins inferred", &|s| s.spins_inferred.to_string());
    row("  ticks skipped", &|s| s.spin_ticks_skipped.to_string());
    if stats.iter().any(|s| s.poll.is_some()) {
        // A VM polled a register only time changes (Linux calibrating its
        // clock): how long, and what the others got of the CPU meanwhile.
        row("ticks polling a clock register", &|s| {
            s.poll.map_or("-".into(), |p| p.ticks().to_string())
        });
        row("  others' share of the cpu", &|s| {
            s.poll.map_or("-".into(), |p| {
                let share = p.others_ticks() as f64 * 100.0 / p.ticks().max(1) as f64;
                format!("{share:.1}%")
            })
        });
    }
    row("stopped at clock tick", &|s| {
        s.stopped_at.map_or("-".into(), |t| t.to_string())
    });
    rows.push(("stopped".into(), ends.iter().map(Stop::short).collect()));
    let heads: Vec<String> = if stats.len() > super::target::GROUP_PAST {
        // Too many VMs for a column each: their sum, least and most.
        for (_, cols) in &mut rows {
            *cols = summarize(cols);
        }
        vec![
            format!("{} vms: sum", stats.len()),
            "min".into(),
            "max".into(),
        ]
    } else {
        (0..stats.len()).map(|i| format!("vm{i}")).collect()
    };
    let w = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    write!(out, "monitor: {:<w$}", "statistics", w = w - 9)?;
    for h in &heads {
        write!(out, " {h:>14}")?;
    }
    writeln!(out)?;
    for (name, cols) in rows {
        write!(out, "{name:<w$}")?;
        for c in cols {
            write!(out, " {c:>14}")?;
        }
        writeln!(out)?;
    }
    writeln!(out, "virtual cycles (the clock): {}", mon.ticks())?;
    let (machine, guest) = mon.frames_in_use();
    let mib = |frames: u64| frames as f64 * 4096.0 / f64::from(1 << 20);
    write!(
        out,
        "machine memory: {:.1} MiB in use for {:.1} MiB of guest frames",
        mib(machine),
        mib(guest)
    )?;
    if mon.config().share_pages {
        write!(
            out,
            " (page sharing: {:.1} MiB saved, {} scans)",
            mib(guest.saturating_sub(machine)),
            mon.share_scans()
        )?;
    }
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits the mux's output back into each VM's bytes, checking the
    /// shape of every line on the way (prefix, piece length).
    fn demux(out: &[u8], vms: usize) -> Vec<Vec<u8>> {
        let mut per = vec![Vec::new(); vms];
        for line in out.split_inclusive(|&b| b == b'\n') {
            let text = String::from_utf8_lossy(line);
            assert!(line.starts_with(b"[vm"), "{text}");
            assert!(line.ends_with(b"\n"), "unterminated: {text}");
            let close = line.iter().position(|&b| b == b']').unwrap();
            let vm: usize = std::str::from_utf8(&line[3..close])
                .unwrap()
                .parse()
                .unwrap();
            let rest = &line[close + 1..];
            let piece = if rest == b"\\ no newline at end\n" {
                assert_eq!(per[vm].pop(), Some(b'\n'), "{text}");
                continue;
            } else if let Some(piece) = rest.strip_prefix(b"+ ") {
                assert_eq!(per[vm].pop(), Some(b'\n'), "{text}");
                assert!(piece.len() > 1, "an empty continuation: {text}");
                piece
            } else {
                rest.strip_prefix(b" ")
                    .unwrap_or_else(|| panic!("bad prefix: {text}"))
            };
            assert!(piece.len() <= LINE_MAX + 1, "a piece of {}", piece.len());
            per[vm].extend_from_slice(piece);
        }
        per
    }

    #[test]
    fn a_line_without_newline_is_held_at_most_line_max_bytes() {
        for step in [1, 7, 4095, 4096, 4097, 65536] {
            let mut mux = ConsoleMux::new(2);
            let mut out = Vec::new();
            let input = vec![b'x'; 200_000];
            let mut max_held = 0;
            for chunk in input.chunks(step) {
                mux.write(1, chunk, &mut out).unwrap();
                max_held = max_held.max(mux.held(1));
            }
            assert!(max_held <= LINE_MAX, "step {step}: held {max_held}");
            assert!(max_held > 0, "step {step}");
            // All but the last piece is already out.
            assert!(out.len() >= input.len() - LINE_MAX, "step {step}");
            mux.finish(&mut out).unwrap();
            assert_eq!(mux.held(1), 0);
            let text = String::from_utf8(out.clone()).unwrap();
            assert!(text.starts_with("[vm1] xxx"), "step {step}");
            assert!(text.contains("\n[vm1]+ xxx"), "step {step}");
            assert!(
                text.ends_with("x\n[vm1]\\ no newline at end\n"),
                "step {step}"
            );
            assert_eq!(demux(&out, 2), [Vec::new(), input], "step {step}");
        }
    }

    #[test]
    fn lines_are_cut_after_line_max_bytes_only() {
        let mut mux = ConsoleMux::new(2);
        let mut out = Vec::new();
        let whole = [vec![b'a'; LINE_MAX], b"\n".to_vec()].concat();
        mux.write(0, &whole, &mut out).unwrap();
        assert_eq!(out, [b"[vm0] ".as_slice(), &whole].concat());
        out.clear();
        let long = [vec![b'b'; LINE_MAX + 1], b"\n".to_vec()].concat();
        for b in &long {
            mux.write(0, std::slice::from_ref(b), &mut out).unwrap();
        }
        let expected = format!("[vm0] {}\n[vm0]+ b\n", "b".repeat(LINE_MAX));
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    /// The `i`-th of 30 slices of `v`.
    fn at(v: &[u8], i: usize) -> &[u8] {
        let n = v.len().div_ceil(30);
        &v[(i * n).min(v.len())..((i + 1) * n).min(v.len())]
    }

    #[test]
    fn interleaved_vms_come_back_byte_for_byte() {
        let a: Vec<u8> = (0..30_000u32)
            .map(|i| if i % 5000 == 4999 { b'\n' } else { b'a' })
            .collect();
        let b: Vec<u8> = b"one\ntwo ".repeat(3000);
        let c = b"ends with a newline\n".to_vec();
        let mut mux = ConsoleMux::new(3);
        let mut out = Vec::new();
        for i in 0..30 {
            mux.write(0, at(&a, i), &mut out).unwrap();
            mux.write(1, at(&b, i), &mut out).unwrap();
            mux.write(2, at(&c, i), &mut out).unwrap();
            assert!((0..3).all(|vm| mux.held(vm) <= LINE_MAX));
        }
        mux.finish(&mut out).unwrap();
        assert_eq!(demux(&out, 3), [a, b, c]);
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("[vm2]\\"), "{text}");
        assert!(text.ends_with("[vm1]\\ no newline at end\n"));
    }

    #[test]
    fn one_vm_is_copied_as_it_is() {
        let mut mux = ConsoleMux::new(1);
        let mut out = Vec::new();
        let input = vec![b'x'; 3 * LINE_MAX];
        mux.write(0, &input, &mut out).unwrap();
        assert_eq!(mux.held(0), 0);
        mux.finish(&mut out).unwrap();
        assert_eq!(out, input);
    }
}
