//! Guest-physical memory: the machine frames the monitor hands out
//! ([`FramePool`]) and each VM's map from guest-physical frames to machine
//! frames ([`GuestMemory`]).
//!
//! Machine memory is one pool of 4 KiB frames that every VM draws from as
//! it touches pages, as Disco's pmap did: the VMs' RAM sizes may add up to
//! more than the machine has (overcommit). A VM's frame is allocated the
//! first time the VM touches its guest-physical page, and zeroed by the
//! monitor before the VM sees it (a real machine's RAM would hold garbage;
//! a monitor must not leak one VM's data to another). When the pool is
//! used up, the VM that asked gets [`MemoryError::OutOfFrames`] (the
//! monitor stops that VM, never the host).
//!
//! Frames are handed out so that a VM's memory stays contiguous where it
//! can: each MiB of a VM's guest-physical memory has a *home*, a free MiB
//! of machine memory claimed when the VM first touches that MiB, and its
//! frames go to their place in the home while that is free; then the
//! monitor can map kseg0 with large pages. When no free MiB is left, a
//! frame comes from wherever one is free.
//!
//! A frame may back several guest frames, of one VM or several, when
//! their contents are the same ([`super::share`], `--share-pages`): it is
//! then read-only to all of them (the monitor maps it without the dirty
//! bit), and the first store through any of them gets a private copy
//! ([`GuestMemory::private_frame`], copy-on-write). The pool counts the
//! guest frames behind each machine frame; a frame with no guest frame
//! left goes back to the pool and its host memory back to the host.
//!
//! What each guest-physical address of a VM is (RAM, ROM, a device) is
//! its board's map ([`crate::machine::board::Board::page_kind`]), the same
//! map a native machine of that board has; this module only backs its RAM
//! with frames and its ROM pages with shared read-only frames.

use crate::addr::{GuestPhysAddr, MachineAddr};
use crate::machine::board::BoardKind;
use crate::machine::{Machine, MemError};
use std::collections::BTreeSet;
use thiserror::Error;

/// Bytes per frame.
pub const FRAME: u32 = 4096;

/// Frames per chunk (a MiB: the largest page the monitor maps with).
const CHUNK_FRAMES: u32 = REGION_ALIGN / FRAME;

/// No frame or no chunk.
const NONE: u32 = u32::MAX;

/// Errors of guest-physical memory.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MemoryError {
    /// The machine has no free frame left.
    #[error(
        "out of machine memory: every frame of the pool is in use (the VMs' memory is overcommitted; see --max-host-mem)"
    )]
    OutOfFrames,
    /// The guest-physical address is not RAM.
    #[error("guest-physical {0} is not RAM")]
    NotRam(GuestPhysAddr),
    /// A machine access failed (a monitor bug: frames are always RAM).
    #[error(transparent)]
    Machine(#[from] MemError),
}

/// One MiB of machine memory in the pool.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Chunk {
    /// Its machine address.
    base: MachineAddr,
    /// Frames of it not in use.
    free: u32,
    /// Whether a VM claimed it as the home of one of its MiBs (or the
    /// pool as the place loose frames come from).
    claimed: bool,
}

/// The machine memory the monitor hands out, frame by frame: a frame of
/// zeros shared read-only by every VM's boot ROM window (and by guest
/// frames known to hold zeros), one frame per ROM page a board fills
/// ([`BoardKind::rom_words`]), and the rest for the VMs' RAM.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct FramePool {
    /// The pool's MiBs, in address order.
    chunks: Vec<Chunk>,
    /// Guest frames behind each frame of the pool (chunk-major; 0: free).
    refs: Vec<u16>,
    /// Chunks all free and unclaimed.
    unclaimed: BTreeSet<u32>,
    /// Chunks with a free frame.
    with_free: BTreeSet<u32>,
    /// The chunk loose frames come from now.
    loose: u32,
    /// A frame of zeros that the boot ROM window of every VM maps to,
    /// read-only.
    zero: MachineAddr,
    /// The ROM pages boards fill: board, guest-physical page, frame
    /// (shared read-only).
    rom_pages: Vec<(BoardKind, u32, MachineAddr)>,
    /// Frames in use now, and the most ever in use at once.
    used: u64,
    peak: u64,
}

