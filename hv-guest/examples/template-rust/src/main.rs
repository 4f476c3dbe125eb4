//! A minimal paravirtual guest: the template to start a guest kernel from.
//!
//! What it does, in boot order:
//!
//! 1. `_start` (assembly below) puts the CPU in a known state (Status = 0:
//!    kernel mode, interrupts off, `BEV` and `ERL` clear, so exceptions go
//!    to the handler this image links at 0x8000_0180), clears `.bss`, sets
//!    the stack and calls [`template_main`] with the loader's `a0`..`a3`
//!    (docs/ABI.md, section 0).
//! 2. [`template_main`] asks `Discover` through [`hv_guest`]. Under the
//!    monitor (`--mode para`) it prints through `ConsoleWrite` and ends with
//!    `Shutdown(0)`. Natively, under `--mode full` and on QEMU, `HYPCALL`
//!    raises Reserved Instruction: the exception handler ([`template_trap`])
//!    does the duty of [`hv_guest::ri_fixup`], the call returns
//!    `NoMonitor`, and the guest prints through the mipssim UART and exits
//!    with UHI semihosting instead.
//! 3. Any other exception prints `template guest: unexpected exception`
//!    on the UART and exits with status 3; a panic exits with status 2.
//!
//! Without the handler, a hypercall on bare hardware would enter a vector
//! with nothing behind it (the runner stops such a guest: "no exception
//! handler at ...", status 126).
#![no_std]
#![no_main]
#![feature(asm_experimental_arch)]

use core::arch::{asm, global_asm};
use core::fmt::{self, Write};
use core::ptr;

use hv_abi::Hypercall;
use hv_guest::{CAUSE_BD, EXC_RI, Hv, RiFixup, ri_fixup};

/// What the guest prints under the monitor, through `ConsoleWrite`.
const HELLO: &[u8] = b"hello from the template guest\n";

/// What it prints without a monitor, through the UART.
const FALLBACK: &str = "hello from the template guest (no monitor: fallback path)\n";

/// The mipssim 16550 UART's transmit holding register (kseg1, uncached).
const UART_THR: *mut u8 = 0xbfd0_03f8 as *mut u8;

/// Its line status register.
const UART_LSR: *const u8 = 0xbfd0_03fd as *const u8;

/// LSR bit 5: the transmit holding register is empty.
const LSR_THRE: u8 = 1 << 5;

/// UHI semihosting operation `exit` (in `t9`).
const UHI_EXIT: u32 = 1;

/// The exit status after an unexpected exception.
const EXIT_EXCEPTION: u32 = 3;

/// The exit status after a panic.
const EXIT_PANIC: u32 = 2;

