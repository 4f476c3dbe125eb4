//! Native runs (`--mode native`): the kernel on the bare machine, as a
//! [`Target`] of the run loop, with `--trace insns` printing every executed
//! instruction.

use super::cli::{BoardKind, Cli, TraceKind};
use super::console::ConsoleInput;
use super::target::{self, Sink, Step, Stop, Target, location};
use super::{RunnerError, boot_machine, load_image, read_kernel_file};
use hv_host::addr::GuestVirtAddr;
use hv_host::machine::board;
use hv_host::machine::board::malta::LinuxBoot;
use hv_host::machine::elf::ElfImage;
use hv_host::machine::insn::Instruction;
use hv_host::machine::{Exit, Machine, MachineConfig, TraceEntry};
use hv_host::monitor::stats::VmStats;
use hv_host::snapshot::SnapshotError;
use std::io::{self, Write};

/// Instructions per slice when tracing: bounds the trace buffer.
const TRACE_SLICE: u64 = 100_000;

/// The bare machine running one kernel.
pub struct Native<'a> {
    machine: Machine,
    image: &'a ElfImage,
    /// With `--trace insns`: the slice's executed instructions, printed
    /// (symbolized with the image's symbols) at the next drain.
    trace: Option<Vec<TraceEntry>>,
    stopped: Option<Stop>,
}

impl<'a> Native<'a> {
    /// `machine`, loaded with `image`; `trace` records every instruction.
    pub fn new(machine: Machine, image: &'a ElfImage, trace: bool) -> Self {
        Self {
            machine,
            image,
            trace: trace.then(Vec::new),
            stopped: None,
        }
    }

    /// The machine.
    #[cfg(test)]
    pub fn machine(&self) -> &Machine {
        &self.machine
    }
}

impl Target for Native<'_> {
    fn vm_count(&self) -> usize {
        1
    }

    fn instructions(&self) -> u64 {
        self.machine.instructions()
    }

    fn slice(&self) -> u64 {
        match self.trace {
            Some(_) => TRACE_SLICE,
            None => super::cli::SLICE,
        }
    }

    fn feed(&mut self, input: &mut ConsoleInput) {
        input.feed(&mut self.machine);
    }

    fn run(&mut self, budget: u64) -> Step {
        let exit = match &mut self.trace {
            None => self.machine.run(budget),
            Some(entries) => self.machine.run_traced(budget, entries),
        };
        let stop = match exit {
            // The machine's output buffer filled: drained next, run on.
            Exit::BudgetExhausted | Exit::OutputPending => return Step::Running,
            Exit::Shutdown { code } => Stop::Exited(code),
            Exit::Stalled => Stop::Stalled,
            Exit::Trap(t) => Stop::Trap(t),
            Exit::PowerOff => Stop::PowerOff,
            Exit::Reset => Stop::Reset,
            Exit::NoHandler(n) => Stop::NoHandler(n),
        };
        self.stopped = Some(stop);
        Step::Stopped
    }

    fn drain(&mut self, sink: &mut dyn Sink) -> io::Result<()> {
        if let Some(entries) = &mut self.trace {
            for t in entries.drain(..) {
                let at = location(self.image, t.pc, Some(t.insn));
                writeln!(sink.stderr(), "{:>10} {at}", t.icount)?;
            }
        }
        let out = self.machine.take_stdout();
        if !out.is_empty() {
            sink.console(0, &out)?;
        }
        let err = self.machine.take_stderr();
        if !err.is_empty() {
            sink.stderr().write_all(&err)?;
        }
        sink.flush()
    }

    fn stopped(&self, _vm: usize) -> Option<Stop> {
        self.stopped.clone()
    }

    fn save_state(&self) -> super::snapshot::State {
        super::snapshot::State::Native(Box::new(self.machine.snapshot()))
    }

    fn pc(&self, _vm: usize) -> GuestVirtAddr {
        self.machine.pc()
    }

    fn fetch(&self, _vm: usize, pc: GuestVirtAddr) -> Option<Instruction> {
        self.machine.fetch_word(pc)
    }

    fn image(&self, _vm: usize) -> &ElfImage {
        self.image
    }

    fn stats(&self, _vm: usize) -> VmStats {
        VmStats {
            guest_instructions: self.machine.instructions(),
            idle_ticks: self.machine.stats().idle_ticks,
            stopped_at: Some(self.machine.ticks()),
            ..VmStats::default()
        }
    }

    fn engine(&self) -> (hv_host::machine::Engine, hv_host::machine::JitStats) {
        (self.machine.engine(), self.machine.jit_stats())
    }

    fn ticks(&self) -> u64 {
        self.machine.ticks()
    }
}

