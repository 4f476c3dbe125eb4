//! The physical address space: RAM and the boot ROM in one host buffer,
//! and the board ([`super::board::Board`]), whose range map says what
//! every physical address is. The buffer holds the board's memory image
//! (its RAM and ROM ranges in the board's order: RAM first, then the ROM,
//! then RAM past the I/O hole on the monitor's machine), so the execution
//! loop addresses memory by a buffer offset and never sees the board:
//! [`Bus::target`] checks low RAM inline and asks the board's map for the
//! rest; [`Bus::page_is_plain_memory`] says which pages the translation
//! caches may point into.
//!
//! A machine built for the monitor ([`super::Machine::for_monitor`])
//! may have more RAM than fits below the I/O hole: the part past
//! [`LOW_RAM_MAX`] appears at [`HIGH_RAM_BASE`] and up, after the ROM in
//! the buffer. Native machines never have it.

use super::board::{Board, Decoded};
use super::ram::Ram;
use crate::addr::{GuestPhysAddr, MachineAddr};

/// Physical base of the boot ROM window.
pub const ROM_BASE: u32 = 0x1fc0_0000;
/// Size of the boot ROM window.
pub const ROM_SIZE: u32 = 4 << 20;
/// Physical base of the `mipssim` UART's registers.
pub const UART_BASE: u32 = 0x1fd0_03f8;
/// Largest RAM size a native machine accepts.
pub const MAX_RAM: u32 = 256 << 20;
/// RAM below the I/O hole: physical `0..LOW_RAM_MAX` at most.
pub const LOW_RAM_MAX: u32 = 256 << 20;
/// Where RAM past [`LOW_RAM_MAX`] appears (a monitor's machine only).
pub const HIGH_RAM_BASE: u32 = 0x2000_0000;
/// Largest RAM size a monitor's machine accepts (low plus high RAM).
pub const MAX_MONITOR_RAM: u32 = 3 << 30;
/// Page size the bus and the caches work in.
pub const PAGE_SIZE: u32 = 4096;

/// What a physical address refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// RAM or ROM at this offset of the memory buffer; `writable` is false
    /// for ROM.
    Mem {
        /// Offset into the memory buffer.
        offset: u32,
        /// Whether stores reach it (RAM) or are ignored (ROM).
        writable: bool,
    },
    /// A device or open bus space: the board performs the access.
    Device,
    /// Nothing: a bus error.
    None,
}

/// The bus: memory and the board.
#[derive(Debug)]
pub struct Bus {
    /// The board's memory image: RAM, then the boot ROM (then high RAM).
    pub(crate) mem: Ram,
    /// RAM from physical 0 (all of it on a native machine).
    ram_bytes: u32,
    /// The board: its map and devices (boxed: only slow paths reach it,
    /// and the bus stays small beside the hot fields of the machine).
    pub board: Box<Board>,
}

impl Bus {
    /// A bus over `board`: zeroed RAM, and the ROM image the board's kind
    /// defines; an error if the host will not map the memory.
    pub fn new(board: Board) -> std::io::Result<Self> {
        let mut mem = Ram::zeroed(board.image_bytes() as usize)?;
        for &(pa, value) in board.kind().rom_words() {
            if let Decoded::Rom(off) = board.decode(GuestPhysAddr::new(pa))
                && let Some(s) = mem.get_mut(off as usize..off as usize + 4)
            {
                s.copy_from_slice(&value.to_le_bytes());
            }
        }
        let ram_bytes = board
            .ram_ranges()
            .find(|&(base, _)| base == 0)
            .map_or(0, |(_, n)| n);
        Ok(Self {
            mem,
            ram_bytes,
            board: Box::new(board),
        })
    }

    /// RAM size below the I/O hole in bytes (all of it on a native machine).
    #[inline]
    pub fn ram_bytes(&self) -> u32 {
        self.ram_bytes
    }

