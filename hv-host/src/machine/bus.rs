//! The physical address space, compatible with QEMU's `mipssim` board:
//!
//! | physical range            | what                                        |
//! |---------------------------|---------------------------------------------|
//! | `0x0000_0000..RAM size`   | RAM (`--mem`, 1..=256 MiB)                  |
//! | `0x1fc0_0000..0x2000_0000`| boot ROM window, 4 MiB, reads zero, writes ignored |
//! | `0x1fd0_03f8..+8`         | 16550 UART, interrupt on Cause.IP4          |
//! | anything else             | bus error (IBE on fetch, DBE on data)       |
//!
//! The UART lies inside the ROM window's address range and takes precedence
//! there, as on the board. RAM and ROM are one contiguous host buffer
//! (`mem`): RAM first, then the ROM, so that the execution loop can address
//! both by a buffer offset.
//!
//! On the Malta board ([`super::board`]) RAM and the boot ROM window are
//! mapped the same way (the ROM holds the board revision word) and every
//! other address is [`Target::Board`]: the board decodes it on the slow
//! path ([`super::board::malta`]).
//!
//! A machine built for the monitor ([`super::Machine::for_monitor`])
//! may have more RAM than fits below the I/O hole: the part past
//! [`LOW_RAM_MAX`] appears at [`HIGH_RAM_BASE`] and up, after the ROM in
//! the buffer. Native machines never have it.

use super::board::malta::Malta;
use super::devices::malta_fpga::{REVISION_ADDR, REVISION_VALUE};
use super::devices::uart::{UART_WINDOW, Uart};
use crate::addr::MachineAddr;

/// Physical base of the boot ROM window.
pub const ROM_BASE: u32 = 0x1fc0_0000;
/// Size of the boot ROM window.
pub const ROM_SIZE: u32 = 4 << 20;
/// Physical base of the UART's registers.
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
    /// The UART register at this offset.
    Uart(u32),
    /// A Malta board address: the board decodes it (a device, or a bus
    /// error).
    Board,
    /// Nothing: a bus error.
    None,
}

/// The bus: memory and devices.
#[derive(Clone, Debug)]
pub struct Bus {
    /// RAM followed by the boot ROM.
    pub(crate) mem: Vec<u8>,
    /// RAM below the I/O hole.
    ram_bytes: u32,
    /// RAM at [`HIGH_RAM_BASE`] (0 on a native machine).
    high_bytes: u32,
    /// The console UART (the `mipssim` board's).
    pub uart: Uart,
    /// The Malta board's devices (`None` on `mipssim`).
    pub malta: Option<Box<Malta>>,
}

impl Bus {
    /// A bus with `ram_bytes` of zeroed RAM (a multiple of 4 KiB, at most
    /// [`MAX_MONITOR_RAM`]; the caller validates). RAM past [`LOW_RAM_MAX`]
    /// appears at [`HIGH_RAM_BASE`].
    pub fn new(ram_bytes: u32) -> Self {
        let low = ram_bytes.min(LOW_RAM_MAX);
        let high = ram_bytes - low;
        Self {
            mem: vec![0; low as usize + ROM_SIZE as usize + high as usize],
            ram_bytes: low,
            high_bytes: high,
            uart: Uart::new(),
            malta: None,
        }
    }

    /// A Malta bus with `ram_bytes` of zeroed RAM (at most [`MAX_RAM`];
    /// the caller validates): the board's devices, and the revision word
    /// in the boot ROM.
    pub fn new_malta(ram_bytes: u32) -> Self {
        let mut bus = Self::new(ram_bytes);
        bus.malta = Some(Box::new(Malta::new()));
        let off = (bus.ram_bytes + REVISION_ADDR - ROM_BASE) as usize;
        bus.mem[off..off + 4].copy_from_slice(&REVISION_VALUE.to_le_bytes());
        bus
    }

    /// RAM size below the I/O hole in bytes (all of it on a native machine).
    #[inline]
    pub fn ram_bytes(&self) -> u32 {
        self.ram_bytes
    }

    /// The RAM regions as `(physical base, bytes)`: low RAM, then high RAM
    /// if any.
    pub fn ram_regions(&self) -> impl Iterator<Item = (MachineAddr, u32)> {
        [
            (MachineAddr::new(0), self.ram_bytes),
            (MachineAddr::new(HIGH_RAM_BASE), self.high_bytes),
        ]
        .into_iter()
        .filter(|&(_, n)| n > 0)
    }

