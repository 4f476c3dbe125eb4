//! User address spaces: two-level page tables in the layout the refill
//! handler walks, the user memory regions, demand-zero page faults, moving
//! the program break, and reading user memory for system calls.
//!
//! # Layout of an address space
//!
//! | range | what |
//! |---|---|
//! | `0x0040_0000..` | the program image (ELF segments, loaded at start) |
//! | from the page after the image | the heap, up to the break (`sbrk`), at most [`HEAP_MAX`] |
//! | `STACK_TOP - STACK_MAX..STACK_TOP` | the stack, [`STACK_MAX`] below [`STACK_TOP`] |
//!
//! Heap and stack pages are demand-zero: nothing is mapped until the first
//! touch, which takes a TLB invalid exception (the refill handler loaded
//! an invalid PTE) and lands in [`AddressSpace::fault`].
//!
//! # Page tables
//!
//! The page directory is one frame of 1024 kseg0 pointers, one per 4 MiB;
//! each points to a page table (one frame of 1024 PTEs) or, where nothing
//! is mapped, to the shared all-zero [`INVALID_TABLE`], so the refill
//! handler never meets a null pointer. A PTE is stored as its EntryLo
//! value (PFN, cache attribute, D, V), so the handler loads the even/odd
//! pair and writes it to the TLB as is.
//!
//! # Keeping the TLB in step
//!
//! The TLB holds an entry for a pair of pages only while the pair has a
//! valid page, or right after the refill handler loaded an invalid pair
//! for an access that is now faulting. Unmapping parks the entry when the
//! pair becomes empty (`tlb::update`). So a pair with no valid page has no
//! entry unless it is the faulting one, which lets the paravirtualized
//! fault path install neighbouring empty pairs without probing for them.
//!
//! # Pages mapped ahead
//!
//! The paravirtualized fault path maps the demand-zero pages around the
//! faulting one too (one batch of TLB writes instead of a fault each). A
//! page mapped ahead holds a frame the unmodified path would not hold
//! until the page is touched, so it must never cost a program its memory:
//! it is mapped only from a free frame (never by taking one back), and
//! each one is recorded in [`AheadPages`]. When a frame a program needs
//! (a touched page, a page table, a new address space) is not there, the
//! kernel first takes back every recorded page that still holds only
//! zeroes (unmapping a zero demand-zero page cannot be seen: the next
//! touch maps a zeroed frame again) and, failing that, the monitor's
//! shared page of CP0 registers; only then is memory out. A recorded page
//! that holds data was touched, as it would have been on the unmodified
//! path. After the first shortage nothing is mapped ahead any more.

use core::fmt;

use demo_sys::Errno;

use crate::frame::{FRAME_SIZE, Frame, FrameAllocator, OutOfMemory, PhysAddr};
use crate::pv::{Call, Pv, TlbWrite};
use crate::stats::Stats;
use crate::tlb;

/// PTE / EntryLo: valid.
pub const PTE_V: u32 = 1 << 1;
/// PTE / EntryLo: dirty (writable).
pub const PTE_D: u32 = 1 << 2;
/// PTE / EntryLo: cache attribute 3, cacheable non-coherent write-back.
pub const PTE_CACHED: u32 = 3 << 3;
/// The shift of the PFN in a PTE.
const PFN_SHIFT: u32 = 6;

/// The page size.
pub const PAGE: u32 = FRAME_SIZE;
/// The bytes a TLB entry (an even/odd pair) maps.
const PAIR: u32 = 2 * PAGE;
/// The pages the paravirtualized fault path maps at once (an aligned
/// cluster around the faulting page).
const CLUSTER_PAGES: u32 = 8;

/// The lowest address a program may be loaded at.
pub const USER_BASE: u32 = 0x0000_1000;
/// The top of the user stack (the initial `sp`).
pub const STACK_TOP: u32 = 0x7FFF_0000;
/// The most the stack can grow.
pub const STACK_MAX: u32 = 64 * 1024;
/// The most the heap can grow.
pub const HEAP_MAX: u32 = 4 << 20;

