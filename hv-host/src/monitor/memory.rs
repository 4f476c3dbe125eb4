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
//! What each guest-physical address of a VM is (RAM, ROM, a device) is
//! its board's map ([`crate::machine::board::Board::page_kind`]), the same
//! map a native machine of that board has; this module only backs its RAM
//! with frames and its ROM pages with shared read-only frames.

use crate::addr::{GuestPhysAddr, MachineAddr};
use crate::machine::board::BoardKind;
use crate::machine::{Machine, MemError};
use thiserror::Error;

/// Bytes per frame.
pub const FRAME: u32 = 4096;

/// Errors of guest-physical memory.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

/// The machine memory the monitor hands out: one contiguous region per VM
/// (aligned to [`REGION_ALIGN`], so that the monitor can map a VM's
/// memory with large pages where the VM's frames are all in use), and a
/// frame of zeros shared read-only by every VM's boot ROM window, and one
/// frame per ROM page a board fills ([`BoardKind::rom_words`]).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct FramePool {
    /// Free extents `(base, bytes)`, in address order.
    free: Vec<(MachineAddr, u32)>,
    /// A frame of zeros that the boot ROM window of every VM maps to,
    /// read-only.
    zero: MachineAddr,
    /// The ROM pages boards fill: board, guest-physical page, frame
    /// (shared read-only).
    rom_pages: Vec<(BoardKind, u32, MachineAddr)>,
}

/// Alignment of a VM's region (the largest page the monitor maps with).
pub const REGION_ALIGN: u32 = 1 << 20;

impl FramePool {
    /// All of `machine`'s RAM; its first frame becomes the zero frame, the
    /// next ones the ROM pages boards fill (the Malta revision word).
    pub fn new(machine: &mut Machine) -> Result<Self, MemoryError> {
        let mut free: Vec<(MachineAddr, u32)> = machine.ram_regions().collect();
        let first = free.first_mut().ok_or(MemoryError::OutOfFrames)?;
        let zero = first.0;
        let mut rom_pages: Vec<(BoardKind, u32, MachineAddr)> = Vec::new();
        for kind in BoardKind::ALL {
            for &(pa, value) in kind.rom_words() {
                let page = pa & !(FRAME - 1);
                let frame = match rom_pages.iter().find(|&&(k, p, _)| k == kind && p == page) {
                    Some(&(_, _, f)) => f,
                    None => {
                        let f = zero.wrapping_add(FRAME * (1 + rom_pages.len() as u32));
                        rom_pages.push((kind, page, f));
                        f
                    }
                };
                machine.write_machine(frame.wrapping_add(pa - page), &value.to_le_bytes())?;
            }
        }
        // The zero frame takes the first aligned region's worth, so that
        // VM regions stay aligned.
        let skip = REGION_ALIGN.min(first.1);
        *first = (first.0.wrapping_add(skip), first.1 - skip);
        Ok(Self {
            free,
            zero,
            rom_pages,
        })
    }

    /// The frame a ROM page at guest-physical `gpa` of a `board` maps to,
    /// read-only.
    pub fn rom_frame(&self, gpa: GuestPhysAddr, board: BoardKind) -> MachineAddr {
        let page = gpa.raw() & !(FRAME - 1);
        self.rom_pages
            .iter()
            .find(|&&(k, p, _)| k == board && p == page)
            .map_or(self.zero, |&(_, _, f)| f)
    }

    /// Machine memory a machine needs for VMs of these RAM sizes: their
    /// aligned regions, the zero frame's, and slack for a region that
    /// cannot straddle the I/O hole.
    pub fn machine_bytes_for(ram: &[u32]) -> u64 {
        let aligned =
            |b: u32| u64::from(b).div_ceil(u64::from(REGION_ALIGN)) * u64::from(REGION_ALIGN);
        let sum: u64 = ram.iter().map(|&b| aligned(b)).sum();
        let largest = ram.iter().map(|&b| aligned(b)).max().unwrap_or(0);
        let total = u64::from(REGION_ALIGN) + sum;
        if total > u64::from(crate::machine::bus::LOW_RAM_MAX) {
            total + largest
        } else {
            total
        }
    }

    /// The shared read-only zero frame.
    pub fn zero_frame(&self) -> MachineAddr {
        self.zero
    }

    /// Bytes left.
    pub fn available(&self) -> u64 {
        self.free.iter().map(|&(_, n)| u64::from(n)).sum()
    }

