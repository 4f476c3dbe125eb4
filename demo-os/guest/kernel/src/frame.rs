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
//!
//! The paravirtualized build also has a balloon (`FramesRelease`,
//! `FramesReclaim`, when the monitor offers them): the frames of an exited
//! process are not put on the free list but given back to the monitor, in
//! one call per contiguous run ([`FrameAllocator::give_back`], then
//! [`FrameAllocator::release_given`]), and kept as runs in a list outside
//! them (their contents are gone). When the free list is empty the
//! allocator reclaims up to [`RECLAIM_BATCH`] frames of a run in one call
//! before it takes never-used frames; a reclaimed frame reads as zeros, so
//! it is handed out without zeroing.

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

/// Runs of released frames the allocator keeps track of (PV).
#[cfg(feature = "pv")]
const RELEASED_RUNS: usize = 64;

/// Runs of frames an exit gathers before releasing them (PV).
#[cfg(feature = "pv")]
const GATHERED_RUNS: usize = 16;

/// The most frames one reclaim takes back.
#[cfg(feature = "pv")]
pub const RECLAIM_BATCH: u32 = 32;

/// A run of frames: the first one's physical address and how many.
#[cfg(feature = "pv")]
#[derive(Debug, Clone, Copy, Default)]
struct Run {
    first: u32,
    count: u32,
}

#[cfg(feature = "pv")]
impl Run {
    const EMPTY: Run = Run { first: 0, count: 0 };

    fn end(self) -> u32 {
        self.first + self.count * FRAME_SIZE
    }

    /// Adds `other` if it touches this run at either end.
    fn merge(&mut self, other: Run) -> bool {
        if other.first == self.end() {
            self.count += other.count;
        } else if other.end() == self.first {
            self.first = other.first;
            self.count += other.count;
        } else {
            return false;
        }
        true
    }
}

/// A list of runs of frames, kept outside the frames.
#[cfg(feature = "pv")]
#[derive(Debug)]
struct Runs<const N: usize> {
    runs: [Run; N],
    len: usize,
}

#[cfg(feature = "pv")]
impl<const N: usize> Runs<N> {
    const EMPTY: Self = Self {
        runs: [Run::EMPTY; N],
        len: 0,
    };

    /// Adds `run`, merged with one it touches; false if the list is full.
    fn add(&mut self, run: Run) -> bool {
        if self.runs[..self.len].iter_mut().any(|r| r.merge(run)) {
            return true;
        }
        if self.len == N {
            return false;
        }
        self.runs[self.len] = run;
        self.len += 1;
        true
    }

    /// Takes every run out, in address order and coalesced.
    fn take_sorted(&mut self) -> ([Run; N], usize) {
        let runs = &mut self.runs[..self.len];
        runs.sort_unstable_by_key(|r| r.first);
        let mut out = [Run::EMPTY; N];
        let mut n = 0;
        for &r in runs.iter() {
            if n == 0 || !out[n - 1].merge(r) {
                out[n] = r;
                n += 1;
            }
        }
        self.len = 0;
        (out, n)
    }
}

/// The balloon's state (PV): released runs, the runs an exit is
/// gathering, and reclaimed frames not handed out yet (all zero).
#[cfg(feature = "pv")]
#[derive(Debug)]
struct Balloon {
    released: Runs<RELEASED_RUNS>,
    gathered: Runs<GATHERED_RUNS>,
    reclaimed: Run,
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
    /// Frames given back to the monitor (PV).
    #[cfg(feature = "pv")]
    balloon: Balloon,
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
            #[cfg(feature = "pv")]
            balloon: Balloon {
                released: Runs::EMPTY,
                gathered: Runs::EMPTY,
                reclaimed: Run::EMPTY,
            },
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
        #[cfg(feature = "pv")]
        if self.free_head.is_none()
            && let Some(frame) = self.take_reclaimed(pv, stats)
        {
            // Reclaimed from the monitor: zeros, by the ABI (counted as
            // reclaimed, not zeroed).
            self.in_use += 1;
            return Ok(frame);
        }
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