/// Rounds `addr` down to its page.
#[must_use]
pub const fn page_down(addr: u32) -> u32 {
    addr & !(PAGE - 1)
}

/// Rounds `addr` up to a page boundary (saturating below 4 GiB).
#[must_use]
pub const fn page_up(addr: u32) -> u32 {
    page_down(addr.saturating_add(PAGE - 1))
}

/// A page table (or the page directory): one frame of words.
#[repr(C, align(4096))]
struct Table([u32; 1024]);

/// The page table every empty directory slot points to: all invalid PTEs.
/// Nothing ever writes it.
static INVALID_TABLE: Table = Table([0; 1024]);

/// The kseg0 address of [`INVALID_TABLE`].
fn invalid_table() -> u32 {
    (&raw const INVALID_TABLE) as u32
}

/// A page table entry, in EntryLo format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pte(u32);

impl Pte {
    /// The invalid PTE.
    pub const INVALID: Pte = Pte(0);

    /// A valid, cached PTE for `frame`, writable or read-only.
    #[must_use]
    pub const fn new(frame: PhysAddr, writable: bool) -> Self {
        let dirty = if writable { PTE_D } else { 0 };
        Self((frame.raw() >> 12) << PFN_SHIFT | PTE_CACHED | dirty | PTE_V)
    }

    /// The EntryLo value.
    #[must_use]
    pub const fn raw(self) -> u32 {
        self.0
    }

    /// Tells whether the page is mapped.
    #[must_use]
    pub const fn is_valid(self) -> bool {
        self.0 & PTE_V != 0
    }

    /// The mapped frame.
    #[must_use]
    pub const fn frame(self) -> PhysAddr {
        PhysAddr::new((self.0 >> PFN_SHIFT) << 12)
    }

    /// This PTE made writable.
    #[must_use]
    pub const fn writable(self) -> Self {
        Self(self.0 | PTE_D)
    }
}

/// Why a user access could not be satisfied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultError {
    /// The address is in no region of the address space.
    Unmapped {
        /// The faulting address.
        addr: u32,
    },
    /// No frame was left to map the page.
    OutOfMemory {
        /// The faulting address.
        addr: u32,
    },
}

impl fmt::Display for FaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultError::Unmapped { addr } => write!(f, "segmentation fault at {addr:#010x}"),
            FaultError::OutOfMemory { addr } => write!(f, "out of memory at {addr:#010x}"),
        }
    }
}

/// Whether this build maps pages ahead of use: only the paravirtualized
/// one does (the unmodified build compiles none of it).
const AHEAD: bool = cfg!(feature = "pv");

/// A page mapped ahead of use (see the module documentation). The PTE
/// lies in a page table of a live address space (destroying one forgets
/// its pages) but may have been unmapped, or mapped again, since: that is
/// checked when the record is used, which keeps unmapping cheap.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
struct AheadPage {
    /// The kseg0 address of its PTE.
    pte: u32,
    /// The EntryHi of its pair: VPN2 and the ASID of its address space.
    hi: u32,
}

/// The pages the paravirtualized fault path mapped ahead of use and has
/// not seen touched: frames the kernel takes back before it runs out of
/// memory. The records fill one frame, itself taken (from the free
/// frames only) when the first page is mapped ahead and given back with
/// the pages, so that the list costs the unmodified path nothing either.
#[derive(Debug)]
pub struct AheadPages {
    /// The frame of records, once a page was mapped ahead.
    records: Option<Frame>,
    /// Records in use.
    len: usize,
    /// Memory ran short once: map nothing ahead any more.
    short: bool,
}

impl AheadPages {
    /// Records in a frame.
    const MAX: usize = (PAGE as usize) / core::mem::size_of::<AheadPage>();

    /// None recorded.
    pub const EMPTY: AheadPages = AheadPages {
        records: None,
        len: 0,
        short: false,
    };

