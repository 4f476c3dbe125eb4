//! Small guest programs built with the assembler, shared by the
//! end-to-end tests: console output through the `mipssim` UART, exit
//! through UHI semihosting, and a program that never stops.

use crate::elf_writer::ElfBuilder;
use hv_host::machine::asm::{self, A0, A1, A2, Asm, AsmError, T0, T1, T2, T9, ZERO};

/// Default load and entry address of the test programs (kseg0, physical
/// 0x1000).
pub const ORIGIN: u32 = 0x8000_1000;
/// The UART's transmit holding register, through kseg1 (uncached).
pub const UART_THR: u32 = 0xbfd0_03f8;
/// Offset of the line status register from [`UART_THR`].
pub const UART_LSR: i16 = 5;
/// LSR bit 5: the transmit holding register is empty.
pub const LSR_THRE: u16 = 1 << 5;
/// UHI operation number of `exit` (in `t9`).
pub const UHI_EXIT: u32 = 1;
/// UHI operation number of `write` (in `t9`).
pub const UHI_WRITE: u32 = 5;

/// An assembled program: its words at `origin` and its named labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestProgram {
    /// Load and entry address.
    pub origin: u32,
    /// The code (and any inline data).
    pub words: Vec<u32>,
    /// Named labels, as `(name, address)`.
    pub symbols: Vec<(String, u32)>,
}

impl GuestProgram {
    /// Assembles `a`, entered at its origin.
    pub fn assemble(a: Asm) -> Result<Self, AsmError> {
        let origin = a.origin();
        let symbols = a.symbols();
        Ok(Self {
            origin,
            words: a.finish()?,
            symbols,
        })
    }

    /// The program as an ELF executable: one executable segment, with the
    /// named labels as function symbols.
    pub fn elf(&self) -> Vec<u8> {
        let mut b = ElfBuilder::new(self.origin).code(self.origin, &self.words);
        for (name, addr) in &self.symbols {
            b = b.symbol(name, *addr, 0, true);
        }
        b.build()
    }
}

/// Emits code that writes the NUL-terminated string at `text` to the UART,
/// polling LSR.THRE before each byte. Clobbers `a1`, `t0`..`t2`.
pub fn emit_uart_puts(a: &mut Asm, text: asm::Label) {
    let next = a.new_label();
    let busy = a.new_label();
    let done = a.new_label();
    a.la(A1, text);
    a.li32(T0, UART_THR);
    a.bind(next);
    a.emit(asm::lbu(T1, 0, A1));
    a.beq(T1, ZERO, done);
    a.nop();
    a.bind(busy);
    a.emit(asm::lbu(T2, UART_LSR, T0));
    a.emit(asm::andi(T2, T2, LSR_THRE));
    a.beq(T2, ZERO, busy);
    a.nop();
    a.emit(asm::sb(T1, 0, T0));
    a.b(next);
    a.emit(asm::addiu(A1, A1, 1)); // delay slot: next byte
    a.bind(done);
}

/// Emits a UHI `exit` with `code` (`t9` = 1, `a0` = code, `sdbbp 1`),
/// followed by a spin in case the call returns.
pub fn emit_uhi_exit(a: &mut Asm, code: i32) {
    a.li(T9, UHI_EXIT);
    a.li(A0, code as u32);
    a.emit(asm::sdbbp(1));
    let spin = a.here();
    a.b(spin);
    a.nop();
}

/// Emits a UHI `write` of `len` bytes at `buf` to file descriptor `fd`
/// (`t9` = 5, `a0` = fd, `a1` = buffer, `a2` = length, `sdbbp 1`).
pub fn emit_uhi_write(a: &mut Asm, fd: u32, buf: asm::Label, len: u32) {
    a.li(T9, UHI_WRITE);
    a.li(A0, fd);
    a.la(A1, buf);
    a.li(A2, len);
    a.emit(asm::sdbbp(1));
}

fn text_bytes(a: &mut Asm, text: &str) {
    let mut bytes = text.as_bytes().to_vec();
    bytes.push(0);
    a.bytes(&bytes);
}

/// A program that writes `out` to fd 1 and `err` to fd 2 through UHI, then
/// exits with 0.
pub fn uhi_writes(out: &str, err: &str) -> GuestProgram {
    let mut a = Asm::new(ORIGIN);
    let start = a.named_label("_start");
    let (out_label, err_label) = (a.new_label(), a.new_label());
    a.bind(start);
    emit_uhi_write(&mut a, 1, out_label, out.len() as u32);
    emit_uhi_write(&mut a, 2, err_label, err.len() as u32);
    emit_uhi_exit(&mut a, 0);
    a.bind(out_label);
    text_bytes(&mut a, out);
    a.bind(err_label);
    text_bytes(&mut a, err);
    GuestProgram::assemble(a).expect("the UHI write program assembles")
}

