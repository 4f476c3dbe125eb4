//! A board instance: one range map of the physical address space (RAM,
//! the boot ROM, devices, open bus space) and the devices in it, with
//! their interrupt wiring, time, events and console. The machine's bus and
//! each of the monitor's VMs hold one, built by the same board code
//! ([`super::BoardKind::build`]), and ask it what an address is and to
//! perform device accesses.
//!
//! The map is a list of ranges in priority order: the first range that
//! holds an address decodes it (a board lists the specific before the
//! general: `mipssim`'s UART before the boot ROM window around it, Malta's
//! ISA devices before the rest of its I/O space). A range of a device
//! says which offset the device sees at its start and how far apart its
//! registers are. A range may be placed by a device rather than by the
//! board ([`Window`]): the GT-64120 moves its own registers, and it
//! decodes the PIIX4 USB controller's BAR; after every write to such a
//! device the board places the ranges again.
//!
//! RAM and ROM ranges are whole pages; the machine keeps them in one
//! buffer (the board's *memory image*: the RAM and ROM ranges in the order
//! the board lists them), and the monitor in machine frames. Loads and
//! stores to memory never reach the board: the machine's fast paths
//! address the buffer directly ([`Board::plain_memory`] says which pages
//! they may cache), and the monitor maps those pages.

use crate::addr::GuestPhysAddr;
use crate::machine::bus::PAGE_SIZE;
use crate::machine::devices::{BoardEvent, Device, Line, NoInterruptController, Window, all_ones};
use crate::machine::unaligned;

use super::BoardKind;
use crate::snapshot::SnapshotError;

/// What a physical address is on a board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// RAM, at this offset of the memory image.
    Ram(u32),
    /// Boot ROM, at this offset of the memory image.
    Rom(u32),
    /// A device's register: its slot on the board and the offset it sees.
    Device {
        /// The device's slot.
        slot: usize,
        /// The offset the device sees.
        offset: u32,
    },
    /// Bus space nothing claims but the cycle completes: reads all-ones,
    /// writes are ignored.
    Open,
    /// Nothing: a bus error.
    None,
}

/// What a 4 KiB page of the physical address space is, for whoever maps
/// pages (the monitor's software TLB).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageKind {
    /// All RAM: may be mapped.
    Ram,
    /// All boot ROM: may be mapped read-only.
    Rom,
    /// Holds a device register or open bus space (the rest of the page may
    /// be ROM): never mapped, every access goes through the board.
    Io,
    /// Nothing: a bus error.
    None,
}

/// How much of the bus a load or store uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    /// 1, 2 or 4 bytes at the address (`lb`/`sb`, `lh`/`sh`,
    /// `lw`/`sw`/`ll`/`sc`).
    Bytes(u32),
    /// The byte lanes `mask` of the aligned word holding the address: the
    /// unaligned-word instructions (`lwl`/`lwr` merge those lanes into
    /// their register, `swl`/`swr` write them with the register already
    /// shifted into place: [`crate::machine::unaligned`]). A device sees
    /// a store's lanes as byte stores, lowest lane first (`swr`).
    Lanes(u32),
    /// The lanes of a `swl`: as [`Width::Lanes`], but a device sees its
    /// byte stores highest lane first.
    LanesDown(u32),
}

impl Width {
    /// The byte lanes of the aligned word an unaligned-word access
    /// touches; all of them for a sized access.
    pub fn lanes(self) -> u32 {
        match self {
            Width::Bytes(_) => u32::MAX,
            Width::Lanes(m) | Width::LanesDown(m) => m,
        }
    }
}

/// Where a device sits: a range of the physical address space, the offset
/// the device sees at its start, and how far apart its registers are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    base: u32,
    size: u32,
    offset: u32,
    shift: u8,
    placed: Option<Placing>,
    within: Option<(u32, u32)>,
}

/// A range a device places: which device, which of its windows, and what
/// to add to the window's base.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Placing {
    /// The placing device; `None` while building: the range's own device.
    by: Option<usize>,
    window: Window,
    bias: u32,
}

impl Range {
    /// `size` bytes at physical `base`; the device sees offsets from 0.
    pub const fn new(base: u32, size: u32) -> Self {
        Self {
            base,
            size,
            offset: 0,
            shift: 0,
            placed: None,
            within: None,
        }
    }

