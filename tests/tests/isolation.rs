//! Isolation: hostile guests under the monitor are contained exactly as
//! the architecture says, never panic the host, and never disturb a
//! second, well-behaved VM.
//!
//! Every hostile guest runs natively on a bare machine with the same RAM
//! and under the monitor beside a companion VM (a kernel that prints a
//! known text and exits 0), which also runs alone. Where the
//! architecture defines the outcome, the hostile guest's console, stderr
//! and stop must be the same under the monitor as natively (a guest stuck
//! forever natively may be stopped with a `Crashed` diagnostic by the
//! monitor, by design), and the companion's console and exit code must be
//! byte for byte those it has when it runs alone.
//!
//! The hostile guests share a small kit ([`Kit`]): exception vectors at
//! EBase `0x8000_0000` that print one line per exception,
//! `!<vector offset> <Cause & BD|CE|ExcCode> <EPC> <BadVAddr or 0>`, then
//! step over the faulting instruction, or resume at an address the guest
//! left in a `resume` word (in kernel mode). The random-code test takes
//! `HV_ISOLATION_SEEDS=N` for N seeds instead of the default.

use hv_host::machine::asm::*;
use hv_host::machine::cp0::reg;
use hv_host::machine::elf::ElfImage;
use hv_host::machine::insn::Reg;
use hv_host::machine::{Exit, Machine, MachineConfig};
use hv_host::monitor::{Monitor, MonitorConfig, MonitorExit, VmConfig, VmId, VmStop};
use hv_tests::ElfBuilder;
use hv_tests::programs;
use hv_tests::random_code::{self, Rng};

/// RAM of every guest, natively and under the monitor.
const RAM: u32 = 1 << 20;
/// Where the kit's programs are loaded (EBase: vectors first).
const BASE: u32 = 0x8000_0000;
/// The companion's text.
const COMPANION_TEXT: &str = "companion: hello from the well-behaved kernel\n";

// ----- running guests -----

/// How a guest stopped (or did not).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Stop {
    /// UHI `exit`.
    Exited(i32),
    /// `wait` that nothing can wake.
    Stalled,
    /// Still running when the budget ran out.
    Running,
    /// Stopped by the monitor with a diagnostic.
    Crashed(String),
}

/// What a guest did.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Outcome {
    console: String,
    stderr: String,
    stop: Stop,
}

fn text(b: Vec<u8>) -> String {
    String::from_utf8_lossy(&b).into_owned()
}

/// Runs `image` on a bare machine with [`RAM`] for at most `budget` ticks.
fn native(image: &ElfImage, budget: u64) -> Outcome {
    let mut m = Machine::new(MachineConfig { ram_bytes: RAM }).expect("valid RAM size");
    m.load_elf(image).expect("the image fits");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let stop = loop {
        let left = budget.saturating_sub(m.ticks());
        if left == 0 {
            break Stop::Running;
        }
        match m.run(left) {
            Exit::BudgetExhausted => {}
            Exit::OutputPending => {}
            Exit::Shutdown { code } => break Stop::Exited(code),
            Exit::Stalled => break Stop::Stalled,
            Exit::Trap(t) => panic!("nothing is routed natively: {t:?}"),
            Exit::PowerOff | Exit::Reset => panic!("mipssim has no power-off or reset"),
            // Worded as the monitor's crash report of the same guest.
            Exit::NoHandler(n) => break Stop::Crashed(format!("{n} at {}", n.pc)),
        }
        out.extend(m.take_stdout());
        err.extend(m.take_stderr());
    };
    out.extend(m.take_stdout());
    err.extend(m.take_stderr());
    Outcome {
        console: text(out),
        stderr: text(err),
        stop,
    }
}

/// A finished monitor run: each VM's outcome and the monitor itself.
struct MonitorRun {
    outcomes: Vec<Outcome>,
    monitor: Monitor,
}

/// Runs `images` as VMs of [`RAM`] each, for at most `budget` ticks.
fn under_monitor(images: &[&ElfImage], config: MonitorConfig, budget: u64) -> MonitorRun {
    let vms = vec![
        VmConfig {
            ram_bytes: RAM,
            ..VmConfig::default()
        };
        images.len()
    ];
    let mut m = Monitor::new(config, &vms).expect("valid VMs");
    for (i, img) in images.iter().enumerate() {
        m.load(VmId(i), img).expect("the image fits");
    }
    let n = images.len();
    let (mut out, mut err) = (vec![Vec::new(); n], vec![Vec::new(); n]);
    let start = m.ticks();
    loop {
        let left = budget.saturating_sub(m.ticks() - start);
        let before = m.ticks();
        let exit = if left == 0 {
            MonitorExit::BudgetExhausted
        } else {
            m.run(left)
        };
        // One exit's modelled cost may pass the end of the budget, no more.
        assert!(
            m.ticks() - before <= left + 100_000,
            "run({left}) took {} ticks",
            m.ticks() - before
        );
        for i in 0..n {
            out[i].extend(m.take_console(VmId(i)));
            err[i].extend(m.take_stderr(VmId(i)));
        }
        match exit {
            MonitorExit::OutputPending => {}
            MonitorExit::AllStopped => break,
            MonitorExit::BudgetExhausted if m.ticks() - start >= budget => break,
            MonitorExit::BudgetExhausted => {}
        }
    }
    let outcomes = (0..n)
        .map(|i| Outcome {
            console: text(std::mem::take(&mut out[i])),
            stderr: text(std::mem::take(&mut err[i])),
            stop: match m.stop_reason(VmId(i)) {
                None => Stop::Running,
                Some(VmStop::Exited(c)) => Stop::Exited(*c),
                Some(VmStop::Stalled) => Stop::Stalled,
                Some(VmStop::Crashed(r)) => Stop::Crashed(format!("{} at {}", r.cause, r.pc)),
                Some(VmStop::PowerOff | VmStop::Reset) => panic!("mipssim has no power-off"),
            },
        })
        .collect();
    MonitorRun {
        outcomes,
        monitor: m,
    }
}

fn parse(elf: &[u8]) -> ElfImage {
    ElfImage::parse(elf).expect("a valid ELF")
}

fn companion() -> ElfImage {
    parse(&programs::hello(COMPANION_TEXT, 0).elf())
}

/// Small slices, so that the VMs interleave often.
fn config() -> MonitorConfig {
    MonitorConfig {
        slice_ticks: 20_000,
        ..MonitorConfig::default()
    }
}