    /// Takes a contiguous region of `bytes` (rounded up to
    /// [`REGION_ALIGN`]) for a VM.
    pub fn alloc_region(&mut self, bytes: u32) -> Result<MachineAddr, MemoryError> {
        let want = bytes.div_ceil(REGION_ALIGN) * REGION_ALIGN;
        let e = self
            .free
            .iter_mut()
            .find(|e| e.1 >= want)
            .ok_or(MemoryError::OutOfFrames)?;
        let base = e.0;
        *e = (e.0.wrapping_add(want), e.1 - want);
        Ok(base)
    }
}

/// A VM's guest-physical memory: RAM frame `gpa` lives at machine address
/// `base + gpa` of the VM's region.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct GuestMemory {
    ram_bytes: u32,
    base: MachineAddr,
    /// Whether each guest frame has been given to the VM (and zeroed).
    allocated: Vec<bool>,
    /// Whether each guest frame may have been written since the monitor
    /// zeroed it (write tracking, for "page already zeroed").
    written: Vec<bool>,
    /// Frames the monitor zeroed before the VM first saw them.
    pub frames_zeroed: u64,
}

impl GuestMemory {
    /// A map of `ram_bytes` of RAM (a multiple of [`FRAME`]) over the
    /// region at `base`, no frame of it in use yet.
    pub fn new(ram_bytes: u32, base: MachineAddr) -> Self {
        let n = (ram_bytes / FRAME) as usize;
        Self {
            ram_bytes,
            base,
            allocated: vec![false; n],
            written: vec![false; n],
            frames_zeroed: 0,
        }
    }

    /// RAM size in bytes.
    pub fn ram_bytes(&self) -> u32 {
        self.ram_bytes
    }

    /// Whether `other` maps the same RAM at the same place, with
    /// bookkeeping of the same size (a snapshot's map is checked so).
    pub(crate) fn same_shape(&self, other: &GuestMemory) -> bool {
        self.ram_bytes == other.ram_bytes
            && self.base == other.base
            && self.allocated.len() == other.allocated.len()
            && self.written.len() == other.written.len()
    }

    /// The machine frame behind RAM frame `gpa`, zeroed on first use.
    pub fn frame(
        &mut self,
        gpa: GuestPhysAddr,
        machine: &mut Machine,
    ) -> Result<MachineAddr, MemoryError> {
        let i = (gpa.raw() / FRAME) as usize;
        if gpa.raw() >= self.ram_bytes {
            return Err(MemoryError::NotRam(gpa));
        }
        let f = self.base.wrapping_add(gpa.raw() & !(FRAME - 1));
        if !self.allocated[i] {
            machine.zero_machine(f, FRAME)?;
            self.allocated[i] = true;
            self.frames_zeroed += 1;
        }
        Ok(f)
    }

    /// Whether the aligned group of `frames` frames holding `gpa` is all
    /// RAM in use, and (with `written`) all marked written: then one large
    /// page may map it.
    pub fn group_ready(&self, gpa: GuestPhysAddr, frames: u32, written: bool) -> bool {
        let first = ((gpa.raw() / FRAME) & !(frames - 1)) as usize;
        let end = first + frames as usize;
        end <= self.allocated.len()
            && self.allocated[first..end].iter().all(|&a| a)
            && (!written || self.written[first..end].iter().all(|&w| w))
    }

    /// The machine address of RAM byte `gpa` (in use or not).
    pub fn machine_addr(&self, gpa: GuestPhysAddr) -> Option<MachineAddr> {
        (gpa.raw() < self.ram_bytes).then(|| self.base.wrapping_add(gpa.raw()))
    }

    /// Whether RAM frame `gpa` is all-zero for certain: never touched (it
    /// will be zeroed on first use), or zeroed by the monitor and not
    /// written since through any path the monitor let write it.
    pub fn vouch_zero(&self, gpa: GuestPhysAddr) -> bool {
        let i = (gpa.raw() / FRAME) as usize;
        gpa.raw() < self.ram_bytes && !self.written.get(i).copied().unwrap_or(true)
    }

    /// Whether RAM frame `gpa` may have been written since it was zeroed.
    pub fn is_written(&self, gpa: GuestPhysAddr) -> bool {
        let i = (gpa.raw() / FRAME) as usize;
        self.written.get(i).copied().unwrap_or(true)
    }

    /// Records that RAM frame `gpa` is (about to be) written.
    pub fn mark_written(&mut self, gpa: GuestPhysAddr) {
        if let Some(w) = self.written.get_mut((gpa.raw() / FRAME) as usize) {
            *w = true;
        }
    }

    /// The machine address of RAM byte `gpa` if its frame is in use.
    pub fn peek(&self, gpa: GuestPhysAddr) -> Option<MachineAddr> {
        let i = (gpa.raw() / FRAME) as usize;
        (*self.allocated.get(i)?).then(|| self.base.wrapping_add(gpa.raw()))
    }

