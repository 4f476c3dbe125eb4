//! The Malta board as the CPU sees it: its Config registers, and an ISA
//! timer interrupt travelling PIT -> PIC -> Cause.IP2 to wake `wait`,
//! acknowledged through the GT-64120.

use super::*;
use crate::machine::board::BoardKind;
use crate::machine::board::malta::TICK_HZ;

/// ISA port 0 in kseg1.
const ISA: u32 = 0xb800_0000;
/// The GT-64120's PCI0 interrupt-acknowledge register in kseg1.
const GT_IACK: u32 = 0xbbe0_0c34;

fn malta(main: Asm) -> Machine {
    let mut m = Machine::with_board(MachineConfig { ram_bytes: 1 << 20 }, BoardKind::Malta)
        .expect("a 1 MiB Malta");
    let entry = main.origin();
    place(&mut m, main);
    m.boot(GuestVirtAddr::new(entry));
    m
}

fn outb(a: &mut Asm, port: u32, v: u32) {
    a.li(T0, ISA + port);
    a.li(T1, v);
    a.emit(sb(T1, 0, T0));
}

#[test]
fn malta_reports_a_24kc_without_fpu() {
    let mut a = Asm::new(ORIGIN);
    a.emit(mfc0(S0, reg::CONFIG, 1));
    a.emit(mfc0(S1, reg::CONFIG, 3));
    exit_ok(&mut a);
    let mut m = malta(a);
    assert_eq!(m.run(1000), Exit::Shutdown { code: 0 });
    let c1 = m.gpr(S0.num());
    assert_eq!(c1, cp0::config::CONFIG1_24KC);
    assert_eq!(c1 & 1, 0, "no FPU");
    assert_eq!((c1 >> 25) & 0x3f, 31, "32 TLB entries");
    assert_eq!(2u32 << ((c1 >> 19) & 7), 16, "16-byte I-cache lines");
    assert_eq!(m.gpr(S1.num()), 0);
    let mipssim = Machine::new(MachineConfig::default()).unwrap();
    assert_eq!(mipssim.read_cp0(reg::CONFIG, 1), cp0::config::CONFIG1);
    assert_eq!(mipssim.read_cp0(reg::CONFIG, 3), cp0::config::CONFIG3);
}

#[test]
fn pit_interrupt_wakes_wait_through_the_pic() {
    let mut a = Asm::new(ORIGIN);
    // Linux's i8259 setup, IRQ 0 only unmasked.
    for (port, v) in [(0x20, 0x11), (0x21, 0), (0x21, 4), (0x21, 1), (0x21, 0xfe)] {
        outb(&mut a, port, v);
    }
    // PIT channel 0, mode 2, 11932 clocks (10 ms).
    outb(&mut a, 0x43, 0x34);
    outb(&mut a, 0x40, 11932 & 0xff);
    outb(&mut a, 0x40, 11932 >> 8);
    // IM2 only, interrupts disabled: `wait` still ends when IP2 rises.
    a.li(T0, 1 << 10);
    a.emit(mtc0(T0, reg::STATUS, 0));
    a.emit(wait(0));
    a.emit(mfc0(S1, reg::CAUSE, 0));
    a.li(T0, GT_IACK);
    a.emit(lw(S0, 0, T0));
    exit_ok(&mut a);
    let mut m = malta(a);
    assert_eq!(m.run(TICK_HZ), Exit::Shutdown { code: 0 });
    assert_eq!(m.gpr(S0.num()), 0, "the vector of IRQ 0");
    assert_ne!(m.gpr(S1.num()) & (1 << 10), 0, "Cause.IP2");
    assert!(m.instructions() < 100, "woken by the timer, not by running");
    let ten_ms = TICK_HZ / 100;
    assert!(
        m.ticks() >= ten_ms && m.ticks() < ten_ms + 1000,
        "{}",
        m.ticks()
    );
}

#[test]
fn unclaimed_isa_ports_read_all_ones_and_holes_are_bus_errors() {
    let mut a = Asm::new(ORIGIN);
    a.li(T0, ISA + 0x60);
    a.emit(lbu(S0, 0, T0));
    a.li(T0, 0xbfc0_0010);
    a.emit(lw(S1, 0, T0));
    exit_ok(&mut a);
    let mut m = malta(a);
    assert_eq!(m.run(1000), Exit::Shutdown { code: 0 });
    assert_eq!(m.gpr(S0.num()), 0xff);
    assert_eq!(m.gpr(S1.num()), 0x420, "the board revision word");

    let mut a = Asm::new(ORIGIN);
    a.li(T0, 0xbc00_0000);
    a.emit(lw(S0, 0, T0));
    exit_ok(&mut a);
    let mut m = malta(a);
    m.run(1000);
    assert_eq!(m.cp0().cause & cause::EXC_CODE, (ExcCode::Dbe as u32) << 2);
}