    /// The device sees offset `offset` at the range's start (ISA devices
    /// whose models take port numbers).
    pub const fn offset(self, offset: u32) -> Self {
        Self { offset, ..self }
    }

    /// Registers `1 << shift` bytes apart: the device sees the offset
    /// from the range's start shifted right by `shift`.
    pub const fn shift(self, shift: u8) -> Self {
        Self { shift, ..self }
    }

    /// Wherever the device puts its own register window
    /// ([`Window::Own`]).
    pub const fn own_window() -> Self {
        let mut r = Self::new(0, 0);
        r.placed = Some(Placing {
            by: None,
            window: Window::Own,
            bias: 0,
        });
        r
    }

    /// Wherever device `by` (a host bridge) decodes `window`, at `bias`
    /// plus the window's base (the CPU address of the bus space the window
    /// is in).
    pub const fn placed_by(by: usize, window: Window, bias: u32) -> Self {
        let mut r = Self::new(0, 0);
        r.placed = Some(Placing {
            by: Some(by),
            window,
            bias,
        });
        r
    }

    /// Decoded only inside `size` bytes at `base` (a BAR inside its bus
    /// space's window).
    pub const fn within(self, base: u32, size: u32) -> Self {
        Self {
            within: Some((base, size)),
            ..self
        }
    }
}

/// What a range holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backing {
    Ram { image: u32 },
    Rom { image: u32 },
    Device { slot: usize, offset: u32, shift: u8 },
    Open,
}

/// One range of the map.
#[derive(Clone, Copy, Debug)]
struct Region {
    /// First address (decoding wraps around the top of the address space,
    /// as a window's `pa - base < size` test does).
    base: u32,
    /// Size in bytes; 0 while a placed window is not decoded.
    size: u32,
    /// Only addresses in `(base, size)` here are decoded.
    within: Option<(u32, u32)>,
    backing: Backing,
    placed: Option<Placing>,
}

/// One past the last address, as a `u64`.
const TOP: u64 = 1 << 32;

impl Region {
    #[inline]
    fn contains(&self, pa: u32) -> bool {
        pa.wrapping_sub(self.base) < self.size
            && self.within.is_none_or(|(b, s)| pa.wrapping_sub(b) < s)
    }

    fn is_memory(&self) -> bool {
        matches!(self.backing, Backing::Ram { .. } | Backing::Rom { .. })
    }

    /// The addresses it decodes, as up to two `[start, end)` spans.
    fn spans(&self) -> [(u64, u64); 2] {
        let b = u64::from(self.base);
        let e = b + u64::from(self.size);
        let raw = if e <= TOP {
            [(b, e), (0, 0)]
        } else {
            [(b, TOP), (0, e - TOP)]
        };
        let (cb, ce) = self.within.map_or((0, TOP), |(b, s)| {
            let b = u64::from(b);
            (b, (b + u64::from(s)).min(TOP))
        });
        raw.map(|(s, e)| (s.max(cb), e.min(ce)))
    }

    /// Whether it decodes any address of `[lo, end)`.
    fn intersects(&self, lo: u64, end: u64) -> bool {
        self.spans()
            .iter()
            .any(|&(s, e)| s < e && s < end && lo < e)
    }

    /// Whether it decodes every address of `[lo, end)`.
    fn covers(&self, lo: u64, end: u64) -> bool {
        self.spans().iter().any(|&(s, e)| s <= lo && end <= e)
    }
}

/// A device on the board, with its name.
#[derive(Clone, Debug)]
struct Slot {
    name: &'static str,
    dev: Box<dyn Device>,
}

