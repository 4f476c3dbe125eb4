//! Boards: which devices sit on the physical bus, and where.
//!
//! | board      | what                                                    |
//! |------------|---------------------------------------------------------|
//! | [`Board::Mipssim`] | QEMU's `mipssim`: RAM, the boot ROM window and one 16550 UART (see [`super::bus`]); the default |
//! | [`Board::Malta`]   | QEMU's `malta` (CoreLV, GT-64120): the system controller, the PIIX4's ISA devices, the FPGA (see [`malta`]) |
//!
//! Both share the CPU, RAM and the boot ROM window, which the bus maps
//! straight into its memory buffer: the execution loop's fast paths never
//! see a board. Everything else goes through [`super::bus::Target::Board`]
//! on the slow path: the bus asks the board to decode the address on each
//! access (`Machine::board_read`, `Machine::board_write`).
//!
//! Malta's devices keep time: the machine passes its tick count on every
//! access and when the board's next event ([`malta::Malta::next_event`])
//! comes due, so the outer run loop stops there as it stops for the CP0
//! timer.

pub mod malta;

use super::console::Stream;
use super::exception::ExcCode;
use super::{Deadline, Exit, Machine};

/// Which board the machine is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Board {
    /// QEMU's `mipssim` (the default).
    #[default]
    Mipssim,
    /// QEMU's `malta` with a GT-64120 (CoreLV).
    Malta,
}

impl Machine {
    /// A load from a board device at physical `pa`: the value, or a bus
    /// error raised (and `None`).
    #[cold]
    pub(crate) fn board_read(&mut self, pa: u32, size: u32) -> Option<u32> {
        let now = self.ticks();
        let v = self.bus.malta.as_mut().and_then(|b| b.read(pa, size, now));
        self.board_accessed();
        if v.is_none() {
            self.raise(ExcCode::Dbe);
        }
        v
    }

    /// A store to a board device at physical `pa`; false after raising a
    /// bus error.
    #[cold]
    pub(crate) fn board_write(&mut self, pa: u32, v: u32, size: u32) -> bool {
        let now = self.ticks();
        let ok = self
            .bus
            .malta
            .as_mut()
            .is_some_and(|b| b.write(pa, size, v, now));
        self.board_accessed();
        if !ok {
            self.raise(ExcCode::Dbe);
        }
        ok
    }

    /// After a device access or a device event: copies console output,
    /// reports power-off and reset, reschedules the board's next event and
    /// sends the run loop back to the outer loop (an interrupt line may
    /// have changed).
    pub(crate) fn board_accessed(&mut self) {
        let Some(b) = self.bus.malta.as_mut() else {
            return;
        };
        let out = b.take_output();
        let event = b.take_event();
        // Never in the past: the run loop must make progress.
        let now = self.icount + self.idle_ticks + self.charged_ticks;
        self.board_event_at = Deadline::from(b.next_event()).not_before(now + 1);
        if !out.is_empty() {
            self.push_output(Stream::Stdout, &out);
        }
        match event {
            Some(malta::BoardEvent::PowerOff) => self.request_exit(Exit::PowerOff),
            Some(malta::BoardEvent::Reset) => self.request_exit(Exit::Reset),
            None => {}
        }
        self.stop_at = 0;
    }

    /// The run loop reached the board's next event: advance its devices.
    #[cold]
    pub(crate) fn board_tick(&mut self) {
        let now = self.ticks();
        if let Some(b) = self.bus.malta.as_mut() {
            b.tick(now);
        }
        self.board_accessed();
    }

    /// Queues bytes on the console UART's receive side (the host's
    /// keyboard); returns how many it took (the queue is bounded: keep the
    /// rest for later).
    pub fn push_console_input(&mut self, bytes: &[u8]) -> usize {
        let n = match self.bus.malta.as_mut() {
            Some(b) => b.push_input(bytes),
            None => self.bus.uart.push_input(bytes),
        };
        self.board_accessed();
        self.stop_at = 0;
        n
    }

    /// Received console bytes the guest has not read yet.
    pub fn console_input_len(&self) -> usize {
        match self.bus.malta.as_ref() {
            Some(b) => b.input_len(),
            None => self.bus.uart.input_len(),
        }
    }

    /// Whether the guest reads the console: its receive interrupt is
    /// enabled (a tty is open on it).
    pub fn console_wants_input(&self) -> bool {
        match self.bus.malta.as_ref() {
            Some(b) => b.wants_input(),
            None => self.bus.uart.wants_input(),
        }
    }

    /// Whether the CPU idles in `wait`.
    pub fn is_waiting(&self) -> bool {
        self.waiting
    }

    /// The board.
    pub fn board(&self) -> Board {
        if self.bus.malta.is_some() {
            Board::Malta
        } else {
            Board::Mipssim
        }
    }
}