    /// The records in use.
    fn pages(&mut self) -> &mut [AheadPage] {
        let Some(frame) = self.records.as_mut() else {
            return &mut [];
        };
        let first = frame.bytes().as_mut_ptr().cast::<AheadPage>();
        // SAFETY: the frame is owned by the list, page-aligned and 4 KiB:
        // room for `MAX` records of two words, and `len` <= `MAX`; any bits
        // are a valid record.
        unsafe { core::slice::from_raw_parts_mut(first, self.len) }
    }

    /// Whether a page may be mapped ahead now: memory has not run short,
    /// and there is room to record it (taking the frame of records if
    /// need be, or forgetting the recorded pages that were touched or
    /// unmapped since; if none was, memory counts as short: they are all
    /// still mapped and zero).
    fn has_room(
        &mut self,
        frames: &mut FrameAllocator,
        pv: Option<&Pv>,
        stats: &mut Stats,
    ) -> bool {
        if self.short {
            return false;
        }
        if self.records.is_none() {
            self.records = frames.alloc(pv, stats).ok();
            return self.records.is_some();
        }
        if self.len == Self::MAX {
            self.forget_used();
        }
        if self.len == Self::MAX {
            self.short = true;
        }
        !self.short
    }

    fn push(&mut self, page: AheadPage) {
        self.len += 1;
        if let Some(last) = self.pages().last_mut() {
            *last = page;
        }
    }

    fn pop(&mut self) -> Option<AheadPage> {
        let page = *self.pages().last()?;
        self.len -= 1;
        Some(page)
    }

    fn remove(&mut self, i: usize) {
        let pages = self.pages();
        pages[i] = pages[pages.len() - 1];
        self.len -= 1;
    }

    /// Forgets every page of the address space tagged `asid` (it is being
    /// destroyed; each live address space has its own ASID).
    fn forget_space(&mut self, asid: u8) {
        if !AHEAD {
            return;
        }
        let mut i = 0;
        while i < self.len {
            if self.pages()[i].hi & tlb::ENTRY_HI_ASID == u32::from(asid) {
                self.remove(i);
            } else {
                i += 1;
            }
        }
    }

    /// Forgets the recorded pages that were unmapped since, or hold data
    /// (they were touched).
    fn forget_used(&mut self) {
        let mut i = 0;
        while i < self.len {
            // SAFETY: a recorded PTE lies in a page table of a live address
            // space (see `AheadPage`).
            let pte = Pte(unsafe { *(self.pages()[i].pte as *const u32) });
            if pte.is_valid() && is_zero(pte.frame()) {
                i += 1;
            } else {
                self.remove(i);
            }
        }
    }

    /// Gives the frame of records back, if the list has one and records
    /// nothing; returns whether it did.
    pub fn release(&mut self, frames: &mut FrameAllocator) -> bool {
        if !AHEAD || self.len != 0 {
            return false;
        }
        match self.records.take() {
            Some(frame) => {
                frames.free(frame);
                true
            }
            None => false,
        }
    }
}

/// Tells whether the frame at `frame` holds only zeroes.
fn is_zero(frame: PhysAddr) -> bool {
    let words = frame.kseg0() as *const u32;
    // SAFETY: kseg0 maps all of RAM, and the frame is 4 KiB; the caller
    // owns it (through a PTE) and nothing writes it meanwhile.
    (0..(PAGE / 4) as usize).all(|i| unsafe { words.add(i).read_volatile() } == 0)
}

/// What the memory code needs besides the address space: frames, the
/// pages mapped ahead, the monitor (paravirtualized path) and the
/// counters.
pub struct MemCtx<'a> {
    /// The frame allocator.
    pub frames: &'a mut FrameAllocator,
    /// The pages mapped ahead of use.
    pub ahead: &'a mut AheadPages,
    /// The monitor, when the paravirtualized path is taken.
    pub pv: Option<&'a Pv>,
    /// The counters.
    pub stats: &'a mut Stats,
}

