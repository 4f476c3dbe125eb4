//! Guest-physical memory: the machine frames the monitor hands out
//! ([`FramePool`]) and each VM's map from guest-physical frames to machine
//! frames ([`GuestMemory`]).
//!
//! A VM's frames are allocated lazily, the first time the VM touches a
//! guest-physical page, and zeroed by the monitor before the VM sees them
//! (a real machine's RAM would hold garbage; a monitor must not leak one
//! VM's data to another). A VM can only ever be given frames from its own
//! map, so it never reaches another VM's frames or the monitor's.
//!
//! The guest-physical address space of a VM is the `mipssim` board's:
//! RAM from 0, the boot ROM window (reads zero, writes ignored) and the
//! UART inside it; everything else is a bus error.

use crate::addr::{GuestPhysAddr, MachineAddr};
use crate::machine::bus::{ROM_BASE, ROM_SIZE, UART_BASE};
use crate::machine::devices::uart::UART_WINDOW;
use crate::machine::{Machine, MemError};
use thiserror::Error;

/// Bytes per frame.
pub const FRAME: u32 = 4096;

/// Errors of guest-physical memory.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum MemoryError {
    /// The machine has no free frame left.
    #[error("out of machine memory")]
    OutOfFrames,
    /// The guest-physical address is not RAM.
    #[error("guest-physical {0} is not RAM")]
    NotRam(GuestPhysAddr),
    /// A machine access failed (a monitor bug: frames are always RAM).
    #[error(transparent)]
    Machine(#[from] MemError),
}

/// What a guest-physical address is, on the VM's board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpaKind {
    /// The VM's RAM.
    Ram,
    /// The boot ROM window: reads zero, writes are ignored.
    Rom,
    /// The page holding the UART's registers (accesses are emulated; the
    /// offset is from the UART's base, registers are `0..8`).
    UartPage,
    /// Nothing: a bus error.
    None,
}

/// The machine frames not given to any VM, handed out in a fixed order so
/// that runs are deterministic.
#[derive(Clone, Debug)]
pub struct FramePool {
    free: Vec<MachineAddr>,
    /// A frame of zeros that the boot ROM window of every VM maps to,
    /// read-only.
    zero: MachineAddr,
}

impl FramePool {
    /// All RAM frames of `machine`; the first becomes the shared zero
    /// frame.
    pub fn new(machine: &Machine) -> Result<Self, MemoryError> {
        let regions: Vec<_> = machine.ram_regions().collect();
        let mut free = Vec::new();
        // Highest address first in the vector, so that `pop` hands out the
        // lowest frames first.
        for &(base, bytes) in regions.iter().rev() {
            for f in (0..bytes / FRAME).rev() {
                free.push(base.wrapping_add(f * FRAME));
            }
        }
        let zero = free.pop().ok_or(MemoryError::OutOfFrames)?;
        Ok(Self { free, zero })
    }

    /// The shared read-only zero frame.
    pub fn zero_frame(&self) -> MachineAddr {
        self.zero
    }

    /// Frames left.
    pub fn available(&self) -> usize {
        self.free.len()
    }

    fn alloc(&mut self) -> Option<MachineAddr> {
        self.free.pop()
    }
}

/// A VM's guest-physical memory map.
#[derive(Clone, Debug)]
pub struct GuestMemory {
    ram_bytes: u32,
    /// Machine frame of each guest frame, if allocated.
    frames: Vec<Option<MachineAddr>>,
    /// Frames the monitor zeroed before the VM first saw them.
    pub frames_zeroed: u64,
}

impl GuestMemory {
    /// A map of `ram_bytes` of RAM (a multiple of [`FRAME`]), none of it
    /// allocated yet.
    pub fn new(ram_bytes: u32) -> Self {
        Self {
            ram_bytes,
            frames: vec![None; (ram_bytes / FRAME) as usize],
            frames_zeroed: 0,
        }
    }

    /// RAM size in bytes.
    pub fn ram_bytes(&self) -> u32 {
        self.ram_bytes
    }

    /// Frames allocated so far.
    pub fn frames_allocated(&self) -> usize {
        self.frames.iter().filter(|f| f.is_some()).count()
    }

    /// What `gpa` is on the VM's board.
    pub fn kind(&self, gpa: GuestPhysAddr) -> GpaKind {
        let a = gpa.raw();
        if a < self.ram_bytes {
            GpaKind::Ram
        } else if a & !(FRAME - 1) == UART_BASE & !(FRAME - 1) {
            GpaKind::UartPage
        } else if a.wrapping_sub(ROM_BASE) < ROM_SIZE {
            GpaKind::Rom
        } else {
            GpaKind::None
        }
    }

    /// The UART register `gpa` names, if any.
    pub fn uart_register(gpa: GuestPhysAddr) -> Option<u32> {
        let off = gpa.raw().wrapping_sub(UART_BASE);
        (off < UART_WINDOW).then_some(off)
    }

