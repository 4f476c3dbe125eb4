//! A 16550-compatible UART, as on QEMU's `mipssim` board: eight byte-wide
//! registers, transmit only (nothing is ever received), transmission
//! instantaneous. Its interrupt line is CPU hardware interrupt 2 (Cause.IP4).
//!
//! Transmitted bytes are appended to an output buffer that the owner drains;
//! nothing is lost and nothing depends on the host's terminal.

/// Size of the register window in bytes.
pub const UART_WINDOW: u32 = 8;

const LSR_THRE: u8 = 1 << 5;
const LSR_TEMT: u8 = 1 << 6;
const IER_THRI: u8 = 1 << 1;
const LCR_DLAB: u8 = 1 << 7;

/// The UART's state.
#[derive(Clone, Debug, Default)]
pub struct Uart {
    ier: u8,
    lcr: u8,
    mcr: u8,
    scr: u8,
    fcr: u8,
    dll: u8,
    dlm: u8,
    /// A transmitter-empty interrupt is pending (set when THR empties,
    /// cleared by reading IIR or writing THR).
    thre_pending: bool,
    output: Vec<u8>,
}

impl Uart {
    /// A UART after reset.
    pub fn new() -> Self {
        Self {
            thre_pending: true,
            ..Self::default()
        }
    }

    /// Reads the register at `offset` (0..8).
    pub fn read(&mut self, offset: u32) -> u8 {
        let dlab = self.lcr & LCR_DLAB != 0;
        match offset {
            0 if dlab => self.dll,
            0 => 0, // RBR: nothing is ever received.
            1 if dlab => self.dlm,
            1 => self.ier,
            2 => {
                let fifo = if self.fcr & 1 != 0 { 0xc0 } else { 0 };
                if self.irq_thre() {
                    self.thre_pending = false;
                    fifo | 0x02
                } else {
                    fifo | 0x01
                }
            }
            3 => self.lcr,
            4 => self.mcr,
            5 => LSR_THRE | LSR_TEMT,
            6 => 0xb0, // MSR: CTS, DSR, DCD asserted.
            _ => self.scr,
        }
    }

    /// Writes `value` to the register at `offset` (0..8).
    pub fn write(&mut self, offset: u32, value: u8) {
        let dlab = self.lcr & LCR_DLAB != 0;
        match offset {
            0 if dlab => self.dll = value,
            0 => {
                self.output.push(value);
                // Transmission is instantaneous: THR is empty again at once.
                self.thre_pending = true;
            }
            1 if dlab => self.dlm = value,
            1 => {
                self.ier = value & 0x0f;
                if self.ier & IER_THRI != 0 {
                    self.thre_pending = true;
                }
            }
            2 => self.fcr = value,
            3 => self.lcr = value,
            4 => self.mcr = value & 0x1f,
            5 | 6 => {}
            _ => self.scr = value,
        }
    }

    fn irq_thre(&self) -> bool {
        self.ier & IER_THRI != 0 && self.thre_pending
    }

    /// The level of the interrupt line.
    pub fn irq(&self) -> bool {
        self.irq_thre()
    }

    /// Takes the bytes transmitted since the last call.
    pub fn take_output(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transmit_and_status() {
        let mut u = Uart::new();
        assert_eq!(u.read(5) & LSR_THRE, LSR_THRE);
        u.write(0, b'h');
        u.write(0, b'i');
        assert_eq!(u.take_output(), b"hi");
        assert!(u.take_output().is_empty());
    }

    #[test]
    fn divisor_latch_does_not_transmit() {
        let mut u = Uart::new();
        u.write(3, LCR_DLAB);
        u.write(0, 12);
        u.write(3, 3);
        assert_eq!(u.take_output(), b"");
        u.write(3, LCR_DLAB);
        assert_eq!(u.read(0), 12);
    }

    #[test]
    fn thre_interrupt() {
        let mut u = Uart::new();
        assert!(!u.irq(), "interrupts disabled at reset");
        u.write(1, IER_THRI);
        assert!(u.irq());
        assert_eq!(u.read(2) & 0x0f, 0x02, "IIR says THRE");
        assert!(!u.irq(), "reading IIR acknowledges");
        u.write(0, b'x');
        assert!(u.irq(), "empty again after a write");
    }
}