/// A program that prints `text` on the UART, then spins forever.
pub fn print_then_spin(text: &str) -> GuestProgram {
    let mut a = Asm::new(ORIGIN);
    let start = a.named_label("_start");
    let msg = a.named_label("message");
    a.bind(start);
    emit_uart_puts(&mut a, msg);
    let spin = a.here();
    a.b(spin);
    a.nop();
    a.bind(msg);
    text_bytes(&mut a, text);
    GuestProgram::assemble(a).expect("the print-then-spin program assembles")
}

/// A program that prints `text` on the UART, then exits with `code`.
pub fn hello(text: &str, code: i32) -> GuestProgram {
    let mut a = Asm::new(ORIGIN);
    let start = a.named_label("_start");
    let msg = a.named_label("message");
    a.bind(start);
    emit_uart_puts(&mut a, msg);
    emit_uhi_exit(&mut a, code);
    a.bind(msg);
    text_bytes(&mut a, text);
    GuestProgram::assemble(a).expect("the hello program assembles")
}

/// A program that counts in a register forever.
pub fn spin_forever() -> GuestProgram {
    let mut a = Asm::new(ORIGIN);
    let start = a.named_label("_start");
    a.bind(start);
    let top = a.here();
    a.emit(asm::addiu(T0, T0, 1));
    a.b(top);
    a.nop();
    GuestProgram::assemble(a).expect("the spin program assembles")
}

/// A program that waits for an interrupt with every interrupt masked, so
/// nothing can ever wake it.
pub fn wait_forever() -> GuestProgram {
    let mut a = Asm::new(ORIGIN);
    let start = a.named_label("_start");
    a.bind(start);
    a.emit(asm::mtc0(ZERO, 12, 0)); // Status = 0: all interrupts masked
    a.emit(asm::ehb());
    a.emit(asm::wait(0));
    let spin = a.here();
    a.b(spin);
    a.nop();
    GuestProgram::assemble(a).expect("the wait program assembles")
}

#[cfg(test)]
mod tests {
    use super::*;
    use hv_host::machine::elf::ElfImage;
    use hv_host::machine::{Exit, Machine, MachineConfig};

    fn boot(p: &GuestProgram) -> Machine {
        let img = ElfImage::parse(&p.elf()).unwrap();
        let mut m = Machine::new(MachineConfig::default()).unwrap();
        m.load_elf(&img).unwrap();
        m
    }

    #[test]
    fn hello_prints_and_exits() {
        let p = hello("hi there\n", 7);
        let mut m = boot(&p);
        assert_eq!(m.run(100_000), Exit::Shutdown { code: 7 });
        assert_eq!(m.take_stdout(), b"hi there\n");
    }

    #[test]
    fn negative_exit_codes_pass_through() {
        let mut m = boot(&hello("", -1));
        assert_eq!(m.run(100_000), Exit::Shutdown { code: -1 });
        assert!(m.take_stdout().is_empty());
    }

    #[test]
    fn uhi_writes_reach_both_streams() {
        let mut m = boot(&uhi_writes("out\n", "err\n"));
        assert_eq!(m.run(100_000), Exit::Shutdown { code: 0 });
        assert_eq!(m.take_stdout(), b"out\n");
        assert_eq!(m.take_stderr(), b"err\n");
    }

    #[test]
    fn print_then_spin_prints_then_runs_on() {
        let mut m = boot(&print_then_spin("x"));
        assert_eq!(m.run(10_000), Exit::BudgetExhausted);
        assert_eq!(m.take_stdout(), b"x");
    }

    #[test]
    fn spin_uses_the_whole_budget() {
        let mut m = boot(&spin_forever());
        assert_eq!(m.run(1000), Exit::BudgetExhausted);
        assert_eq!(m.instructions(), 1000);
    }

    #[test]
    fn wait_with_interrupts_masked_stalls() {
        let mut m = boot(&wait_forever());
        assert_eq!(m.run(1000), Exit::Stalled);
    }

    #[test]
    fn symbols_reach_the_elf() {
        let p = hello("x", 0);
        let img = ElfImage::parse(&p.elf()).unwrap();
        assert_eq!(img.symbol("_start").map(|a| a.raw()), Some(ORIGIN));
        assert!(img.symbol("message").is_some());
    }
}