/// Whether a hostile guest's outcome under the monitor is the native one
/// (stuck forever natively may be a crash diagnostic under the monitor).
fn same_as_native(monitor: &Outcome, native: &Outcome) -> bool {
    let stops = match (&monitor.stop, &native.stop) {
        (Stop::Crashed(_), Stop::Running) => true,
        (a, b) => a == b,
    };
    stops && monitor.console == native.console && monitor.stderr == native.stderr
}

/// Runs `hostile` natively and under the monitor as VM 0 beside the
/// companion as VM 1; checks that it behaves as natively and that the
/// companion is undisturbed. Returns the hostile guest's native outcome.
fn contained(hostile: &ElfImage, budget: u64) -> Outcome {
    contained_with(hostile, &companion(), budget)
}

/// [`contained`] with another companion.
fn contained_with(hostile: &ElfImage, companion: &ElfImage, budget: u64) -> Outcome {
    let nat = native(hostile, budget);
    let alone = under_monitor(&[companion], config(), budget).outcomes;
    let run = under_monitor(&[hostile, companion], config(), budget);
    let (h, c) = (&run.outcomes[0], &run.outcomes[1]);
    assert!(
        same_as_native(h, &nat),
        "the hostile guest behaves differently under the monitor\n--- monitor ({:?}):\n{}{}\n--- native ({:?}):\n{}{}",
        h.stop,
        h.console,
        h.stderr,
        nat.stop,
        nat.console,
        nat.stderr
    );
    assert_eq!(c, &alone[0], "the companion was disturbed");
    assert_eq!(c.stop, Stop::Exited(0), "{}", c.console);
    nat
}

// ----- the hostile guests' kit -----

/// Builds a program with the kit's exception vectors and helpers at
/// [`BASE`]; the body starts in kernel mode with Status = 0 (BEV, ERL,
/// EXL and interrupts off). The helpers clobber `a0`..`a3`, `t0`, `t2`
/// and `ra`; bodies keep their state in the other registers.
struct Kit {
    a: Asm,
    start: Label,
    resume: Label,
    quiet: Label,
    faults: Label,
    putc: Label,
    puthex: Label,
    puts: Label,
}

/// The mask of Cause that the exception lines print: BD, CE, ExcCode.
const CAUSE_SHOWN: u32 = 0xb000_007c;

impl Kit {
    fn new() -> Self {
        let mut a = Asm::new(BASE);
        let labels: Vec<Label> = (0..9).map(|_| a.new_label()).collect();
        let [
            start,
            resume,
            quiet,
            faults,
            putc,
            puthex,
            puts,
            common,
            save,
        ] = labels[..]
        else {
            unreachable!()
        };
        let pad_to = |a: &mut Asm, off: u32| {
            while a.pc() < BASE + off {
                a.nop();
            }
        };
        // Vectors: refill, general, interrupt (Cause.IV).
        for off in [0, 0x180, 0x200] {
            pad_to(&mut a, off);
            a.emit(addiu(K1, ZERO, off as i16));
            a.j(common);
            a.nop();
        }
        pad_to(&mut a, 0x280);
        // putc: the byte in a1 to the UART. Clobbers t0, t2.
        a.bind(putc);
        let busy = a.new_label();
        a.li32(T0, programs::UART_THR);
        a.bind(busy);
        a.emit(lbu(T2, programs::UART_LSR, T0));
        a.emit(andi(T2, T2, programs::LSR_THRE));
        a.beq(T2, ZERO, busy);
        a.nop();
        a.emit(sb(A1, 0, T0));
        a.emit(jr(RA));
        a.nop();
        // puthex: a0 as 8 hex digits. Clobbers a0..a3, t0, t2.
        a.bind(puthex);
        a.emit(mov(A3, RA));
        a.li(A2, 8);
        let digit_loop = a.here();
        let digit = a.new_label();
        a.emit(srl(A1, A0, 28));
        a.emit(sll(A0, A0, 4));
        a.emit(sltiu(T2, A1, 10));
        a.bne(T2, ZERO, digit);
        a.emit(addiu(A1, A1, b'0' as i16)); // delay slot: always
        a.emit(addiu(A1, A1, (b'a' - b'0' - 10) as i16));
        a.bind(digit);
        a.jal(putc);
        a.nop();
        a.emit(addiu(A2, A2, -1));
        a.bne(A2, ZERO, digit_loop);
        a.nop();
        a.emit(jr(A3));
        a.nop();
        // puts: the NUL-terminated string at a0. Clobbers a0, a1, a3, t0, t2.
        a.bind(puts);
        a.emit(mov(A3, RA));
        let next = a.here();
        let done = a.new_label();
        a.emit(lbu(A1, 0, A0));
        a.beq(A1, ZERO, done);
        a.nop();
        a.jal(putc);
        a.nop();
        a.b(next);
        a.emit(addiu(A0, A0, 1));
        a.bind(done);
        a.emit(jr(A3));
        a.nop();
        // The common exception handler (k1 = vector offset).
        a.bind(common);
        a.la(K0, save);
        let saved = [A0, A1, A2, A3, T0, T1, T2, RA];
        for (i, r) in saved.iter().enumerate() {
            a.emit(sw(*r, 4 * i as i16, K0));
        }
        a.emit(mfc0(T1, reg::CAUSE, 0));
        a.li32(T0, CAUSE_SHOWN);
        a.emit(and(T1, T1, T0));
        let (loud, after, step, out, nobad) = (
            a.new_label(),
            a.new_label(),
            a.new_label(),
            a.new_label(),
            a.new_label(),
        );
        a.la(T0, quiet);
        a.emit(lw(T0, 0, T0));
        a.beq(T0, ZERO, loud);
        a.nop();
        a.la(T0, faults);
        a.emit(lw(T2, 0, T0));
        a.emit(addiu(T2, T2, 1));
        a.emit(sw(T2, 0, T0));
        a.b(after);
        a.nop();
        a.bind(loud);
        let putc_char = |a: &mut Asm, c: u8| {
            a.li(A1, u32::from(c));
            a.jal(putc);
            a.nop();
        };
        putc_char(&mut a, b'!');
        a.emit(mov(A0, K1));
        a.jal(puthex);
        a.nop();
        putc_char(&mut a, b' ');
        a.emit(mov(A0, T1));
        a.jal(puthex);
        a.nop();
        putc_char(&mut a, b' ');
        a.emit(mfc0(A0, reg::EPC, 0));
        a.jal(puthex);
        a.nop();
        putc_char(&mut a, b' ');
        // BadVAddr for ExcCode 1..=5 (TLB and address errors), else 0.
        a.emit(srl(T2, T1, 2));
        a.emit(andi(T2, T2, 0x1f));
        a.emit(addiu(T2, T2, -1));
        a.emit(sltiu(T2, T2, 5));
        a.beq(T2, ZERO, nobad);
        a.emit(mov(A0, ZERO)); // delay slot: always
        a.emit(mfc0(A0, reg::BADVADDR, 0));
        a.bind(nobad);
        a.jal(puthex);
        a.nop();
        putc_char(&mut a, b'\n');
        a.bind(after);
        // Resume where the guest asked (in kernel mode), or step over.
        a.la(T0, resume);
        a.emit(lw(T2, 0, T0));
        a.beq(T2, ZERO, step);
        a.nop();
        a.emit(sw(ZERO, 0, T0));
        a.emit(mtc0(T2, reg::EPC, 0));
        a.emit(mfc0(T2, reg::STATUS, 0));
        a.li32(T0, !0x18);
        a.emit(and(T2, T2, T0));
        a.emit(mtc0(T2, reg::STATUS, 0));
        a.b(out);
        a.nop();
        a.bind(step);
        a.emit(mfc0(T2, reg::EPC, 0));
        a.emit(addiu(T2, T2, 4));
        a.emit(mtc0(T2, reg::EPC, 0));
        a.bind(out);
        a.la(K0, save);
        for (i, r) in saved.iter().enumerate() {
            a.emit(lw(*r, 4 * i as i16, K0));
        }
        a.emit(ehb());
        a.emit(eret());
        // Data.
        for l in [resume, quiet, faults] {
            a.bind(l);
            a.emit(0);
        }
        a.bind(save);
        for _ in 0..8 {
            a.emit(0);
        }
        // The body.
        a.bind(start);
        a.emit(mtc0(ZERO, reg::STATUS, 0));
        a.li32(T1, BASE);
        a.emit(mtc0(T1, reg::PRID, 1)); // EBase
        a.emit(ehb());
        Self {
            a,
            start,
            resume,
            quiet,
            faults,
            putc,
            puthex,
            puts,
        }
    }

