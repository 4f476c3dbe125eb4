//! Unit tests of the machine as a whole: programs assembled with
//! [`super::asm`], run from kseg0, checked through registers, CP0 and
//! console output. Per-instruction and per-exception suites live in
//! `tests/` of this module's siblings and in the workspace `tests` crate.

use super::asm::*;
use super::*;

/// Where test programs are loaded: kseg0 0x8000_1000 (physical 0x1000).
pub(crate) const ORIGIN: u32 = 0x8000_1000;

/// A 1 MiB machine with `words` loaded at [`ORIGIN`] and booted there.
pub(crate) fn machine_with(words: &[u32]) -> Machine {
    let mut m = Machine::new(MachineConfig { ram_bytes: 1 << 20 }).expect("valid size");
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    m.write_phys(MachineAddr::new(ORIGIN & 0x1fff_ffff), &bytes)
        .expect("fits");
    m.boot(GuestVirtAddr::new(ORIGIN));
    m
}

/// Appends a UHI exit with the code in `a0`.
pub(crate) fn exit_with_a0(a: &mut Asm) {
    a.li(T9, 1);
    a.emit(sdbbp(1));
    a.nop();
}

#[test]
fn sum_loop_and_semihosting_exit() {
    let mut a = Asm::new(ORIGIN);
    a.li(T0, 100).li(A0, 0);
    let top = a.here();
    a.emit(addu(A0, A0, T0));
    a.emit(addiu(T0, T0, -1));
    a.bgtz(T0, top);
    a.nop();
    exit_with_a0(&mut a);
    let mut m = machine_with(&a.finish().expect("assembles"));
    let exit = m.run(10_000);
    assert_eq!(exit, Exit::Shutdown { code: 5050 });
    assert_eq!(m.gpr(4), 5050);
    // li (2) + li (1) + 100 * 4 + li + sdbbp.
    assert!(
        m.instructions() > 400 && m.instructions() < 420,
        "{}",
        m.instructions()
    );
}

#[test]
fn budget_exhausted_then_resumed() {
    let mut a = Asm::new(ORIGIN);
    let top = a.here();
    a.b(top);
    a.nop();
    let mut m = machine_with(&a.finish().expect("assembles"));
    assert_eq!(m.run(1000), Exit::BudgetExhausted);
    assert_eq!(m.instructions(), 1000);
    assert_eq!(m.run(500), Exit::BudgetExhausted);
    assert_eq!(m.instructions(), 1500);
}

#[test]
fn uart_output_is_captured_in_order() {
    let mut a = Asm::new(ORIGIN);
    a.li(T0, 0xbfd0_03f8);
    for b in b"hi\n" {
        a.li(T1, u32::from(*b));
        a.emit(sb(T1, 0, T0));
    }
    a.li(A0, 0);
    exit_with_a0(&mut a);
    let mut m = machine_with(&a.finish().expect("assembles"));
    assert_eq!(m.run(1000), Exit::Shutdown { code: 0 });
    assert_eq!(m.take_stdout(), b"hi\n");
}
