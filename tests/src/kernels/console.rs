//! The console two ways: a kernel that drives the `mipssim` 16550 UART
//! by polling (and checks its line status and scratch registers), and one
//! whose every byte goes out through UHI semihosting `write` (and checks
//! the byte count the call returns).

use super::rt::{Console, Kernel, data};
use crate::programs::{GuestProgram, UART_THR, UHI_WRITE};
use hv_host::machine::asm::{self, A0, A1, A2, T0, T1, T9, V0};

/// The UART kernel.
pub fn uart_kernel() -> GuestProgram {
    let mut k = Kernel::new("console_uart", Console::Uart);
    k.a.li(T1, UART_THR);
    k.say("uart:");
    k.a.emit(asm::lbu(T0, 5, T1));
    k.check_masked("lsr.thre+temt", T0, 0x60, 0x60);
    k.a.li(T0, 0xa5);
    k.a.emit(asm::sb(T0, 7, T1));
    k.a.emit(asm::lbu(T0, 7, T1));
    k.check("scr", T0, 0xa5);
    k.a.li(T0, 0x03);
    k.a.emit(asm::sb(T0, 3, T1));
    k.a.emit(asm::lbu(T0, 3, T1));
    k.check("lcr", T0, 0x03);
    k.nl();
    k.line("the quick brown fox jumps over the lazy dog");
    k.line("0123456789 !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~");
    k.finish()
}

/// The UHI kernel.
pub fn uhi_kernel() -> GuestProgram {
    let mut k = Kernel::new("console_uhi", Console::Uhi);
    k.line("every byte of this kernel goes through UHI write");
    let text = "a 27-byte UHI write buffer\n";
    let buf = k.string(text);
    k.a.li(T9, UHI_WRITE);
    k.a.li(A0, 1);
    k.a.la(A1, buf);
    k.a.li(A2, text.len() as u32);
    k.a.emit(asm::sdbbp(1));
    k.a.emit(asm::mov(T0, V0));
    k.say("uhi write:");
    k.check("v0", T0, text.len() as u32);
    k.nl();
    k.load_data(T0, data::COUNT);
    k.say("exceptions:");
    k.check("taken", T0, 0);
    k.nl();
    k.finish()
}