    /// Prints `s`.
    fn print(&mut self, s: &str) {
        let (l, over) = (self.a.new_label(), self.a.new_label());
        self.a.b(over);
        self.a.nop();
        self.a.bind(l);
        let mut bytes = s.as_bytes().to_vec();
        bytes.push(0);
        self.a.bytes(&bytes);
        self.a.bind(over);
        self.a.la(A0, l);
        self.a.jal(self.puts);
        self.a.nop();
    }

    /// Prints register `r` in hex, then `sep`.
    fn print_reg(&mut self, r: Reg, sep: u8) {
        self.a.emit(mov(A0, r));
        self.a.jal(self.puthex);
        self.a.nop();
        self.a.li(A1, u32::from(sep));
        self.a.jal(self.putc);
        self.a.nop();
    }

    /// The next exception resumes at `l` in kernel mode. Clobbers t8, t9.
    fn set_resume(&mut self, l: Label) {
        self.a.la(T8, l);
        self.a.la(T9, self.resume);
        self.a.emit(sw(T8, 0, T9));
    }

    /// Exceptions are counted in `faults` instead of printed (`on`), or
    /// printed again. Clobbers t8, t9.
    fn set_quiet(&mut self, on: bool) {
        self.a.li(T8, u32::from(on));
        self.a.la(T9, self.quiet);
        self.a.emit(sw(T8, 0, T9));
    }

    /// Prints the exceptions counted while quiet, then `sep`. Clobbers t8.
    fn print_faults(&mut self, sep: u8) {
        self.a.la(T8, self.faults);
        self.a.emit(lw(T8, 0, T8));
        self.print_reg(T8, sep);
    }

    /// Writes TLB entry `index` from the values in registers. Clobbers t8.
    fn tlb_write(&mut self, index: u32, hi: Reg, mask: Reg, lo0: Reg, lo1: Reg) {
        self.a.li(T8, index);
        self.a.emit(mtc0(T8, reg::INDEX, 0));
        self.a.emit(mtc0(hi, reg::ENTRYHI, 0));
        self.a.emit(mtc0(mask, reg::PAGEMASK, 0));
        self.a.emit(mtc0(lo0, reg::ENTRYLO0, 0));
        self.a.emit(mtc0(lo1, reg::ENTRYLO1, 0));
        self.a.emit(ehb());
        self.a.emit(tlbwi());
        self.a.emit(ehb());
    }

    /// Maps virtual `0..32 KiB` to physical `0..32 KiB` (16 KiB pages,
    /// global, writable) in TLB entry 0, so that user mode reaches the
    /// program at its physical address. Clobbers t3..t6, t8.
    fn map_user_window(&mut self) {
        self.a.li(T3, 0);
        self.a.li(T4, 0x6000);
        self.a.li(T5, 0x7);
        self.a.li(T6, (4 << 6) | 0x7);
        self.tlb_write(0, T3, T4, T5, T6);
    }

    /// Enters user mode at kseg0 label `l`'s physical address (through
    /// [`Kit::map_user_window`]'s mapping). Clobbers t8.
    fn enter_user(&mut self, l: Label) {
        self.a.li(T8, 0x10 | 0x2); // KSU = user, EXL
        self.a.emit(mtc0(T8, reg::STATUS, 0));
        self.a.la(T8, l);
        self.a.li32(T9, 0x7fff_ffff);
        self.a.emit(and(T8, T8, T9));
        self.a.emit(mtc0(T8, reg::EPC, 0));
        self.a.emit(ehb());
        self.a.emit(eret());
    }

    /// From user mode (in the user window): back to kernel mode at `l`
    /// through a `syscall` whose handler resumes there. Clobbers t8, t9.
    fn leave_user(&mut self, l: Label) {
        self.a.la(T8, l);
        self.a.la(T9, self.resume);
        self.a.li32(T0, 0x7fff_ffff);
        self.a.emit(and(T9, T9, T0));
        self.a.emit(sw(T8, 0, T9));
        self.a.emit(syscall(0));
    }

    /// The address `l` is bound to.
    fn addr(&self, l: Label) -> u32 {
        self.a.label_addr(l).expect("bound label")
    }

