//! The run loop: slices of [`SLICE`] instructions, the guest's output
//! copied out after each (and whenever the machine's bounded output buffer
//! fills, see [`hv_host::machine::console`]), until the guest exits,
//! stalls, traps to the host or reaches the instruction limit.
//!
//! Symbol names come from the kernel file and are untrusted: they are
//! printed through [`printable`], so control characters appear escaped.

use super::cli::{EXIT_INTERRUPTED, EXIT_LIMIT, EXIT_STALLED, EXIT_TRAP, SLICE};
use super::console::{self, ConsoleInput};
use hv_host::addr::GuestVirtAddr;
use hv_host::machine::elf::{ElfImage, printable};
use hv_host::machine::insn::Instruction;
use hv_host::machine::{Exit, Machine, Trap};
use std::io::{self, Write};
use std::time::Duration;

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The guest called UHI `exit` with this code.
    Exited(i32),
    /// The instruction limit was reached.
    Limit(u64),
    /// The guest waits for an interrupt that nothing can raise.
    Stalled,
    /// An exception routed to the host stopped the guest.
    Trap(Trap),
    /// The guest powered the board off.
    PowerOff,
    /// The guest reset the board (the run ends, as QEMU's `-no-reboot`).
    Reset,
    /// Ctrl-C.
    Interrupted,
}

impl Stop {
    /// The process exit status: the guest's code modulo 256, or one of the
    /// runner's codes (see `--help`).
    pub fn exit_status(&self) -> u8 {
        match *self {
            // Truncation is the point: a POSIX exit status keeps the low
            // 8 bits, so exit(-1) gives 255.
            Stop::Exited(code) => (code & 0xff) as u8,
            Stop::Limit(_) => EXIT_LIMIT,
            Stop::Stalled => EXIT_STALLED,
            Stop::Trap(_) => EXIT_TRAP,
            Stop::PowerOff | Stop::Reset => 0,
            Stop::Interrupted => EXIT_INTERRUPTED,
        }
    }

    /// The `stopped: ...` part of the summary. Where the guest was stopped
    /// rather than exiting, it says where, symbolized with `image`'s symbols
    /// and disassembled from `machine`'s memory.
    pub fn describe(&self, image: &ElfImage, machine: &Machine) -> String {
        match *self {
            Stop::Exited(code) => format!("guest exited with code {code}"),
            Stop::Limit(n) => format!(
                "instruction limit reached (--max-instructions {n}) at {}",
                location(image, machine.pc(), machine.fetch_word(machine.pc()))
            ),
            Stop::Stalled => format!(
                "guest stalled: it waits for an interrupt and no interrupt source is enabled \
                 (next instruction at {})",
                location(image, machine.pc(), machine.fetch_word(machine.pc()))
            ),
            Stop::Trap(t) => format!(
                "unhandled {} exception at {}",
                t.code.name(),
                location(image, t.pc, machine.fetch_word(t.pc))
            ),
            Stop::PowerOff => "guest powered off".into(),
            Stop::Reset => "guest reset the board".into(),
            Stop::Interrupted => format!(
                "interrupted (Ctrl-C) at {}",
                location(image, machine.pc(), machine.fetch_word(machine.pc()))
            ),
        }
    }
}

/// `0x80001004 <_start+0x4>: addiu sp, sp, -16`: `pc`, the symbol of
/// `image` it falls in and the offset (if any; the name escaped with
/// [`printable`]), and `insn` (if known). The one way the runner prints a
/// guest address: in summaries, crash reports and traces.
pub fn location(image: &ElfImage, pc: GuestVirtAddr, insn: Option<Instruction>) -> String {
    let mut s = match image.symbolize(pc) {
        Some((name, off)) => format!("{pc} <{}+{off:#x}>", printable(name)),
        None => pc.to_string(),
    };
    if let Some(insn) = insn {
        s.push_str(&format!(": {insn}"));
    }
    s
}

/// Instructions per slice when tracing: bounds the trace buffer.
const TRACE_SLICE: u64 = 100_000;

