//! The kernel runtime every test kernel shares: the image layout (boot
//! jump, print routines, exception vectors at [`EBASE`], then the kernel's
//! own code), a recording exception handler, and the [`Kernel`] builder
//! that emits checks which print a value and count a failure when it is not
//! the architectural one.
//!
//! # Layout
//! | address        | contents                                             |
//! |----------------|------------------------------------------------------|
//! | `0x8000_0800`  | the data area ([`data`]): exception record, counters |
//! | `0x8000_1000`  | `_start`: jumps to `main`; then the print routines   |
//! | `0x8000_2000`  | [`EBASE`]: refill vector (+0x000), general (+0x180), interrupt (+0x200) |
//! | `0x8000_2280`  | `main`: boot code, then the kernel's tests           |
//!
//! # Exceptions
//! Each vector stores its offset in [`data::VEC`] and branches to a common
//! handler that records EPC, Cause, BadVAddr, Status, Context and EntryHi,
//! counts the exception, then either jumps to [`data::HOOK`] (if non-zero,
//! with `k0` = `0x8000_0000`) or returns to [`data::RESUME`], which it
//! clears (one shot). An exception with neither set prints its record and
//! exits with code 2.
//!
//! # Registers
//! The print routines clobber `a0..a3`, `at`, `v0`, `v1`, `t8`, `t9` and
//! `ra`; the handler clobbers `k0`, `k1`; the exception-record checks
//! clobber `t6`, `t7`. Kernels keep their values in `t0..t5` and `s0..s7`.

use crate::programs::{GuestProgram, ORIGIN, UHI_EXIT, UHI_WRITE};
use hv_host::machine::asm::{
    self, A0, A1, A2, A3, AT, Asm, K0, K1, Label, RA, S0, T0, T1, T6, T7, T8, T9, V0, V1, ZERO,
};
use hv_host::machine::insn::Reg;

/// Where the kernels put their exception vectors (Status.BEV is cleared
/// at boot).
pub const EBASE: u32 = 0x8000_2000;

/// CP0 register numbers and selects, as `(rd, sel)`.
pub mod c0 {
    /// Index.
    pub const INDEX: (u8, u8) = (0, 0);
    /// Random.
    pub const RANDOM: (u8, u8) = (1, 0);
    /// EntryLo0.
    pub const ENTRYLO0: (u8, u8) = (2, 0);
    /// EntryLo1.
    pub const ENTRYLO1: (u8, u8) = (3, 0);
    /// Context.
    pub const CONTEXT: (u8, u8) = (4, 0);
    /// UserLocal.
    pub const USERLOCAL: (u8, u8) = (4, 2);
    /// PageMask.
    pub const PAGEMASK: (u8, u8) = (5, 0);
    /// Wired.
    pub const WIRED: (u8, u8) = (6, 0);
    /// HWREna.
    pub const HWRENA: (u8, u8) = (7, 0);
    /// BadVAddr.
    pub const BADVADDR: (u8, u8) = (8, 0);
    /// Count.
    pub const COUNT: (u8, u8) = (9, 0);
    /// EntryHi.
    pub const ENTRYHI: (u8, u8) = (10, 0);
    /// Compare.
    pub const COMPARE: (u8, u8) = (11, 0);
    /// Status.
    pub const STATUS: (u8, u8) = (12, 0);
    /// IntCtl.
    pub const INTCTL: (u8, u8) = (12, 1);
    /// Cause.
    pub const CAUSE: (u8, u8) = (13, 0);
    /// EPC.
    pub const EPC: (u8, u8) = (14, 0);
    /// PRId.
    pub const PRID: (u8, u8) = (15, 0);
    /// EBase.
    pub const EBASE: (u8, u8) = (15, 1);
    /// Config (Config0).
    pub const CONFIG0: (u8, u8) = (16, 0);
    /// Config1.
    pub const CONFIG1: (u8, u8) = (16, 1);
    /// Config2.
    pub const CONFIG2: (u8, u8) = (16, 2);
    /// Config3.
    pub const CONFIG3: (u8, u8) = (16, 3);
    /// LLAddr.
    pub const LLADDR: (u8, u8) = (17, 0);
    /// ErrorEPC.
    pub const ERROREPC: (u8, u8) = (30, 0);
}

