//! Boards: which memory and devices sit on the physical bus, and where.
//!
//! | board      | what                                                    |
//! |------------|---------------------------------------------------------|
//! | [`BoardKind::Mipssim`] | QEMU's `mipssim`: RAM, the boot ROM window and one 16550 UART ([`mipssim`]); the default |
//! | [`BoardKind::Malta`]   | QEMU's `malta` (CoreLV, GT-64120): RAM, the boot ROM, the system controller, the PIIX4's ISA devices, the FPGA ([`malta`]) |
//!
//! A board's code builds a [`Board`]: one range map of RAM, ROM, devices
//! ([`crate::machine::devices::Device`]) and open bus space, with the
//! devices' interrupt wiring and console ([`map`]). The machine's bus
//! holds one and so does each of the monitor's VMs, built by the same
//! code; both ask it what an address is ([`Board::decode`],
//! [`Board::page_kind`]) and let it perform device accesses
//! ([`Board::load`], [`Board::store`]).
//!
//! RAM and the boot ROM never reach the board on an access: the machine
//! maps them straight into its memory buffer, so the execution loop's
//! fast paths never see a board; everything else is
//! [`super::bus::Target::Device`] on the load/store slow path
//! (`Machine::device_read`, `Machine::device_write`).
//!
//! Devices may keep time: the machine passes its tick count on every
//! access and when the board's next event ([`Board::next_event`]) comes
//! due, so the outer run loop stops there as it stops for the CP0 timer.

pub mod malta;
pub mod map;
pub mod mipssim;

pub use map::{Board, BoardBuilder, Decoded, PageKind, Range, Width};

pub use super::devices::BoardEvent;
use super::exception::ExcCode;
use super::{Deadline, Exit, Machine};
use crate::addr::{GuestPhysAddr, MachineAddr};

/// Which board a machine or a VM is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BoardKind {
    /// QEMU's `mipssim` (the default).
    #[default]
    Mipssim,
    /// QEMU's `malta` with a GT-64120 (CoreLV).
    Malta,
}

impl BoardKind {
    /// Every board.
    pub const ALL: [BoardKind; 2] = [BoardKind::Mipssim, BoardKind::Malta];

    /// A board of this kind with `ram_bytes` of RAM (a multiple of 4 KiB;
    /// the caller validates the size), in its reset state.
    pub fn build(self, ram_bytes: u32) -> Board {
        match self {
            BoardKind::Mipssim => mipssim::build(ram_bytes),
            BoardKind::Malta => malta::build(ram_bytes),
        }
    }

    /// The words its boot ROM holds, `(physical address, value)`; every
    /// other ROM byte reads zero.
    pub fn rom_words(self) -> &'static [(u32, u32)] {
        match self {
            BoardKind::Mipssim => &[],
            BoardKind::Malta => malta::ROM_WORDS,
        }
    }

    /// `size` bytes of its ROM image at physical `pa`, little-endian.
    pub fn rom_bytes(self, pa: GuestPhysAddr, size: u32) -> u32 {
        let pa = pa.raw();
        let byte = |a: u32| {
            self.rom_words()
                .iter()
                .find(|&&(w, _)| a.wrapping_sub(w) < 4)
                .map_or(0, |&(w, v)| (v >> (8 * a.wrapping_sub(w))) & 0xff)
        };
        (0..size.min(4)).fold(0, |acc, i| acc | byte(pa.wrapping_add(i)) << (8 * i))
    }
}

impl Machine {
    /// A load from a device address `pa` (the board decodes it): the
    /// value, or a bus error raised (and `None`).
    #[cold]
    pub(crate) fn device_read(&mut self, pa: MachineAddr, width: Width) -> Option<u32> {
        let now = self.ticks();
        let lines = self.bus.board.irq_lines();
        let v = self
            .bus
            .board
            .load(GuestPhysAddr::new(pa.raw()), width, now);
        self.device_accessed(lines);
        if v.is_none() {
            self.raise(ExcCode::Dbe);
        }
        v
    }

    /// A store to a device address `pa`; false after raising a bus error.
    #[cold]
    pub(crate) fn device_write(&mut self, pa: MachineAddr, width: Width, v: u32) -> bool {
        let now = self.ticks();
        let lines = self.bus.board.irq_lines();
        let ok = self
            .bus
            .board
            .store(GuestPhysAddr::new(pa.raw()), width, v, now);
        self.device_accessed(lines);
        if !ok {
            self.raise(ExcCode::Dbe);
        }
        ok
    }

    /// After a device access (the CPU's lines were `lines` before it):
    /// [`Machine::board_accessed`], and back to the outer run loop if
    /// anything it watches changed (a line, the board's next event,
    /// output, an event). If nothing did, the outer loop would only
    /// compute the same stop again.
    fn device_accessed(&mut self, lines: u32) {
        if self.board_accessed() || self.bus.board.irq_lines() != lines {
            self.stop_at = 0;
        }
    }

    /// After a device access or a device event: copies console output,
    /// reports power-off and reset, reschedules the board's next event.
    /// Returns whether any of those changed.
    pub(crate) fn board_accessed(&mut self) -> bool {
        let before = self.stdout.len();
        self.bus.board.drain_output(&mut self.stdout);
        let output = self.stdout.len() != before;
        if output {
            self.output_added();
        }
        let event = self.bus.board.take_event();
        // Never in the past: the run loop must make progress.
        let at = Deadline::from(self.bus.board.next_event()).not_before(self.ticks() + 1);
        let moved = at != self.board_event_at;
        self.board_event_at = at;
        match event {
            Some(BoardEvent::PowerOff) => self.request_exit(Exit::PowerOff),
            Some(BoardEvent::Reset) => self.request_exit(Exit::Reset),
            None => {}
        }
        moved || output || event.is_some()
    }