    /// Puts a frame on the free list (it is not in use already).
    #[cfg(feature = "pv")]
    fn push_free(&mut self, mut frame: Frame) {
        let next = self.free_head.map_or(0, PhysAddr::raw);
        let link = frame.bytes().as_mut_ptr().cast::<u32>();
        // SAFETY: the frame is ours now and 4 KiB long; its first word
        // becomes the free-list link (the frame is zeroed before reuse).
        unsafe { link.write(next) };
        self.free_head = Some(frame.addr());
    }

    /// Gives back a frame of an address space being destroyed: with the
    /// monitor's balloon, gathered to be released by
    /// [`release_given`](Self::release_given); otherwise freed.
    #[cfg_attr(not(feature = "pv"), inline(always))]
    pub fn give_back(&mut self, frame: Frame, pv: Option<&Pv>, stats: &mut Stats) {
        #[cfg(feature = "pv")]
        if pv.is_some_and(|pv| pv.offers(crate::pv::Call::Balloon)) {
            let run = Run {
                first: frame.into_raw().raw(),
                count: 1,
            };
            self.in_use -= 1;
            if !self.balloon.gathered.add(run) {
                self.release_given(pv, stats);
                let _ = self.balloon.gathered.add(run);
            }
            return;
        }
        let _ = (pv, stats);
        self.free(frame);
    }

    /// Releases the frames [`give_back`](Self::give_back) gathered to the
    /// monitor, one `FramesRelease` per contiguous run, and keeps the runs
    /// to reclaim; a run the list has no room for, or the monitor refuses,
    /// goes on the free list instead.
    #[cfg_attr(not(feature = "pv"), inline(always))]
    pub fn release_given(&mut self, pv: Option<&Pv>, stats: &mut Stats) {
        #[cfg(feature = "pv")]
        {
            let (runs, n) = self.balloon.gathered.take_sorted();
            for &run in &runs[..n] {
                let kept = self.balloon.released.len < RELEASED_RUNS
                    || self.balloon.released.runs[..RELEASED_RUNS]
                        .iter()
                        .any(|r| r.first == run.end() || r.end() == run.first);
                let released = kept
                    && pv.is_some_and(|pv| pv.frames_release(PhysAddr::new(run.first), run.count));
                if released {
                    let _ = self.balloon.released.add(run);
                    stats.frames_released += run.count;
                    continue;
                }
                for i in 0..run.count {
                    self.push_free(Frame(PhysAddr::new(run.first + i * FRAME_SIZE)));
                }
            }
        }
        let _ = (pv, stats);
    }

    /// A reclaimed frame, reclaiming up to [`RECLAIM_BATCH`] released
    /// frames from the monitor if none is left (PV).
    #[cfg(feature = "pv")]
    fn take_reclaimed(&mut self, pv: Option<&Pv>, stats: &mut Stats) -> Option<Frame> {
        {
            let b = &mut self.balloon;
            if b.reclaimed.count == 0 && b.released.len > 0 {
                let pv = pv?;
                let last = b.released.len - 1;
                let run = &mut b.released.runs[last];
                let n = run.count.min(RECLAIM_BATCH);
                if !pv.frames_reclaim(PhysAddr::new(run.first), n) {
                    return None;
                }
                b.reclaimed = Run {
                    first: run.first,
                    count: n,
                };
                run.first += n * FRAME_SIZE;
                run.count -= n;
                if run.count == 0 {
                    b.released.len = last;
                }
                stats.frames_reclaimed += n;
            }
            if b.reclaimed.count > 0 {
                let frame = Frame(PhysAddr::new(b.reclaimed.first));
                b.reclaimed.first += FRAME_SIZE;
                b.reclaimed.count -= 1;
                return Some(frame);
            }
        }
        None
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