    /// Prints "done", exits with 0 and returns the image.
    fn finish(mut self) -> ElfImage {
        self.print("done\n");
        programs::emit_uhi_exit(&mut self.a, 0);
        let start = self.a.label_addr(self.start).expect("bound");
        let words = self.a.finish().expect("the kit assembles");
        parse(&ElfBuilder::new(start).code(BASE, &words).build())
    }
}

/// The line the kit prints for an exception.
fn line(vector: u32, cause: u32, epc: u32, bad: u32) -> String {
    format!("!{vector:08x} {cause:08x} {epc:08x} {bad:08x}\n")
}

/// ExcCode field values.
mod exc {
    pub const TLBL: u32 = 2 << 2;
    pub const ADEL: u32 = 4 << 2;
    pub const IBE: u32 = 6 << 2;
    pub const DBE: u32 = 7 << 2;
    pub const SYS: u32 = 8 << 2;
    pub const CPU: u32 = 11 << 2;
}

// ----- (1) TLB entries past RAM; no view of another VM's memory -----

/// A value that no hostile guest holds in memory (built by `lui`/`ori`).
const PATTERN: u32 = 0x5eed_f00d;
/// What a faulting load leaves in its register.
const SENTINEL: u32 = 0x0bad_0bad;

/// The companion of test (1): fills its RAM above its code with
/// [`PATTERN`], waits, checks that every word is intact, and says so.
fn filler() -> ElfImage {
    let mut a = Asm::new(programs::ORIGIN);
    let start = a.named_label("_start");
    let (ok, bad, fill, check) = (a.new_label(), a.new_label(), a.new_label(), a.new_label());
    a.bind(start);
    a.li32(T3, PATTERN);
    a.li32(T4, 0x8000_4000);
    a.li32(T5, 0x8000_0000 + RAM);
    a.bind(fill);
    a.emit(sw(T3, 0, T4));
    a.emit(addiu(T4, T4, 4));
    a.bne(T4, T5, fill);
    a.nop();
    // Wait while the scanner runs.
    a.li32(T6, 1_500_000);
    let delay = a.here();
    a.emit(addiu(T6, T6, -1));
    a.bne(T6, ZERO, delay);
    a.nop();
    a.li32(T4, 0x8000_4000);
    a.bind(check);
    a.emit(lw(T7, 0, T4));
    a.bne(T7, T3, bad);
    a.emit(addiu(T4, T4, 4));
    a.bne(T4, T5, check);
    a.nop();
    a.b(ok);
    a.nop();
    let (ok_text, bad_text) = (a.new_label(), a.new_label());
    a.bind(bad);
    programs::emit_uart_puts(&mut a, bad_text);
    programs::emit_uhi_exit(&mut a, 1);
    a.bind(ok);
    programs::emit_uart_puts(&mut a, ok_text);
    programs::emit_uhi_exit(&mut a, 0);
    a.bind(ok_text);
    a.bytes(b"filler: memory intact\n\0");
    a.bind(bad_text);
    a.bytes(b"filler: memory CHANGED\n\0");
    assembled(a)
}

/// The image of an assembled program entered at its origin.
fn assembled(a: Asm) -> ElfImage {
    parse(
        &programs::GuestProgram::assemble(a)
            .expect("assembles")
            .elf(),
    )
}

/// PFN ranges the scanner probes: `(first, end, step)`.
const SCAN: [(u32, u32, u32); 4] = [
    // Every page of the first 16 MiB (own RAM, then the machine's RAM
    // where the other VM's frames are).
    (0, 0x1000, 1),
    // Every MiB up to 4 GiB.
    (0x1000, 0x10_0000, 0x100),
    // Every page of the boot ROM window and the monitor machine's high RAM.
    (0x1fc00, 0x20000, 1),
    (0x20000, 0x20400, 1),
];

#[test]
fn tlb_entries_past_ram_give_bus_errors_and_never_another_vms_memory() {
    let mut k = Kit::new();
    // A first touch through a TLB entry past RAM, loud.
    k.a.li32(T3, 0x4000_0000);
    k.a.li(T4, 0);
    k.a.li32(T5, (0x0400 << 6) | 0x7); // 4 MiB, past the 1 MiB of RAM
    k.a.li32(T6, (0x8_0000 << 6) | 0x7); // 2 GiB
    k.tlb_write(1, T3, T4, T5, T6);
    let (load, store, back) = (k.a.new_label(), k.a.new_label(), k.a.new_label());
    k.a.bind(load);
    k.a.emit(lw(V0, 0, T3));
    k.a.bind(store);
    k.a.emit(sw(V0, 0x1004, T3));
    k.set_resume(back);
    k.a.emit(jr(T3));
    k.a.nop();
    k.a.bind(back);
    // Let the filler fill its memory first.
    k.a.li32(T6, 1_000_000);
    let delay = k.a.here();
    k.a.emit(addiu(T6, T6, -1));
    k.a.bne(T6, ZERO, delay);
    k.a.nop();
    // The scan, quiet: s3 = pattern seen, s4 = loads faulted, s5 = loads
    // served; a faulting page is also stored to.
    k.set_quiet(true);
    for (first, end, step) in SCAN {
        k.a.li32(S0, first);
        k.a.li32(S1, end);
        k.a.li32(S2, step);
        let (next, faulted, nomatch) = (k.a.new_label(), k.a.new_label(), k.a.new_label());
        let top = k.a.here();
        k.a.emit(sll(T5, S0, 6));
        k.a.emit(ori(T5, T5, 0x7));
        k.tlb_write(1, T3, ZERO, T5, T5);
        k.a.li32(V0, SENTINEL);
        k.a.emit(lw(V0, 0x800, T3));
        k.a.li32(T4, PATTERN);
        k.a.bne(V0, T4, nomatch);
        k.a.nop();
        k.a.emit(addiu(S3, S3, 1));
        k.a.bind(nomatch);
        k.a.li32(T4, SENTINEL);
        k.a.beq(V0, T4, faulted);
        k.a.nop();
        k.a.emit(addiu(S5, S5, 1));
        k.a.b(next);
        k.a.nop();
        k.a.bind(faulted);
        k.a.emit(addiu(S4, S4, 1));
        k.a.emit(sw(T4, 0x800, T3));
        k.a.bind(next);
        k.a.emit(addu(S0, S0, S2));
        k.a.emit(sltu(T5, S0, S1));
        k.a.bne(T5, ZERO, top);
        k.a.nop();
    }
    k.set_quiet(false);
    k.print("scan ");
    k.print_reg(S3, b' ');
    k.print_reg(S4, b' ');
    k.print_reg(S5, b' ');
    k.print_faults(b'\n');
    let (load, store) = (k.addr(load), k.addr(store));
    let img = k.finish();

    let filler = filler();
    let nat = contained_with(&img, &filler, 200_000_000);
    assert_eq!(nat.stop, Stop::Exited(0), "{}", nat.console);
    let probes: u32 = SCAN.iter().map(|(f, e, s)| (e - f).div_ceil(*s)).sum();
    // Served: the 256 pages of RAM, the 1024 pages of the boot ROM window
    // and the 4 of its pages the 1 MiB stride meets.
    let served = 256 + 1024 + 4;
    let expected = format!(
        "{}{}{}scan {:08x} {:08x} {:08x} {:08x}\ndone\n",
        line(0x180, exc::DBE, load, 0),
        line(0x180, exc::DBE, store, 0),
        line(0x180, exc::IBE, 0x4000_0000, 0),
        0,
        probes - served,
        served,
        2 * (probes - served),
    );
    assert_eq!(nat.console, expected);
}