// The entry point and the exception path.
//
// `.vectors` is linked at 0x8000_0180 (template.ld), the general exception
// vector once Status.BEV is clear: it jumps to `exception_entry`, which
// saves every register the interrupted code may use into a `TrapFrame` on
// the current stack (16 bytes of o32 argument space below it), calls
// `template_trap(&mut frame)`, restores the registers and EPC and returns
// with `eret`. The guest never enables interrupts or user mode, so the
// stack at an exception is always the boot stack; nothing before `_start`
// sets `sp` may fault (the handler would store below address 0 and fault
// again with EXL set, forever).
global_asm!(
    r#"
    .section .text._start, "ax"
    .globl _start
    .type _start, @function
    .set push
    .set noreorder
_start:
    mtc0  $zero, $12            # Status = 0: kernel mode, BEV = ERL = EXL = 0
    ehb
    lui   $t0, %hi(__bss_start)
    addiu $t0, $t0, %lo(__bss_start)
    lui   $t1, %hi(__bss_end)
    addiu $t1, $t1, %lo(__bss_end)
1:  beq   $t0, $t1, 2f
    nop
    sw    $zero, 0($t0)
    b     1b
    addiu $t0, $t0, 4
2:  lui   $sp, %hi(stack_top)
    addiu $sp, $sp, %lo(stack_top)
    jal   template_main         # a0..a3: the loader's boot arguments
    nop
3:  b     3b
    nop
    .size _start, . - _start
    .set pop

    .section .vectors, "ax"
    .set push
    .set noreorder
    .set noat
general_exception_vector:
    lui   $k0, %hi(exception_entry)
    addiu $k0, $k0, %lo(exception_entry)
    jr    $k0
    nop
    .set pop

    .section .text.exception_entry, "ax"
    .type exception_entry, @function
    .set push
    .set noreorder
    .set noat
exception_entry:
    move  $k1, $sp
    addiu $sp, $sp, -160        # 16 bytes of argument space + TrapFrame
    sw    $1, 20($sp)
    sw    $2, 24($sp)
    sw    $3, 28($sp)
    sw    $4, 32($sp)
    sw    $5, 36($sp)
    sw    $6, 40($sp)
    sw    $7, 44($sp)
    sw    $8, 48($sp)
    sw    $9, 52($sp)
    sw    $10, 56($sp)
    sw    $11, 60($sp)
    sw    $12, 64($sp)
    sw    $13, 68($sp)
    sw    $14, 72($sp)
    sw    $15, 76($sp)
    sw    $16, 80($sp)
    sw    $17, 84($sp)
    sw    $18, 88($sp)
    sw    $19, 92($sp)
    sw    $20, 96($sp)
    sw    $21, 100($sp)
    sw    $22, 104($sp)
    sw    $23, 108($sp)
    sw    $24, 112($sp)
    sw    $25, 116($sp)
    sw    $28, 128($sp)
    sw    $30, 136($sp)
    sw    $31, 140($sp)
    sw    $k1, 132($sp)         # regs[29]: the interrupted sp
    mfc0  $k0, $14              # EPC
    sw    $k0, 144($sp)
    mfc0  $k0, $13              # Cause
    sw    $k0, 148($sp)
    mfhi  $k0
    sw    $k0, 152($sp)
    mflo  $k0
    sw    $k0, 156($sp)
    jal   template_trap
    addiu $a0, $sp, 16          # (delay slot) a0 = &mut TrapFrame
    lw    $k0, 152($sp)
    mthi  $k0
    lw    $k0, 156($sp)
    mtlo  $k0
    lw    $k0, 144($sp)
    mtc0  $k0, $14              # EPC, as template_trap left it
    lw    $1, 20($sp)
    lw    $2, 24($sp)
    lw    $3, 28($sp)
    lw    $4, 32($sp)
    lw    $5, 36($sp)
    lw    $6, 40($sp)
    lw    $7, 44($sp)
    lw    $8, 48($sp)
    lw    $9, 52($sp)
    lw    $10, 56($sp)
    lw    $11, 60($sp)
    lw    $12, 64($sp)
    lw    $13, 68($sp)
    lw    $14, 72($sp)
    lw    $15, 76($sp)
    lw    $16, 80($sp)
    lw    $17, 84($sp)
    lw    $18, 88($sp)
    lw    $19, 92($sp)
    lw    $20, 96($sp)
    lw    $21, 100($sp)
    lw    $22, 104($sp)
    lw    $23, 108($sp)
    lw    $24, 112($sp)
    lw    $25, 116($sp)
    lw    $28, 128($sp)
    lw    $30, 136($sp)
    lw    $31, 140($sp)
    lw    $sp, 132($sp)
    ehb
    eret
    .size exception_entry, . - exception_entry
    .set pop

    .section .bss.stack, "aw", @nobits
    .balign 16
    .space 8192
stack_top:
"#
);

/// The registers `exception_entry` saves, as [`template_trap`] sees them.
#[repr(C)]
pub struct TrapFrame {
    /// The general-purpose registers by number (`regs[0]`, `k0` and `k1`
    /// are not saved).
    pub regs: [u32; 32],
    /// CP0 EPC: where the interrupted code resumes.
    pub epc: u32,
    /// CP0 Cause at the exception.
    pub cause: u32,
    /// HI.
    pub hi: u32,
    /// LO.
    pub lo: u32,
}

