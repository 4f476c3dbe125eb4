//! Sub-word and partial-word accesses to devices behave the same natively,
//! under the monitor and on QEMU: `swl`/`swr` store the bytes they cover,
//! one by one (QEMU's `helper_swl`/`helper_swr`), `lwl`/`lwr` read the
//! aligned word (`hv_host::machine::partial`). The reproducers
//! (`tests/repro/mmio_swl_swr/`, with QEMU's output) and a kernel that
//! makes every such access at every byte offset of the UART.

use hv_host::machine::asm::{self, T0, T1, T3, T4};
use hv_tests::kernels::rt::{Console, Kernel};
use hv_tests::kernels::{run_full, run_native};

const RAM: u32 = 64 << 20;
const TICKS: u64 = 50_000_000;

fn repro(name: &str) -> (Vec<u8>, Vec<u8>) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/repro/mmio_swl_swr/");
    let elf =
        std::fs::read(format!("{dir}{name}.elf")).expect("the reproducer is in the repository");
    let qemu = std::fs::read(format!("{dir}{name}.qemu.out")).expect("QEMU's output is beside it");
    (elf, qemu)
}

#[test]
fn reproducers_print_what_qemu_prints() {
    for name in ["swl_0", "swl_1", "swr_1"] {
        let (elf, qemu) = repro(name);
        let (native, code) = run_native(&elf, RAM, TICKS);
        assert_eq!(code, Some(0), "{name} natively");
        assert_eq!(
            String::from_utf8_lossy(&native),
            String::from_utf8_lossy(&qemu),
            "{name} natively"
        );
        let (full, code) = run_full(&elf, RAM, TICKS);
        assert_eq!(code, Some(0), "{name} under the monitor");
        assert_eq!(
            String::from_utf8_lossy(&full),
            String::from_utf8_lossy(&qemu),
            "{name} under the monitor"
        );
    }
}

/// The UART through kseg1: THR at +0, MCR at +4, SCR (scratch) at +7.
const UART: u32 = 0xbfd0_03f8;

/// A kernel (console: UHI, so that what it does to the UART's registers
/// cannot disturb its own output) that, at each byte offset `k`:
/// `swl`/`swr` 0x44434241 into the word of THR (what reaches THR is
/// printed by the UART itself), `swl`/`swr` 0x64636261 into the word of
/// MCR..SCR and reads SCR back, and `lwl`/`lwr` the word of THR into a
/// register holding 0x11223344.
fn partial_word_kernel() -> Vec<u8> {
    let mut k = Kernel::new("partial", Console::Uhi);
    k.a.li(T3, UART);
    for off in 0..4i16 {
        for (name, left) in [("swl", true), ("swr", false)] {
            k.say(&format!("{name}+{off} THR<"));
            k.a.li(T0, 0x4443_4241);
            k.a.emit(if left {
                asm::swl(T0, off, T3)
            } else {
                asm::swr(T0, off, T3)
            });
            k.say(">");
            // SCR: '.' first, then the partial store into MCR..SCR.
            k.a.li(T1, u32::from(b'.'));
            k.a.emit(asm::sb(T1, 7, T3));
            k.a.li(T0, 0x6463_6261);
            k.a.emit(if left {
                asm::swl(T0, 4 + off, T3)
            } else {
                asm::swr(T0, 4 + off, T3)
            });
            k.a.emit(asm::lbu(T4, 7, T3));
            // What QEMU's byte stores leave in SCR (offset 3 of the word).
            let scr = match (left, off) {
                (true, 3) => u32::from(b'd'),
                (true, _) => u32::from(b'.'),
                (false, k) => u32::from(b'd' - k as u8),
            };
            k.check("scr", T4, scr);
            k.a.li(T1, 0x1122_3344);
            k.a.emit(if left {
                asm::lwl(T1, off, T3)
            } else {
                asm::lwr(T1, off, T3)
            });
            // RBR reads 0 (nothing received): the merge alone is seen.
            let want = if left {
                0x1122_3344 & u32::MAX.checked_shr(8 * (off as u32 + 1)).unwrap_or(0)
            } else {
                0x1122_3344 & !(u32::MAX >> (8 * off as u32))
            };
            k.check(if left { "lwl" } else { "lwr" }, T1, want);
            k.nl();
        }
    }
    let elf = k.finish().elf();
    if let Ok(path) = std::env::var("HV_DEVICE_ACCESS_ELF") {
        // For cross-checking the kernel on QEMU by hand.
        let _ = std::fs::write(path, &elf);
    }
    elf
}

#[test]
fn partial_words_reach_the_uart_as_qemu_does_natively_and_under_the_monitor() {
    let elf = partial_word_kernel();
    let (native, code) = run_native(&elf, RAM, TICKS);
    let native = String::from_utf8_lossy(&native).into_owned();
    assert_eq!(code, Some(0), "every check passes natively:\n{native}");
    // What reaches THR: swl at k sends byte 3-k of rt ('D'..'A'); swr only
    // at offset 0 ('A').
    for (line, thr) in [
        ("swl+0 THR<D>", true),
        ("swl+1 THR<C>", true),
        ("swl+2 THR<B>", true),
        ("swl+3 THR<A>", true),
        ("swr+0 THR<A>", true),
        ("swr+1 THR<>", true),
        ("swr+2 THR<>", true),
        ("swr+3 THR<>", true),
    ] {
        assert_eq!(native.contains(line), thr, "{line} in:\n{native}");
    }
    let (full, code) = run_full(&elf, RAM, TICKS);
    assert_eq!(code, Some(0), "every check passes under the monitor");
    assert_eq!(String::from_utf8_lossy(&full), native);
}
