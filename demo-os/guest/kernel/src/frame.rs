//! The physical frame allocator: hands out 4 KiB frames of RAM between the
//! end of the kernel image and the end of memory, always zeroed.
//!
//! Frames come from two places: a free list of frames given back (kept
//! intrusively: the first word of a free frame links to the next), and
//! the never-used frames above a bump pointer. Every frame is zeroed
//! before it is handed out, the unmodified behaviour, except in the
//! paravirtualized path: for never-used frames the allocator asks the
//! monitor ("page already zeroed", 32 frames per question, answers cached)
//! and skips zeroing the ones it vouches for. A recycled frame is always
//! zeroed here; the monitor could not vouch for it anyway.

use core::fmt;

use crate::pv::Pv;
use crate::stats::Stats;

/// The size of a frame (and of a page).
pub const FRAME_SIZE: u32 = 4096;

/// Start of kseg0: the kernel reaches physical memory at this offset.
const KSEG0: u32 = 0x8000_0000;

/// A physical address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PhysAddr(u32);

impl PhysAddr {
    /// The physical address `raw`.
    #[must_use]
    pub const fn new(raw: u32) -> Self {
        Self(raw)
    }

    /// The physical address behind kseg0 address `kseg0`.
    #[must_use]
    pub const fn from_kseg0(kseg0: u32) -> Self {
        Self(kseg0 - KSEG0)
    }

    /// The address as a number.
    #[must_use]
    pub const fn raw(self) -> u32 {
        self.0
    }

    /// The kseg0 (cached, unmapped) address of this physical address.
    #[must_use]
    pub const fn kseg0(self) -> u32 {
        self.0 + KSEG0
    }
}

/// One page-aligned frame the allocator handed out; given back with
/// [`FrameAllocator::free`].
#[derive(Debug, PartialEq, Eq)]
pub struct Frame(PhysAddr);

impl Frame {
    /// The frame at physical address `addr`.
    ///
    /// # Safety
    ///
    /// `addr` must be a page-aligned frame the allocator handed out whose
    /// [`Frame`] was turned into a number ([`Frame::into_raw`]); the new
    /// value owns it again.
    #[must_use]
    pub const unsafe fn from_raw(addr: PhysAddr) -> Self {
        Self(addr)
    }

    /// Gives up the ownership into a bare address (stored in a PTE).
    #[must_use]
    pub const fn into_raw(self) -> PhysAddr {
        self.0
    }

    /// The frame's physical address.
    #[must_use]
    pub const fn addr(&self) -> PhysAddr {
        self.0
    }

    /// The frame's contents, through kseg0.
    #[must_use]
    pub fn bytes(&mut self) -> &mut [u8; FRAME_SIZE as usize] {
        // SAFETY: a `Frame` owns its 4 KiB of RAM exclusively (the
        // allocator hands each out once), and kseg0 maps all of RAM.
        unsafe { &mut *(self.0.kseg0() as *mut [u8; FRAME_SIZE as usize]) }
    }
}

/// Zeroes `frame` one word store at a time and returns the number of
/// stores made (so the count is exact: volatile stores are neither
/// merged nor turned into a `memset` call).
fn zero(frame: &mut Frame) -> u32 {
    let words = frame.bytes().as_mut_ptr().cast::<u32>();
    let mut stores = 0;
    for i in 0..(FRAME_SIZE / 4) as usize {
        // SAFETY: the frame is 4 KiB, page-aligned and owned by `frame`;
        // word `i` lies inside it.
        unsafe { words.add(i).write_volatile(0) };
        stores += 1;
    }
    stores
}

/// No frame is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfMemory;

impl fmt::Display for OutOfMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("out of memory")
    }
}

/// The monitor's last answer about which never-used frames are zero.
#[derive(Debug, Clone, Copy)]
struct ZeroedHint {
    /// The first frame the answer covers.
    base: u32,
    /// How many frames it covers.
    count: u32,
    /// Bit `i`: frame `base + i * FRAME_SIZE` is known to be zero.
    bits: u32,
}

/// The frame allocator.
#[derive(Debug)]
pub struct FrameAllocator {
    /// The next never-used frame.
    next_fresh: u32,
    /// The end of RAM.
    end: u32,
    /// The first frame of the free list (physical), if any.
    free_head: Option<PhysAddr>,
    /// Frames handed out and not given back.
    in_use: u32,
    /// The monitor's last "page already zeroed" answer.
    hint: Option<ZeroedHint>,
}

impl FrameAllocator {
    /// An allocator for the physical range `start..end` (page-aligned).
    #[must_use]
    pub const fn new(start: PhysAddr, end: PhysAddr) -> Self {
        Self {
            next_fresh: start.raw(),
            end: end.raw(),
            free_head: None,
            in_use: 0,
            hint: None,
        }
    }

    /// Frames handed out and not given back.
    #[must_use]
    pub const fn in_use(&self) -> u32 {
        self.in_use
    }

    /// Hands out a zeroed frame. `pv` is the monitor when the
    /// paravirtualized path is taken.
    pub fn alloc(&mut self, pv: Option<&Pv>, stats: &mut Stats) -> Result<Frame, OutOfMemory> {
        let (mut frame, known_zero) = if let Some(addr) = self.free_head {
            // SAFETY: free-list frames are owned by the allocator; the
            // first word holds the link written by `free`.
            let next = unsafe { *(addr.kseg0() as *const u32) };
            self.free_head = (next != 0).then_some(PhysAddr::new(next));
            (Frame(addr), false)
        } else if self.next_fresh < self.end {
            let addr = self.next_fresh;
            self.next_fresh += FRAME_SIZE;
            let known_zero = pv.is_some_and(|pv| self.vouched_zero(pv, addr));
            (Frame(PhysAddr::new(addr)), known_zero)
        } else {
            return Err(OutOfMemory);
        };
        if known_zero {
            stats.frames_vouched += 1;
        } else {
            stats.zeroing_stores += u64::from(zero(&mut frame));
            stats.frames_zeroed += 1;
        }
        self.in_use += 1;
        Ok(frame)
    }

    /// Gives a frame back.
    pub fn free(&mut self, mut frame: Frame) {
        let next = self.free_head.map_or(0, PhysAddr::raw);
        let link = frame.bytes().as_mut_ptr().cast::<u32>();
        // SAFETY: the frame is ours now and 4 KiB long; its first word
        // becomes the free-list link (the frame is zeroed before reuse).
        unsafe { link.write(next) };
        self.free_head = Some(frame.addr());
        self.in_use -= 1;
    }

    /// Tells whether the monitor vouches that never-used frame `addr` is
    /// zero, asking it about the next run of frames when the cached answer
    /// does not cover `addr`.
    fn vouched_zero(&mut self, pv: &Pv, addr: u32) -> bool {
        let covered =
            |hint: &ZeroedHint| addr >= hint.base && (addr - hint.base) / FRAME_SIZE < hint.count;
        if !self.hint.as_ref().is_some_and(covered) {
            let count = ((self.end - addr) / FRAME_SIZE).min(32);
            self.hint = pv
                .page_zeroed(PhysAddr::new(addr), count)
                .map(|bits| ZeroedHint {
                    base: addr,
                    count,
                    bits,
                });
        }
        self.hint.as_ref().is_some_and(|hint| {
            covered(hint) && hint.bits & (1 << ((addr - hint.base) / FRAME_SIZE)) != 0
        })
    }
}