// ----- (2) kseg0/kseg1 past RAM -----

#[test]
fn kseg0_and_kseg1_accesses_past_ram_are_bus_errors() {
    let mut k = Kit::new();
    // (address, whether natively it is a bus error)
    let targets: [(u32, bool); 9] = [
        (0x8000_0000 + RAM, true),
        (0x8000_0000 + RAM + 0xffc, true),
        (0x8020_0000, true), // machine memory of the other VM
        (0x8fff_fffc, true),
        (0x9fc0_0000, false), // boot ROM: reads zero, stores ignored
        (0xa000_0000 + RAM, true),
        (0xa0ff_fff0, true),
        (0xbfbf_fffc, true),
        (0xbfc0_1000, false),
    ];
    let mut expected = String::new();
    for (addr, bus_error) in targets {
        k.a.li32(T3, addr);
        k.a.li32(T4, PATTERN);
        let st = k.a.here();
        k.a.emit(sw(T4, 0, T3));
        k.a.li32(V0, SENTINEL);
        let ld = k.a.here();
        k.a.emit(lw(V0, 0, T3));
        k.print_reg(V0, b'\n');
        let (st, ld) = (k.addr(st), k.addr(ld));
        if bus_error {
            expected += &line(0x180, exc::DBE, st, 0);
            expected += &line(0x180, exc::DBE, ld, 0);
            expected += &format!("{SENTINEL:08x}\n");
        } else {
            expected += "00000000\n";
        }
    }
    let img = k.finish();
    let nat = contained(&img, 50_000_000);
    assert_eq!(nat.stop, Stop::Exited(0));
    assert_eq!(nat.console, expected + "done\n");
}

// ----- (3) privileged instructions from user mode -----

#[test]
fn privileged_instructions_from_user_mode_raise_cpu_with_ce_0() {
    let mut k = Kit::new();
    k.map_user_window();
    let (user, back) = (k.a.new_label(), k.a.new_label());
    k.enter_user(user);
    k.a.bind(user);
    let insns = [
        mfc0(T3, reg::STATUS, 0),
        mtc0(ZERO, reg::STATUS, 0),
        tlbwi(),
        tlbwr(),
        tlbp(),
        tlbr(),
        eret(),
        di(T3),
        ei(T3),
        wait(0),
        cache(0x14, 0, ZERO),
        mfc0(T3, reg::PRID, 1),
        mtc0(ZERO, reg::PRID, 1),
    ];
    let first = k.a.pc() & 0x7fff_ffff;
    for w in insns {
        k.a.emit(w);
    }
    k.leave_user(back);
    let sys = (k.a.pc() & 0x7fff_ffff) - 4;
    k.a.bind(back);
    k.print("kernel again\n");
    let img = k.finish();
    let nat = contained(&img, 50_000_000);
    assert_eq!(nat.stop, Stop::Exited(0));
    let mut expected: String = (0..insns.len() as u32)
        .map(|i| line(0x180, exc::CPU, first + 4 * i, 0))
        .collect();
    expected += &line(0x180, exc::SYS, sys, 0);
    expected += "kernel again\ndone\n";
    assert_eq!(nat.console, expected);
}

// ----- (4) spinning with interrupts off -----

#[test]
fn a_vm_spinning_with_interrupts_off_is_preempted_and_runs_out_its_budget() {
    for exl in [false, true] {
        let mut k = Kit::new();
        k.a.emit(di(ZERO));
        if exl {
            // As if in its exception handler forever.
            k.a.li(T3, 0x2);
            k.a.emit(mtc0(T3, reg::STATUS, 0));
        }
        let spin = k.a.here();
        k.a.emit(addiu(S0, S0, 1));
        k.a.b(spin);
        k.a.nop();
        let img = k.finish();
        let nat = contained(&img, 5_000_000);
        assert_eq!(nat.stop, Stop::Running);
        // Under the monitor it is still there, not stopped.
        let run = under_monitor(&[&img, &companion()], config(), 5_000_000);
        assert_eq!(run.outcomes[0].stop, Stop::Running);
        assert!(run.monitor.stats(VmId(0)).unwrap().guest_instructions > 1_000_000);
    }
    // `wait` with every interrupt masked: stalled, as natively.
    let w = parse(&programs::wait_forever().elf());
    assert_eq!(contained(&w, 5_000_000).stop, Stop::Stalled);
}

// ----- (5) wild jumps -----