/// Status bits the kernels use.
pub mod st {
    /// Coprocessor 0 usable outside kernel mode.
    pub const CU0: u32 = 1 << 28;
    /// Coprocessor 1 usable.
    pub const CU1: u32 = 1 << 29;
    /// Boot exception vectors.
    pub const BEV: u32 = 1 << 22;
    /// Interrupt mask bit `n`.
    pub const fn im(n: u32) -> u32 {
        1 << (8 + n)
    }
    /// User mode in KSU.
    pub const UM: u32 = 2 << 3;
    /// Supervisor mode in KSU.
    pub const SM: u32 = 1 << 3;
    /// Error level.
    pub const ERL: u32 = 1 << 2;
    /// Exception level.
    pub const EXL: u32 = 1 << 1;
    /// Interrupt enable.
    pub const IE: u32 = 1;
}

/// Cause bits the kernels use.
pub mod ca {
    /// Branch delay.
    pub const BD: u32 = 1 << 31;
    /// Timer interrupt pending.
    pub const TI: u32 = 1 << 30;
    /// Disable Count.
    pub const DC: u32 = 1 << 27;
    /// Special interrupt vector.
    pub const IV: u32 = 1 << 23;
    /// Interrupt pending bit `n`.
    pub const fn ip(n: u32) -> u32 {
        1 << (8 + n)
    }
}

/// The data area the runtime and the kernels share, as offsets from
/// `0x8000_0000` (so that `lw rt, OFF(k0)` with `k0 = 0x8000_0000`
/// reaches it). It lies below the image, in RAM that boots zeroed and is
/// cleared again by the boot code.
pub mod data {
    /// Number of exceptions taken since it was last cleared.
    pub const COUNT: i16 = 0x800;
    /// Vector offset of the last exception (0x000, 0x180 or 0x200).
    pub const VEC: i16 = 0x804;
    /// EPC recorded at the last exception.
    pub const EPC: i16 = 0x808;
    /// Cause recorded at the last exception.
    pub const CAUSE: i16 = 0x80c;
    /// BadVAddr recorded at the last exception.
    pub const BADV: i16 = 0x810;
    /// Status recorded at the last exception.
    pub const STATUS: i16 = 0x814;
    /// Context recorded at the last exception.
    pub const CONTEXT: i16 = 0x818;
    /// EntryHi recorded at the last exception.
    pub const ENTRYHI: i16 = 0x81c;
    /// One-shot resume address (cleared by the handler when used).
    pub const RESUME: i16 = 0x820;
    /// Hook address: when non-zero the handler jumps there instead.
    pub const HOOK: i16 = 0x824;
    /// Failed checks.
    pub const FAILS: i16 = 0x828;
    /// Saved registers of the UHI character output.
    pub const SAVE: i16 = 0x830;
    /// The byte buffer of the UHI character output.
    pub const CHAR: i16 = 0x850;
    /// Free for the kernels: 0x860..0xa00.
    pub const SCRATCH: i16 = 0x860;
    /// End of the area the boot code clears.
    pub const END: i16 = 0xa00;
}

/// How a kernel's print routines reach the console.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Console {
    /// The `mipssim` 16550 UART, polling LSR.THRE before each byte.
    Uart,
    /// UHI semihosting `write` to fd 1, one byte per call.
    Uhi,
}

/// What an exception record should hold (see [`Kernel::check_exception`]).
#[derive(Clone, Copy, Debug)]
pub struct Expect {
    /// Vector offset: 0x000 (refill), 0x180 or 0x200.
    pub vec: u32,
    /// Cause.ExcCode.
    pub code: u32,
    /// Cause.BD.
    pub bd: bool,
    /// Cause.CE (coprocessor of a Coprocessor Unusable), checked when set.
    pub ce: Option<u32>,
    /// The label EPC must equal, or a fixed EPC value.
    pub epc: Epc,
    /// BadVAddr, checked when set.
    pub badv: Option<u32>,
}

/// The expected EPC of an exception record.
#[derive(Clone, Copy, Debug)]
pub enum Epc {
    /// The address of a label.
    At(Label),
    /// A fixed value.
    Value(u32),
}

