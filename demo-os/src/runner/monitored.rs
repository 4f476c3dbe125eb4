//! Running kernels under the monitor (`--mode full`): builds one VM per
//! `--vms`, loads each its kernel, runs the monitor in slices while
//! copying each VM's console out (each line prefixed with its VM when
//! there are several, so that their output stays apart), prints the exit
//! trace if asked, and ends with the per-VM statistics table and the
//! summary line on stderr.

use super::cli::BoardKind;
use super::cli::{Cli, EXIT_LIMIT, EXIT_STALLED, EXIT_TRAP, SLICE, TraceKind};
use super::{RunnerError, load_image, session};
use demo_os::BootArgs;
use hv_host::addr::GuestVirtAddr;
use hv_host::machine::board::Board;
use hv_host::machine::board::malta::LinuxBoot;
use hv_host::machine::elf::ElfImage;
use hv_host::monitor::stats::{ExitReason, PRIV_NAMES, VmStats};
use hv_host::monitor::{Monitor, MonitorConfig, MonitorExit, VmConfig, VmId, VmStop};
use std::io::{self, Write};
use std::time::Instant;

/// How one VM ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VmEnd {
    /// It stopped by itself.
    Stopped(VmStop),
    /// `--max-instructions` stopped the run.
    Limit(u64),
}

impl VmEnd {
    /// The exit status this VM's end means (as in native mode).
    pub fn exit_status(&self) -> u8 {
        match self {
            VmEnd::Stopped(VmStop::Exited(code)) => (code & 0xff) as u8,
            VmEnd::Stopped(VmStop::PowerOff | VmStop::Reset) => 0,
            VmEnd::Stopped(VmStop::Stalled) => EXIT_STALLED,
            VmEnd::Stopped(VmStop::Crashed(_)) => EXIT_TRAP,
            VmEnd::Limit(_) => EXIT_LIMIT,
        }
    }
}

/// Copies VM consoles to one stream: as they are with one VM, line by
/// line with a `[vmN] ` prefix with several.
struct ConsoleMux {
    prefixed: bool,
    partial: Vec<Vec<u8>>,
}

impl ConsoleMux {
    fn new(vms: usize) -> Self {
        Self {
            prefixed: vms > 1,
            partial: vec![Vec::new(); vms],
        }
    }

    fn write(&mut self, vm: usize, bytes: &[u8], out: &mut impl Write) -> io::Result<()> {
        if !self.prefixed {
            return out.write_all(bytes);
        }
        let buf = &mut self.partial[vm];
        buf.extend_from_slice(bytes);
        while let Some(nl) = buf.iter().position(|&b| b == b'\n') {
            write!(out, "[vm{vm}] ")?;
            out.write_all(&buf[..=nl])?;
            buf.drain(..=nl);
        }
        Ok(())
    }

    /// Ends unterminated last lines.
    fn finish(&mut self, out: &mut impl Write) -> io::Result<()> {
        for (vm, buf) in self.partial.iter_mut().enumerate() {
            if !buf.is_empty() {
                write!(out, "[vm{vm}] ")?;
                out.write_all(buf)?;
                out.write_all(b"\n")?;
                buf.clear();
            }
        }
        Ok(())
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
        slice_ticks: cli.slice,
        idle_inference: !cli.no_idle_inference,
        trace_exits: cli.trace == Some(TraceKind::Exits),
        hypercalls,
    }
}

/// The VM configuration (RAM, TLB size) the command line asks for.
pub fn vm_config(cli: &Cli) -> VmConfig {
    VmConfig {
        ram_bytes: cli.ram_bytes(),
        vtlb_entries: cli.vtlb as usize,
        board: match cli.board {
            BoardKind::Mipssim => Board::Mipssim,
            BoardKind::Malta => Board::Malta,
        },
    }
}