/// The guest's Rust entry, on the boot stack, in kernel mode with
/// interrupts off, with the loader's boot arguments: `a0` = RAM size in
/// bytes (0 on QEMU), `a1` and `a2` the demo kernel's work scale and
/// program mask (unused here), `a3` = 0.
#[unsafe(no_mangle)]
extern "C" fn template_main(_ram_bytes: u32, _a1: u32, _a2: u32, _a3: u32) -> ! {
    let mut hv = Hv::native();
    // Discover: Some under the monitor; None on bare hardware and under
    // --mode full, where template_trap answers the HYPCALL with NoMonitor.
    if let Some(info) = hv.detect()
        && info.offers(Hypercall::ConsoleWrite)
        && info.offers(Hypercall::Shutdown)
        && hv.console_write(HELLO) == Ok(HELLO.len())
    {
        // Shutdown(0) does not return; if the monitor refused it, exit
        // the way bare hardware does.
        let _ = hv.try_shutdown(0);
        uhi_exit(0);
    }
    uart_puts(FALLBACK);
    uhi_exit(0)
}

/// The exception handler `exception_entry` calls with the saved registers.
///
/// A Reserved Instruction raised by `HYPCALL` (no monitor) is fixed up as
/// `hv_guest` asks: the call returns `NoMonitor`. Anything else is a fault:
/// it prints what happened and exits with status 3.
#[unsafe(no_mangle)]
extern "C" fn template_trap(frame: &mut TrapFrame) {
    let exc_code = (frame.cause >> 2) & 0x1f;
    let branch_delay = frame.cause & CAUSE_BD != 0;
    if exc_code == EXC_RI {
        let at = if branch_delay {
            frame.epc.wrapping_add(4)
        } else {
            frame.epc
        };
        if let Some(insn) = read_kseg_word(at)
            && ri_fixup(insn, branch_delay, &mut frame.regs, &mut frame.epc) == RiFixup::Emulated
        {
            return;
        }
    }
    let _ = writeln!(
        Uart,
        "template guest: unexpected exception (ExcCode {exc_code}) at EPC {:#010x}",
        frame.epc
    );
    uhi_exit(EXIT_EXCEPTION)
}

/// The word at `addr` if it is an aligned kseg0/kseg1 address (unmapped,
/// so the load cannot fault on a TLB miss); `None` otherwise.
fn read_kseg_word(addr: u32) -> Option<u32> {
    if !(0x8000_0000..0xc000_0000).contains(&addr) || !addr.is_multiple_of(4) {
        return None;
    }
    // SAFETY: an aligned kseg0/kseg1 address is unmapped and, being the
    // EPC of an instruction that was just fetched, backed by memory.
    Some(unsafe { ptr::read_volatile(addr as usize as *const u32) })
}

/// The mipssim UART, as a `fmt::Write` sink.
struct Uart;

impl Write for Uart {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        uart_puts(s);
        Ok(())
    }
}

/// Writes `text` to the UART, waiting for room before each byte.
fn uart_puts(text: &str) {
    for &byte in text.as_bytes() {
        // SAFETY: the UART's registers are MMIO in kseg1 on every machine
        // this guest runs on (the runner's mipssim board, QEMU -M mipssim);
        // volatile accesses of one byte are what the device expects.
        unsafe {
            while ptr::read_volatile(UART_LSR) & LSR_THRE == 0 {}
            ptr::write_volatile(UART_THR, byte);
        }
    }
}

/// Stops the machine with `code` through UHI semihosting (`t9` = 1,
/// `a0` = code, `sdbbp 1`), which the runner answers natively and under
/// the monitor. Waits forever if nothing answers.
fn uhi_exit(code: u32) -> ! {
    loop {
        // SAFETY: sdbbp 1 with t9 = 1 is the UHI exit request; it reads t9
        // and a0 and does not return when a host answers. Without one the
        // loop repeats it.
        unsafe { asm!("sdbbp 1", in("$25") UHI_EXIT, in("$4") code, options(nomem, nostack)) };
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    uart_puts("template guest: panic\n");
    uhi_exit(EXIT_PANIC)
}