    /// The run loop reached the board's next event: advance its devices.
    #[cold]
    pub(crate) fn board_tick(&mut self) {
        let now = self.ticks();
        self.bus.board.tick(now);
        self.board_accessed();
        self.stop_at = 0;
    }

    /// Queues bytes on the console UART's receive side (the host's
    /// keyboard); returns how many it took (the queue is bounded: keep the
    /// rest for later).
    pub fn push_console_input(&mut self, bytes: &[u8]) -> usize {
        let n = self.bus.board.push_input(bytes);
        self.board_accessed();
        self.stop_at = 0;
        n
    }

    /// Received console bytes the guest has not read yet.
    pub fn console_input_len(&self) -> usize {
        self.bus.board.input_len()
    }

    /// Whether the guest reads the console: its receive interrupt is
    /// enabled (a tty is open on it).
    pub fn console_wants_input(&self) -> bool {
        self.bus.board.wants_input()
    }

    /// Whether the CPU idles in `wait`.
    pub fn is_waiting(&self) -> bool {
        self.waiting
    }

    /// The board.
    pub fn board(&self) -> BoardKind {
        self.bus.board.kind()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::bus::{ROM_BASE, UART_BASE};

    #[test]
    fn rom_image_bytes() {
        assert_eq!(
            BoardKind::Mipssim.rom_bytes(GuestPhysAddr::new(ROM_BASE + 0x10), 4),
            0
        );
        let m = BoardKind::Malta;
        assert_eq!(m.rom_bytes(GuestPhysAddr::new(ROM_BASE + 0x10), 4), 0x420);
        assert_eq!(m.rom_bytes(GuestPhysAddr::new(ROM_BASE + 0x11), 1), 0x04);
        assert_eq!(
            m.rom_bytes(GuestPhysAddr::new(ROM_BASE + 0x0e), 4),
            0x0420_0000
        );
        assert_eq!(m.rom_bytes(GuestPhysAddr::new(ROM_BASE), 4), 0);
    }

    #[test]
    fn mipssim_map() {
        let b = BoardKind::Mipssim.build(1 << 20);
        assert_eq!(b.decode(GuestPhysAddr::new(0x10)), Decoded::Ram(0x10));
        assert_eq!(b.decode(GuestPhysAddr::new(1 << 20)), Decoded::None);
        assert_eq!(
            b.decode(GuestPhysAddr::new(UART_BASE + 5)),
            Decoded::Device { slot: 0, offset: 5 }
        );
        assert_eq!(
            b.decode(GuestPhysAddr::new(ROM_BASE + 4)),
            Decoded::Rom((1 << 20) + 4)
        );
        assert_eq!(b.page_kind(GuestPhysAddr::new(UART_BASE)), PageKind::Io);
        assert_eq!(
            b.page_kind(GuestPhysAddr::new(UART_BASE - 0x1000)),
            PageKind::Rom
        );
        assert_eq!(b.page_kind(GuestPhysAddr::new(0x1000_0000)), PageKind::None);
        assert_eq!(b.page_kind(GuestPhysAddr::new(0x3000)), PageKind::Ram);
        assert!(b.plain_memory(GuestPhysAddr::new(UART_BASE & !0xfff), UART_BASE & 0xfff));
        assert!(!b.plain_memory(
            GuestPhysAddr::new(UART_BASE & !0xfff),
            (UART_BASE & 0xfff) + 1
        ));
        assert!(!b.plain_memory(GuestPhysAddr::new(UART_BASE + 7), 1));
        assert!(b.plain_memory(GuestPhysAddr::new(UART_BASE + 8), 8));
        assert_eq!(b.name_at(GuestPhysAddr::new(UART_BASE)), "uart");
        assert_eq!(b.ram_ranges().collect::<Vec<_>>(), [(0, 1 << 20)]);
    }

    #[test]
    fn monitor_machine_has_high_ram() {
        let b = BoardKind::Mipssim.build(512 << 20);
        assert_eq!(
            b.ram_ranges().collect::<Vec<_>>(),
            [(0, 256 << 20), (0x2000_0000, 256 << 20)]
        );
        assert_eq!(
            b.decode(GuestPhysAddr::new(0x2000_0004)),
            Decoded::Ram((256 << 20) + (4 << 20) + 4)
        );
        assert_eq!(b.image_bytes(), (512 << 20) + (4 << 20));
    }

    #[test]
    fn partial_word_accesses_reach_devices_by_the_boards_rule() {
        let mut b = BoardKind::Mipssim.build(1 << 20);
        b.store(
            GuestPhysAddr::new(UART_BASE + 1),
            Width::Bytes(1),
            u32::from(b'a'),
            0,
        );
        assert!(b.take_output().is_empty(), "IER, not THR");
        // A store's lanes are byte stores to the bytes it covers.
        b.store(
            GuestPhysAddr::new(UART_BASE + 3),
            Width::Lanes(0x0000_00ff),
            u32::from(b'b'),
            0,
        );
        assert_eq!(b.take_output(), b"b", "THR, the one covered byte");
        b.store(GuestPhysAddr::new(UART_BASE + 4), Width::Bytes(1), 0x03, 0);
        b.store(GuestPhysAddr::new(UART_BASE + 7), Width::Bytes(1), 0x5a, 0);
        // A load reads the aligned word: its register.
        let lwl = Width::Lanes(0x0000_ffff);
        assert_eq!(
            b.load(GuestPhysAddr::new(UART_BASE + 5), lwl, 0),
            Some(0x03),
            "MCR, not LSR"
        );
        assert_eq!(
            b.load(GuestPhysAddr::new(UART_BASE + 7), Width::Bytes(4), 0),
            Some(0x5a)
        );
    }
}