/// A board instance: the range map and the devices in it.
#[derive(Clone, Debug)]
pub struct Board {
    kind: BoardKind,
    /// The map, in priority order.
    regions: Vec<Region>,
    slots: Vec<Slot>,
    /// The interrupt controller's slot.
    intc: Option<usize>,
    /// The console's slot.
    console: Option<usize>,
    /// Config1 and Config3 of the board's CPU, if not the machine's
    /// defaults.
    cpu_config: Option<(u32, u32)>,
    /// Bytes of RAM and ROM in the memory image.
    image_bytes: u32,
    /// Slots that place windows (bit per slot).
    placers: u64,
    /// Slots of the devices with clocks.
    timed: Vec<usize>,
    /// Events devices raised, not taken yet.
    events: Vec<BoardEvent>,
    /// Where the output of devices other than the console goes.
    discard: Vec<u8>,
    /// The lines wired to the CPU: slot, hardware interrupt.
    cpu_wired: Vec<(usize, u8)>,
    /// The lines wired to the interrupt controller: slot, input.
    intc_wired: Vec<(usize, u8)>,
    /// Levels last driven on the interrupt controller's inputs (bit per
    /// input): as wires, only a change of level reaches it.
    driven: u32,
    /// The CPU's hardware interrupt lines as Cause bits IP7..IP2,
    /// recomputed after everything that can change them.
    lines: u32,
}

/// Builds a [`Board`]: a board's code lists its RAM, ROM, devices and
/// open space, in priority order.
#[derive(Debug)]
pub struct BoardBuilder {
    board: Board,
}

impl BoardBuilder {
    /// An empty map for a board of `kind`.
    pub fn new(kind: BoardKind) -> Self {
        Self {
            board: Board {
                kind,
                regions: Vec::new(),
                slots: Vec::new(),
                intc: None,
                console: None,
                cpu_config: None,
                image_bytes: 0,
                placers: 0,
                timed: Vec::new(),
                events: Vec::new(),
                discard: Vec::new(),
                cpu_wired: Vec::new(),
                intc_wired: Vec::new(),
                driven: 0,
                lines: 0,
            },
        }
    }

    fn region(&mut self, base: u32, size: u32, backing: Backing) {
        self.board.regions.push(Region {
            base,
            size,
            within: None,
            backing,
            placed: None,
        });
    }

    /// `size` bytes of RAM at `base` (whole pages), next in the memory
    /// image.
    pub fn ram(&mut self, base: GuestPhysAddr, size: u32) -> &mut Self {
        let base = base.raw();
        let image = self.board.image_bytes;
        self.board.image_bytes += size;
        self.region(base, size, Backing::Ram { image });
        self
    }

    /// The boot ROM window, `size` bytes at `base` (whole pages), next in
    /// the memory image; it holds the board kind's
    /// [`BoardKind::rom_words`] and zeros.
    pub fn rom(&mut self, base: GuestPhysAddr, size: u32) -> &mut Self {
        let base = base.raw();
        let image = self.board.image_bytes;
        self.board.image_bytes += size;
        self.region(base, size, Backing::Rom { image });
        self
    }

    /// Open bus space: reads all-ones, writes are ignored.
    pub fn open(&mut self, base: GuestPhysAddr, size: u32) -> &mut Self {
        let base = base.raw();
        self.region(base, size, Backing::Open);
        self
    }

    /// Adds device `dev` called `name`, its interrupt line wired to
    /// `line`, at `ranges`; returns its slot.
    pub fn device(
        &mut self,
        name: &'static str,
        dev: impl Device + 'static,
        line: Line,
        ranges: &[Range],
    ) -> usize {
        let slot = self.board.slots.len();
        if dev.keeps_time() {
            self.board.timed.push(slot);
        }
        self.board.slots.push(Slot {
            name,
            dev: Box::new(dev),
        });
        match line {
            Line::Cpu(n) if n < 6 => self.board.cpu_wired.push((slot, n)),
            Line::Intc(n) if n < 32 => self.board.intc_wired.push((slot, n)),
            _ => {}
        }
        for r in ranges {
            let placed = r.placed.map(|p| Placing {
                by: Some(p.by.unwrap_or(slot)),
                ..p
            });
            if let Some(Placing { by: Some(by), .. }) = placed
                && by < 64
            {
                self.board.placers |= 1 << by;
            }
            let backing = Backing::Device {
                slot,
                offset: r.offset,
                shift: r.shift,
            };
            self.board.regions.push(Region {
                base: r.base,
                size: r.size,
                within: r.within,
                backing,
                placed,
            });
        }
        slot
    }

    /// Makes the device in `slot` the board's interrupt controller: the
    /// lines wired [`Line::Intc`] drive its inputs.
    pub fn interrupt_controller(&mut self, slot: usize) -> &mut Self {
        self.board.intc = Some(slot);
        self
    }

