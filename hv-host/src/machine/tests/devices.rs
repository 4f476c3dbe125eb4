//! The devices as the guest sees them: the UART's registers and its
//! transmitter-empty interrupt on IP4, and UHI semihosting (`write` to
//! stdout/stderr with its errors and partial writes, `exit` codes), and the
//! bound on pending output (`Exit::OutputPending`).

use super::*;
use status::IE;

/// The UART's registers in kseg1.
const UART: u32 = 0xbfd0_03f8;

#[test]
fn uart_registers() {
    let mut m = run_kernel(|a| {
        a.li(T0, UART);
        a.emit(lbu(S0, 5, T0)); // LSR
        a.emit(lbu(S1, 2, T0)); // IIR, no interrupt enabled
        a.li(T1, 0x5a);
        a.emit(sb(T1, 7, T0)); // SCR
        a.emit(lbu(S2, 7, T0));
        // Divisor latch: a write to offset 0 is DLL, not a transmission.
        a.li(T1, 0x80);
        a.emit(sb(T1, 3, T0));
        a.li(T1, 12);
        a.emit(sb(T1, 0, T0));
        a.emit(lbu(S3, 0, T0));
        a.li(T1, 3);
        a.emit(sb(T1, 3, T0));
        a.emit(lbu(S4, 3, T0)); // LCR
        // A word store transmits its low byte.
        a.li(T1, 0x4142_4344);
        a.emit(sw(T1, 0, T0));
        a.li(T1, u32::from(b'\n'));
        a.emit(sb(T1, 0, T0));
    });
    let g = |r: Reg| m.gpr(r.num());
    assert_eq!(g(S0), 0x60, "LSR: THR empty, transmitter empty");
    assert_eq!(g(S1) & 0x0f, 0x01, "IIR: no interrupt pending");
    assert_eq!(g(S2), 0x5a, "scratch register");
    assert_eq!(g(S3), 12, "DLL");
    assert_eq!(g(S4), 3, "LCR");
    assert_eq!(m.take_stdout(), b"D\n");
}

#[test]
fn uart_interrupt_reaches_the_handler_on_ip4() {
    let mut a = Asm::new(ORIGIN);
    normal_vectors(&mut a);
    a.li(T0, IE | IM4);
    a.emit(mtc0(T0, reg::STATUS, 0));
    a.li(T0, UART).li(T1, 2);
    let at = a.pc();
    a.emit(sb(T1, 1, T0)); // IER: transmitter-empty interrupt
    a.emit(addiu(S0, ZERO, 1));
    // The handler reads Cause, acknowledges through IIR, reads Cause again.
    let mut h = Asm::new(Vector::General.addr());
    h.emit(mfc0(S6, reg::CAUSE, 0));
    h.li(K0, UART);
    h.emit(lbu(S5, 2, K0));
    h.emit(mfc0(S4, reg::CAUSE, 0));
    stop_code(&mut h, Vector::General.tag());
    let mut m = boot(a, [h]);
    assert_eq!(m.run(1000), Vector::General.exit(ExcCode::Int));
    assert_eq!(m.read_cp0(reg::EPC, 0), at + 4);
    assert_eq!(m.gpr(S0.num()), 0);
    assert_ne!(m.gpr(S6.num()) & IP4, 0, "Cause.IP4 while pending");
    assert_eq!(m.gpr(S6.num()) & (IP7 | IP0 | IP1), 0);
    assert_eq!(m.gpr(S5.num()) & 0x0f, 0x02, "IIR: THR empty");
    assert_eq!(m.gpr(S4.num()) & IP4, 0, "acknowledged by reading IIR");
}