impl MemCtx<'_> {
    /// A zeroed frame that is needed: when none is free, taken back from
    /// what the paravirtualized path holds beyond what the unmodified
    /// path would ([`MemCtx::take_back`]).
    fn alloc(&mut self) -> Result<Frame, OutOfMemory> {
        match self.frames.alloc(self.pv, self.stats) {
            Err(OutOfMemory) if AHEAD && self.take_back() => self.frames.alloc(self.pv, self.stats),
            result => result,
        }
    }

    /// A zeroed frame to map a page ahead of use: only a free one, and
    /// only while [`AheadPages`] has room.
    fn alloc_ahead(&mut self) -> Option<Frame> {
        if !self.ahead.has_room(self.frames, self.pv, self.stats) {
            return None;
        }
        self.frames.alloc(self.pv, self.stats).ok()
    }

    /// Memory ran out: gives back every page mapped ahead that still
    /// holds only zeroes (bringing the TLB in step) and the frame that
    /// recorded them, or if there is none of those, the monitor's shared
    /// page of CP0 registers. Returns whether a frame came free. From now
    /// on nothing is mapped ahead.
    fn take_back(&mut self) -> bool {
        self.ahead.short = true;
        let mut freed = 0;
        while let Some(page) = self.ahead.pop() {
            let slot = page.pte as *mut u32;
            // SAFETY: a recorded PTE lies in a page table of a live address
            // space (see `AheadPage`), and no reference to a page table is
            // live while a frame is allocated.
            let pte = Pte(unsafe { *slot });
            if !pte.is_valid() || !is_zero(pte.frame()) {
                // Unmapped since, or touched: a page the unmodified path
                // holds too. (A page mapped again by a fault since, or
                // recorded twice, is taken back if it is zero: that still
                // cannot be seen.)
                continue;
            }
            // SAFETY: as above; the page goes, its frame is given back.
            unsafe { *slot = Pte::INVALID.raw() };
            // SAFETY: the PTE owned this frame (see `map_new`), and it is gone.
            self.frames.free(unsafe { Frame::from_raw(pte.frame()) });
            // The pair's PTEs are adjacent, the even one 8-byte aligned.
            let even = (page.pte & !7) as *const u32;
            // SAFETY: both PTEs of the pair lie in the same page table.
            let (lo0, lo1) = unsafe { (*even, *even.add(1)) };
            tlb::update(page.hi, lo0, lo1, false);
            self.stats.frames_taken_back += 1;
            freed += 1;
        }
        if self.ahead.release(self.frames) {
            self.stats.frames_taken_back += 1;
            freed += 1;
        }
        if freed == 0
            && let Some(frame) = self.pv.and_then(Pv::unshare)
        {
            self.frames.free(frame);
            self.stats.frames_taken_back += 1;
            freed += 1;
        }
        freed > 0
    }

    /// The monitor, if it installs TLB entries in batches.
    fn batch(&self) -> Option<&Pv> {
        self.pv.filter(|pv| pv.offers(Call::TlbBatch))
    }
}

/// One user address space.
#[derive(Debug)]
pub struct AddressSpace {
    /// The page directory.
    pgd: Frame,
    /// The ASID its TLB entries carry.
    asid: u8,
    /// The first heap address (the page after the image).
    heap_start: u32,
    /// The program break.
    brk: u32,
}

impl AddressSpace {
    /// An empty address space tagged `asid`.
    pub fn new(asid: u8, ctx: &mut MemCtx<'_>) -> Result<Self, OutOfMemory> {
        if tlb::take_stale(asid) && !ctx.batch().is_some_and(tlb::park_all_batched) {
            tlb::flush_asid(asid);
        }
        let mut pgd = ctx.alloc()?;
        let empty = invalid_table();
        for slot in pgd.bytes().chunks_exact_mut(4) {
            slot.copy_from_slice(&empty.to_ne_bytes());
        }
        Ok(Self {
            pgd,
            asid,
            heap_start: USER_BASE,
            brk: USER_BASE,
        })
    }

    /// The ASID.
    #[must_use]
    pub const fn asid(&self) -> u8 {
        self.asid
    }