    /// Makes the device in `slot` the console: its output is the
    /// machine's console output, the host's input goes to it.
    pub fn console(&mut self, slot: usize) -> &mut Self {
        self.board.console = Some(slot);
        self
    }

    /// The board's CPU reports these Config1 and Config3 values.
    pub fn cpu_config(&mut self, config1: u32, config3: u32) -> &mut Self {
        self.board.cpu_config = Some((config1, config3));
        self
    }

    /// The board in its reset state: windows placed, the CPU's lines
    /// sampled (the interrupt controller's inputs are first driven at the
    /// first access or tick).
    pub fn build(self) -> Board {
        let mut b = self.board;
        for slot in 0..b.slots.len() {
            b.place_windows_of(slot);
        }
        b.sample_cpu_lines();
        b
    }
}

/// What of a [`Board`] changes as it runs, for a snapshot: its devices'
/// states (by slot, with their names to check them against), the events
/// not taken yet, and the levels on its wires. The map and the wiring are
/// the board kind's, rebuilt rather than stored.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct BoardImage {
    kind: BoardKind,
    devices: Vec<(String, Vec<u8>)>,
    events: Vec<BoardEvent>,
    discard: Vec<u8>,
    driven: u32,
    lines: u32,
}

impl Board {
    /// An empty board, standing in for a VM's board while a snapshot's
    /// VM record is decoded (the VM keeps its own board, whose state the
    /// snapshot loads).
    pub(crate) fn placeholder() -> Board {
        BoardBuilder::new(BoardKind::Mipssim).board
    }

    /// Its running state, for a snapshot.
    pub fn save_state(&self) -> BoardImage {
        BoardImage {
            kind: self.kind,
            devices: self
                .slots
                .iter()
                .map(|s| (s.name.to_owned(), s.dev.save_state()))
                .collect(),
            events: self.events.clone(),
            discard: self.discard.clone(),
            driven: self.driven,
            lines: self.lines,
        }
    }

    /// Restores the running state [`Board::save_state`] took of a board of
    /// the same kind.
    pub fn load_state(&mut self, image: &BoardImage) -> Result<(), SnapshotError> {
        if image.kind != self.kind {
            return Err(SnapshotError::Mismatch(format!(
                "the snapshot's board is {:?}, this one {:?}",
                image.kind, self.kind
            )));
        }
        let names = |v: Vec<&str>| v.join(", ");
        if image.devices.len() != self.slots.len()
            || image
                .devices
                .iter()
                .zip(&self.slots)
                .any(|((name, _), slot)| name != slot.name)
        {
            return Err(SnapshotError::Mismatch(format!(
                "the snapshot's devices are [{}], this board's [{}]",
                names(image.devices.iter().map(|(n, _)| n.as_str()).collect()),
                names(self.slots.iter().map(|s| s.name).collect())
            )));
        }
        for ((name, bytes), slot) in image.devices.iter().zip(&mut self.slots) {
            slot.dev.load_state(bytes).map_err(|e| match e {
                SnapshotError::Decode(why) => SnapshotError::Decode(format!("{name}: {why}")),
                other => other,
            })?;
        }
        // Windows follow the devices' configuration (PCI BARs).
        for slot in 0..self.slots.len() {
            self.place_windows_of(slot);
        }
        self.events = image.events.clone();
        self.discard = image.discard.clone();
        self.driven = image.driven;
        self.lines = image.lines;
        Ok(())
    }

    /// Which board it is.
    pub fn kind(&self) -> BoardKind {
        self.kind
    }

    /// Config1 and Config3 of the board's CPU, if not the machine's
    /// defaults.
    pub fn cpu_config(&self) -> Option<(u32, u32)> {
        self.cpu_config
    }

    /// Bytes of RAM and ROM in the memory image.
    pub fn image_bytes(&self) -> u32 {
        self.image_bytes
    }

    /// The RAM ranges as `(base, bytes)`, in the board's order.
    pub fn ram_ranges(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.regions.iter().filter_map(|r| match r.backing {
            Backing::Ram { .. } => Some((r.base, r.size)),
            _ => None,
        })
    }