/// Builds a monitor with one VM per guest (VM `i` boots `guests[i]`), each
/// configured as `vm`, loaded and given its boot arguments.
pub fn build(
    config: MonitorConfig,
    vm: VmConfig,
    guests: &[Guest<'_>],
) -> Result<Monitor, RunnerError> {
    let mut mon = Monitor::new(config, &vec![vm; guests.len()])?;
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
    Ok(mon)
}

/// Runs `mon` in slices until every VM stops or, with `max_instructions`,
/// the VMs together have executed that many instructions; calls `drain`
/// after every slice to take the VMs' output. Returns the limit if it
/// stopped the run.
pub fn run_to_end<E>(
    mon: &mut Monitor,
    max_instructions: Option<u64>,
    mut drain: impl FnMut(&mut Monitor) -> Result<(), E>,
) -> Result<Option<u64>, E> {
    loop {
        let done = total_instructions(mon);
        let budget = match max_instructions {
            Some(max) if done >= max => return Ok(Some(max)),
            Some(max) => (max - done).min(SLICE),
            None => SLICE,
        };
        let exit = mon.run(budget);
        drain(mon)?;
        if exit == MonitorExit::AllStopped {
            return Ok(None);
        }
    }
}

/// How each VM ended, `limited` being what [`run_to_end`] returned.
pub fn vm_ends(mon: &Monitor, limited: Option<u64>) -> Vec<VmEnd> {
    (0..mon.vm_count())
        .map(|i| match mon.stop_reason(VmId(i)) {
            Some(s) => VmEnd::Stopped(s.clone()),
            None => VmEnd::Limit(limited.unwrap_or(0)),
        })
        .collect()
}

/// Runs the command line under the monitor; `hypercalls` offers the
/// hypercall interface (`--mode para`).
pub fn run(
    cli: &Cli,
    hypercalls: bool,
    stdout: &mut impl Write,
    stderr: &mut impl Write,
) -> Result<u8, RunnerError> {
    if cli.trace == Some(TraceKind::Insns) {
        return Err(RunnerError::Usage(
            "--trace insns is for native mode; under the monitor use --trace exits".into(),
        ));
    }
    let n = cli.vms as usize;
    let mut images: Vec<(String, ElfImage)> = Vec::with_capacity(n);
    for i in 0..n {
        images.push(load_image(cli.kernel_source_of(i))?);
    }
    let initrd = match (cli.board, cli.initrd.as_deref()) {
        (BoardKind::Malta, Some(path)) => Some(super::read_kernel_file(path)?),
        _ => None,
    };
    let guests: Vec<Guest<'_>> = images
        .iter()
        .enumerate()
        .map(|(i, (name, image))| Guest {
            name,
            image,
            args: cli.boot_args_of(i),
            linux: (cli.board == BoardKind::Malta).then(|| LinuxBoot {
                kernel_name: name,
                initrd: initrd.as_deref(),
                cmdline: &cli.append,
            }),
        })
        .collect();
    let mut mon = build(monitor_config(cli, hypercalls), vm_config(cli), &guests)?;

    let started = Instant::now();
    let mut mux = ConsoleMux::new(n);
    // A Malta VM 0's console takes stdin, as natively.
    let mut input = (cli.board == BoardKind::Malta).then(|| {
        super::console::catch_interrupt();
        super::console::ConsoleInput::from_stdin()
    });
    let result = run_to_end(&mut mon, cli.max_instructions, |mon| {
        if let Some(input) = input.as_mut() {
            input.feed_vm(mon, VmId(0));
        }
        drain(mon, &mut mux, &images, stdout, stderr)?;
        if super::console::interrupted() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "Ctrl-C"));
        }
        Ok(())
    });
    drop(input);
    // Ctrl-C ends the run like a stop: the summary, then status 130.
    let interrupted = matches!(&result, Err(e) if e.kind() == io::ErrorKind::Interrupted);
    let limited = if interrupted { None } else { result? };
    mux.finish(stdout)?;
    stdout.flush()?;
    let elapsed = started.elapsed();

    let ends = vm_ends(&mon, limited);
    write_stats(&mon, &ends, stderr)?;
    let reasons: Vec<String> = ends
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let d = describe(&mon, VmId(i), &images[i].1, e);
            if n > 1 { format!("vm{i} {d}") } else { d }
        })
        .collect();
    let reason = if interrupted {
        "interrupted by Ctrl-C".to_string()
    } else {
        reasons.join("; ")
    };
    let summary = session::summary(total_instructions(&mon), elapsed, &reason);
    writeln!(stderr, "{summary}")?;
    stderr.flush()?;
    if interrupted {
        return Ok(super::cli::EXIT_INTERRUPTED);
    }
    Ok(ends
        .iter()
        .map(VmEnd::exit_status)
        .find(|&s| s != 0)
        .unwrap_or(0))
}

/// Guest instructions of every VM together.
pub fn total_instructions(mon: &Monitor) -> u64 {
    (0..mon.vm_count())
        .filter_map(|i| mon.stats(VmId(i)))
        .map(|s| s.guest_instructions)
        .sum()
}

