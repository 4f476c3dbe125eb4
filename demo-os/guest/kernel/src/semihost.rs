//! UHI semihosting (`sdbbp 1`): how the unmodified kernel stops the
//! machine with an exit code. Only `exit` is used; console output goes to
//! the UART.

use core::arch::asm;

/// UHI operation `exit`.
const UHI_EXIT: u32 = 1;

/// Stops the machine with `code` (UHI `exit`). If no semihosting host
/// answers, waits forever with interrupts off.
pub fn exit(code: i32) -> ! {
    // SAFETY: sdbbp 1 with t9 = 1 is the UHI exit request; it reads t9 and
    // a0 and does not return when a host answers. A machine without a
    // host raises a debug exception or ignores it; either way the loop
    // below is where execution stays.
    unsafe {
        asm!("sdbbp 1", in("$25") UHI_EXIT, in("$4") code, options(nomem, nostack));
    }
    loop {
        crate::cp0::wait();
    }
}