    /// The page directory's kseg0 address, for the refill handler.
    #[must_use]
    pub fn pgd_kseg0(&self) -> *const u32 {
        self.pgd.addr().kseg0() as *const u32
    }

    /// The EntryHi of the pair holding `addr`.
    #[must_use]
    pub const fn entry_hi(&self, addr: u32) -> u32 {
        (addr & tlb::ENTRY_HI_VPN2) | self.asid as u32
    }

    /// The page directory's slots.
    fn directory(&mut self) -> &mut [u32; 1024] {
        let table = self.pgd.bytes().as_mut_ptr().cast::<[u32; 1024]>();
        // SAFETY: the directory frame is 4 KiB, 4-byte aligned, owned by
        // this address space and reached only through it.
        unsafe { &mut *table }
    }

    /// Where the PTE of `addr` is stored, if its page table exists.
    fn pte_slot(&self, addr: u32) -> Option<*mut u32> {
        // SAFETY: the directory frame is owned by this address space and
        // has 1024 slots; `addr >> 22` is below 1024.
        let table = unsafe { *self.pgd_kseg0().add((addr >> 22) as usize) };
        // A slot other than the shared invalid table holds the kseg0
        // address of a page-table frame (1024 PTEs) this address space owns.
        (table != invalid_table())
            .then(|| (table as *mut u32).wrapping_add(((addr >> 12) & 0x3FF) as usize))
    }

    /// The PTE of `addr`.
    #[must_use]
    pub fn pte(&self, addr: u32) -> Pte {
        // SAFETY: `pte_slot` points into a page table this address space owns.
        self.pte_slot(addr)
            .map_or(Pte::INVALID, |slot| Pte(unsafe { *slot }))
    }

    /// Sets the PTE of `addr`, creating its page table if needed.
    fn set_pte(&mut self, addr: u32, pte: Pte, ctx: &mut MemCtx<'_>) -> Result<(), OutOfMemory> {
        if self.pte_slot(addr).is_none() {
            let table = ctx.alloc()?;
            self.directory()[(addr >> 22) as usize] = table.into_raw().kseg0();
        }
        let slot = self
            .pte_slot(addr)
            .expect("the page table was just created");
        // SAFETY: `slot` points into a page table this address space owns,
        // and `&mut self` makes this the only access.
        unsafe { *slot = pte.raw() };
        Ok(())
    }

    /// The pair's PTEs for a TLB write: (EntryHi, EntryLo0, EntryLo1).
    #[must_use]
    pub fn pair(&self, addr: u32) -> (u32, u32, u32) {
        let even = addr & !(PAIR - 1);
        (
            self.entry_hi(even),
            self.pte(even).raw(),
            self.pte(even + PAGE).raw(),
        )
    }

    /// Maps a new zeroed frame at page `addr` and returns it (still owned
    /// by the page table) for filling.
    fn map_new(
        &mut self,
        addr: u32,
        writable: bool,
        ctx: &mut MemCtx<'_>,
    ) -> Result<PhysAddr, OutOfMemory> {
        let frame = ctx.alloc()?;
        let phys = frame.addr();
        if let Err(e) = self.set_pte(addr, Pte::new(phys, writable), ctx) {
            ctx.frames.free(frame);
            return Err(e);
        }
        // The page table owns the frame now; `destroy`/`unmap` give it back.
        let _ = frame.into_raw();
        Ok(phys)
    }

    /// Unmaps page `addr`, giving its frame back. Returns whether it was
    /// mapped.
    fn unmap(&mut self, addr: u32, ctx: &mut MemCtx<'_>) -> bool {
        let pte = self.pte(addr);
        if !pte.is_valid() {
            return false;
        }
        let slot = self.pte_slot(addr).expect("a valid PTE has a page table");
        // SAFETY: as in `set_pte`.
        unsafe { *slot = Pte::INVALID.raw() };
        // SAFETY: the PTE owned this frame (see `map_new`), and it is gone.
        ctx.frames.free(unsafe { Frame::from_raw(pte.frame()) });
        true
    }