impl Expect {
    /// A general exception (vector 0x180) with `code` raised by the
    /// instruction at `epc`, not in a delay slot.
    pub fn general(code: u32, epc: Label) -> Self {
        Self {
            vec: 0x180,
            code,
            bd: false,
            ce: None,
            epc: Epc::At(epc),
            badv: None,
        }
    }

    /// The same, with BadVAddr.
    pub fn badv(mut self, va: u32) -> Self {
        self.badv = Some(va);
        self
    }

    /// The same, in a delay slot (EPC names the branch).
    pub fn in_slot(mut self) -> Self {
        self.bd = true;
        self
    }

    /// The same, with Cause.CE.
    pub fn ce(mut self, ce: u32) -> Self {
        self.ce = Some(ce);
        self
    }

    /// The same, at vector offset `vec`.
    pub fn vec(mut self, vec: u32) -> Self {
        self.vec = vec;
        self
    }
}

/// Exception codes (Cause.ExcCode).
pub mod exc {
    /// Interrupt.
    pub const INT: u32 = 0;
    /// TLB modification.
    pub const MOD: u32 = 1;
    /// TLB exception on a load or fetch.
    pub const TLBL: u32 = 2;
    /// TLB exception on a store.
    pub const TLBS: u32 = 3;
    /// Address error on a load or fetch.
    pub const ADEL: u32 = 4;
    /// Address error on a store.
    pub const ADES: u32 = 5;
    /// System call.
    pub const SYS: u32 = 8;
    /// Breakpoint.
    pub const BP: u32 = 9;
    /// Reserved instruction.
    pub const RI: u32 = 10;
    /// Coprocessor unusable.
    pub const CPU: u32 = 11;
    /// Arithmetic overflow.
    pub const OV: u32 = 12;
    /// Trap.
    pub const TR: u32 = 13;
}

/// A test kernel under construction: the assembler plus the runtime's
/// labels and the kernel's strings.
pub struct Kernel {
    /// The assembler; kernels emit their own code through it.
    pub a: Asm,
    strings: Vec<(Label, String)>,
    putc: Label,
    puts: Label,
    puthex: Label,
    check: Label,
    yesno: Label,
}

fn mfc0(rt: Reg, r: (u8, u8)) -> u32 {
    asm::mfc0(rt, r.0, r.1)
}

fn mtc0(rt: Reg, r: (u8, u8)) -> u32 {
    asm::mtc0(rt, r.0, r.1)
}

impl Kernel {
    /// Starts a kernel called `name`: emits the runtime and the boot code,
    /// which clears BEV and ERL (kernel mode, interrupts off), sets EBase,
    /// clears Cause and the data area, and prints `kernel <name>`.
    pub fn new(name: &str, console: Console) -> Self {
        let mut a = Asm::new(ORIGIN);
        let start = a.named_label("_start");
        let main = a.named_label("main");
        let (putc, puts, puthex, check, yesno) = (
            a.named_label("rt_putc"),
            a.named_label("rt_puts"),
            a.named_label("rt_puthex"),
            a.named_label("rt_check"),
            a.named_label("rt_yesno"),
        );
        a.bind(start);
        a.j(main);
        a.nop();
        let mut k = Self {
            a,
            strings: Vec::new(),
            putc,
            puts,
            puthex,
            check,
            yesno,
        };
        k.emit_putc(console);
        k.emit_print_routines();
        let common = k.emit_common_handler();
        k.pad_to(EBASE);
        for (name, off) in [
            ("vec_refill", 0x000),
            ("vec_general", 0x180),
            ("vec_int", 0x200),
        ] {
            k.pad_to(EBASE + off);
            let l = k.a.named_label(name);
            k.a.bind(l);
            k.a.emit(asm::lui(K0, 0x8000));
            k.a.emit(asm::ori(K1, ZERO, off as u16));
            k.a.j(common);
            k.a.emit(asm::sw(K1, data::VEC, K0));
        }
        k.pad_to(EBASE + 0x280);
        k.a.bind(main);
        k.emit_boot(name);
        k
    }