#[test]
fn jumps_to_unmapped_past_ram_and_misaligned_addresses_fault_as_natively() {
    let mut k = Kit::new();
    k.map_user_window();
    // A user page past RAM: virtual 0x0050_0000 -> physical 16 MiB.
    k.a.li32(T3, 0x0050_0000);
    k.a.li(T4, 0);
    k.a.li32(T5, (0x1000 << 6) | 0x7);
    k.a.li32(T6, (0x1001 << 6) | 0x7);
    k.tlb_write(2, T3, T4, T5, T6);
    let misaligned = k.addr(k.start) + 2;
    // (target, vector, cause, BadVAddr)
    let targets = [
        (0x0040_0000, 0, exc::TLBL, 0x0040_0000),
        (0xc000_0000, 0, exc::TLBL, 0xc000_0000),
        (0xe000_1000, 0, exc::TLBL, 0xe000_1000),
        (0x8020_0000, 0x180, exc::IBE, 0),
        (0xa010_0000, 0x180, exc::IBE, 0),
        (0xbfd0_03f8, 0x180, exc::IBE, 0),
        (0x0050_0000, 0x180, exc::IBE, 0),
        (misaligned, 0x180, exc::ADEL, misaligned),
        (0x8000_0001, 0x180, exc::ADEL, 0x8000_0001),
    ];
    let mut expected = String::new();
    for (target, vector, cause, bad) in targets {
        let back = k.a.new_label();
        k.set_resume(back);
        k.a.li32(T3, target);
        k.a.emit(jalr(RA, T3));
        k.a.nop();
        k.a.bind(back);
        expected += &line(vector, cause, target, bad);
    }
    // From user mode: into kseg0 (address error) and past RAM.
    for (target, cause, bad) in [
        (0x8000_1000, exc::ADEL, 0x8000_1000),
        (0x0050_0000, exc::IBE, 0),
    ] {
        let (user, back) = (k.a.new_label(), k.a.new_label());
        k.set_resume(back);
        k.enter_user(user);
        k.a.bind(user);
        k.a.li32(T3, target);
        k.a.emit(jr(T3));
        k.a.nop();
        k.a.bind(back);
        expected += &line(0x180, cause, target, bad);
    }
    let img = k.finish();
    let nat = contained(&img, 50_000_000);
    assert_eq!(nat.stop, Stop::Exited(0));
    assert_eq!(nat.console, expected + "done\n");
}

// ----- (6) random code -----

/// A guest of random words at `0x8000_0000..0x8000_3000` (its vectors
/// included), entered through a preamble that sets every register at
/// random and picks a mode: the boot state, kernel mode with its own
/// vectors, user or supervisor mode (through `eret`), or kernel mode with
/// the timer interrupt on.
fn random_guest(seed: u64) -> ElfImage {
    let mut rng = Rng::new(seed);
    let code = random_code::words(&mut rng, 0xc00);
    let mut a = Asm::new(0x8000_3000);
    let mode = rng.below(5);
    match mode {
        0 => {}
        1 => {
            a.emit(mtc0(ZERO, reg::STATUS, 0));
        }
        2 | 3 => {
            let ksu = if mode == 2 { 0x10 } else { 0x08 };
            a.li32(T0, 0xff02 | ksu);
            a.emit(mtc0(T0, reg::STATUS, 0));
            let entry = if rng.below(2) == 0 {
                0x0000_1000
            } else {
                0x8000_1000
            };
            a.li32(T0, entry);
            a.emit(mtc0(T0, reg::EPC, 0));
        }
        _ => {
            a.li32(T0, 2_000);
            a.emit(mtc0(T0, reg::COMPARE, 0));
            a.emit(mtc0(ZERO, reg::COUNT, 0));
            a.li32(T0, 0x8001);
            a.emit(mtc0(T0, reg::STATUS, 0));
        }
    }
    for r in GPRS.iter().skip(1) {
        let v = match rng.below(4) {
            0 => 0x8000_0000 | (rng.next_u32() & (RAM - 4)),
            1 => rng.next_u32() & (RAM - 4),
            _ => rng.next_u32(),
        };
        a.li32(*r, v);
    }
    a.emit(ehb());
    if mode == 2 || mode == 3 {
        a.emit(eret());
    } else {
        a.emit(j(0x8000_1000));
    }
    a.nop();
    let preamble = a.finish().expect("the preamble assembles");
    parse(
        &ElfBuilder::new(0x8000_3000)
            .code(0x8000_0000, &code)
            .code(0x8000_3000, &preamble)
            .build(),
    )
}

/// Everything observable about a monitor run, to compare two runs.
fn fingerprint(run: &MonitorRun) -> String {
    let m = &run.monitor;
    let mut f = format!("ticks {}\n", m.ticks());
    for (i, o) in run.outcomes.iter().enumerate() {
        f += &format!(
            "vm{i}: {o:?}\npc {:?}\n{:?}\n",
            m.vm_pc(VmId(i)),
            m.stats(VmId(i))
        );
    }
    f
}

