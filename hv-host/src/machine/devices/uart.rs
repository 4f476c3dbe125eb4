//! A 16550-compatible UART, as on QEMU's `mipssim` board (and the Malta
//! board's PIIX4 serial ports): eight byte-wide registers, transmission
//! instantaneous. On `mipssim` its interrupt line is CPU hardware interrupt
//! 2 (Cause.IP4).
//!
//! Transmitted bytes are appended to an output buffer that the owner drains;
//! nothing is lost and nothing depends on the host's terminal.
//!
//! Receiving: the owner pushes bytes with [`Uart::push_input`] into a
//! bounded queue of [`RX_CAPACITY`] bytes. A full queue applies
//! back-pressure: `push_input` takes what fits and returns how many bytes it
//! took, and the owner keeps the rest for later, so nothing is dropped and
//! the overrun error never occurs. RBR reads take the oldest byte; LSR.DR is
//! set while the queue is non-empty; with IER bit 0 set a non-empty queue
//! requests the received-data-available interrupt, which IIR reports (code
//! `0x4`) ahead of the transmitter-empty one (`0x2`), and which clears when
//! the queue is drained. The FIFO trigger level and the character-timeout
//! interrupt are not modelled (any received byte raises the interrupt at
//! once). In loopback mode (MCR bit 4) MSR reflects MCR's outputs, as the
//! 8250 driver's probe expects, and transmitted bytes go to the receive
//! queue instead of the output (Linux's `size_fifo` sends 256 bytes that
//! way; on a real line they never leave the chip).

use super::{Device, InterruptAck};
use std::collections::VecDeque;

/// Size of the register window in bytes.
pub const UART_WINDOW: u32 = 8;

/// How many received bytes the UART holds before `push_input` refuses
/// more.
pub const RX_CAPACITY: usize = 4096;

const LSR_DR: u8 = 1 << 0;
const LSR_THRE: u8 = 1 << 5;
const LSR_TEMT: u8 = 1 << 6;
const IER_RDI: u8 = 1 << 0;
const IER_THRI: u8 = 1 << 1;
const MCR_LOOP: u8 = 1 << 4;
const LCR_DLAB: u8 = 1 << 7;

/// The UART's state.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
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
    /// Received bytes not yet read, oldest first.
    input: VecDeque<u8>,
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
            0 => self.input.pop_front().unwrap_or(0),
            1 if dlab => self.dlm,
            1 => self.ier,
            2 => {
                let fifo = if self.fcr & 1 != 0 { 0xc0 } else { 0 };
                if self.irq_rda() {
                    fifo | 0x04
                } else if self.irq_thre() {
                    self.thre_pending = false;
                    fifo | 0x02
                } else {
                    fifo | 0x01
                }
            }
            3 => self.lcr,
            4 => self.mcr,
            5 => LSR_THRE | LSR_TEMT | if self.input.is_empty() { 0 } else { LSR_DR },
            // MSR in loopback: CTS = RTS, DSR = DTR, RI = OUT1, DCD = OUT2.
            6 if self.mcr & MCR_LOOP != 0 => {
                let m = self.mcr;
                ((m & 0x02) << 3) | ((m & 0x01) << 5) | ((m & 0x04) << 4) | ((m & 0x08) << 4)
            }
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
                if self.mcr & MCR_LOOP != 0 {
                    // Loopback: the byte comes back to the receiver (the
                    // 8250 driver measures the FIFO this way), and nothing
                    // goes out on the line. A full queue drops it, as an
                    // overrun does.
                    if self.input.len() < RX_CAPACITY {
                        self.input.push_back(value);
                    }
                } else {
                    self.output.push(value);
                }
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

    fn irq_rda(&self) -> bool {
        self.ier & IER_RDI != 0 && !self.input.is_empty()
    }

    /// The level of the interrupt line.
    pub fn irq(&self) -> bool {
        self.irq_rda() || self.irq_thre()
    }

    /// Queues received bytes; takes as many as fit in [`RX_CAPACITY`] and
    /// returns how many it took (the owner keeps the rest).
    pub fn push_input(&mut self, bytes: &[u8]) -> usize {
        let n = bytes.len().min(RX_CAPACITY - self.input.len());
        self.input.extend(&bytes[..n]);
        n
    }

    /// Whether the receive interrupt is enabled (IER bit 0): a driver
    /// reads the line.
    pub fn wants_input(&self) -> bool {
        self.ier & IER_RDI != 0
    }

    /// How many received bytes wait to be read.
    pub fn input_len(&self) -> usize {
        self.input.len()
    }

    /// Takes the bytes transmitted since the last call.
    pub fn take_output(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.output)
    }
}