    /// Pads with `nop`s up to `addr`, which must not be behind.
    pub fn pad_to(&mut self, addr: u32) {
        assert!(self.a.pc() <= addr, "runtime overflows {addr:#x}");
        while self.a.pc() < addr {
            self.a.nop();
        }
    }

    /// `rt_putc`: writes the byte in `a0`.
    fn emit_putc(&mut self, console: Console) {
        let a = &mut self.a;
        a.bind(self.putc);
        match console {
            Console::Uart => {
                a.emit(asm::lui(T8, 0xbfd0));
                let busy = a.here();
                a.emit(asm::lbu(T9, 0x3fd, T8));
                a.emit(asm::andi(T9, T9, 0x20));
                a.beq(T9, ZERO, busy);
                a.nop();
                a.emit(asm::jr(RA));
                a.emit(asm::sb(A0, 0x3f8, T8));
            }
            Console::Uhi => {
                a.emit(asm::lui(T8, 0x8000));
                let saved = [A0, A1, A2, A3, V0, V1];
                for (i, r) in saved.iter().enumerate() {
                    a.emit(asm::sw(*r, data::SAVE + 4 * i as i16, T8));
                }
                a.emit(asm::sb(A0, data::CHAR, T8));
                a.li(T9, UHI_WRITE);
                a.li(A0, 1);
                a.emit(asm::addiu(A1, T8, data::CHAR));
                a.li(A2, 1);
                a.emit(asm::sdbbp(1));
                a.emit(asm::lui(T8, 0x8000));
                for (i, r) in saved.iter().enumerate() {
                    a.emit(asm::lw(*r, data::SAVE + 4 * i as i16, T8));
                }
                a.emit(asm::jr(RA));
                a.nop();
            }
        }
    }

    /// `rt_puts` (string at `a0`), `rt_puthex` (`a1`), `rt_check` (label
    /// `a0`, value `a1`, expected `a2`) and `rt_yesno` (label `a0`, truth
    /// `a1`, expected truth `a2`).
    fn emit_print_routines(&mut self) {
        let fail_text = self.string(" FAIL(want ");
        let fail_yn = self.string(" FAIL");
        let yes = self.string("yes");
        let no = self.string("no");
        let (putc, puts, puthex) = (self.putc, self.puts, self.puthex);
        let a = &mut self.a;

        // rt_puts
        a.bind(puts);
        a.emit(asm::mov(V0, RA));
        a.emit(asm::mov(A3, A0));
        let top = a.here();
        let done = a.new_label();
        a.emit(asm::lbu(A0, 0, A3));
        a.beq(A0, ZERO, done);
        a.nop();
        a.jal(putc);
        a.emit(asm::addiu(A3, A3, 1));
        a.b(top);
        a.nop();
        a.bind(done);
        a.emit(asm::jr(V0));
        a.nop();

        // rt_puthex
        a.bind(puthex);
        a.emit(asm::mov(V0, RA));
        a.emit(asm::mov(AT, A1));
        a.li(A3, 8);
        let top = a.here();
        let digit = a.new_label();
        a.emit(asm::srl(A0, AT, 28));
        a.emit(asm::sltiu(T8, A0, 10));
        a.bne(T8, ZERO, digit);
        a.emit(asm::addiu(A0, A0, b'0' as i16));
        a.emit(asm::addiu(A0, A0, (b'a' - b'0' - 10) as i16));
        a.bind(digit);
        a.jal(putc);
        a.emit(asm::sll(AT, AT, 4));
        a.emit(asm::addiu(A3, A3, -1));
        a.bne(A3, ZERO, top);
        a.nop();
        a.emit(asm::jr(V0));
        a.nop();

        // rt_check
        a.bind(self.check);
        let ok = a.new_label();
        a.emit(asm::mov(V1, RA));
        a.jal(puts);
        a.nop();
        a.jal(puthex);
        a.nop();
        a.beq(A1, A2, ok);
        a.nop();
        a.la(A0, fail_text);
        a.jal(puts);
        a.nop();
        a.emit(asm::mov(A1, A2));
        a.jal(puthex);
        a.nop();
        a.li(A0, u32::from(b')'));
        a.jal(putc);
        a.nop();
        emit_count_failure(a);
        a.bind(ok);
        a.emit(asm::jr(V1));
        a.nop();

        // rt_yesno
        a.bind(self.yesno);
        let (say_no, said, ok) = (a.new_label(), a.new_label(), a.new_label());
        a.emit(asm::mov(V1, RA));
        a.emit(asm::sltu(A1, ZERO, A1));
        a.emit(asm::sltu(A2, ZERO, A2));
        a.jal(puts);
        a.nop();
        a.beq(A1, ZERO, say_no);
        a.nop();
        a.la(A0, yes);
        a.b(said);
        a.nop();
        a.bind(say_no);
        a.la(A0, no);
        a.bind(said);
        a.jal(puts);
        a.nop();
        a.beq(A1, A2, ok);
        a.nop();
        a.la(A0, fail_yn);
        a.jal(puts);
        a.nop();
        emit_count_failure(a);
        a.bind(ok);
        a.emit(asm::jr(V1));
        a.nop();
    }