    /// The RAM regions as `(physical base, bytes)`: low RAM, then high RAM
    /// if any.
    pub fn ram_regions(&self) -> impl Iterator<Item = (MachineAddr, u32)> + '_ {
        self.board
            .ram_ranges()
            .filter(|&(_, n)| n > 0)
            .map(|(base, n)| (MachineAddr::new(base), n))
    }

    /// Resolves a physical address.
    #[inline]
    pub fn target(&self, pa: MachineAddr) -> Target {
        let pa = pa.raw();
        if pa < self.ram_bytes {
            return Target::Mem {
                offset: pa,
                writable: true,
            };
        }
        self.board_target(pa)
    }

    /// [`Bus::target`] past low RAM: the board's map. Out of line, so that
    /// callers' RAM paths stay small.
    #[inline(never)]
    fn board_target(&self, pa: u32) -> Target {
        match self.board.decode(GuestPhysAddr::new(pa)) {
            Decoded::Ram(offset) => Target::Mem {
                offset,
                writable: true,
            },
            Decoded::Rom(offset) => Target::Mem {
                offset,
                writable: false,
            },
            Decoded::Device { .. } | Decoded::Open => Target::Device,
            Decoded::None => Target::None,
        }
    }

    /// Whether the 4 KiB page holding `pa` is plain memory (no device),
    /// so that translation caches may point straight into the buffer.
    #[inline]
    pub fn page_is_plain_memory(&self, pa: MachineAddr) -> bool {
        let pa = pa.raw();
        let page = pa & !(PAGE_SIZE - 1);
        page < self.ram_bytes || self.board_page_is_plain(page)
    }

    /// [`Bus::page_is_plain_memory`] past low RAM (out of line).
    #[inline(never)]
    fn board_page_is_plain(&self, page: u32) -> bool {
        self.board.plain_memory(GuestPhysAddr::new(page), PAGE_SIZE)
    }

    /// Reads a byte of memory at buffer offset `off` (caller checked range).
    #[inline]
    pub fn mem_u8(&self, off: u32) -> u8 {
        self.mem[off as usize]
    }

    /// Reads a little-endian halfword at buffer offset `off` (aligned).
    #[inline]
    pub fn mem_u16(&self, off: u32) -> u16 {
        let o = off as usize;
        u16::from_le_bytes([self.mem[o], self.mem[o + 1]])
    }

    /// Reads a little-endian word at buffer offset `off` (aligned).
    #[inline]
    pub fn mem_u32(&self, off: u32) -> u32 {
        let o = off as usize;
        match self.mem.get(o..o + 4) {
            Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
            _ => 0,
        }
    }

    /// Writes a byte at buffer offset `off`.
    #[inline]
    pub fn set_mem_u8(&mut self, off: u32, v: u8) {
        self.mem[off as usize] = v;
    }

    /// Writes a little-endian halfword at buffer offset `off` (aligned).
    #[inline]
    pub fn set_mem_u16(&mut self, off: u32, v: u16) {
        let o = off as usize;
        self.mem[o..o + 2].copy_from_slice(&v.to_le_bytes());
    }

    /// Writes a little-endian word at buffer offset `off` (aligned).
    #[inline]
    pub fn set_mem_u32(&mut self, off: u32, v: u32) {
        let o = off as usize;
        if let Some(s) = self.mem.get_mut(o..o + 4) {
            s.copy_from_slice(&v.to_le_bytes());
        }
    }

    /// Copies `bytes` to physical address `pa` (RAM or ROM, a loader's
    /// path); fails if any byte falls outside memory.
    pub fn write_phys(&mut self, pa: MachineAddr, bytes: &[u8]) -> Result<(), MachineAddr> {
        for (i, chunk) in bytes.chunks(PAGE_SIZE as usize).enumerate() {
            let a = pa.raw().wrapping_add((i as u32) * PAGE_SIZE);
            let end = a.wrapping_add(chunk.len() as u32 - 1);
            match (
                self.target(MachineAddr::new(a)),
                self.target(MachineAddr::new(end)),
            ) {
                (Target::Mem { offset, .. }, Target::Mem { offset: o2, .. })
                    if o2 == offset + chunk.len() as u32 - 1 =>
                {
                    self.mem[offset as usize..=o2 as usize].copy_from_slice(chunk);
                }
                _ => return Err(MachineAddr::new(a)),
            }
        }
        Ok(())
    }

    /// Sets `len` bytes at physical address `pa` (RAM or ROM) to zero in
    /// place; fails if any byte falls outside memory.
    pub fn zero_phys(&mut self, pa: MachineAddr, len: u32) -> Result<(), MachineAddr> {
        let Some(end) = len
            .checked_sub(1)
            .and_then(|last| pa.raw().checked_add(last))
        else {
            return if len == 0 { Ok(()) } else { Err(pa) };
        };
        match (
            self.target(MachineAddr::new(pa.raw())),
            self.target(MachineAddr::new(end)),
        ) {
            (Target::Mem { offset, .. }, Target::Mem { offset: o2, .. })
                if o2 == offset + len - 1 =>
            {
                self.mem[offset as usize..=o2 as usize].fill(0);
                Ok(())
            }
            _ => Err(pa),
        }
    }

    /// Reads `len` bytes from physical address `pa`; `None` if any byte
    /// falls outside memory.
    pub fn read_phys(&self, pa: MachineAddr, len: u32) -> Option<Vec<u8>> {
        let end = pa.raw().checked_add(len.checked_sub(1)?)?;
        // A range over a device's registers is not memory, even when both
        // its ends are (the boot ROM around the `mipssim` UART).
        if !self.board.all_memory(GuestPhysAddr::new(pa.raw()), len) {
            return None;
        }
        match (
            self.target(MachineAddr::new(pa.raw())),
            self.target(MachineAddr::new(end)),
        ) {
            (Target::Mem { offset, .. }, Target::Mem { offset: o2, .. })
                if o2 == offset + len - 1 =>
            {
                Some(self.mem[offset as usize..=o2 as usize].to_vec())
            }
            _ => None,
        }
    }

    /// The level of the CPU's hardware interrupt lines HW5..HW0 as Cause
    /// bits IP7..IP2 (bits 15..10).
    #[inline]
    pub fn irq_lines(&self) -> u32 {
        self.board.irq_lines()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::board::BoardKind;
    use crate::machine::devices::malta_fpga::{REVISION_ADDR, REVISION_VALUE};

    fn mipssim(ram: u32) -> Bus {
        Bus::new(BoardKind::Mipssim.build(ram)).unwrap()
    }

    #[test]
    fn memory_map() {
        let bus = mipssim(1 << 20);
        assert_eq!(
            bus.target(MachineAddr::new(0x10)),
            Target::Mem {
                offset: 0x10,
                writable: true
            }
        );
        assert_eq!(bus.target(MachineAddr::new(1 << 20)), Target::None);
        assert_eq!(bus.target(MachineAddr::new(UART_BASE + 5)), Target::Device);
        assert_eq!(
            bus.target(MachineAddr::new(ROM_BASE + 4)),
            Target::Mem {
                offset: (1 << 20) + 4,
                writable: false
            }
        );
        assert!(!bus.page_is_plain_memory(MachineAddr::new(UART_BASE)));
        assert!(bus.page_is_plain_memory(MachineAddr::new(ROM_BASE)));
        assert_eq!(bus.target(MachineAddr::new(0xffff_fff0)), Target::None);
    }

    #[test]
    fn malta_memory_map() {
        let bus = Bus::new(BoardKind::Malta.build(256 << 20)).unwrap();
        assert_eq!(
            bus.target(MachineAddr::new(0x0fff_fffc)),
            Target::Mem {
                offset: 0x0fff_fffc,
                writable: true
            }
        );
        assert_eq!(
            bus.target(MachineAddr::new(0x1000_0000)),
            Target::Device,
            "PCI memory"
        );
        assert_eq!(
            bus.target(MachineAddr::new(0x1800_03f8)),
            Target::Device,
            "ISA I/O"
        );
        assert_eq!(
            bus.target(MachineAddr::new(UART_BASE)),
            Target::Mem {
                offset: (256 << 20) + (UART_BASE - ROM_BASE),
                writable: false
            },
            "no mipssim UART on Malta"
        );
        assert!(bus.page_is_plain_memory(MachineAddr::new(ROM_BASE)));
        assert!(!bus.page_is_plain_memory(MachineAddr::new(0x1800_0000)));
        assert_eq!(
            bus.read_phys(MachineAddr::new(REVISION_ADDR), 4).as_deref(),
            Some(&REVISION_VALUE.to_le_bytes()[..])
        );
    }

    #[test]
    fn phys_copy_checks_bounds() {
        let mut bus = mipssim(1 << 20);
        bus.write_phys(MachineAddr::new(0x100), b"abc")
            .expect("inside RAM");
        assert_eq!(
            bus.read_phys(MachineAddr::new(0x100), 3).as_deref(),
            Some(&b"abc"[..])
        );
        assert!(
            bus.write_phys(MachineAddr::new((1 << 20) - 2), b"abc")
                .is_err()
        );
        assert!(bus.read_phys(MachineAddr::new(0), 0).is_none());
        // ROM on both sides of the UART's registers is not one range.
        assert!(bus.read_phys(MachineAddr::new(UART_BASE - 8), 32).is_none());
        assert!(bus.read_phys(MachineAddr::new(UART_BASE - 8), 8).is_some());
    }

    #[test]
    fn zero_fill_stays_in_bounds() {
        let mut bus = mipssim(1 << 20);
        bus.write_phys(MachineAddr::new(0x100), b"abcdef")
            .expect("inside RAM");
        bus.zero_phys(MachineAddr::new(0x101), 3)
            .expect("inside RAM");
        assert_eq!(
            bus.read_phys(MachineAddr::new(0x100), 6).as_deref(),
            Some(&b"a\0\0\0ef"[..])
        );
        bus.zero_phys(MachineAddr::new(0x100), 0).expect("empty");
        bus.write_phys(MachineAddr::new((1 << 20) - 1), b"z")
            .expect("last byte");
        assert_eq!(
            bus.zero_phys(MachineAddr::new((1 << 20) - 1), 2),
            Err(MachineAddr::new((1 << 20) - 1))
        );
        assert_eq!(
            bus.read_phys(MachineAddr::new((1 << 20) - 1), 1).as_deref(),
            Some(&b"z"[..]),
            "a refused fill changes nothing"
        );
        assert!(bus.zero_phys(MachineAddr::new(0xffff_fff0), 0x20).is_err());
    }
}