/// Copies every VM's console and UHI stderr out, and the exit trace.
fn drain(
    mon: &mut Monitor,
    mux: &mut ConsoleMux,
    images: &[(String, ElfImage)],
    stdout: &mut impl Write,
    stderr: &mut impl Write,
) -> io::Result<()> {
    for i in 0..mon.vm_count() {
        let out = mon.take_console(VmId(i));
        if !out.is_empty() {
            mux.write(i, &out, stdout)?;
        }
        let err = mon.take_stderr(VmId(i));
        if !err.is_empty() {
            stderr.write_all(&err)?;
        }
    }
    stdout.flush()?;
    for r in mon.take_trace() {
        let at = location(&images[r.vm.0].1, r.pc);
        let insn = r.insn.map(|i| format!(": {i}")).unwrap_or_default();
        writeln!(
            stderr,
            "{:>12} {} {at}{insn} [{}] {}",
            r.tick, r.vm, r.reason, r.action
        )?;
    }
    stderr.flush()
}

/// `0x80001004 <_start+0x4>`, as much as is known.
fn location(image: &ElfImage, pc: GuestVirtAddr) -> String {
    match image.symbolize(pc) {
        Some((name, off)) => format!("{pc} <{}+{off:#x}>", name.escape_default()),
        None => pc.to_string(),
    }
}

/// The `stopped: ...` text for one VM.
pub fn describe(mon: &Monitor, vm: VmId, image: &ElfImage, end: &VmEnd) -> String {
    let at = |pc: GuestVirtAddr| {
        let mut s = location(image, pc);
        if let Some(i) = mon.guest_word(vm, pc) {
            s.push_str(&format!(": {i}"));
        }
        s
    };
    match end {
        VmEnd::Stopped(VmStop::Exited(code)) => format!("guest exited with code {code}"),
        VmEnd::Stopped(VmStop::PowerOff) => "guest powered off".into(),
        VmEnd::Stopped(VmStop::Reset) => "guest reset the board".into(),
        VmEnd::Stopped(VmStop::Stalled) => format!(
            "guest stalled: it waits for an interrupt and no interrupt source is enabled \
             (next instruction at {})",
            at(mon.vm_pc(vm).unwrap_or_default())
        ),
        VmEnd::Stopped(VmStop::Crashed(c)) => {
            let mut s = format!("guest crashed at {}", location(image, c.pc));
            if let Some(i) = c.insn {
                s.push_str(&format!(": {i}"));
            }
            s.push_str(&format!(": {}", c.cause));
            s
        }
        VmEnd::Limit(n) => format!(
            "instruction limit reached (--max-instructions {n}) at {}",
            at(mon.vm_pc(vm).unwrap_or_default())
        ),
    }
}

/// The statistics table: one column per VM.
fn write_stats(mon: &Monitor, ends: &[VmEnd], out: &mut impl Write) -> io::Result<()> {
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
    row("virtual cycles", &|s| s.virtual_cycles().to_string());
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
    row("frames vouched zero (page-zeroed)", &|s| {
        s.frames_vouched.to_string()
    });
    row("first writes caught (write tracking)", &|s| {
        s.dirty_tracking_faults.to_string()
    });
    row("machine switches", &|s| s.machine_switches.to_string());
    row("idle ticks", &|s| s.idle_ticks.to_string());
    row("stopped at clock tick", &|s| {
        s.stopped_at.map_or("-".into(), |t| t.to_string())
    });
    rows.push((
        "stopped".into(),
        ends.iter()
            .map(|e| match e {
                VmEnd::Stopped(VmStop::Exited(c)) => format!("exit {c}"),
                VmEnd::Stopped(VmStop::PowerOff) => "power off".into(),
                VmEnd::Stopped(VmStop::Reset) => "reset".into(),
                VmEnd::Stopped(VmStop::Stalled) => "stalled".into(),
                VmEnd::Stopped(VmStop::Crashed(_)) => "crashed".into(),
                VmEnd::Limit(_) => "limit".into(),
            })
            .collect(),
    ));
    let w = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    write!(out, "monitor: {:<w$}", "statistics", w = w - 9)?;
    for i in 0..stats.len() {
        write!(out, " {:>14}", format!("vm{i}"))?;
    }
    writeln!(out)?;
    for (name, cols) in rows {
        write!(out, "{name:<w$}")?;
        for c in cols {
            write!(out, " {c:>14}")?;
        }
        writeln!(out)?;
    }
    writeln!(out, "clock: {} ticks", mon.ticks())
}