    /// The handler all three vectors branch to (see the module doc).
    fn emit_common_handler(&mut self) -> Label {
        let unexpected = self.string("\nunexpected exception: vec/epc/cause/badvaddr/status");
        let common = self.a.named_label("exc_common");
        let (hook, halt) = (self.a.new_label(), self.a.new_label());
        let a = &mut self.a;
        a.bind(common);
        for (r, off) in [
            (c0::EPC, data::EPC),
            (c0::CAUSE, data::CAUSE),
            (c0::BADVADDR, data::BADV),
            (c0::STATUS, data::STATUS),
            (c0::CONTEXT, data::CONTEXT),
            (c0::ENTRYHI, data::ENTRYHI),
        ] {
            a.emit(mfc0(K1, r));
            a.emit(asm::sw(K1, off, K0));
        }
        a.emit(asm::lw(K1, data::COUNT, K0));
        a.emit(asm::addiu(K1, K1, 1));
        a.emit(asm::sw(K1, data::COUNT, K0));
        a.emit(asm::lw(K1, data::HOOK, K0));
        a.bne(K1, ZERO, hook);
        a.nop();
        a.emit(asm::lw(K1, data::RESUME, K0));
        a.beq(K1, ZERO, halt);
        a.nop();
        a.emit(asm::sw(ZERO, data::RESUME, K0));
        a.emit(mtc0(K1, c0::EPC));
        a.emit(asm::ehb());
        a.emit(asm::eret());
        a.bind(hook);
        a.emit(asm::jr(K1));
        a.nop();
        a.bind(halt);
        a.la(A0, unexpected);
        a.jal(self.puts);
        a.nop();
        for off in [data::VEC, data::EPC, data::CAUSE, data::BADV, data::STATUS] {
            a.li(A0, u32::from(b' '));
            a.jal(self.putc);
            a.nop();
            a.emit(asm::lui(K0, 0x8000));
            a.emit(asm::lw(A1, off, K0));
            a.jal(self.puthex);
            a.nop();
        }
        a.li(A0, u32::from(b'\n'));
        a.jal(self.putc);
        a.nop();
        a.li(T9, UHI_EXIT);
        a.li(A0, 2);
        a.emit(asm::sdbbp(1));
        let spin = a.here();
        a.b(spin);
        a.nop();
        common
    }

    fn emit_boot(&mut self, name: &str) {
        let a = &mut self.a;
        a.emit(mtc0(ZERO, c0::STATUS));
        a.li(T0, EBASE);
        a.emit(mtc0(T0, c0::EBASE));
        a.emit(mtc0(ZERO, c0::CAUSE));
        a.emit(asm::ehb());
        a.emit(asm::lui(K0, 0x8000));
        a.emit(asm::addiu(T0, K0, data::COUNT));
        a.emit(asm::addiu(T1, K0, data::END));
        let clear = a.here();
        a.emit(asm::sw(ZERO, 0, T0));
        a.emit(asm::addiu(T0, T0, 4));
        a.bne(T0, T1, clear);
        a.nop();
        self.line(&format!("kernel {name}"));
    }

    /// A NUL-terminated string placed after the code.
    pub fn string(&mut self, text: &str) -> Label {
        let l = self.a.new_label();
        self.strings.push((l, text.to_owned()));
        l
    }