/// Runs the command line natively.
pub fn run(cli: &Cli, stdout: &mut impl Write, stderr: &mut impl Write) -> Result<u8, RunnerError> {
    if cli.trace() == Some(TraceKind::Exits) {
        return Err(RunnerError::Usage(
            "--trace exits needs the monitor (--mode full)".into(),
        ));
    }
    if cli.vms > 1 || cli.kernel.len() > 1 || cli.programs.len() > 1 {
        return Err(RunnerError::Usage(
            "--vms, a repeated --kernel and a repeated --programs need the monitor (--mode full)"
                .into(),
        ));
    }
    let tuning = cli.monitor_tuning_flags();
    if !tuning.is_empty() {
        return Err(RunnerError::Usage(format!(
            "{} {} the monitor (--mode full or para)",
            tuning.join(" and "),
            if tuning.len() == 1 { "needs" } else { "need" }
        )));
    }
    let (name, image) = load_image(cli.kernel_source())?;
    let machine = match cli.board {
        BoardKind::Mipssim => boot_machine(cli.ram_bytes(), &name, &image, cli.boot_args())?,
        BoardKind::Malta => {
            let config = MachineConfig {
                ram_bytes: cli.ram_bytes(),
            };
            let mut machine = Machine::with_board(config, board::BoardKind::Malta)?;
            let initrd = cli.initrd.as_deref().map(read_kernel_file).transpose()?;
            machine
                .boot_linux(
                    &image,
                    &LinuxBoot {
                        kernel_name: &name,
                        initrd: initrd.as_deref(),
                        cmdline: &cli.append,
                    },
                )
                .map_err(|source| RunnerError::Boot { path: name, source })?;
            machine
        }
    };
    let mut machine = machine;
    if let Some(r) = &cli.restored {
        let super::snapshot::State::Native(image) = &r.snapshot.state else {
            return Err(r.error(SnapshotError::Mismatch(
                "it holds a monitor, this run is native".into(),
            )));
        };
        let started = std::time::Instant::now();
        machine.restore(image).map_err(|e| r.error(e))?;
        r.report(started.elapsed(), stderr)?;
    }
    let trace = cli.trace() == Some(TraceKind::Insns);
    let machine = match &cli.gdb {
        None => machine,
        Some(addr) => {
            let addr = super::gdb::GdbAddr::parse(addr).map_err(RunnerError::Usage)?;
            let started = std::time::Instant::now();
            let served = super::gdb::serve(
                super::gdb::Host::Machine(Box::new(machine)),
                &addr,
                super::gdb::Limits {
                    slice: super::cli::SLICE,
                    max_instructions: cli.max_instructions,
                },
                stderr,
            )?;
            // One CPU: its console went straight out, nothing is held.
            let ended = served.ended;
            let super::gdb::Host::Machine(machine) = served.host else {
                unreachable!("serve gives back the host it was given");
            };
            let machine = *machine;
            if let Some(stop) = ended {
                // The guest ended under the debugger: the summary, as
                // after any run.
                let native = Native::new(machine, &image, false);
                let elapsed = started.elapsed();
                let reason = stop.describe(&native, 0);
                writeln!(
                    stderr,
                    "{}",
                    target::summary(native.instructions(), elapsed, &reason)
                )?;
                let (engine, jit) = native.engine();
                writeln!(stderr, "{}", target::engine_line(engine, &jit, elapsed))?;
                return Ok(stop.exit_status());
            }
            machine
        }
    };
    let mut native = Native::new(machine, &image, trace);
    target::run_with_summary(&mut native, cli, stdout, stderr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::cli::SLICE;
    use crate::runner::target::{Terminal, drive};
    use hv_host::machine::Trap;
    use hv_host::machine::asm::{self, Asm, T0};
    use hv_host::machine::exception::ExcCode;

    fn image(words: &[u32]) -> (Machine, ElfImage) {
        let mut a = Asm::new(0x8000_1000);
        a.emit_all(words);
        let bytes = hv_tests::ElfBuilder::new(0x8000_1000)
            .code(0x8000_1000, &a.finish().unwrap())
            .symbol("_start", 0x8000_1000, 4 * words.len() as u32, true)
            .build();
        let img = ElfImage::parse(&bytes).unwrap();
        let mut m = Machine::new(MachineConfig { ram_bytes: 1 << 20 }).unwrap();
        m.load_elf(&img).unwrap();
        (m, img)
    }

    #[test]
    fn limit_is_exact_across_slices() {
        let (m, img) = image(&[asm::addiu(T0, T0, 1), asm::b(-2), asm::nop()]);
        let mut native = Native::new(m, &img, false);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let max = SLICE + 7;
        let mut sink = Terminal::new(1, &mut out, &mut err);
        assert_eq!(
            drive(&mut native, Some(max), None, &mut sink, None).unwrap(),
            Some(Stop::Limit(max))
        );
        assert_eq!(native.machine().instructions(), max);
        assert!(out.is_empty() && err.is_empty());
    }

    #[test]
    fn trap_description_is_symbolized() {
        let (m, img) = image(&[asm::nop(), asm::syscall(0)]);
        let native = Native::new(m, &img, false);
        let t = Trap {
            code: ExcCode::Sys,
            refill: false,
            pc: GuestVirtAddr::new(0x8000_1004),
            insn: None,
            in_delay_slot: false,
            bad_vaddr: None,
            coprocessor: 0,
        };
        assert_eq!(
            Stop::Trap(t).describe(&native, 0),
            "unhandled Sys exception at 0x80001004 <_start+0x4>: syscall"
        );
        assert_eq!(Stop::Trap(t).exit_status(), 126);
    }

    #[test]
    fn trace_lists_each_instruction() {
        let (m, img) = image(&[asm::addiu(T0, T0, 1), asm::b(-2), asm::nop()]);
        let mut native = Native::new(m, &img, true);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut sink = Terminal::new(1, &mut out, &mut err);
        assert_eq!(
            drive(&mut native, Some(4), None, &mut sink, None).unwrap(),
            Some(Stop::Limit(4))
        );
        let err = String::from_utf8(err).unwrap();
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(
            lines,
            [
                "         0 0x80001000 <_start+0x0>: addiu t0, t0, 1",
                "         1 0x80001004 <_start+0x4>: b -4",
                "         2 0x80001008 <_start+0x8>: nop",
                "         3 0x80001000 <_start+0x0>: addiu t0, t0, 1",
            ]
        );
    }
}