    /// Resolves a physical address.
    #[inline]
    pub fn target(&self, pa: u32) -> Target {
        if pa < self.ram_bytes {
            Target::Mem {
                offset: pa,
                writable: true,
            }
        } else if self.malta.is_some() {
            if pa.wrapping_sub(ROM_BASE) < ROM_SIZE {
                Target::Mem {
                    offset: self.ram_bytes + (pa - ROM_BASE),
                    writable: false,
                }
            } else {
                Target::Board
            }
        } else if pa.wrapping_sub(UART_BASE) < UART_WINDOW {
            Target::Uart(pa - UART_BASE)
        } else if pa.wrapping_sub(ROM_BASE) < ROM_SIZE {
            Target::Mem {
                offset: self.ram_bytes + (pa - ROM_BASE),
                writable: false,
            }
        } else if pa.wrapping_sub(HIGH_RAM_BASE) < self.high_bytes {
            Target::Mem {
                offset: self.ram_bytes + ROM_SIZE + (pa - HIGH_RAM_BASE),
                writable: true,
            }
        } else {
            Target::None
        }
    }

    /// Whether the 4 KiB page holding `pa` is plain memory (no device),
    /// so that translation caches may point straight into the buffer.
    #[inline]
    pub fn page_is_plain_memory(&self, pa: u32) -> bool {
        let page = pa & !(PAGE_SIZE - 1);
        page < self.ram_bytes
            || (page.wrapping_sub(ROM_BASE) < ROM_SIZE && (page >> 12) != (UART_BASE >> 12))
            || page.wrapping_sub(HIGH_RAM_BASE) < self.high_bytes
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
            match (self.target(a), self.target(end)) {
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
        match (self.target(pa.raw()), self.target(end)) {
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
        // A range over the UART's registers is not memory, even when both
        // its ends are (the boot ROM around them).
        if pa.raw() < UART_BASE + UART_WINDOW && end >= UART_BASE {
            return None;
        }
        match (self.target(pa.raw()), self.target(end)) {
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
        match &self.malta {
            Some(m) => m.irq_lines(),
            // The UART is on hardware interrupt 2, Cause.IP4.
            None => u32::from(self.uart.irq()) << 12,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_map() {
        let bus = Bus::new(1 << 20);
        assert_eq!(
            bus.target(0x10),
            Target::Mem {
                offset: 0x10,
                writable: true
            }
        );
        assert_eq!(bus.target(1 << 20), Target::None);
        assert_eq!(bus.target(UART_BASE + 5), Target::Uart(5));
        assert_eq!(
            bus.target(ROM_BASE + 4),
            Target::Mem {
                offset: (1 << 20) + 4,
                writable: false
            }
        );
        assert!(!bus.page_is_plain_memory(UART_BASE));
        assert!(bus.page_is_plain_memory(ROM_BASE));
        assert_eq!(bus.target(0xffff_fff0), Target::None);
    }

    #[test]
    fn malta_memory_map() {
        let bus = Bus::new_malta(256 << 20);
        assert_eq!(
            bus.target(0x0fff_fffc),
            Target::Mem {
                offset: 0x0fff_fffc,
                writable: true
            }
        );
        assert_eq!(bus.target(0x1000_0000), Target::Board, "PCI memory");
        assert_eq!(bus.target(0x1800_03f8), Target::Board, "ISA I/O");
        assert_eq!(
            bus.target(UART_BASE),
            Target::Mem {
                offset: (256 << 20) + (UART_BASE - ROM_BASE),
                writable: false
            },
            "no mipssim UART on Malta"
        );
        assert!(bus.page_is_plain_memory(ROM_BASE));
        assert!(!bus.page_is_plain_memory(0x1800_0000));
        assert_eq!(
            bus.read_phys(MachineAddr::new(REVISION_ADDR), 4).as_deref(),
            Some(&REVISION_VALUE.to_le_bytes()[..])
        );
    }

    #[test]
    fn phys_copy_checks_bounds() {
        let mut bus = Bus::new(1 << 20);
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
        let mut bus = Bus::new(1 << 20);
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
