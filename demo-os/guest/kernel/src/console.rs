//! Console output, one whole line at a time: through the 16550 UART in the
//! unmodified path, through the monitor's console hypercall in the
//! paravirtualized path.
//!
//! Everything printed goes through a [`LineBuffer`]: the kernel's own
//! lines ([`kprintln!`](crate::kprintln)) and each process's output, which the kernel
//! buffers per process and emits only when a line is complete. Lines of
//! different processes therefore never mix, however their writes
//! interleave.

use core::fmt;
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};

/// The UART's transmit holding register (kseg1, uncached: physical
/// 0x1fd0_03f8, the mipssim ISA COM1).
const UART_THR: *mut u8 = 0xbfd0_03f8 as *mut u8;

/// The UART's line status register.
const UART_LSR: *const u8 = 0xbfd0_03fd as *const u8;

/// LSR: the transmit holding register is empty.
const LSR_THRE: u8 = 1 << 5;

/// Set once at boot when the monitor's console is used.
static VIA_HYPERCALL: AtomicBool = AtomicBool::new(false);

/// Sends all output through the monitor's console hypercall from now on.
pub fn use_hypercall() {
    VIA_HYPERCALL.store(true, Ordering::Relaxed);
}

/// Writes raw bytes to the console.
fn put(bytes: &[u8]) {
    if VIA_HYPERCALL.load(Ordering::Relaxed) && crate::pv::console_write(bytes) {
        return;
    }
    for &byte in bytes {
        // SAFETY: the UART registers are device memory at fixed kseg1
        // addresses; byte accesses have no effect beyond the device.
        unsafe {
            while ptr::read_volatile(UART_LSR) & LSR_THRE == 0 {}
            ptr::write_volatile(UART_THR, byte);
        }
    }
}

/// A line being collected; emitted (with its newline) as one console
/// write when complete, or when `N - 1` bytes have piled up.
#[derive(Debug)]
pub struct LineBuffer<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> LineBuffer<N> {
    /// An empty buffer.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
        }
    }

    /// Appends bytes, emitting every line they complete.
    pub fn push(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            if byte == b'\n' {
                self.emit();
                continue;
            }
            self.buf[self.len] = byte;
            self.len += 1;
            if self.len == N - 1 {
                self.emit();
            }
        }
    }

    /// Emits a partial line (adding the newline), if any.
    pub fn flush(&mut self) {
        if self.len > 0 {
            self.emit();
        }
    }

    /// Emits the buffered bytes and a newline as one write.
    fn emit(&mut self) {
        self.buf[self.len] = b'\n';
        put(&self.buf[..=self.len]);
        self.len = 0;
    }
}

impl<const N: usize> Default for LineBuffer<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Write for LineBuffer<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}

/// The longest kernel line.
pub const KERNEL_LINE_MAX: usize = 256;

/// Prints one kernel line; used by [`kprintln!`](crate::kprintln).
pub fn print_line(args: fmt::Arguments<'_>) {
    let mut line = LineBuffer::<KERNEL_LINE_MAX>::new();
    // LineBuffer's fmt::Write never fails.
    let _ = fmt::Write::write_fmt(&mut line, args);
    line.flush();
}

/// Prints one whole kernel line (the newline is added).
#[macro_export]
macro_rules! kprintln {
    ($($arg:tt)*) => {
        $crate::console::print_line(format_args!($($arg)*))
    };
}
