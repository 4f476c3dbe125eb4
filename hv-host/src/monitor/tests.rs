//! Unit tests of the monitor on small hand-assembled kernels; the
//! end-to-end transparency and isolation tests are in `tests/`.

use super::*;
use crate::machine::asm::*;
use crate::machine::cp0::reg;
use crate::machine::elf::ElfImage;

const ORIGIN: u32 = 0x8000_1000;

fn image(build: impl FnOnce(&mut Asm)) -> ElfImage {
    let mut a = Asm::new(ORIGIN);
    build(&mut a);
    let words = a.finish().unwrap();
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    ElfImage {
        entry: crate::addr::GuestVirtAddr::new(ORIGIN),
        segments: vec![crate::machine::elf::Segment {
            vaddr: crate::addr::GuestVirtAddr::new(ORIGIN),
            paddr: crate::addr::MachineAddr::new(ORIGIN & 0x1fff_ffff),
            mem_size: bytes.len() as u32,
            data: bytes,
            executable: true,
        }],
        symbols: Vec::new(),
    }
}

fn monitor(img: &ElfImage, n: usize) -> Monitor {
    let cfg = VmConfig {
        ram_bytes: 1 << 20,
        ..VmConfig::default()
    };
    let mut m = Monitor::new(MonitorConfig::default(), &vec![cfg; n]).unwrap();
    for i in 0..n {
        m.load(VmId(i), img).unwrap();
    }
    m
}

fn exit(a: &mut Asm, code: u32) {
    a.li(A0, code);
    a.li(T9, 1);
    a.emit(sdbbp(1));
}

#[test]
fn privileged_reads_and_semihosting_exit() {
    let img = image(|a| {
        a.emit(mfc0(T0, reg::PRID, 0));
        a.emit(mfc0(T1, reg::STATUS, 0));
        a.emit(srl(T1, T1, 2));
        a.emit(andi(T1, T1, 1));
        a.emit(addu(A0, T0, T1));
        a.li(T9, 1);
        a.emit(sdbbp(1));
    });
    let mut m = monitor(&img, 1);
    assert_eq!(m.run(1_000_000), MonitorExit::AllStopped);
    assert_eq!(
        m.stop_reason(VmId(0)),
        Some(&VmStop::Exited(crate::machine::cp0::PRID as i32 + 1))
    );
    let s = m.stats(VmId(0)).unwrap();
    assert_eq!(s.exit_count(ExitReason::CopUnusable), 2);
    assert_eq!(s.exit_count(ExitReason::Semihost), 1);
    assert!(
        s.unmapped_fills >= 1,
        "kseg0 code was mapped by the monitor"
    );
}

/// A UHI `write` of `len` bytes at `buf`; the result lands in `v0`.
fn uhi_write(a: &mut Asm, buf: u32, len: u32) {
    a.li(T9, 5);
    a.li(A0, 1);
    a.li(A1, buf);
    a.li(A2, len);
    a.emit(sdbbp(1));
}

#[test]
fn uhi_write_reads_the_rom_around_the_uart_but_not_its_registers() {
    // As natively: the boot ROM part of the UART's page reads zero; a
    // buffer reaching the UART's registers is EFAULT (v0 = -1).
    let img = image(|a| {
        uhi_write(a, 0xbfd0_0000, 16);
        a.emit(mov(S0, V0));
        uhi_write(a, 0xbfd0_03f0, 16);
        a.emit(addu(A0, S0, V0));
        a.li(T9, 1);
        a.emit(sdbbp(1));
    });
    let mut m = monitor(&img, 1);
    assert_eq!(m.run(1_000_000), MonitorExit::AllStopped);
    assert_eq!(m.stop_reason(VmId(0)), Some(&VmStop::Exited(15)));
    assert_eq!(m.take_console(VmId(0)), vec![0; 16]);
}

#[test]
fn two_vms_have_private_memory() {
    // Each VM stores its own value, spins a while, then checks it.
    let img = image(|a| {
        let spin = a.new_label();
        a.li(T0, 0x8008_0000);
        a.emit(mfc0(T1, reg::COUNT, 0));
        a.emit(sw(T1, 0, T0));
        a.li(T2, 300_000);
        a.bind(spin);
        a.emit(addiu(T2, T2, -1));
        a.bne(T2, ZERO, spin);
        a.emit(nop());
        a.emit(lw(T3, 0, T0));
        a.emit(subu(A0, T3, T1));
        a.li(T9, 1);
        a.emit(sdbbp(1));
    });
    let mut m = monitor(&img, 2);
    assert_eq!(m.run(10_000_000), MonitorExit::AllStopped);
    for i in 0..2 {
        assert_eq!(m.stop_reason(VmId(i)), Some(&VmStop::Exited(0)));
        assert!(m.stats(VmId(i)).unwrap().machine_switches > 0);
    }
    let _ = exit;
}