    /// Whether any of the `len` bytes from `gpa` is a UART register (the
    /// rest of the UART's page is boot ROM).
    pub fn touches_uart(gpa: GuestPhysAddr, len: u32) -> bool {
        let a = u64::from(gpa.raw());
        let base = u64::from(UART_BASE);
        a < base + u64::from(UART_WINDOW) && a + u64::from(len) > base
    }

    /// The machine frame behind RAM frame `gpa`, allocated and zeroed on
    /// first use.
    pub fn frame(
        &mut self,
        gpa: GuestPhysAddr,
        pool: &mut FramePool,
        machine: &mut Machine,
    ) -> Result<MachineAddr, MemoryError> {
        let i = (gpa.raw() / FRAME) as usize;
        let slot = self
            .frames
            .get_mut(i)
            .filter(|_| gpa.raw() < self.ram_bytes)
            .ok_or(MemoryError::NotRam(gpa))?;
        if let Some(f) = *slot {
            return Ok(f);
        }
        let f = pool.alloc().ok_or(MemoryError::OutOfFrames)?;
        machine.zero_machine(f, FRAME)?;
        *slot = Some(f);
        self.frames_zeroed += 1;
        Ok(f)
    }

    /// The machine address of RAM byte `gpa` if its frame is allocated.
    pub fn peek(&self, gpa: GuestPhysAddr) -> Option<MachineAddr> {
        let f = (*self.frames.get((gpa.raw() / FRAME) as usize)?)?;
        Some(f.wrapping_add(gpa.raw() % FRAME))
    }

    /// The guest-physical address of machine address `ma`, if it lies in
    /// one of this VM's frames (a linear search: for rare uses only).
    pub fn reverse(&self, ma: MachineAddr) -> Option<GuestPhysAddr> {
        let frame = MachineAddr::new(ma.raw() & !(FRAME - 1));
        let i = self.frames.iter().position(|f| *f == Some(frame))?;
        Some(GuestPhysAddr::new(i as u32 * FRAME + ma.raw() % FRAME))
    }

    /// Copies `bytes` into guest-physical RAM at `gpa` (the loader's path),
    /// allocating frames as needed.
    pub fn write(
        &mut self,
        gpa: GuestPhysAddr,
        bytes: &[u8],
        pool: &mut FramePool,
        machine: &mut Machine,
    ) -> Result<(), MemoryError> {
        let mut a = gpa.raw();
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = rest.len().min((FRAME - a % FRAME) as usize);
            let f = self.frame(GuestPhysAddr::new(a & !(FRAME - 1)), pool, machine)?;
            machine.write_machine(f.wrapping_add(a % FRAME), &rest[..n])?;
            rest = &rest[n..];
            a = a
                .checked_add(n as u32)
                .ok_or(MemoryError::NotRam(GuestPhysAddr::new(a)))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_lazy_zeroed_and_private() {
        let mut m = Machine::for_monitor(4 << 20).unwrap();
        let mut pool = FramePool::new(&m).unwrap();
        let before = pool.available();
        // Dirty the frame the pool will hand out next.
        m.write_machine(MachineAddr::new(FRAME), &[0xaa; 16])
            .unwrap();
        let mut a = GuestMemory::new(1 << 20);
        let mut b = GuestMemory::new(1 << 20);
        let fa = a
            .frame(GuestPhysAddr::new(0x3000), &mut pool, &mut m)
            .unwrap();
        assert_eq!(fa, MachineAddr::new(FRAME));
        assert_eq!(m.read_machine_u32(fa).unwrap(), 0, "zeroed before use");
        assert_eq!(
            a.frame(GuestPhysAddr::new(0x3ffc), &mut pool, &mut m),
            Ok(fa)
        );
        let fb = b
            .frame(GuestPhysAddr::new(0x3000), &mut pool, &mut m)
            .unwrap();
        assert_ne!(fa, fb);
        assert_eq!(pool.available(), before - 2);
        assert_eq!(a.frames_zeroed, 1);
        assert_eq!(
            a.frame(GuestPhysAddr::new(1 << 20), &mut pool, &mut m),
            Err(MemoryError::NotRam(GuestPhysAddr::new(1 << 20)))
        );
        assert_eq!(a.kind(GuestPhysAddr::new(UART_BASE)), GpaKind::UartPage);
        assert_eq!(a.kind(GuestPhysAddr::new(ROM_BASE)), GpaKind::Rom);
        assert_eq!(a.kind(GuestPhysAddr::new(0x1000_0000)), GpaKind::None);
        assert_eq!(
            GuestMemory::uart_register(GuestPhysAddr::new(UART_BASE + 5)),
            Some(5)
        );
        let page = GuestPhysAddr::new(UART_BASE & !(FRAME - 1));
        assert!(!GuestMemory::touches_uart(page, UART_BASE - page.raw()));
        assert!(GuestMemory::touches_uart(page, UART_BASE - page.raw() + 1));
        assert!(GuestMemory::touches_uart(
            GuestPhysAddr::new(UART_BASE + 7),
            1
        ));
        assert!(!GuestMemory::touches_uart(
            GuestPhysAddr::new(UART_BASE + 8),
            8
        ));
    }
}