    /// What physical address `pa` is.
    #[inline]
    pub fn decode(&self, pa: GuestPhysAddr) -> Decoded {
        let pa = pa.raw();
        let Some(r) = self.regions.iter().find(|r| r.contains(pa)) else {
            return Decoded::None;
        };
        let rel = pa.wrapping_sub(r.base);
        match r.backing {
            Backing::Ram { image } => Decoded::Ram(image + rel),
            Backing::Rom { image } => Decoded::Rom(image + rel),
            Backing::Device {
                slot,
                offset,
                shift,
            } => Decoded::Device {
                slot,
                offset: offset.wrapping_add(rel >> shift),
            },
            Backing::Open => Decoded::Open,
        }
    }

    /// The memory range holding all of the `len` bytes from `pa` (len >
    /// 0), if it is RAM or ROM with nothing over it: the first range of the
    /// map that decodes any of the bytes must be memory and hold them all.
    fn memory_at(&self, pa: u32, len: u32) -> Option<&Region> {
        let lo = u64::from(pa);
        let end = lo + u64::from(len);
        let r = self.regions.iter().find(|r| r.intersects(lo, end))?;
        (r.is_memory() && r.covers(lo, end)).then_some(r)
    }

    /// Whether the `len` bytes from `pa` (len > 0, inside one page) are all
    /// RAM or ROM of one range, no device among them.
    pub fn plain_memory(&self, pa: GuestPhysAddr, len: u32) -> bool {
        let pa = pa.raw();
        self.memory_at(pa, len).is_some()
    }

    /// Whether every byte of the `len` bytes from `pa` is RAM or ROM, page
    /// by page (a range over a device's registers is not memory, even when
    /// the memory around them is).
    pub fn all_memory(&self, pa: GuestPhysAddr, len: u32) -> bool {
        let pa = pa.raw();
        let end = u64::from(pa) + u64::from(len);
        let mut a = u64::from(pa);
        while a < end {
            let next = ((a | u64::from(PAGE_SIZE - 1)) + 1).min(end);
            if !self.plain_memory(GuestPhysAddr::new(a as u32), (next - a) as u32) {
                return false;
            }
            a = next;
        }
        true
    }

    /// What the 4 KiB page holding `pa` is.
    pub fn page_kind(&self, pa: GuestPhysAddr) -> PageKind {
        let pa = pa.raw();
        let page = pa & !(PAGE_SIZE - 1);
        match self.memory_at(page, PAGE_SIZE).map(|r| r.backing) {
            Some(Backing::Ram { .. }) => PageKind::Ram,
            Some(Backing::Rom { .. }) => PageKind::Rom,
            _ => {
                let lo = u64::from(page);
                let end = lo + u64::from(PAGE_SIZE);
                if self
                    .regions
                    .iter()
                    .any(|r| !r.is_memory() && r.intersects(lo, end))
                {
                    PageKind::Io
                } else {
                    PageKind::None
                }
            }
        }
    }