    /// Prints `text`.
    pub fn say(&mut self, text: &str) {
        let s = self.string(text);
        self.a.la(A0, s);
        self.a.jal(self.puts);
        self.a.nop();
    }

    /// Prints `text` and a newline.
    pub fn line(&mut self, text: &str) {
        self.say(&format!("{text}\n"));
    }

    /// Ends the current output line.
    pub fn nl(&mut self) {
        self.a.li(A0, u32::from(b'\n'));
        self.a.jal(self.putc);
        self.a.nop();
    }

    /// Prints ` name=<reg>` and counts a failure unless it equals `want`.
    pub fn check(&mut self, name: &str, reg: Reg, want: u32) {
        let s = self.string(&format!(" {name}="));
        self.a.emit(asm::mov(A1, reg));
        self.a.li(A2, want);
        self.a.la(A0, s);
        self.a.jal(self.check);
        self.a.nop();
    }

    /// Prints ` name=<reg>` without judging it: for values the
    /// architecture leaves UNPREDICTABLE, which a monitor must still
    /// reproduce.
    pub fn show(&mut self, name: &str, reg: Reg) {
        let s = self.string(&format!(" {name}="));
        self.a.emit(asm::mov(A1, reg));
        self.a.emit(asm::mov(A2, A1));
        self.a.la(A0, s);
        self.a.jal(self.check);
        self.a.nop();
    }

    /// Prints ` name=<reg>` and counts a failure unless it equals the
    /// address of `want`.
    pub fn check_label(&mut self, name: &str, reg: Reg, want: Label) {
        let s = self.string(&format!(" {name}="));
        self.a.emit(asm::mov(A1, reg));
        self.a.la(A2, want);
        self.a.la(A0, s);
        self.a.jal(self.check);
        self.a.nop();
    }

    /// Prints ` name=<reg & mask>` and checks it against `want`.
    pub fn check_masked(&mut self, name: &str, reg: Reg, mask: u32, want: u32) {
        self.a.li(AT, mask);
        self.a.emit(asm::and(A1, AT, reg));
        let s = self.string(&format!(" {name}="));
        self.a.li(A2, want);
        self.a.la(A0, s);
        self.a.jal(self.check);
        self.a.nop();
    }

    /// Prints ` name: yes` when `reg` is non-zero (`no` otherwise) and
    /// counts a failure unless that is `want`.
    pub fn yes(&mut self, name: &str, reg: Reg, want: bool) {
        let s = self.string(&format!(" {name}: "));
        self.a.emit(asm::mov(A1, reg));
        self.a.li(A2, u32::from(want));
        self.a.la(A0, s);
        self.a.jal(self.yesno);
        self.a.nop();
    }

    /// Emits `mfc0 rt, <register>`.
    pub fn mfc0(&mut self, rt: Reg, r: (u8, u8)) {
        self.a.emit(mfc0(rt, r));
    }

    /// Emits `mtc0 rt, <register>` followed by `ehb`.
    pub fn mtc0(&mut self, rt: Reg, r: (u8, u8)) {
        self.a.emit(mtc0(rt, r));
        self.a.emit(asm::ehb());
    }

    /// Writes the constant `v` to a CP0 register (through `t9`), then `ehb`.
    pub fn set_c0(&mut self, r: (u8, u8), v: u32) {
        self.a.li(T9, v);
        self.mtc0(T9, r);
    }

    /// Loads the data-area word at `off` into `rt` (clobbers `k0`).
    pub fn load_data(&mut self, rt: Reg, off: i16) {
        self.a.emit(asm::lui(K0, 0x8000));
        self.a.emit(asm::lw(rt, off, K0));
    }

    /// Stores `rt` to the data-area word at `off` (clobbers `k0`).
    pub fn store_data(&mut self, rt: Reg, off: i16) {
        self.a.emit(asm::lui(K0, 0x8000));
        self.a.emit(asm::sw(rt, off, K0));
    }