#[test]
fn uart_interrupt_after_each_transmission() {
    // The handler acknowledges and returns; each byte sent raises THRE
    // again. With IM4 clear, the line shows in Cause but is not taken.
    let mut h = Asm::new(Vector::General.addr());
    h.li(K0, UART);
    h.emit(lbu(K0, 2, K0));
    h.emit(addiu(S3, S3, 1));
    h.emit(eret());
    let mut a = Asm::new(ORIGIN);
    normal_vectors(&mut a);
    a.li(T0, IE | IM4);
    a.emit(mtc0(T0, reg::STATUS, 0));
    a.li(T0, UART).li(T1, 2);
    a.emit(sb(T1, 1, T0));
    for b in *b"ok" {
        a.li(T1, u32::from(b));
        a.emit(sb(T1, 0, T0));
    }
    a.li(T1, IE);
    a.emit(mtc0(T1, reg::STATUS, 0));
    a.li(T1, u32::from(b'!'));
    a.emit(sb(T1, 0, T0));
    a.emit(mfc0(S4, reg::CAUSE, 0));
    exit_ok(&mut a);
    let mut m = boot(a, [h]);
    assert_eq!(m.run(1000), Exit::Shutdown { code: 0 });
    assert_eq!(m.gpr(S3.num()), 3, "enable + two bytes");
    assert_ne!(m.gpr(S4.num()) & IP4, 0, "pending but masked");
    assert_eq!(m.take_stdout(), b"ok!");
}

/// Emits a UHI write of `len` bytes at `buf` to `fd`; `v0`/`v1` are copied
/// to `r0`/`r1`.
fn uhi_write(a: &mut Asm, fd: u32, buf: u32, len: u32, r0: Reg, r1: Reg) {
    a.li(A0, fd).li(A1, buf).li(A2, len).li(T9, 5);
    a.li(V0, 0x1234).li(V1, 0x1234);
    a.emit(sdbbp(1));
    a.emit(mov(r0, V0)).emit(mov(r1, V1));
}

#[test]
fn semihosting_write() {
    let text = ORIGIN + 0x800;
    let mut a = Asm::new(ORIGIN);
    uhi_write(&mut a, 1, text, 5, S0, S1);
    uhi_write(&mut a, 2, text + 6, 4, S2, S3);
    uhi_write(&mut a, 1, text, 0, S4, S5);
    uhi_write(&mut a, 1, 0xa800_0000, 4, S6, S7); // physical 0x0800_0000: no RAM
    uhi_write(&mut a, 3, text, 4, T4, T5); // bad fd
    a.li(T9, 99);
    a.emit(sdbbp(1)); // unknown operation
    a.emit(mov(T6, V0)).emit(mov(T7, V1));
    exit_ok(&mut a);
    let mut data = Asm::new(text);
    data.bytes(b"hello oops");
    let mut m = boot(a, [data]);
    assert_eq!(m.run(1000), Exit::Shutdown { code: 0 });
    let g = |r: Reg| m.gpr(r.num());
    assert_eq!((g(S0), g(S1)), (5, 0), "fd 1");
    assert_eq!((g(S2), g(S3)), (4, 0), "fd 2");
    assert_eq!((g(S4), g(S5)), (0, 0), "empty write");
    assert_eq!((g(S6), g(S7)), (u32::MAX, 14), "bad buffer: EFAULT");
    assert_eq!((g(T4), g(T5)), (u32::MAX, 9), "bad fd: EBADF");
    assert_eq!((g(T6), g(T7)), (u32::MAX, 88), "unknown: ENOSYS");
    assert_eq!(m.take_stdout(), b"hello");
    assert_eq!(m.take_stderr(), b"oops");
    assert!(m.take_stdout().is_empty(), "drained");
}

#[test]
fn semihosting_write_crosses_pages_and_interleaves_with_the_uart() {
    let mut a = Asm::new(ORIGIN);
    a.li(T0, UART).li(T1, u32::from(b'<'));
    a.emit(sb(T1, 0, T0));
    uhi_write(&mut a, 1, 0x8000_8ffe, 4, S0, S1);
    a.li(T0, UART).li(T1, u32::from(b'>'));
    a.emit(sb(T1, 0, T0));
    exit_ok(&mut a);
    let mut m = boot(a, []);
    m.write_phys(MachineAddr::new(0x8ffe), b"abcd")
        .expect("RAM");
    assert_eq!(m.run(1000), Exit::Shutdown { code: 0 });
    assert_eq!(m.gpr(S0.num()), 4);
    assert_eq!(m.take_stdout(), b"<abcd>");
}

#[test]
fn semihosting_exit_codes() {
    for code in [0, 1, 255, -1, -42, i32::MIN, i32::MAX] {
        let mut a = Asm::new(ORIGIN);
        a.li(A0, code as u32);
        exit_with_a0(&mut a);
        let mut m = boot(a, []);
        assert_eq!(m.run(1000), Exit::Shutdown { code });
    }
}