/// On the bus: byte registers at offsets 0..8 (the board scales the
/// offset where they are spaced wider); an access of any width reads or
/// writes the byte register, zero-extended.
impl Device for Uart {
    fn read(&mut self, offset: u32, _size: u32, _intc: &mut dyn InterruptAck) -> u32 {
        u32::from(Uart::read(self, offset))
    }

    fn write(&mut self, offset: u32, _size: u32, value: u32) {
        Uart::write(self, offset, value as u8);
    }

    fn irq(&self) -> bool {
        Uart::irq(self)
    }

    fn drain_output(&mut self, out: &mut Vec<u8>) {
        // The buffer keeps its capacity: no allocation per byte.
        out.extend_from_slice(&self.output);
        self.output.clear();
    }

    fn push_input(&mut self, bytes: &[u8]) -> usize {
        Uart::push_input(self, bytes)
    }

    fn input_len(&self) -> usize {
        Uart::input_len(self)
    }

    fn wants_input(&self) -> bool {
        Uart::wants_input(self)
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

    #[test]
    fn receive_in_order_with_data_ready() {
        let mut u = Uart::new();
        assert_eq!(u.read(5) & LSR_DR, 0);
        assert_eq!(u.push_input(b"ok"), 2);
        assert_eq!(u.read(5) & LSR_DR, LSR_DR);
        assert_eq!(u.read(0), b'o');
        assert_eq!(u.read(0), b'k');
        assert_eq!(u.read(5) & LSR_DR, 0);
        assert_eq!(u.read(0), 0, "empty RBR reads 0");
    }

    #[test]
    fn receive_interrupt_and_iir_priority() {
        let mut u = Uart::new();
        u.push_input(b"a");
        assert!(!u.irq(), "IER bit 0 clear");
        u.write(1, IER_RDI | IER_THRI);
        assert!(u.irq());
        assert_eq!(u.read(2) & 0x0f, 0x04, "received data outranks THRE");
        assert_eq!(u.read(2) & 0x0f, 0x04, "IIR read does not clear it");
        assert_eq!(u.read(0), b'a');
        assert_eq!(u.read(2) & 0x0f, 0x02, "then THRE");
        assert_eq!(u.read(2) & 0x0f, 0x01, "then nothing");
        assert!(!u.irq());
    }

    #[test]
    fn full_queue_pushes_back() {
        let mut u = Uart::new();
        let big = vec![b'x'; RX_CAPACITY + 10];
        assert_eq!(u.push_input(&big), RX_CAPACITY);
        assert_eq!(u.push_input(b"y"), 0);
        assert_eq!(u.input_len(), RX_CAPACITY);
        u.read(0);
        assert_eq!(u.push_input(b"yz"), 1);
    }

    #[test]
    fn loopback_msr_follows_mcr() {
        let mut u = Uart::new();
        assert_eq!(u.read(6), 0xb0);
        u.write(4, MCR_LOOP | 0x0a);
        assert_eq!(u.read(6) & 0xf0, 0x90, "the 8250 probe's check");
        u.write(4, MCR_LOOP | 0x05);
        assert_eq!(u.read(6) & 0xf0, 0x60);
    }

    #[test]
    fn loopback_sends_to_the_receiver_not_the_line() {
        let mut u = Uart::new();
        u.write(4, MCR_LOOP);
        u.write(0, b'a');
        assert!(u.take_output().is_empty(), "nothing leaves the chip");
        assert_eq!(u.read(5) & LSR_DR, LSR_DR);
        assert_eq!(u.read(0), b'a');
        u.write(4, 0);
        u.write(0, b'b');
        assert_eq!(u.take_output(), b"b");
        assert_eq!(u.input_len(), 0);
    }
}