    /// The guest-physical address of machine address `ma`, if it lies in
    /// one of this VM's frames in use.
    pub fn reverse(&self, ma: MachineAddr) -> Option<GuestPhysAddr> {
        let off = ma.raw().checked_sub(self.base.raw())?;
        let gpa = GuestPhysAddr::new(off);
        self.peek(gpa).map(|_| gpa)
    }

    /// Copies `bytes` into guest-physical RAM at `gpa` (the loader's path),
    /// taking frames into use as needed.
    pub fn write(
        &mut self,
        gpa: GuestPhysAddr,
        bytes: &[u8],
        machine: &mut Machine,
    ) -> Result<(), MemoryError> {
        let mut a = gpa.raw();
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = rest.len().min((FRAME - a % FRAME) as usize);
            let frame = GuestPhysAddr::new(a & !(FRAME - 1));
            let f = self.frame(frame, machine)?;
            self.mark_written(frame);
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
        let mut pool = FramePool::new(&mut m).unwrap();
        let ra = pool.alloc_region(1 << 20).unwrap();
        let rb = pool.alloc_region(1 << 20).unwrap();
        assert_ne!(ra, rb);
        assert_eq!(ra.raw() % REGION_ALIGN, 0);
        // Dirty the frame VM a will get for guest-physical 0x3000.
        m.write_machine(ra.wrapping_add(0x3000), &[0xaa; 16])
            .unwrap();
        let mut a = GuestMemory::new(1 << 20, ra);
        let mut b = GuestMemory::new(1 << 20, rb);
        let fa = a.frame(GuestPhysAddr::new(0x3000), &mut m).unwrap();
        assert_eq!(fa, ra.wrapping_add(0x3000));
        assert_eq!(m.read_machine_u32(fa).unwrap(), 0, "zeroed before use");
        assert_eq!(a.frame(GuestPhysAddr::new(0x3ffc), &mut m), Ok(fa));
        let fb = b.frame(GuestPhysAddr::new(0x3000), &mut m).unwrap();
        assert_ne!(fa, fb);
        assert_eq!(a.frames_zeroed, 1);
        assert_eq!(
            a.frame(GuestPhysAddr::new(1 << 20), &mut m),
            Err(MemoryError::NotRam(GuestPhysAddr::new(1 << 20)))
        );
        assert!(pool.alloc_region(2 << 20).is_err(), "only 1 MiB left");
        assert_eq!(
            a.reverse(fa.wrapping_add(8)),
            Some(GuestPhysAddr::new(0x3008))
        );
        assert_eq!(a.reverse(fb), None);
    }

    #[test]
    fn rom_frames_hold_what_boards_put_in_their_rom() {
        use crate::machine::bus::ROM_BASE;
        let mut m = Machine::for_monitor(4 << 20).unwrap();
        let pool = FramePool::new(&mut m).unwrap();
        let rom = GuestPhysAddr::new(ROM_BASE);
        let malta = pool.rom_frame(rom, BoardKind::Malta);
        assert_eq!(malta, pool.zero_frame().wrapping_add(FRAME));
        assert_eq!(m.read_machine_u32(malta.wrapping_add(0x10)), Ok(0x420));
        assert_eq!(pool.rom_frame(rom, BoardKind::Mipssim), pool.zero_frame());
        let next = GuestPhysAddr::new(ROM_BASE + FRAME);
        assert_eq!(pool.rom_frame(next, BoardKind::Malta), pool.zero_frame());
    }

    #[test]
    fn groups_and_write_tracking() {
        let mut m = Machine::for_monitor(4 << 20).unwrap();
        let mut pool = FramePool::new(&mut m).unwrap();
        let mut a = GuestMemory::new(1 << 20, pool.alloc_region(1 << 20).unwrap());
        for f in 0..16 {
            assert!(!a.group_ready(GuestPhysAddr::new(0x10000), 16, false));
            a.frame(GuestPhysAddr::new(0x10000 + f * FRAME), &mut m)
                .unwrap();
        }
        assert!(a.group_ready(GuestPhysAddr::new(0x1f000), 16, false));
        assert!(!a.group_ready(GuestPhysAddr::new(0x1f000), 16, true));
        assert!(a.vouch_zero(GuestPhysAddr::new(0x10000)));
        assert!(a.vouch_zero(GuestPhysAddr::new(0x90000)), "never touched");
        a.mark_written(GuestPhysAddr::new(0x10000));
        assert!(!a.vouch_zero(GuestPhysAddr::new(0x10000)));
        assert!(!a.vouch_zero(GuestPhysAddr::new(1 << 20)), "not RAM");
    }
}