    /// Arms the handler to return to `resume` after the next exception
    /// and clears the exception count (clobbers `k0`, `k1`).
    pub fn arm(&mut self, resume: Label) {
        self.a.emit(asm::lui(K0, 0x8000));
        self.a.la(K1, resume);
        self.a.emit(asm::sw(K1, data::RESUME, K0));
        self.a.emit(asm::sw(ZERO, data::COUNT, K0));
    }

    /// Installs `hook` as the handler's continuation (see the module doc).
    pub fn set_hook(&mut self, hook: Option<Label>) {
        self.a.emit(asm::lui(K0, 0x8000));
        match hook {
            Some(h) => {
                self.a.la(K1, h);
                self.a.emit(asm::sw(K1, data::HOOK, K0));
            }
            None => {
                self.a.emit(asm::sw(ZERO, data::HOOK, K0));
            }
        }
        self.a.emit(asm::sw(ZERO, data::COUNT, K0));
    }

    /// Removes the hook, keeping the exception count (clobbers `k0`).
    pub fn clear_hook(&mut self) {
        self.a.emit(asm::lui(K0, 0x8000));
        self.a.emit(asm::sw(ZERO, data::HOOK, K0));
    }

    /// Prints `title:`, runs `body` with the handler armed to resume after
    /// it, then checks the exception record against `want` and ends the
    /// line. `body` gets the label of its own first instruction.
    pub fn expect_exception(
        &mut self,
        title: &str,
        body: impl FnOnce(&mut Kernel, Label) -> Expect,
    ) {
        self.say(&format!("{title}:"));
        let resume = self.a.new_label();
        self.arm(resume);
        let first = self.a.here();
        let want = body(self, first);
        self.a.bind(resume);
        self.check_exception(want);
        self.nl();
    }

    /// Checks the recorded exception: exactly one taken, its vector,
    /// ExcCode, BD (and CE), EPC and BadVAddr. Clobbers `t6`, `t7` (and
    /// what the print routines clobber).
    pub fn check_exception(&mut self, want: Expect) {
        self.load_data(T7, data::COUNT);
        self.check("taken", T7, 1);
        self.load_data(T7, data::VEC);
        self.check("vec", T7, want.vec);
        self.load_data(T7, data::CAUSE);
        self.a.emit(asm::ext(T6, T7, 2, 5));
        self.check("exc", T6, want.code);
        self.a.emit(asm::srl(T6, T7, 31));
        self.check("bd", T6, u32::from(want.bd));
        if let Some(ce) = want.ce {
            self.a.emit(asm::ext(T6, T7, 28, 2));
            self.check("ce", T6, ce);
        }
        self.load_data(T7, data::EPC);
        match want.epc {
            Epc::At(l) => self.check_label("epc", T7, l),
            Epc::Value(v) => self.check("epc", T7, v),
        }
        if let Some(v) = want.badv {
            self.load_data(T7, data::BADV);
            self.check("badvaddr", T7, v);
        }
    }

    /// Emits the verdict (`failures=N`, then `verdict: ok` and UHI exit 0,
    /// or `verdict: FAILED` and exit 1) and assembles the kernel.
    pub fn finish(mut self) -> GuestProgram {
        let failed = self.a.new_label();
        self.load_data(S0, data::FAILS);
        self.say("summary:");
        self.check("failures", S0, 0);
        self.nl();
        self.a.bne(S0, ZERO, failed);
        self.a.nop();
        self.line("verdict: ok");
        crate::programs::emit_uhi_exit(&mut self.a, 0);
        self.a.bind(failed);
        self.line("verdict: FAILED");
        crate::programs::emit_uhi_exit(&mut self.a, 1);
        for (l, text) in std::mem::take(&mut self.strings) {
            self.a.bind(l);
            let mut bytes = text.into_bytes();
            bytes.push(0);
            self.a.bytes(&bytes);
        }
        GuestProgram::assemble(self.a).expect("a test kernel assembles")
    }
}

/// Increments the failure counter (clobbers `t8`, `t9`).
fn emit_count_failure(a: &mut Asm) {
    a.emit(asm::lui(T8, 0x8000));
    a.emit(asm::lw(T9, data::FAILS, T8));
    a.emit(asm::addiu(T9, T9, 1));
    a.emit(asm::sw(T9, data::FAILS, T8));
}