/// Runs `machine` until it stops, copying its console to `stdout` and its
/// UHI fd-2 output to `stderr` after every slice. With `trace`, every
/// executed instruction is also printed to `stderr`, symbolized with the
/// image's symbols. With `input`, stdin feeds the guest's console between
/// slices (see [`console`]).
pub fn run(
    machine: &mut Machine,
    max_instructions: Option<u64>,
    trace: Option<&ElfImage>,
    mut input: Option<&mut ConsoleInput>,
    stdout: &mut impl Write,
    stderr: &mut impl Write,
) -> io::Result<Stop> {
    let slice = if trace.is_some() { TRACE_SLICE } else { SLICE };
    let mut entries = Vec::new();
    loop {
        if console::interrupted() {
            return Ok(Stop::Interrupted);
        }
        if let Some(input) = input.as_deref_mut() {
            input.feed(machine);
        }
        let budget = match max_instructions {
            Some(max) => {
                let left = max.saturating_sub(machine.instructions());
                if left == 0 {
                    return Ok(Stop::Limit(max));
                }
                left.min(slice)
            }
            None => slice,
        };
        let exit = match trace {
            None => machine.run(budget),
            Some(image) => {
                let exit = machine.run_traced(budget, &mut entries);
                for t in entries.drain(..) {
                    let at = location(image, t.pc, Some(t.insn));
                    writeln!(stderr, "{:>10} {at}", t.icount)?;
                }
                exit
            }
        };
        drain(machine, stdout, stderr)?;
        match exit {
            // The machine's output buffer filled: drained above, run on.
            Exit::BudgetExhausted | Exit::OutputPending => {}
            Exit::Shutdown { code } => return Ok(Stop::Exited(code)),
            Exit::Stalled => return Ok(Stop::Stalled),
            Exit::Trap(t) => return Ok(Stop::Trap(t)),
            Exit::PowerOff => return Ok(Stop::PowerOff),
            Exit::Reset => return Ok(Stop::Reset),
        }
    }
}

fn drain(
    machine: &mut Machine,
    stdout: &mut impl Write,
    stderr: &mut impl Write,
) -> io::Result<()> {
    let out = machine.take_stdout();
    if !out.is_empty() {
        stdout.write_all(&out)?;
        stdout.flush()?;
    }
    let err = machine.take_stderr();
    if !err.is_empty() {
        stderr.write_all(&err)?;
        stderr.flush()?;
    }
    Ok(())
}

/// The summary line: `demo-os: <N> instructions in <S> s (<M> MIPS);
/// stopped: <reason>`.
pub fn summary(instructions: u64, elapsed: Duration, reason: &str) -> String {
    let secs = elapsed.as_secs_f64();
    let mips = if secs > 0.0 {
        instructions as f64 / secs / 1e6
    } else {
        0.0
    };
    format!(
        "demo-os: {instructions} instructions in {secs:.3} s ({mips:.1} MIPS); stopped: {reason}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use hv_host::machine::MachineConfig;
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
    fn exit_statuses() {
        assert_eq!(Stop::Exited(0).exit_status(), 0);
        assert_eq!(Stop::Exited(3).exit_status(), 3);
        assert_eq!(Stop::Exited(-1).exit_status(), 255);
        assert_eq!(Stop::Exited(256).exit_status(), 0);
        assert_eq!(Stop::Limit(5).exit_status(), 124);
        assert_eq!(Stop::Stalled.exit_status(), 125);
    }

    #[test]
    fn limit_is_exact_across_slices() {
        let (mut m, _) = image(&[asm::addiu(T0, T0, 1), asm::b(-2), asm::nop()]);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let max = SLICE + 7;
        assert_eq!(
            run(&mut m, Some(max), None, None, &mut out, &mut err).unwrap(),
            Stop::Limit(max)
        );
        assert_eq!(m.instructions(), max);
        assert!(out.is_empty() && err.is_empty());
    }

    #[test]
    fn trap_description_is_symbolized() {
        let (m, img) = image(&[asm::nop(), asm::syscall(0)]);
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
            Stop::Trap(t).describe(&img, &m),
            "unhandled Sys exception at 0x80001004 <_start+0x4>: syscall"
        );
        assert_eq!(Stop::Trap(t).exit_status(), 126);
    }

    #[test]
    fn summary_format() {
        assert_eq!(
            summary(
                2_000_000,
                Duration::from_millis(500),
                "guest exited with code 0"
            ),
            "demo-os: 2000000 instructions in 0.500 s (4.0 MIPS); stopped: guest exited with code 0"
        );
        assert!(summary(1, Duration::ZERO, "x").contains("(0.0 MIPS)"));
    }

    #[test]
    fn trace_lists_each_instruction() {
        let (mut m, img) = image(&[asm::addiu(T0, T0, 1), asm::b(-2), asm::nop()]);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert_eq!(
            run(&mut m, Some(4), Some(&img), None, &mut out, &mut err).unwrap(),
            Stop::Limit(4)
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