    /// Loads a program segment: maps its pages (sharing a page with an
    /// earlier segment if they overlap) and copies its file bytes.
    pub fn load_segment(
        &mut self,
        segment: &crate::elf::Segment<'_>,
        ctx: &mut MemCtx<'_>,
    ) -> Result<(), LoadError> {
        let start = segment.vaddr;
        let end = start
            .checked_add(segment.memsz)
            .ok_or(LoadError::BadRange(start))?;
        if start < USER_BASE || end > STACK_TOP - STACK_MAX {
            return Err(LoadError::BadRange(start));
        }
        let mut page = page_down(start);
        while page < end {
            let pte = self.pte(page);
            let phys = if pte.is_valid() {
                if segment.writable {
                    self.set_pte(page, pte.writable(), ctx)?;
                }
                pte.frame()
            } else {
                self.map_new(page, segment.writable, ctx)?
            };
            // The part of the segment's file bytes that falls in this page.
            let from = page.max(start);
            let to = (page + PAGE).min(start + segment.data.len() as u32);
            if from < to {
                let src = &segment.data[(from - start) as usize..(to - start) as usize];
                // SAFETY: `phys` is a frame this address space owns (just
                // mapped, or mapped by an earlier segment); the copy stays
                // inside it.
                unsafe {
                    let dst = (phys.kseg0() + (from - page)) as *mut u8;
                    core::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len());
                }
            }
            page += PAGE;
        }
        self.heap_start = self.heap_start.max(page_up(end));
        self.brk = self.heap_start;
        Ok(())
    }

    /// The mapped pages of the image, as TLB writes (for the
    /// paravirtualized start, which installs them in one batch).
    pub fn image_pairs(&self) -> impl Iterator<Item = TlbWrite> + '_ {
        (USER_BASE & !(PAIR - 1)..self.heap_start)
            .step_by(PAIR as usize)
            .map(|even| self.pair(even))
            .filter(|&(_, lo0, lo1)| (lo0 | lo1) & PTE_V != 0)
            .map(|(hi, lo0, lo1)| TlbWrite {
                hi,
                lo0,
                lo1,
                slot: None,
            })
    }

    /// The number of mapped image pages.
    #[must_use]
    pub fn image_pages(&self) -> u32 {
        (USER_BASE..self.heap_start)
            .step_by(PAGE as usize)
            .filter(|&page| self.pte(page).is_valid())
            .count() as u32
    }

    /// Tells whether `addr` is in a demand-zero region (heap below the
    /// break, or stack).
    #[must_use]
    pub fn is_demand(&self, addr: u32) -> bool {
        let heap = self.heap_start..page_up(self.brk);
        let stack = STACK_TOP - STACK_MAX..STACK_TOP;
        heap.contains(&addr) || stack.contains(&addr)
    }

    /// Handles a TLB invalid exception (TLBL/TLBS) at `addr`: maps a
    /// demand-zero page there and brings the TLB up to date. In the
    /// paravirtualized path it maps a cluster of neighbouring pages and
    /// installs them in one batch.
    pub fn fault(&mut self, addr: u32, ctx: &mut MemCtx<'_>) -> Result<(), FaultError> {
        let page = page_down(addr);
        if !self.pte(page).is_valid() && !self.is_demand(page) {
            return Err(FaultError::Unmapped { addr });
        }
        if let Some(pv) = ctx.batch().copied() {
            return self.fault_cluster(addr, &pv, ctx);
        }
        self.fill(page, ctx)
            .map_err(|_| FaultError::OutOfMemory { addr })?;
        let (hi, lo0, lo1) = self.pair(page);
        tlb::update(hi, lo0, lo1, true);
        Ok(())
    }

    /// Maps page `page` if it is an unmapped demand-zero page; returns
    /// whether it mapped one.
    fn fill(&mut self, page: u32, ctx: &mut MemCtx<'_>) -> Result<bool, OutOfMemory> {
        if self.pte(page).is_valid() || !self.is_demand(page) {
            return Ok(false);
        }
        self.map_new(page, true, ctx)?;
        Ok(true)
    }

    /// Maps page `page` ahead of use if it is an unmapped demand-zero page
    /// whose page table exists and a frame is free for it (see
    /// [`AheadPages`]); returns whether it mapped one.
    fn fill_ahead(&mut self, page: u32, ctx: &mut MemCtx<'_>) -> bool {
        if self.pte(page).is_valid() || !self.is_demand(page) {
            return false;
        }
        let Some(slot) = self.pte_slot(page) else {
            return false;
        };
        let Some(frame) = ctx.alloc_ahead() else {
            return false;
        };
        // SAFETY: `slot` points into a page table this address space owns;
        // the PTE owns the frame from now on (see `map_new`).
        unsafe { *slot = Pte::new(frame.into_raw(), true).raw() };
        ctx.ahead.push(AheadPage {
            pte: slot as u32,
            hi: self.entry_hi(page),
        });
        true
    }

    /// The paravirtualized fault: maps the faulting page and, ahead of
    /// use, the demand-zero pages of the aligned cluster around `addr`
    /// whose pairs were empty (and the faulting pair's other page), and
    /// installs those pairs with one `TlbInstallBatch`. The faulting
    /// pair's TLB entry (the invalid one the refill handler loaded) is
    /// overwritten in place.
    fn fault_cluster(
        &mut self,
        addr: u32,
        pv: &Pv,
        ctx: &mut MemCtx<'_>,
    ) -> Result<(), FaultError> {
        // The faulting page first: it is needed, the others are not.
        self.fill(page_down(addr), ctx)
            .map_err(|_| FaultError::OutOfMemory { addr })?;
        let faulting = addr & !(PAIR - 1);
        let cluster = addr & !(CLUSTER_PAGES * PAGE - 1);
        let mut writes = [TlbWrite::default(); (CLUSTER_PAGES / 2) as usize];
        let mut count = 0;
        for even in (cluster..cluster + CLUSTER_PAGES * PAGE).step_by(PAIR as usize) {
            let empty = !self.pte(even).is_valid() && !self.pte(even + PAGE).is_valid();
            if even != faulting && !empty {
                // Partly mapped: it may have a TLB entry; leave it to its
                // own fault.
                continue;
            }
            let mapped = self.fill_ahead(even, ctx) | self.fill_ahead(even + PAGE, ctx);
            if even != faulting && !mapped {
                continue;
            }
            let (hi, lo0, lo1) = self.pair(even);
            let slot = if even == faulting {
                tlb::probe(hi)
            } else {
                None
            };
            writes[count] = TlbWrite { hi, lo0, lo1, slot };
            count += 1;
        }
        ctx.stats.tlb_batches += 1;
        if !pv.tlb_install(&writes[..count]) {
            for write in &writes[..count] {
                tlb::update(write.hi, write.lo0, write.lo1, true);
            }
        }
        Ok(())
    }

    /// Moves the break by `increment` bytes and returns the old break.
    /// Shrinking unmaps the pages wholly above the new break and frees
    /// their frames; growing maps nothing (the pages are demand-zero).
    /// The paravirtualized path parks the whole TLB with one batch rather
    /// than probing for each unmapped pair.
    pub fn sbrk(&mut self, increment: i32, ctx: &mut MemCtx<'_>) -> Result<u32, Errno> {
        let old = self.brk;
        let new = old.checked_add_signed(increment).ok_or(Errno::NoMem)?;
        if new < self.heap_start || new > self.heap_start + HEAP_MAX {
            return Err(Errno::NoMem);
        }
        self.brk = new;
        let batch = ctx.batch().copied();
        let mut unmapped = false;
        let mut page = page_up(new);
        while page < page_up(old) {
            if self.unmap(page, ctx) {
                unmapped = true;
                if batch.is_none() {
                    let (hi, lo0, lo1) = self.pair(page);
                    tlb::update(hi, lo0, lo1, false);
                }
            }
            page += PAGE;
        }
        if unmapped
            && let Some(pv) = batch
            && !tlb::park_all_batched(&pv)
        {
            // Refused: bring each pair of the range up to date instead.
            let mut page = page_up(new);
            while page < page_up(old) {
                let (hi, lo0, lo1) = self.pair(page);
                tlb::update(hi, lo0, lo1, false);
                page += PAGE;
            }
        }
        Ok(old)
    }

    /// Calls `f` with the bytes of user range `addr..addr + len`, page by
    /// page, mapping demand-zero pages it has not touched yet.
    pub fn read_user(
        &mut self,
        addr: u32,
        len: u32,
        ctx: &mut MemCtx<'_>,
        mut f: impl FnMut(&[u8]),
    ) -> Result<(), Errno> {
        let end = addr.checked_add(len).ok_or(Errno::Fault)?;
        if end > STACK_TOP {
            return Err(Errno::Fault);
        }
        let mut at = addr;
        while at < end {
            let page = page_down(at);
            self.fill(page, ctx).map_err(|_| Errno::NoMem)?;
            let pte = self.pte(page);
            if !pte.is_valid() {
                return Err(Errno::Fault);
            }
            let chunk_end = end.min(page + PAGE);
            // SAFETY: the frame belongs to this address space and the range
            // stays inside it; nothing writes it while `f` reads.
            let bytes = unsafe {
                core::slice::from_raw_parts(
                    (pte.frame().kseg0() + (at - page)) as *const u8,
                    (chunk_end - at) as usize,
                )
            };
            f(bytes);
            at = chunk_end;
        }
        Ok(())
    }

    /// Gives every frame back (pages, page tables, the directory; in the
    /// paravirtualized build to the monitor's balloon, see
    /// [`FrameAllocator::give_back`]) and removes the address space's TLB
    /// entries.
    pub fn destroy(mut self, ctx: &mut MemCtx<'_>) {
        let empty = invalid_table();
        for slot in 0..512 {
            let table = self.directory()[slot];
            if table == empty {
                continue;
            }
            // SAFETY: a non-empty slot holds the kseg0 address of a page
            // table this address space owns.
            let ptes = unsafe { &*(table as *const [u32; 1024]) };
            for &pte in ptes.iter().filter(|&&pte| Pte(pte).is_valid()) {
                // SAFETY: every valid PTE owns its frame (see `map_new`).
                let frame = unsafe { Frame::from_raw(Pte(pte).frame()) };
                ctx.frames.give_back(frame, ctx.pv, ctx.stats);
            }
            // SAFETY: the table frame came from the allocator (`set_pte`).
            let frame = unsafe { Frame::from_raw(PhysAddr::from_kseg0(table)) };
            ctx.frames.give_back(frame, ctx.pv, ctx.stats);
        }
        // PGD_CURRENT may name the directory until the next process is
        // scheduled, but nothing runs in a mapped segment until then (and
        // a released directory reads as zeros: a walk of it fails).
        ctx.frames.give_back(self.pgd, ctx.pv, ctx.stats);
        // The paravirtualized build gives them to the monitor's balloon.
        ctx.frames.release_given(ctx.pv, ctx.stats);
        ctx.ahead.forget_space(self.asid);
        if ctx.batch().is_some() {
            // Left for `new` to park when the ASID comes back.
            tlb::retire_asid(self.asid);
        } else {
            tlb::flush_asid(self.asid);
        }
    }
}

/// Why a program could not be loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadError {
    /// A segment lies outside the image area of the address space.
    BadRange(u32),
    /// No frame was left.
    OutOfMemory,
}

impl From<OutOfMemory> for LoadError {
    fn from(_: OutOfMemory) -> Self {
        LoadError::OutOfMemory
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::BadRange(vaddr) => {
                write!(f, "segment at {vaddr:#010x} outside the image area")
            }
            LoadError::OutOfMemory => f.write_str("out of memory"),
        }
    }
}