    /// The name of what answers at `pa`: a device's, or `ram`, `rom`,
    /// `open`, `nothing` (for traces).
    pub fn name_at(&self, pa: GuestPhysAddr) -> &'static str {
        let pa = pa.raw();
        match self.decode(GuestPhysAddr::new(pa)) {
            Decoded::Ram(_) => "ram",
            Decoded::Rom(_) => "rom",
            Decoded::Device { slot, .. } => self.slots.get(slot).map_or("device", |s| s.name),
            Decoded::Open => "open",
            Decoded::None => "nothing",
        }
    }

    /// A CPU load of `width` at physical `pa`, at tick `now`: the value
    /// (in the low bytes), or `None` for a bus error.
    ///
    /// This and [`Board::store`] are the one place where a load or store
    /// instruction's access becomes device accesses, for the machine and
    /// the monitor alike. A sized access reaches the device as it is. An
    /// unaligned-word load ([`Width::Lanes`]) reads the whole aligned word
    /// (a word access; the merge is the instruction's); an unaligned-word
    /// store writes the bytes of its lanes one by one, in the order QEMU's
    /// `helper_swl`/`helper_swr` do ([`unaligned::device_bytes`]), so
    /// that a device sees only the bytes the instruction covers.
    pub fn load(&mut self, pa: GuestPhysAddr, width: Width, now: u64) -> Option<u32> {
        let pa = pa.raw();
        match width {
            Width::Bytes(size) => self.read(GuestPhysAddr::new(pa), size, now),
            Width::Lanes(_) | Width::LanesDown(_) => self.read(GuestPhysAddr::new(pa & !3), 4, now),
        }
    }

    /// A CPU store of `width` of `value` at physical `pa`, at tick `now`;
    /// false is a bus error. See [`Board::load`].
    pub fn store(&mut self, pa: GuestPhysAddr, width: Width, value: u32, now: u64) -> bool {
        let pa = pa.raw();
        match width {
            Width::Bytes(size) => self.write(GuestPhysAddr::new(pa), size, value, now),
            Width::Lanes(lanes) | Width::LanesDown(lanes) => {
                let down = matches!(width, Width::LanesDown(_));
                unaligned::device_bytes(lanes, value, down).all(|(i, b)| {
                    self.write(GuestPhysAddr::new((pa & !3) + i), 1, u32::from(b), now)
                })
            }
        }
    }

    /// Reads `size` (1, 2 or 4) bytes at physical `pa` at tick `now`,
    /// after advancing the devices to it; `None` is a bus error (nothing
    /// there, or RAM, which never reaches the board). ROM reads as the
    /// board kind's ROM image.
    pub fn read(&mut self, pa: GuestPhysAddr, size: u32, now: u64) -> Option<u32> {
        let pa = pa.raw();
        self.tick(now);
        let v = match self.decode(GuestPhysAddr::new(pa)) {
            Decoded::Device { slot, offset } => self.device_read(slot, offset, size),
            Decoded::Open => all_ones(size),
            Decoded::Rom(_) => self.kind.rom_bytes(GuestPhysAddr::new(pa), size),
            Decoded::Ram(_) | Decoded::None => return None,
        };
        self.sync();
        Some(v)
    }

    /// For spin inference, right after a load of `width` at `pa`: the
    /// tick until which a repeat of it reads the same, if only time can
    /// change it (see [`Device::stable_until`]).
    pub fn stable_until(&self, pa: GuestPhysAddr, width: Width) -> Option<u64> {
        let Width::Bytes(size) = width else {
            return None;
        };
        match self.decode(pa) {
            Decoded::Device { slot, offset } => {
                self.slots.get(slot)?.dev.stable_until(offset, size)
            }
            _ => None,
        }
    }

    /// Writes the low `size` (1, 2 or 4) bytes of `value` at physical `pa`
    /// at tick `now`; false is a bus error. Writes to ROM and open space
    /// are ignored.
    pub fn write(&mut self, pa: GuestPhysAddr, size: u32, value: u32, now: u64) -> bool {
        let pa = pa.raw();
        self.tick(now);
        match self.decode(GuestPhysAddr::new(pa)) {
            Decoded::Device { slot, offset } => {
                if let Some(s) = self.slots.get_mut(slot) {
                    s.dev.write(offset, size, value);
                    // A device transmits on a write; only the console's
                    // output goes anywhere.
                    if self.console != Some(slot) {
                        s.dev.drain_output(&mut self.discard);
                        self.discard.clear();
                    }
                    self.events.extend(s.dev.take_event());
                }
                self.place_windows_of(slot);
            }
            Decoded::Open | Decoded::Rom(_) => {}
            Decoded::Ram(_) | Decoded::None => return false,
        }
        self.sync();
        true
    }

    /// A read of the device in `slot`, with the interrupt controller at
    /// hand for an acknowledge cycle.
    fn device_read(&mut self, slot: usize, offset: u32, size: u32) -> u32 {
        if let Some(ic) = self.intc.filter(|&ic| ic != slot)
            && let Ok([s, c]) = self.slots.get_disjoint_mut([slot, ic])
        {
            return match c.dev.interrupt_controller() {
                Some(intc) => s.dev.read(offset, size, intc),
                None => s.dev.read(offset, size, &mut NoInterruptController),
            };
        }
        match self.slots.get_mut(slot) {
            Some(s) => s.dev.read(offset, size, &mut NoInterruptController),
            None => all_ones(size),
        }
    }

    /// Places the ranges the device in `slot` decides (after a write to
    /// it, which may have moved them).
    fn place_windows_of(&mut self, slot: usize) {
        if slot >= 64 || self.placers & (1 << slot) == 0 {
            return;
        }
        let Some(dev) = self.slots.get(slot).map(|s| &s.dev) else {
            return;
        };
        for r in &mut self.regions {
            if let Some(p) = r.placed
                && p.by == Some(slot)
            {
                let (base, size) = dev.window(p.window).unwrap_or((0, 0));
                r.base = p.bias.wrapping_add(base);
                r.size = size;
            }
        }
    }

    /// Advances the devices with clocks to tick `now` and samples their
    /// lines (nothing changes on a board without clocks).
    pub fn tick(&mut self, now: u64) {
        if self.timed.is_empty() {
            return;
        }
        for &i in &self.timed {
            if let Some(s) = self.slots.get_mut(i) {
                s.dev.tick(now);
                self.events.extend(s.dev.take_event());
            }
        }
        self.sync();
    }

    /// Drives the interrupt controller's inputs from the lines wired to
    /// it, as wires do (only a change of level reaches it; edges a device
    /// had between two samples become a pulse), and recomputes the CPU's
    /// lines.
    fn sync(&mut self) {
        if let Some(ic) = self.intc {
            for i in 0..self.intc_wired.len() {
                let (slot, irq) = self.intc_wired[i];
                let Some(s) = self.slots.get_mut(slot) else {
                    continue;
                };
                let pulsed = s.dev.take_edges() > 0;
                if pulsed && self.driven & (1 << irq) != 0 {
                    self.drive(ic, irq, false);
                }
                let level = self.slots.get(slot).is_some_and(|s| s.dev.irq());
                self.drive(ic, irq, level);
            }
        }
        self.sample_cpu_lines();
    }

    /// Recomputes the CPU's lines from the devices wired to it.
    fn sample_cpu_lines(&mut self) {
        let mut lines = 0;
        for &(slot, n) in &self.cpu_wired {
            if self.slots.get(slot).is_some_and(|s| s.dev.irq()) {
                lines |= 1 << (10 + n);
            }
        }
        self.lines = lines;
    }

    fn drive(&mut self, ic: usize, irq: u8, level: bool) {
        let bit = 1u32 << irq;
        if (self.driven & bit != 0) != level {
            self.driven ^= bit;
            if let Some(c) = self
                .slots
                .get_mut(ic)
                .and_then(|s| s.dev.interrupt_controller())
            {
                c.set_irq(irq, level);
            }
        }
    }

    /// The tick of the next device event (a timer edge), if any.
    pub fn next_event(&self) -> Option<u64> {
        self.timed
            .iter()
            .filter_map(|&i| self.slots.get(i)?.dev.next_event())
            .min()
    }

    /// The CPU's hardware interrupt lines HW5..HW0 as Cause bits IP7..IP2
    /// (bits 15..10).
    #[inline]
    pub fn irq_lines(&self) -> u32 {
        self.lines
    }

    /// Appends what the console transmitted to `out` (other devices'
    /// output is dropped as they transmit it).
    pub fn drain_output(&mut self, out: &mut Vec<u8>) {
        if let Some(s) = self.console.and_then(|c| self.slots.get_mut(c)) {
            s.dev.drain_output(out);
        }
    }

    /// Takes what the console transmitted.
    pub fn take_output(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.drain_output(&mut out);
        out
    }

    /// Takes a pending power-off or reset request (the oldest).
    pub fn take_event(&mut self) -> Option<BoardEvent> {
        (!self.events.is_empty()).then(|| self.events.remove(0))
    }

    /// Queues console input; returns how many bytes the console took.
    pub fn push_input(&mut self, bytes: &[u8]) -> usize {
        let n = self
            .console
            .and_then(|c| self.slots.get_mut(c))
            .map_or(0, |s| s.dev.push_input(bytes));
        self.sync();
        n
    }

    /// Console bytes not read yet.
    pub fn input_len(&self) -> usize {
        self.console
            .and_then(|c| self.slots.get(c))
            .map_or(0, |s| s.dev.input_len())
    }

    /// Whether the console's receive interrupt is enabled.
    pub fn wants_input(&self) -> bool {
        self.console
            .and_then(|c| self.slots.get(c))
            .is_some_and(|s| s.dev.wants_input())
    }
}