fn seeds(default: u64) -> u64 {
    std::env::var("HV_ISOLATION_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

#[test]
fn random_code_is_contained_bounded_and_deterministic() {
    const BUDGET: u64 = 400_000;
    let companion = companion();
    let alone = under_monitor(&[&companion], config(), BUDGET).outcomes;
    assert_eq!(alone[0].stop, Stop::Exited(0));
    for seed in 0..seeds(200) {
        let img = random_guest(seed);
        let a = under_monitor(&[&img, &companion], config(), BUDGET);
        let b = under_monitor(&[&img, &companion], config(), BUDGET);
        assert_eq!(
            a.outcomes[1], alone[0],
            "seed {seed}: the companion was disturbed"
        );
        assert_eq!(
            fingerprint(&a),
            fingerprint(&b),
            "seed {seed}: two runs differ"
        );
        assert!(
            a.monitor.ticks() <= BUDGET + 100_000,
            "seed {seed}: ran to tick {}",
            a.monitor.ticks()
        );
    }
}

// ----- (7) garbage in the guest's own TLB -----

/// A guest that writes its TLB with random (and overlapping) EntryHi,
/// PageMask and EntryLo values, reads every entry back, probes, then
/// loads and stores through a set of addresses, printing what it sees.
/// With `random_index` it uses `tlbwr` (whose index depends on time, so
/// the run cannot be compared with a native one) and random Wired.
fn tlb_garbage(seed: u64, random_index: bool) -> ElfImage {
    let mut rng = Rng::new(seed);
    let mut k = Kit::new();
    // A few virtual pairs that many entries share, so that entries overlap.
    let hot: Vec<u32> = (0..6)
        .map(|_| match rng.below(3) {
            0 => rng.next_u32() & 0x7fff_e000,
            1 => 0xc000_0000 | (rng.next_u32() & 0x3fff_e000),
            _ => 0xe000_0000 | (rng.next_u32() & 0x1fff_e000),
        })
        .collect();
    if random_index {
        k.a.li(T3, rng.below(40));
        k.a.emit(mtc0(T3, reg::WIRED, 0));
    }
    for i in 0..48 {
        let hi = match rng.below(3) {
            0 => rng.next_u32(),
            _ => hot[rng.below(6) as usize] | rng.below(2),
        };
        let mask = match rng.below(4) {
            0 => rng.next_u32(),
            1 => 0,
            _ => [0x6000, 0x1e000, 0x7e000, 0x1fe000, 0x1ffe000, 0x1fffe000][rng.below(6) as usize],
        };
        let mut lo = || {
            let pfn = match rng.below(4) {
                0 => 0x10 + rng.below(0xf0),
                1 => 0x1fc00 + rng.below(0x400),
                _ => rng.next_u32() & 0xfffff,
            };
            let pfn = if pfn < 0x10 { pfn | 0x10 } else { pfn };
            (pfn << 6) | (rng.next_u32() & 0xfc00_003f)
        };
        let (lo0, lo1) = (lo(), lo());
        k.a.li32(T3, hi);
        k.a.li32(T4, mask);
        k.a.li32(T5, lo0);
        k.a.li32(T6, lo1);
        if random_index {
            k.a.emit(mtc0(T3, reg::ENTRYHI, 0));
            k.a.emit(mtc0(T4, reg::PAGEMASK, 0));
            k.a.emit(mtc0(T5, reg::ENTRYLO0, 0));
            k.a.emit(mtc0(T6, reg::ENTRYLO1, 0));
            k.a.emit(ehb());
            k.a.emit(tlbwr());
        } else {
            k.tlb_write(i % 32, T3, T4, T5, T6);
        }
    }
    // Read every entry back.
    for i in 0..32 {
        k.a.li(T3, i);
        k.a.emit(mtc0(T3, reg::INDEX, 0));
        k.a.emit(ehb());
        k.a.emit(tlbr());
        k.a.emit(ehb());
        for r in [reg::ENTRYHI, reg::PAGEMASK, reg::ENTRYLO0, reg::ENTRYLO1] {
            k.a.emit(mfc0(T3, r, 0));
            k.print_reg(T3, b' ');
        }
        k.print("\n");
    }
    // Probe.
    for _ in 0..16 {
        let hi = hot[rng.below(6) as usize] | rng.below(2) | (rng.next_u32() & 0x1000);
        k.a.li32(T3, hi);
        k.a.emit(mtc0(T3, reg::ENTRYHI, 0));
        k.a.emit(ehb());
        k.a.emit(tlbp());
        k.a.emit(ehb());
        k.a.emit(mfc0(T3, reg::INDEX, 0));
        k.print_reg(T3, b'\n');
    }
    // Access, under ASID 0 or 1.
    for _ in 0..64 {
        let va = match rng.below(3) {
            0 => rng.next_u32() & !3,
            _ => hot[rng.below(6) as usize].wrapping_add(rng.next_u32() & 0x3fffc) & !3,
        };
        let back = k.a.new_label();
        // Switching ASIDs between accesses is left to the `tlbwr` variant:
        // with overlapping entries a global entry and another ASID's entry
        // may both match, which the architecture leaves undefined (the
        // machine takes the lowest index; the monitor may serve a real
        // copy of the global one).
        let asid = rng.below(2);
        let asid = if random_index { asid } else { seed as u32 & 1 };
        k.a.li(T3, asid);
        k.a.emit(mtc0(T3, reg::ENTRYHI, 0));
        k.a.emit(ehb());
        k.a.li32(T3, va);
        k.a.li32(V0, SENTINEL);
        if rng.below(4) == 0 {
            // A fetch: jump there, and come back whatever it runs.
            k.set_resume(back);
            k.set_quiet(true);
            k.a.emit(jalr(RA, T3));
            k.a.nop();
            k.a.bind(back);
            k.set_quiet(false);
        } else {
            k.a.emit(lw(V0, 0, T3));
            k.a.emit(sw(T3, 0, T3));
        }
        k.print_reg(V0, b'\n');
    }
    k.finish()
}

#[test]
fn garbage_in_the_guests_own_tlb_is_contained_as_natively() {
    for seed in 0..seeds(20) {
        let nat = contained(&tlb_garbage(seed, false), 50_000_000);
        assert!(
            nat.console.ends_with("done\n") || nat.stop != Stop::Exited(0),
            "seed {seed}"
        );
        let img = tlb_garbage(seed, true);
        let companion = companion();
        let alone = under_monitor(&[&companion], config(), 50_000_000).outcomes;
        let a = under_monitor(&[&img, &companion], config(), 50_000_000);
        let b = under_monitor(&[&img, &companion], config(), 50_000_000);
        assert_eq!(
            a.outcomes[1], alone[0],
            "seed {seed}: the companion was disturbed"
        );
        assert_eq!(
            fingerprint(&a),
            fingerprint(&b),
            "seed {seed}: two runs differ"
        );
    }
}

// ----- (8) UHI write with wild buffers -----

#[test]
fn uhi_write_with_huge_or_wild_buffers_fails_or_is_cut_as_natively() {
    let mut k = Kit::new();
    let msg = k.a.new_label();
    let over = k.a.new_label();
    k.a.b(over);
    k.a.nop();
    k.a.bind(msg);
    k.a.bytes(b"uhi says hi\n");
    k.a.bind(over);
    let msg_addr = k.addr(msg);
    // (op, fd, buffer, length)
    let calls: [(u32, u32, u32, u32); 19] = [
        (5, 1, msg_addr, 12),
        (5, 2, msg_addr, 12),
        (5, 1, msg_addr, 0),
        (5, 1, msg_addr, 0xffff_ffff),
        (5, 1, 0x8000_0000 + RAM, 16),
        (5, 1, 0x8000_0000 + RAM - 0x800, 0x1000),
        (5, 1, 0xa000_0000 + RAM - 8, 8),
        (5, 1, 0xffff_fff0, 0x20),
        (5, 1, 0xbfc0_0000, 64),
        (5, 1, 0xbfd0_03f8, 8),
        (5, 1, 0xbfd0_0000, 16),
        (5, 1, 0xbfd0_03f0, 16),
        (5, 1, 0x0000_1000, 8),
        (5, 1, 0x7fff_fff8, 0x10),
        (5, 1, 0x9fff_fff0, 0x20),
        (5, 7, msg_addr, 4),
        (5, 0xffff_ffff, 0xdead_beef, 0xffff_ffff),
        (99, 1, msg_addr, 4),
        (0, 0, 0, 0),
    ];
    for (op, fd, buf, len) in calls {
        k.a.li32(T9, op);
        k.a.li32(A0, fd);
        k.a.li32(A1, buf);
        k.a.li32(A2, len);
        k.a.li32(V0, SENTINEL);
        k.a.li32(V1, SENTINEL);
        k.a.emit(sdbbp(1));
        k.a.emit(mov(S0, V0));
        k.a.emit(mov(S1, V1));
        k.print("\nuhi ");
        k.print_reg(S0, b' ');
        k.print_reg(S1, b'\n');
    }
    let img = k.finish();
    let nat = contained(&img, 50_000_000);
    assert_eq!(nat.stop, Stop::Exited(0));
    assert!(
        nat.console
            .contains("uhi says hi\n\nuhi 0000000c 00000000\n")
    );
    assert_eq!(nat.stderr, "uhi says hi\n");
    assert!(
        nat.console.contains("\nuhi 00001000 00000000\n"),
        "a huge write is cut"
    );
    assert!(nat.console.contains("\nuhi ffffffff 0000000e\n"), "EFAULT");
    assert!(nat.console.contains("\nuhi ffffffff 00000009\n"), "EBADF");
    assert!(nat.console.contains("\nuhi ffffffff 00000058\n"), "ENOSYS");
}

// ----- determinism of the demo kernel -----

#[test]
fn the_demo_kernel_runs_identically_twice_under_the_monitor() {
    let img = parse(demo_os::UNMODIFIED_IMAGE);
    let config = MonitorConfig {
        trace_exits: true,
        ..MonitorConfig::default()
    };
    let run = || {
        let vms = [VmConfig::default(); 2];
        let mut m = Monitor::new(config, &vms).expect("valid VMs");
        m.load(VmId(0), &img).expect("fits");
        m.load(VmId(1), &img).expect("fits");
        let mut console = [Vec::new(), Vec::new()];
        let mut trace = Vec::new();
        for _ in 0..10_000 {
            let exit = m.run(50_000_000);
            for (i, c) in console.iter_mut().enumerate() {
                c.extend(m.take_console(VmId(i)));
            }
            trace.extend(m.take_trace());
            if exit == MonitorExit::AllStopped {
                break;
            }
        }
        let stats: Vec<_> = (0..2).map(|i| m.stats(VmId(i))).collect();
        let stops: Vec<_> = (0..2).map(|i| m.stop_reason(VmId(i)).cloned()).collect();
        (console, stats, stops, trace, m.ticks())
    };
    let a = run();
    let b = run();
    for i in 0..2 {
        assert_eq!(a.2[i], Some(VmStop::Exited(0)), "{}", text(a.0[i].clone()));
        assert!(text(a.0[i].clone()).contains(demo_os::EXPECTED_RESULTS));
    }
    assert!(!a.3.is_empty(), "exits were traced");
    assert_eq!(a.0, b.0, "consoles differ");
    assert_eq!(a.1, b.1, "stats differ");
    assert_eq!(a.2, b.2);
    assert_eq!(a.4, b.4, "clocks differ");
    assert_eq!(a.3.len(), b.3.len(), "traces differ in length");
    assert!(a.3 == b.3, "traces differ");
}

// ----- stuck guests -----

#[test]
fn a_guest_whose_vectors_fault_forever_is_stopped_with_a_diagnostic() {
    // EBase past RAM: every exception faults fetching its own vector.
    let mut k = Kit::new();
    k.a.li32(T3, 0x8010_0000);
    k.a.emit(mtc0(T3, reg::PRID, 1));
    k.a.emit(ehb());
    k.a.emit(syscall(0));
    let img = k.finish();
    let nat = contained(&img, 5_000_000);
    let run = under_monitor(&[&img, &companion()], config(), 5_000_000);
    let Stop::Crashed(why) = &run.outcomes[0].stop else {
        panic!("{:?}", run.outcomes[0].stop)
    };
    assert!(
        why.starts_with(
            "no exception handler at 0x80100180: the guest raised System Call (Sys) at PC"
        ),
        "{why}"
    );
    assert_eq!(
        nat.stop, run.outcomes[0].stop,
        "natively: the same diagnosis"
    );
}

#[test]
fn wait_with_the_timer_frozen_never_wakes() {
    // Cause.DC stops Count, IM7 is on: nothing can wake `wait`. The
    // machine and the monitor both report it stalled.
    let mut k = Kit::new();
    k.a.li32(T3, 1 << 27);
    k.a.emit(mtc0(T3, reg::CAUSE, 0));
    k.a.li32(T3, 0x8000);
    k.a.emit(mtc0(T3, reg::STATUS, 0));
    k.a.emit(ehb());
    k.a.emit(wait(0));
    let img = k.finish();
    assert_eq!(native(&img, 5_000_000).stop, Stop::Stalled);
    let run = under_monitor(&[&img, &companion()], config(), 5_000_000);
    assert_eq!(run.outcomes[0].stop, Stop::Stalled);
    assert_eq!(run.outcomes[1].stop, Stop::Exited(0));
    assert_eq!(run.outcomes[1].console, COMPANION_TEXT);
}

#[test]
fn user_mode_with_cu0_runs_cp0_instructions_as_natively() {
    let mut k = Kit::new();
    k.map_user_window();
    let (user, back) = (k.a.new_label(), k.a.new_label());
    // CU0, KSU = user, EXL.
    k.a.li32(T8, 0x1000_0000 | 0x10 | 0x2);
    k.a.emit(mtc0(T8, reg::STATUS, 0));
    k.a.la(T8, user);
    k.a.li32(T9, 0x7fff_ffff);
    k.a.emit(and(T8, T8, T9));
    k.a.emit(mtc0(T8, reg::EPC, 0));
    k.a.emit(ehb());
    k.a.emit(eret());
    k.a.bind(user);
    k.a.emit(mfc0(S0, reg::STATUS, 0));
    k.a.li32(T3, 0x1234_e000);
    k.a.emit(mtc0(T3, reg::ENTRYHI, 0));
    k.a.emit(ehb());
    k.a.emit(tlbp());
    k.a.emit(ehb());
    k.a.emit(mfc0(S1, reg::INDEX, 0));
    k.a.emit(mfc0(S2, reg::ENTRYHI, 0));
    k.a.emit(di(S3));
    k.a.emit(mfc0(S4, reg::STATUS, 0));
    k.a.emit(cache(0x14, 0, ZERO));
    k.leave_user(back);
    k.a.bind(back);
    for r in [S0, S1, S2, S3, S4] {
        k.print_reg(r, b' ');
    }
    k.print("\n");
    let img = k.finish();
    let nat = contained(&img, 50_000_000);
    assert_eq!(nat.stop, Stop::Exited(0));
    assert!(
        nat.console
            .contains("10000010 80000000 1234e000 10000010 10000010 \n"),
        "{}",
        nat.console
    );
}