#[test]
fn uhi_write_longer_than_write_max_is_partial() {
    use crate::machine::semihost::WRITE_MAX;
    let text = ORIGIN + 0x1000;
    let total = 3 * WRITE_MAX + 100;
    let mut a = Asm::new(ORIGIN);
    uhi_write(&mut a, 1, text, total, S0, S1);
    // The POSIX idiom: write the rest until nothing is left.
    a.li(S2, text + WRITE_MAX)
        .li(S3, total - WRITE_MAX)
        .li(S4, 1);
    let again = a.here();
    a.emit(mov(A1, S2)).emit(mov(A2, S3)).li(A0, 1).li(T9, 5);
    a.emit(sdbbp(1));
    a.emit(addu(S2, S2, V0));
    a.emit(subu(S3, S3, V0));
    a.emit(addiu(S4, S4, 1));
    a.bne(S3, ZERO, again).nop();
    exit_ok(&mut a);
    let pattern: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
    let mut data = Asm::new(text);
    data.bytes(&pattern);
    let mut m = boot(a, [data]);
    assert_eq!(m.run(1000), Exit::Shutdown { code: 0 });
    assert_eq!((m.gpr(S0.num()), m.gpr(S1.num())), (WRITE_MAX, 0));
    assert_eq!(m.gpr(S4.num()), 4, "four calls in all");
    assert_eq!(m.take_stdout(), pattern, "every byte, in order");
}

/// Runs `m` for `ticks`, draining after every return as a runner does;
/// checks the pending output each time and returns the bytes drained
/// from stdout and how many runs ended with `OutputPending`.
fn run_draining(m: &mut Machine, ticks: u64) -> (u64, u32) {
    use crate::machine::console::MAX_PENDING_OUTPUT;
    let (mut drained, mut early) = (0u64, 0);
    while m.ticks() < ticks {
        let exit = m.run(ticks - m.ticks());
        assert!(
            m.pending_output() <= MAX_PENDING_OUTPUT,
            "{} bytes pending after {exit:?}",
            m.pending_output()
        );
        drained += m.take_stdout().len() as u64;
        assert!(m.take_stderr().is_empty());
        match exit {
            Exit::OutputPending => early += 1,
            Exit::BudgetExhausted => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    (drained, early)
}

#[test]
fn a_guest_writing_64_mib_in_a_loop_cannot_grow_the_pending_output() {
    // write(1, 0x8000_0000, 64 MiB) over and over, with a short delay loop
    // between calls; s0 sums what the calls returned.
    let mut a = Asm::new(ORIGIN);
    let top = a.here();
    a.li(A0, 1).li(A1, 0x8000_0000).li(A2, 64 << 20).li(T9, 5);
    a.emit(sdbbp(1));
    a.emit(addu(S0, S0, V0));
    a.li(T0, 200);
    let delay = a.here();
    a.emit(addiu(T0, T0, -1));
    a.bne(T0, ZERO, delay).nop();
    a.b(top).nop();
    let mut m = boot(a, []);
    let (drained, early) = run_draining(&mut m, 5_000_000);
    assert_eq!(m.instructions(), 5_000_000, "it ran the whole time");
    let returned = u64::from(m.gpr(S0.num()));
    assert!(returned > 10 << 20, "{returned} bytes written");
    assert_eq!(returned % u64::from(crate::machine::semihost::WRITE_MAX), 0);
    // The last call may not have been added to s0 yet.
    assert!((returned..=returned + 4096).contains(&drained));
    assert!(early > 100, "the run loop returned to let the host drain");
}

#[test]
fn a_guest_spinning_on_the_uart_cannot_grow_the_pending_output() {
    let mut a = Asm::new(ORIGIN);
    a.li(T0, UART).li(T1, u32::from(b'u'));
    let top = a.here();
    a.emit(sb(T1, 0, T0));
    a.b(top).nop();
    let mut m = boot(a, []);
    let (drained, early) = run_draining(&mut m, 3_000_000);
    // Three instructions per byte, after a two-instruction prologue.
    assert!((999_999..=1_000_000).contains(&drained), "{drained}");
    assert_eq!(
        early,
        (drained / crate::machine::console::OUTPUT_LIMIT as u64) as u32
    );
}