/// Alignment of a home (the largest page the monitor maps with).
pub const REGION_ALIGN: u32 = 1 << 20;

impl FramePool {
    /// All of `machine`'s RAM; its first frame becomes the zero frame, the
    /// next ones the ROM pages boards fill (the Malta revision word), and
    /// the rest of that first MiB is not used.
    pub fn new(machine: &mut Machine) -> Result<Self, MemoryError> {
        let regions: Vec<(MachineAddr, u32)> = machine.ram_regions().collect();
        let first = regions.first().ok_or(MemoryError::OutOfFrames)?;
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
        let mut chunks = Vec::new();
        for (i, &(base, bytes)) in regions.iter().enumerate() {
            // The zero frame's MiB is the monitor's.
            let skip = if i == 0 { REGION_ALIGN.min(bytes) } else { 0 };
            let mut a = base.raw().div_ceil(REGION_ALIGN) * REGION_ALIGN;
            a = a.max(base.raw() + skip);
            while u64::from(a) + u64::from(REGION_ALIGN) <= u64::from(base.raw()) + u64::from(bytes)
            {
                chunks.push(Chunk {
                    base: MachineAddr::new(a),
                    free: CHUNK_FRAMES,
                    claimed: false,
                });
                a += REGION_ALIGN;
            }
        }
        let n = chunks.len() as u32;
        Ok(Self {
            refs: vec![0; (n * CHUNK_FRAMES) as usize],
            unclaimed: (0..n).collect(),
            with_free: (0..n).collect(),
            loose: NONE,
            chunks,
            zero,
            rom_pages,
            used: 0,
            peak: 0,
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

    /// Machine memory a machine needs so that VMs of these RAM sizes can
    /// touch all of their RAM at once: a MiB for the monitor's frames, and
    /// each VM's RAM in whole MiBs (a machine may have less: the VMs then
    /// share what it has, [`FramePool`]).
    pub fn machine_bytes_for(ram: &[u32]) -> u64 {
        let aligned =
            |b: u32| u64::from(b).div_ceil(u64::from(REGION_ALIGN)) * u64::from(REGION_ALIGN);
        u64::from(REGION_ALIGN) + ram.iter().map(|&b| aligned(b)).sum::<u64>()
    }

    /// The shared read-only zero frame.
    pub fn zero_frame(&self) -> MachineAddr {
        self.zero
    }

    /// Bytes of the pool not in use.
    pub fn available(&self) -> u64 {
        self.chunks.iter().map(|c| u64::from(c.free)).sum::<u64>() * u64::from(FRAME)
    }

    /// Frames of the pool.
    pub fn frames(&self) -> u64 {
        self.refs.len() as u64
    }

    /// Frames of the pool in use.
    pub fn frames_in_use(&self) -> u64 {
        self.used
    }

    /// The most frames of the pool ever in use at once.
    pub fn peak_frames_in_use(&self) -> u64 {
        self.peak
    }

    /// Whether `other` has the same frames (a snapshot's pool is checked
    /// so).
    pub(crate) fn same_shape(&self, other: &FramePool) -> bool {
        self.zero == other.zero
            && self.refs.len() == other.refs.len()
            && self.chunks.len() == other.chunks.len()
            && self
                .chunks
                .iter()
                .zip(&other.chunks)
                .all(|(a, b)| a.base == b.base)
            && (other.loose == NONE || (other.loose as usize) < other.chunks.len())
            && other
                .unclaimed
                .iter()
                .chain(&other.with_free)
                .all(|&c| (c as usize) < other.chunks.len())
    }

    /// The pool's index of the frame at `ma`, if it is one of the pool's.
    fn index(&self, ma: MachineAddr) -> Option<usize> {
        let c = self
            .chunks
            .partition_point(|c| c.base.raw() <= ma.raw())
            .checked_sub(1)?;
        let off = ma.raw() - self.chunks[c].base.raw();
        (off < REGION_ALIGN).then(|| c * CHUNK_FRAMES as usize + (off / FRAME) as usize)
    }

    fn addr(&self, i: usize) -> MachineAddr {
        let c = &self.chunks[i / CHUNK_FRAMES as usize];
        c.base.wrapping_add((i as u32 % CHUNK_FRAMES) * FRAME)
    }

    /// Guest frames behind the frame at `ma` (the zero frame and ROM
    /// frames count as many).
    pub fn refs(&self, ma: MachineAddr) -> u32 {
        match self.index(ma) {
            Some(i) => u32::from(self.refs[i]),
            None => u32::MAX,
        }
    }

    /// Whether the frame at `ma` backs more than one guest frame (or is
    /// one of the monitor's shared frames): stores to it must copy it.
    pub fn is_shared(&self, ma: MachineAddr) -> bool {
        self.refs(ma) > 1
    }

    fn take(&mut self, i: usize) -> MachineAddr {
        self.refs[i] = 1;
        self.used += 1;
        self.peak = self.peak.max(self.used);
        let c = i / CHUNK_FRAMES as usize;
        let chunk = &mut self.chunks[c];
        chunk.free -= 1;
        if chunk.free == 0 {
            self.with_free.remove(&(c as u32));
        }
        if !chunk.claimed {
            chunk.claimed = true;
            self.unclaimed.remove(&(c as u32));
        }
        self.addr(i)
    }

    /// Claims a free MiB as a home; its machine address.
    fn claim(&mut self) -> Option<MachineAddr> {
        let c = self.unclaimed.pop_first()?;
        self.chunks[c as usize].claimed = true;
        Some(self.chunks[c as usize].base)
    }

    /// Takes the frame at `ma` if it is free.
    fn take_at(&mut self, ma: MachineAddr) -> Option<MachineAddr> {
        let i = self.index(ma)?;
        (self.refs[i] == 0).then(|| self.take(i))
    }

    /// Takes any free frame: from the chunk loose frames come from, a new
    /// such chunk, or any chunk with a free frame (another VM's home).
    fn take_any(&mut self) -> Option<MachineAddr> {
        if self.loose == NONE || self.chunks[self.loose as usize].free == 0 {
            self.loose = match self.unclaimed.first() {
                Some(&c) => c,
                None => *self.with_free.first()?,
            };
        }
        let c = self.loose as usize;
        let first = c * CHUNK_FRAMES as usize;
        let i = (first..first + CHUNK_FRAMES as usize).find(|&i| self.refs[i] == 0)?;
        Some(self.take(i))
    }

    /// One more guest frame is behind the frame at `ma` (not the pool's:
    /// nothing to count).
    fn add_ref(&mut self, ma: MachineAddr) {
        if let Some(i) = self.index(ma) {
            self.refs[i] = self.refs[i].saturating_add(1);
        }
    }

    /// One guest frame less is behind the frame at `ma`; the last one
    /// gives the frame back to the pool and its memory back to the host.
    fn drop_ref(&mut self, ma: MachineAddr, machine: &mut Machine) {
        let Some(i) = self.index(ma) else { return };
        match self.refs[i] {
            0 => {}
            // A count that saturated stays: the frame is never freed.
            u16::MAX => {}
            1 => {
                self.refs[i] = 0;
                self.used -= 1;
                let c = i / CHUNK_FRAMES as usize;
                self.chunks[c].free += 1;
                self.with_free.insert(c as u32);
                let _ = machine.release_machine(ma, FRAME);
            }
            n => self.refs[i] = n - 1,
        }
    }
}

/// A VM's guest-physical memory: which machine frame backs each frame of
/// its RAM, and the home of each of its MiBs.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct GuestMemory {
    ram_bytes: u32,
    /// The machine frame behind each guest frame (its address), or
    /// [`NONE`] before the VM first touches it.
    frames: Vec<u32>,
    /// The home of each MiB (a machine address), or [`NONE`].
    homes: Vec<u32>,
    /// Whether each guest frame may have been written since the monitor
    /// zeroed it (write tracking, for "page already zeroed").
    written: Vec<bool>,
    /// Whether each guest frame is released (the balloon,
    /// `FramesRelease`): not backed, and not to be used until reclaimed.
    released: Vec<bool>,
    /// Frames the guest released (each counted once per release).
    pub frames_released: u64,
    /// Released frames the guest reclaimed (`FramesReclaim`).
    pub frames_reclaimed: u64,
    /// Released frames touched without being reclaimed (by the guest, or
    /// by a monitor write to them): taken back into use implicitly.
    pub released_touched: u64,
    /// Frames the monitor zeroed before the VM first saw them.
    pub frames_zeroed: u64,
    /// Stores that found their frame shared and got a private copy.
    pub cow_breaks: u64,
    /// Guest frames the monitor backed with a frame of the same contents
    /// (page sharing).
    pub frames_merged: u64,
}

impl GuestMemory {
    /// A map of `ram_bytes` of RAM (a multiple of [`FRAME`]), no frame of
    /// it in use yet.
    pub fn new(ram_bytes: u32) -> Self {
        let n = (ram_bytes / FRAME) as usize;
        Self {
            ram_bytes,
            frames: vec![NONE; n],
            homes: vec![NONE; ram_bytes.div_ceil(REGION_ALIGN) as usize],
            written: vec![false; n],
            released: vec![false; n],
            frames_released: 0,
            frames_reclaimed: 0,
            released_touched: 0,
            frames_zeroed: 0,
            cow_breaks: 0,
            frames_merged: 0,
        }
    }

    /// RAM size in bytes.
    pub fn ram_bytes(&self) -> u32 {
        self.ram_bytes
    }

    /// Bytes of host memory this map takes beside its frames.
    pub fn bookkeeping_bytes(&self) -> u64 {
        (self.frames.len() * 6 + self.homes.len() * 4) as u64
    }

    /// Guest frames in use (backed by a machine frame, private or shared).
    pub fn frames_in_use(&self) -> u64 {
        self.frames.iter().filter(|&&f| f != NONE).count() as u64
    }

    /// Whether `other` has bookkeeping of the same size (a snapshot's map
    /// is checked so).
    pub(crate) fn same_shape(&self, other: &GuestMemory) -> bool {
        self.ram_bytes == other.ram_bytes
            && self.frames.len() == other.frames.len()
            && self.homes.len() == other.homes.len()
            && self.written.len() == other.written.len()
            && self.released.len() == other.released.len()
    }

    /// Whether every frame this map uses is one of `pool`'s in use or its
    /// zero frame (a snapshot's maps are checked so).
    pub(crate) fn valid_in(&self, pool: &FramePool) -> bool {
        self.frames.iter().all(|&f| {
            f == NONE
                || f == pool.zero.raw()
                || (f % FRAME == 0
                    && pool.refs(MachineAddr::new(f)) >= 1
                    && pool.index(MachineAddr::new(f)).is_some())
        })
    }

    fn index(&self, gpa: GuestPhysAddr) -> Result<usize, MemoryError> {
        if gpa.raw() >= self.ram_bytes {
            return Err(MemoryError::NotRam(gpa));
        }
        Ok((gpa.raw() / FRAME) as usize)
    }

    /// The machine frame behind RAM frame `gpa`, taken from the pool and
    /// zeroed on first use. It may be shared: see
    /// [`GuestMemory::private_frame`] before writing it.
    pub fn frame(
        &mut self,
        gpa: GuestPhysAddr,
        pool: &mut FramePool,
        machine: &mut Machine,
    ) -> Result<MachineAddr, MemoryError> {
        let i = self.index(gpa)?;
        if self.frames[i] != NONE {
            return Ok(MachineAddr::new(self.frames[i]));
        }
        let f = self.allocate(i, pool)?;
        machine.zero_machine(f, FRAME)?;
        self.frames[i] = f.raw();
        self.frames_zeroed += 1;
        if std::mem::take(&mut self.released[i]) {
            // Touched while released: in use again, with zeros.
            self.released_touched += 1;
        }
        Ok(f)
    }

    /// A free frame for guest frame `i`: its place in its MiB's home if
    /// free, else any.
    fn allocate(&mut self, i: usize, pool: &mut FramePool) -> Result<MachineAddr, MemoryError> {
        let mib = i / CHUNK_FRAMES as usize;
        if self.homes[mib] == NONE
            && let Some(home) = pool.claim()
        {
            self.homes[mib] = home.raw();
        }
        let at = (self.homes[mib] != NONE).then(|| {
            MachineAddr::new(self.homes[mib]).wrapping_add((i as u32 % CHUNK_FRAMES) * FRAME)
        });
        at.and_then(|a| pool.take_at(a))
            .or_else(|| pool.take_any())
            .ok_or(MemoryError::OutOfFrames)
    }

    /// The machine frame behind RAM frame `gpa`, the VM's own to write: a
    /// shared frame is copied first (copy-on-write). Returns it and
    /// whether it was copied (then the old frame may still be mapped: the
    /// caller drops every real mapping of this VM's).
    pub fn private_frame(
        &mut self,
        gpa: GuestPhysAddr,
        pool: &mut FramePool,
        machine: &mut Machine,
    ) -> Result<(MachineAddr, bool), MemoryError> {
        let old = self.frame(gpa, pool, machine)?;
        if !pool.is_shared(old) {
            return Ok((old, false));
        }
        let i = self.index(gpa)?;
        let new = self.allocate(i, pool)?;
        let mut bytes = vec![0u8; FRAME as usize];
        machine.read_machine(old, &mut bytes)?;
        machine.write_machine(new, &bytes)?;
        self.frames[i] = new.raw();
        pool.drop_ref(old, machine);
        self.cow_breaks += 1;
        Ok((new, true))
    }

    /// Whether RAM frame `gpa` is in use and its frame shared.
    pub fn is_shared(&self, gpa: GuestPhysAddr, pool: &FramePool) -> bool {
        self.peek(gpa)
            .is_some_and(|ma| pool.is_shared(ma.align_down(FRAME)))
    }

    /// Backs RAM frame `gpa` (in use) with `target` instead, a frame of
    /// the same contents (the zero frame, or one in use), and gives its
    /// own frame back. The caller checked the contents and drops every
    /// real mapping of this VM's.
    pub fn merge(
        &mut self,
        gpa: GuestPhysAddr,
        target: MachineAddr,
        pool: &mut FramePool,
        machine: &mut Machine,
    ) {
        let Ok(i) = self.index(gpa) else { return };
        let own = self.frames[i];
        if own == NONE || own == target.raw() {
            return;
        }
        pool.add_ref(target);
        self.frames[i] = target.raw();
        pool.drop_ref(MachineAddr::new(own), machine);
        self.frames_merged += 1;
    }

    /// Gives the frame behind RAM frame `gpa` back: the VM's page is as
    /// before its first touch (it reads zeros when touched again).
    pub fn release(&mut self, gpa: GuestPhysAddr, pool: &mut FramePool, machine: &mut Machine) {
        let Ok(i) = self.index(gpa) else { return };
        let own = std::mem::replace(&mut self.frames[i], NONE);
        if own != NONE {
            pool.drop_ref(MachineAddr::new(own), machine);
        }
        self.written[i] = false;
    }

    /// Releases RAM frame `gpa` (the balloon's `FramesRelease`): its
    /// frame goes back to the pool as with [`GuestMemory::release`], and
    /// the frame is marked released until reclaimed or touched. Returns
    /// whether it was not released already, and whether a machine frame
    /// backed it (the caller then drops the real TLB's mappings).
    pub fn balloon_release(
        &mut self,
        gpa: GuestPhysAddr,
        pool: &mut FramePool,
        machine: &mut Machine,
    ) -> (bool, bool) {
        let Ok(i) = self.index(gpa) else {
            return (false, false);
        };
        let backed = self.frames[i] != NONE;
        self.release(gpa, pool, machine);
        let newly = !std::mem::replace(&mut self.released[i], true);
        if newly {
            self.frames_released += 1;
        }
        (newly, backed)
    }

    /// Reclaims RAM frame `gpa` (the balloon's `FramesReclaim`): usable
    /// again, all zeros, backed at its first touch. Returns whether it was
    /// released.
    pub fn balloon_reclaim(&mut self, gpa: GuestPhysAddr) -> bool {
        let Ok(i) = self.index(gpa) else { return false };
        let was = std::mem::take(&mut self.released[i]);
        if was {
            self.frames_reclaimed += 1;
        }
        was
    }

    /// Whether RAM frame `gpa` is released and not reclaimed.
    pub fn is_released(&self, gpa: GuestPhysAddr) -> bool {
        let i = (gpa.raw() / FRAME) as usize;
        self.released.get(i).copied().unwrap_or(false)
    }

    /// Guest frames released now (not reclaimed, not touched since).
    pub fn frames_released_now(&self) -> u64 {
        self.released.iter().filter(|&&r| r).count() as u64
    }

    /// Whether the aligned group of `frames` frames holding `gpa` is all
    /// RAM in use, contiguous and aligned in machine memory, none of it
    /// shared, and (with `written`) all marked written: then one large
    /// page may map it. Returns the group's machine address.
    pub fn group_ready(
        &self,
        gpa: GuestPhysAddr,
        frames: u32,
        written: bool,
        pool: &FramePool,
    ) -> Option<MachineAddr> {
        let first = ((gpa.raw() / FRAME) & !(frames - 1)) as usize;
        let end = first + frames as usize;
        if end > self.frames.len() {
            return None;
        }
        let base = self.frames[first];
        let aligned = base != NONE && base.is_multiple_of(frames * FRAME);
        let contiguous = self.frames[first..end]
            .iter()
            .enumerate()
            .all(|(k, &f)| f == base.wrapping_add(k as u32 * FRAME));
        let ok = aligned
            && contiguous
            && (!written || self.written[first..end].iter().all(|&w| w))
            && self.frames[first..end]
                .iter()
                .all(|&f| !pool.is_shared(MachineAddr::new(f)));
        ok.then(|| MachineAddr::new(base))
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
        let f = *self.frames.get(i)?;
        (f != NONE).then(|| MachineAddr::new(f).wrapping_add(gpa.raw() % FRAME))
    }

    /// The guest-physical address of machine address `ma`, if it lies in
    /// one of this VM's frames in use (the lowest such, if the frame is
    /// shared).
    pub fn reverse(&self, ma: MachineAddr) -> Option<GuestPhysAddr> {
        let frame = ma.raw() & !(FRAME - 1);
        // The home of the MiB first: where the frame most likely is.
        let mib = self
            .homes
            .iter()
            .position(|&h| h == ma.raw() & !(REGION_ALIGN - 1));
        if let Some(m) = mib {
            let i = m * CHUNK_FRAMES as usize + (ma.raw() % REGION_ALIGN / FRAME) as usize;
            if self.frames.get(i) == Some(&frame) {
                return Some(GuestPhysAddr::new(i as u32 * FRAME + ma.raw() % FRAME));
            }
        }
        let i = self.frames.iter().position(|&f| f == frame)?;
        Some(GuestPhysAddr::new(i as u32 * FRAME + ma.raw() % FRAME))
    }

    /// Copies `bytes` into guest-physical RAM at `gpa` (the loader's path),
    /// taking frames into use as needed.
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
            let frame = GuestPhysAddr::new(a & !(FRAME - 1));
            let (f, _) = self.private_frame(frame, pool, machine)?;
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

    fn gpa(a: u32) -> GuestPhysAddr {
        GuestPhysAddr::new(a)
    }

    #[test]
    fn frames_are_lazy_zeroed_private_and_at_home() {
        let mut m = Machine::for_monitor(4 << 20).unwrap();
        let mut pool = FramePool::new(&mut m).unwrap();
        assert_eq!(pool.frames(), 3 * 256, "the first MiB is the monitor's");
        let mut a = GuestMemory::new(2 << 20);
        let mut b = GuestMemory::new(2 << 20);
        let fa = a.frame(gpa(0x3000), &mut pool, &mut m).unwrap();
        // Dirty a frame, give it back, take it again: zeroed.
        m.write_machine(fa, &[0xaa; 16]).unwrap();
        assert_eq!(fa.raw() % REGION_ALIGN, 0x3000, "its place in its home");
        assert_eq!(a.frame(gpa(0x3ffc), &mut pool, &mut m), Ok(fa));
        let fb = b.frame(gpa(0x3000), &mut pool, &mut m).unwrap();
        assert_ne!(fa, fb);
        assert_ne!(
            fa.raw() & !(REGION_ALIGN - 1),
            fb.raw() & !(REGION_ALIGN - 1),
            "each VM's MiB has its own home"
        );
        assert_eq!(a.frames_zeroed, 1);
        assert_eq!(
            a.frame(gpa(2 << 20), &mut pool, &mut m),
            Err(MemoryError::NotRam(gpa(2 << 20)))
        );
        assert_eq!(a.reverse(fa.wrapping_add(8)), Some(gpa(0x3008)));
        assert_eq!(a.reverse(fb), None);
        a.release(gpa(0x3000), &mut pool, &mut m);
        assert_eq!(a.peek(gpa(0x3000)), None);
        let again = a.frame(gpa(0x3000), &mut pool, &mut m).unwrap();
        assert_eq!(m.read_machine_u32(again).unwrap(), 0, "zeroed before use");
    }

    #[test]
    fn the_pool_is_overcommitted_frame_by_frame() {
        // 2 MiB of frames for four VMs of 1 MiB: their homes run out after
        // two, then frames come from wherever one is free.
        let mut m = Machine::for_monitor(3 << 20).unwrap();
        let mut pool = FramePool::new(&mut m).unwrap();
        let mut vms: Vec<GuestMemory> = (0..4).map(|_| GuestMemory::new(1 << 20)).collect();
        for v in &mut vms {
            for f in 0..100 {
                v.frame(gpa(f * FRAME), &mut pool, &mut m).unwrap();
            }
        }
        assert_eq!(pool.frames_in_use(), 400);
        assert!(vms[0].group_ready(gpa(0), 16, false, &pool).is_some());
        assert!(
            vms[2].group_ready(gpa(0), 16, false, &pool).is_none(),
            "no home left: not contiguous"
        );
        // Use up the pool: the VM that asks then gets an error.
        let mut n = 100;
        let err = loop {
            match vms[3].frame(gpa(n * FRAME), &mut pool, &mut m) {
                Ok(_) => n += 1,
                Err(e) => break e,
            }
            assert!(n < 256);
        };
        assert_eq!(err, MemoryError::OutOfFrames);
        assert_eq!(pool.available(), 0);
        // Giving frames back makes room.
        vms[0].release(gpa(0), &mut pool, &mut m);
        assert!(vms[3].frame(gpa(n * FRAME), &mut pool, &mut m).is_ok());
    }

    #[test]
    fn shared_frames_are_copied_on_write() {
        let mut m = Machine::for_monitor(4 << 20).unwrap();
        let mut pool = FramePool::new(&mut m).unwrap();
        let mut a = GuestMemory::new(1 << 20);
        let mut b = GuestMemory::new(1 << 20);
        a.write(gpa(0x5000), b"same", &mut pool, &mut m).unwrap();
        b.write(gpa(0x7000), b"same", &mut pool, &mut m).unwrap();
        let fa = a.peek(gpa(0x5000)).unwrap();
        let fb = b.peek(gpa(0x7000)).unwrap();
        b.merge(gpa(0x7000), fa, &mut pool, &mut m);
        assert_eq!(b.peek(gpa(0x7000)), Some(fa));
        assert_eq!(pool.refs(fb), 0, "b's own frame went back");
        assert!(a.is_shared(gpa(0x5000), &pool) && b.is_shared(gpa(0x7000), &pool));
        assert!(a.group_ready(gpa(0), 16, false, &pool).is_none());
        // b writes: it gets a copy; a keeps the frame and its contents.
        let (copy, copied) = b.private_frame(gpa(0x7000), &mut pool, &mut m).unwrap();
        assert!(copied && copy != fa);
        m.write_machine(copy, b"mine").unwrap();
        let mut seen = [0u8; 4];
        m.read_machine(fa, &mut seen).unwrap();
        assert_eq!(&seen, b"same");
        assert!(!a.is_shared(gpa(0x5000), &pool), "a's is its own again");
        assert_eq!(
            a.private_frame(gpa(0x5000), &mut pool, &mut m),
            Ok((fa, false))
        );
        assert_eq!((a.cow_breaks, b.cow_breaks, b.frames_merged), (0, 1, 1));
        // The zero frame is shared by any number of VMs.
        a.merge(gpa(0x9000), pool.zero_frame(), &mut pool, &mut m);
        assert_eq!(a.peek(gpa(0x9000)), None, "only frames in use merge");
        a.frame(gpa(0x9000), &mut pool, &mut m).unwrap();
        a.merge(gpa(0x9000), pool.zero_frame(), &mut pool, &mut m);
        assert!(a.is_shared(gpa(0x9000), &pool));
        let (f, copied) = a.private_frame(gpa(0x9000), &mut pool, &mut m).unwrap();
        assert!(copied && f != pool.zero_frame());
    }

    #[test]
    fn released_frames_go_back_to_the_pool_and_come_back_as_zeros() {
        let mut m = Machine::for_monitor(4 << 20).unwrap();
        let mut pool = FramePool::new(&mut m).unwrap();
        let mut a = GuestMemory::new(1 << 20);
        let f = a.frame(gpa(0x4000), &mut pool, &mut m).unwrap();
        m.write_machine(f, b"secret").unwrap();
        let used = pool.frames_in_use();
        assert_eq!(
            a.balloon_release(gpa(0x4000), &mut pool, &mut m),
            (true, true)
        );
        assert_eq!(pool.frames_in_use(), used - 1, "back in the pool");
        assert_eq!(a.peek(gpa(0x4000)), None);
        assert!(a.is_released(gpa(0x4000)) && a.vouch_zero(gpa(0x4000)));
        // Again: nothing more to do, counted once; a frame never touched
        // is released too.
        assert_eq!(
            a.balloon_release(gpa(0x4000), &mut pool, &mut m),
            (false, false)
        );
        assert_eq!(
            a.balloon_release(gpa(0x5000), &mut pool, &mut m),
            (true, false)
        );
        assert_eq!((a.frames_released, a.frames_released_now()), (2, 2));
        // Reclaimed: zeros at the next touch.
        assert!(a.balloon_reclaim(gpa(0x4000)));
        assert!(!a.balloon_reclaim(gpa(0x4000)), "not released any more");
        let again = a.frame(gpa(0x4000), &mut pool, &mut m).unwrap();
        assert_eq!(m.read_machine_u32(again).unwrap(), 0);
        // Touched while released: taken back implicitly, zeros, counted.
        let g = a.frame(gpa(0x5000), &mut pool, &mut m).unwrap();
        assert_eq!(m.read_machine_u32(g).unwrap(), 0);
        assert!(!a.is_released(gpa(0x5000)));
        assert_eq!((a.frames_reclaimed, a.released_touched), (1, 1));
        assert_eq!(
            a.balloon_release(gpa(1 << 20), &mut pool, &mut m),
            (false, false)
        );
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
        let mut a = GuestMemory::new(1 << 20);
        for f in 0..16 {
            assert!(a.group_ready(gpa(0x10000), 16, false, &pool).is_none());
            a.frame(gpa(0x10000 + f * FRAME), &mut pool, &mut m)
                .unwrap();
        }
        assert!(a.group_ready(gpa(0x1f000), 16, false, &pool).is_some());
        assert!(a.group_ready(gpa(0x1f000), 16, true, &pool).is_none());
        assert!(a.vouch_zero(gpa(0x10000)));
        assert!(a.vouch_zero(gpa(0x90000)), "never touched");
        a.mark_written(gpa(0x10000));
        assert!(!a.vouch_zero(gpa(0x10000)));
        assert!(!a.vouch_zero(gpa(1 << 20)), "not RAM");
    }
}
