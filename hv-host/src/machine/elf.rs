//! The ELF32 loader's front half: parses and checks a MIPS32 little-endian
//! executable into an [`ElfImage`] (loadable segments with their physical
//! placement, the entry point and the symbol table), built on the `object`
//! crate's ELF reader.
//!
//! Placement follows QEMU's `load_elf`: each `PT_LOAD` segment goes to its
//! `p_paddr`. A kseg0/kseg1 address (`0x8000_0000..=0xbfff_ffff`) is turned
//! into a physical one by masking with `0x1fff_ffff`; a kuseg address
//! (below `0x8000_0000`) is taken as physical as it is. Segments in kseg2 or
//! kseg3 (`0xc000_0000` and up) are TLB-mapped and cannot be placed before
//! the guest runs, so they are refused.
//!
//! Copying the segments into RAM belongs to the machine (`Machine::load_elf`),
//! which knows the RAM size.

use crate::addr::{GuestVirtAddr, MachineAddr};
use object::elf;
use object::read::elf::{FileHeader, ProgramHeader, Sym};
use object::{Endianness, FileKind};
use std::borrow::Cow;
use thiserror::Error;
use zerocopy::IntoBytes;

/// `e_flags` bit: the code uses the MIPS16 ASE.
const EF_MIPS_ARCH_ASE_M16: u32 = 0x0400_0000;
/// `e_flags` bit: the code is microMIPS.
const EF_MIPS_MICROMIPS: u32 = 0x0200_0000;

/// First address of kseg0 (unmapped, cached).
const KSEG0: u32 = 0x8000_0000;
/// First address of kseg2 (mapped): nothing at or above it can be loaded.
const KSEG2: u32 = 0xc000_0000;
/// Mask from a kseg0/kseg1 address to its physical address.
const KSEG_PHYS_MASK: u32 = 0x1fff_ffff;

/// Most memory the loadable segments of one image may need together: the
/// largest RAM a machine has. Checked before any segment is copied, so the
/// header fields of a small file cannot make the parser copy gigabytes.
pub const MAX_IMAGE_BYTES: u32 = super::bus::MAX_RAM;
/// Most named symbols kept from `.symtab`.
pub const MAX_SYMBOLS: usize = 1 << 18;
/// Longest symbol name kept, in bytes; a longer name is cut there and
/// ends in `...`. (Many symbols may share one long string in `.strtab`,
/// so without a cap the copies could far exceed the file.)
pub const MAX_SYMBOL_NAME: usize = 256;

/// Why an ELF file cannot be loaded on the machine.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ElfError {
    /// The file does not start with the ELF magic.
    #[error("not an ELF file")]
    NotElf,
    /// The ELF structures are cut short or inconsistent.
    #[error("truncated or malformed ELF: {0}")]
    Malformed(#[from] object::read::Error),
    /// A 64-bit ELF (`ELFCLASS64`).
    #[error("64-bit ELF (ELFCLASS64); the machine runs 32-bit MIPS code")]
    Class64,
    /// A big-endian ELF.
    #[error("big-endian ELF; the machine is little-endian (mipsel)")]
    BigEndian,
    /// `e_machine` is not `EM_MIPS`.
    #[error("not a MIPS ELF (e_machine {0})")]
    WrongMachine(u16),
    /// `e_type` is not `ET_EXEC` (a relocatable object, shared object, ...).
    #[error("not an executable (e_type {0}, expected ET_EXEC = 2)")]
    NotExecutable(u16),
    /// The code is MIPS16 or microMIPS, which the machine does not run.
    #[error("compressed ISA (MIPS16 or microMIPS) in e_flags {0:#010x}")]
    CompressedIsa(u32),
    /// The `EF_MIPS_ARCH` field names an ISA other than MIPS I, MIPS II,
    /// MIPS32 or MIPS32 Release 2 (64-bit ISAs, and Release 6 with its
    /// different encodings).
    #[error(
        "unsupported ISA in e_flags {flags:#010x} (EF_MIPS_ARCH {arch:#x}); expected mips1, mips2, mips32 or mips32r2"
    )]
    UnsupportedIsa {
        /// The whole `e_flags`.
        flags: u32,
        /// The `EF_MIPS_ARCH` field, shifted down to 0..=15.
        arch: u32,
    },
    /// No non-empty `PT_LOAD` segment.
    #[error("no loadable (PT_LOAD) segment")]
    NoLoadSegments,
    /// A segment's file size exceeds its memory size.
    #[error("segment at {vaddr}: file size {filesz:#x} exceeds memory size {memsz:#x}")]
    FileSizeExceedsMemSize {
        /// The segment's virtual address.
        vaddr: GuestVirtAddr,
        /// `p_filesz`.
        filesz: u32,
        /// `p_memsz`.
        memsz: u32,
    },
    /// A segment's bytes lie outside the file.
    #[error("segment at {vaddr}: file range {offset:#x}+{filesz:#x} is outside the file")]
    SegmentOutsideFile {
        /// The segment's virtual address.
        vaddr: GuestVirtAddr,
        /// `p_offset`.
        offset: u32,
        /// `p_filesz`.
        filesz: u32,
    },
    /// A segment's virtual or physical address is in kseg2/kseg3
    /// (`0xc000_0000` and up), which is TLB-mapped.
    #[error("segment at {addr} is in mapped space (kseg2/kseg3); it cannot be loaded physically")]
    MappedSegment {
        /// The offending address (`p_vaddr` or `p_paddr`).
        addr: GuestVirtAddr,
    },
    /// A segment runs past the end of the address segment it starts in
    /// (kuseg, kseg0 or kseg1), so its physical image would wrap.
    #[error("segment at {addr} of {memsz:#x} bytes crosses the end of its address segment")]
    SegmentCrossesBoundary {
        /// The segment's start (`p_vaddr` or `p_paddr`).
        addr: GuestVirtAddr,
        /// `p_memsz`.
        memsz: u32,
    },
    /// Two segments overlap in physical memory.
    #[error("segments overlap in physical memory: {first} and {second}")]
    OverlappingSegments {
        /// Physical start of the lower segment.
        first: MachineAddr,
        /// Physical start of the segment that overlaps it.
        second: MachineAddr,
    },
    /// The loadable segments together need more memory than the largest
    /// machine has ([`MAX_IMAGE_BYTES`]), so the image can never load.
    #[error(
        "loadable segments need {total:#x} bytes of memory; no machine has more than {limit:#x}"
    )]
    ImageTooLarge {
        /// The sum of the segments' `p_memsz`.
        total: u64,
        /// [`MAX_IMAGE_BYTES`].
        limit: u32,
    },
    /// The symbol table holds more than [`MAX_SYMBOLS`] named symbols.
    #[error("more than {0} symbols in .symtab")]
    TooManySymbols(usize),
    /// The entry point is not word-aligned (an odd entry means MIPS16 or
    /// microMIPS code).
    #[error("entry point {0} is not word-aligned")]
    MisalignedEntry(GuestVirtAddr),
    /// The entry point is not inside the file bytes of an executable
    /// loaded segment.
    #[error("entry point {0} is not inside an executable loaded segment")]
    EntryNotExecutable(GuestVirtAddr),
}

/// One `PT_LOAD` segment, ready to copy into RAM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Where the code expects it (`p_vaddr`).
    pub vaddr: GuestVirtAddr,
    /// Where it goes in RAM (`p_paddr`, kseg0/kseg1 masked to physical).
    pub paddr: MachineAddr,
    /// The bytes from the file (`p_filesz` of them).
    pub data: Vec<u8>,
    /// Bytes in memory, `>= data.len()`; the rest is zero-filled.
    pub mem_size: u32,
    /// Whether the segment is executable (`PF_X`).
    pub executable: bool,
}

impl Segment {
    /// Bytes the segment takes in memory (its file bytes, or more).
    pub fn len_in_memory(&self) -> u32 {
        self.mem_size.max(self.data.len() as u32)
    }

    /// Whether all of it lies below physical byte `ram_end` (a RAM size).
    pub fn fits_below(&self, ram_end: u32) -> bool {
        self.paddr
            .raw()
            .checked_add(self.len_in_memory())
            .is_some_and(|end| end <= ram_end)
    }

    /// Whether `addr` lies in the segment's file bytes (by virtual address).
    fn holds_code_at(&self, addr: GuestVirtAddr) -> bool {
        addr.raw()
            .checked_sub(self.vaddr.raw())
            .is_some_and(|off| (off as usize) < self.data.len())
    }
}

/// A named address from the symbol table, for traces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    /// The symbol's value (a virtual address).
    pub addr: GuestVirtAddr,
    /// Its size in bytes; 0 for a label without a size.
    pub size: u32,
    /// Its name.
    pub name: String,
}

/// A checked MIPS32 little-endian executable.
#[derive(Debug, Clone)]
pub struct ElfImage {
    /// The entry point (`e_entry`).
    pub entry: GuestVirtAddr,
    /// The non-empty `PT_LOAD` segments, by ascending physical address.
    pub segments: Vec<Segment>,
    /// Function, object and label symbols, by ascending address.
    pub(crate) symbols: Vec<Symbol>,
    /// Why the file looks like a Linux kernel (a section or symbol only
    /// Linux images have), if it does.
    pub linux: Option<&'static str>,
}

/// Physical address of a segment start, or why there is none.
fn physical(addr: u32, memsz: u32) -> Result<MachineAddr, ElfError> {
    let gva = GuestVirtAddr::new(addr);
    if addr >= KSEG2 {
        return Err(ElfError::MappedSegment { addr: gva });
    }
    // End of the address segment that `addr` starts in.
    let (phys, limit) = if addr >= KSEG0 {
        (addr & KSEG_PHYS_MASK, u64::from(KSEG_PHYS_MASK) + 1)
    } else {
        (addr, u64::from(KSEG0))
    };
    if u64::from(phys) + u64::from(memsz) > limit {
        return Err(ElfError::SegmentCrossesBoundary { addr: gva, memsz });
    }
    Ok(MachineAddr::new(phys))
}

impl ElfImage {
    /// Parses and checks `bytes` as a MIPS32 little-endian `ET_EXEC` file.
    ///
    /// `bytes` may have any alignment: the `object` crate reads headers in
    /// place and needs 4-byte alignment, so a misaligned slice (an
    /// `include_bytes!`, a sub-slice) is first copied to an aligned buffer.
    pub fn parse(bytes: &[u8]) -> Result<Self, ElfError> {
        if bytes.as_ptr().align_offset(4) != 0 {
            let mut words = vec![0u32; bytes.len().div_ceil(4)];
            let aligned = &mut words.as_mut_bytes()[..bytes.len()];
            aligned.copy_from_slice(bytes);
            return Self::parse_aligned(aligned);
        }
        Self::parse_aligned(bytes)
    }

    fn parse_aligned(bytes: &[u8]) -> Result<Self, ElfError> {
        if !bytes.starts_with(&elf::ELFMAG) {
            return Err(ElfError::NotElf);
        }
        if FileKind::parse(bytes)? == FileKind::Elf64 {
            return Err(ElfError::Class64);
        }
        let header = elf::FileHeader32::<Endianness>::parse(bytes)?;
        let endian = header.endian()?;
        if endian == Endianness::Big {
            return Err(ElfError::BigEndian);
        }
        let machine = header.e_machine(endian);
        if machine != elf::EM_MIPS {
            return Err(ElfError::WrongMachine(machine));
        }
        let kind = header.e_type(endian);
        if kind != elf::ET_EXEC {
            return Err(ElfError::NotExecutable(kind));
        }
        check_flags(header.e_flags(endian))?;

        // Check every segment, borrowing its bytes, before copying any:
        // the copies are then bounded by MAX_IMAGE_BYTES.
        let mut placed = Vec::new();
        for ph in header.program_headers(endian, bytes)? {
            if ph.p_type(endian) != elf::PT_LOAD || ph.p_memsz(endian) == 0 {
                continue;
            }
            placed.push(segment(ph, endian, bytes)?);
        }
        if placed.is_empty() {
            return Err(ElfError::NoLoadSegments);
        }
        placed.sort_by_key(|s| s.paddr);
        for pair in placed.windows(2) {
            let end = u64::from(pair[0].paddr.raw()) + u64::from(pair[0].mem_size);
            if u64::from(pair[1].paddr.raw()) < end {
                return Err(ElfError::OverlappingSegments {
                    first: pair[0].paddr,
                    second: pair[1].paddr,
                });
            }
        }
        let total: u64 = placed.iter().map(|s| u64::from(s.mem_size)).sum();
        if total > u64::from(MAX_IMAGE_BYTES) {
            return Err(ElfError::ImageTooLarge {
                total,
                limit: MAX_IMAGE_BYTES,
            });
        }
        let segments: Vec<Segment> = placed.into_iter().map(Segment::from).collect();

        let entry = GuestVirtAddr::new(header.e_entry(endian));
        if !entry.is_aligned(4) {
            return Err(ElfError::MisalignedEntry(entry));
        }
        if !segments
            .iter()
            .any(|s| s.executable && s.holds_code_at(entry))
        {
            return Err(ElfError::EntryNotExecutable(entry));
        }

        let symbols = symbols(header, endian, bytes)?;
        let linux = linux_marker(header, endian, bytes, &symbols);
        Ok(Self {
            entry,
            segments,
            symbols,
            linux,
        })
    }

    /// Function, object and label symbols, by ascending address.
    pub fn symbols(&self) -> &[Symbol] {
        &self.symbols
    }

    /// The symbol `addr` falls in and the offset from its start.
    ///
    /// Looks at symbols at or below `addr`, nearest first: a sized symbol
    /// answers if `addr` is inside it (`addr < addr + size`); past its end
    /// it never does. An unsized label answers if `addr` is in the same
    /// loaded segment as the label and no sized symbol ends between the
    /// label and `addr`: a label does not reach across a function or
    /// object that has ended, so the padding after the last function is
    /// named after nothing rather than after some label far below. An
    /// address outside every loaded segment (past the image's end, the
    /// boot ROM, a device) is named after nothing. `None` if no symbol
    /// qualifies.
    pub fn symbolize(&self, addr: GuestVirtAddr) -> Option<(&str, u32)> {
        let inside = |seg: &Segment, a: GuestVirtAddr| {
            a.raw()
                .checked_sub(seg.vaddr.raw())
                .is_some_and(|off| off < seg.mem_size)
        };
        let seg = self.segments.iter().find(|seg| inside(seg, addr))?;
        let below = &self.symbols[..self.symbols.partition_point(|s| s.addr <= addr)];
        // The highest end, at or below `addr`, of a sized symbol below
        // `addr`: labels under it are fenced off. Found only once a label
        // is a candidate, since most lookups end in a sized symbol.
        let mut fence: Option<u64> = None;
        below.iter().rev().find_map(|s| {
            let off = addr.raw() - s.addr.raw();
            let named = if s.size == 0 {
                inside(seg, s.addr)
                    && u64::from(s.addr.raw())
                        >= *fence.get_or_insert_with(|| ended_below(below, addr))
            } else {
                off < s.size
            };
            named.then_some((s.name.as_str(), off))
        })
    }

    /// The address of the symbol called `name`.
    pub fn symbol(&self, name: &str) -> Option<GuestVirtAddr> {
        self.symbols.iter().find(|s| s.name == name).map(|s| s.addr)
    }
}

/// The highest end (`addr + size`) of the sized symbols in `symbols` that
/// end at or before `addr`, 0 if none does.
fn ended_below(symbols: &[Symbol], addr: GuestVirtAddr) -> u64 {
    symbols
        .iter()
        .filter(|s| s.size > 0)
        .map(|s| u64::from(s.addr.raw()) + u64::from(s.size))
        .filter(|&end| end <= u64::from(addr.raw()))
        .max()
        .unwrap_or(0)
}

/// `name` fit to print on a terminal: control characters (ESC, newline,
/// DEL, ...) written as escapes (`\x1b`, `\x0a`, `\u{85}`) and a backslash
/// doubled, so a symbol name from an untrusted file cannot move the cursor,
/// recolour the terminal or forge output lines. Borrows `name` when there
/// is nothing to escape.
pub fn printable(name: &str) -> Cow<'_, str> {
    if !name.chars().any(|c| c.is_control() || c == '\\') {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() + 8);
    for c in name.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if c.is_ascii_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn check_flags(flags: u32) -> Result<(), ElfError> {
    if flags & (EF_MIPS_ARCH_ASE_M16 | EF_MIPS_MICROMIPS) != 0 {
        return Err(ElfError::CompressedIsa(flags));
    }
    match flags & elf::EF_MIPS_ARCH {
        elf::EF_MIPS_ARCH_1
        | elf::EF_MIPS_ARCH_2
        | elf::EF_MIPS_ARCH_32
        | elf::EF_MIPS_ARCH_32R2 => Ok(()),
        arch => Err(ElfError::UnsupportedIsa {
            flags,
            arch: arch >> 28,
        }),
    }
}

/// A checked segment whose bytes still lie in the file.
struct Placed<'a> {
    vaddr: GuestVirtAddr,
    paddr: MachineAddr,
    data: &'a [u8],
    mem_size: u32,
    executable: bool,
}

impl From<Placed<'_>> for Segment {
    fn from(p: Placed<'_>) -> Self {
        Segment {
            vaddr: p.vaddr,
            paddr: p.paddr,
            data: p.data.to_vec(),
            mem_size: p.mem_size,
            executable: p.executable,
        }
    }
}

fn segment<'a>(
    ph: &elf::ProgramHeader32<Endianness>,
    endian: Endianness,
    bytes: &'a [u8],
) -> Result<Placed<'a>, ElfError> {
    let vaddr = ph.p_vaddr(endian);
    let filesz = ph.p_filesz(endian);
    let memsz = ph.p_memsz(endian);
    let gva = GuestVirtAddr::new(vaddr);
    if filesz > memsz {
        return Err(ElfError::FileSizeExceedsMemSize {
            vaddr: gva,
            filesz,
            memsz,
        });
    }
    // The virtual range must be unmapped too, or the code could not run
    // where it was linked without a TLB set up first.
    physical(vaddr, memsz)?;
    let paddr = physical(ph.p_paddr(endian), memsz)?;
    let data = ph
        .data(endian, bytes)
        .map_err(|()| ElfError::SegmentOutsideFile {
            vaddr: gva,
            offset: ph.p_offset(endian),
            filesz,
        })?;
    Ok(Placed {
        vaddr: gva,
        paddr,
        data,
        mem_size: memsz,
        executable: ph.p_flags(endian) & elf::PF_X != 0,
    })
}

/// A section or symbol only a Linux kernel image has: a compressed MIPS
/// `vmlinuz` carries `.appended_dtb`, a `vmlinux` `__ksymtab` and
/// `start_kernel`.
fn linux_marker(
    header: &elf::FileHeader32<Endianness>,
    endian: Endianness,
    bytes: &[u8],
    symbols: &[Symbol],
) -> Option<&'static str> {
    let sections = header.sections(endian, bytes).ok()?;
    for name in ["section .appended_dtb", "section __ksymtab"] {
        let section = &name["section ".len()..];
        if sections
            .section_by_name(endian, section.as_bytes())
            .is_some()
        {
            return Some(name);
        }
    }
    symbols
        .iter()
        .any(|s| s.name == "start_kernel")
        .then_some("symbol start_kernel")
}

/// Named function, object and untyped symbols from `.symtab`, sorted by
/// address (functions first among equals, then larger sizes, then names).
fn symbols(
    header: &elf::FileHeader32<Endianness>,
    endian: Endianness,
    bytes: &[u8],
) -> Result<Vec<Symbol>, ElfError> {
    let sections = header.sections(endian, bytes)?;
    let table = sections.symbols(endian, bytes, elf::SHT_SYMTAB)?;
    let mut out = Vec::new();
    for sym in table.iter() {
        let kind = sym.st_type();
        if !matches!(kind, elf::STT_FUNC | elf::STT_OBJECT | elf::STT_NOTYPE)
            || sym.st_shndx(endian) == elf::SHN_UNDEF
        {
            continue;
        }
        let name = sym.name(endian, table.strings())?;
        if name.is_empty() {
            continue;
        }
        if out.len() == MAX_SYMBOLS {
            return Err(ElfError::TooManySymbols(MAX_SYMBOLS));
        }
        let name = match name.get(..MAX_SYMBOL_NAME) {
            Some(cut) if name.len() > MAX_SYMBOL_NAME => {
                format!("{}...", String::from_utf8_lossy(cut))
            }
            _ => String::from_utf8_lossy(name).into_owned(),
        };
        out.push((
            kind != elf::STT_FUNC,
            Symbol {
                addr: GuestVirtAddr::new(sym.st_value(endian)),
                size: sym.st_size(endian),
                name,
            },
        ));
    }
    out.sort_by(|(a_nonfunc, a), (b_nonfunc, b)| {
        a.addr
            .cmp(&b.addr)
            .then(a_nonfunc.cmp(b_nonfunc))
            .then(b.size.cmp(&a.size))
            .then(a.name.cmp(&b.name))
    });
    Ok(out.into_iter().map(|(_, s)| s).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::write::StringId;
    use object::write::elf::{
        FileHeader as WFileHeader, ProgramHeader as WProgramHeader, Sym as WSym, Writer,
    };

    /// One segment for [`build`].
    #[derive(Clone)]
    struct Seg {
        vaddr: u32,
        paddr: u32,
        data: Vec<u8>,
        memsz: u32,
        flags: u32,
    }

    fn code(vaddr: u32, words: &[u32]) -> Seg {
        let data: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        Seg {
            vaddr,
            paddr: vaddr,
            memsz: data.len() as u32,
            data,
            flags: elf::PF_R | elf::PF_X,
        }
    }

    /// The header knobs the tests vary.
    #[derive(Clone)]
    struct Spec {
        big: bool,
        is_64: bool,
        machine: u16,
        kind: u16,
        flags: u32,
        entry: u32,
        segments: Vec<Seg>,
        /// (name, value, size, st_type)
        symbols: Vec<(&'static str, u32, u32, u8)>,
    }

    fn good() -> Spec {
        Spec {
            big: false,
            is_64: false,
            machine: elf::EM_MIPS,
            kind: elf::ET_EXEC,
            flags: elf::EF_MIPS_ARCH_32R2 | elf::EF_MIPS_ABI_O32,
            entry: 0x8000_0100,
            segments: vec![
                code(0x8000_0100, &[0x2408_0001, 0x0000_0000, 0x1000_ffff, 0]),
                Seg {
                    vaddr: 0x8000_1000,
                    paddr: 0x8000_1000,
                    data: b"hi".to_vec(),
                    memsz: 0x100,
                    flags: elf::PF_R | elf::PF_W,
                },
            ],
            symbols: vec![
                ("_start", 0x8000_0100, 8, elf::STT_FUNC),
                ("loop", 0x8000_0108, 0, elf::STT_NOTYPE),
                ("msg", 0x8000_1000, 2, elf::STT_OBJECT),
                ("file.c", 0, 0, elf::STT_FILE),
            ],
        }
    }

    /// Writes `spec` with `object`'s ELF writer: header, program headers,
    /// segment bytes, then `.symtab`, `.strtab` and `.shstrtab`.
    fn build(spec: &Spec) -> Vec<u8> {
        let endian = if spec.big {
            Endianness::Big
        } else {
            Endianness::Little
        };
        let mut out = Vec::new();
        let mut w = Writer::new(endian, spec.is_64, &mut out);
        w.reserve_file_header();
        w.reserve_program_headers(spec.segments.len() as u32);
        let offsets: Vec<usize> = spec
            .segments
            .iter()
            .map(|s| w.reserve(s.data.len(), 4))
            .collect();
        // One section so symbols have a defined st_shndx.
        let text_name = w.add_section_name(b".text");
        let text = w.reserve_section_index();
        let names: Vec<StringId> = spec
            .symbols
            .iter()
            .map(|s| w.add_string(s.0.as_bytes()))
            .collect();
        w.reserve_null_symbol_index();
        for _ in &spec.symbols {
            w.reserve_symbol_index(None);
        }
        w.reserve_symtab_section_index();
        w.reserve_strtab_section_index();
        w.reserve_shstrtab_section_index();
        w.reserve_symtab();
        w.reserve_strtab();
        w.reserve_shstrtab();
        w.reserve_section_headers();

        w.write_file_header(&WFileHeader {
            os_abi: 0,
            abi_version: 0,
            e_type: spec.kind,
            e_machine: spec.machine,
            e_entry: u64::from(spec.entry),
            e_flags: spec.flags,
        })
        .unwrap();
        w.write_align_program_headers();
        for (s, off) in spec.segments.iter().zip(&offsets) {
            w.write_program_header(&WProgramHeader {
                p_type: elf::PT_LOAD,
                p_flags: s.flags,
                p_offset: *off as u64,
                p_vaddr: u64::from(s.vaddr),
                p_paddr: u64::from(s.paddr),
                p_filesz: s.data.len() as u64,
                p_memsz: u64::from(s.memsz),
                p_align: 4,
            });
        }
        for s in &spec.segments {
            w.write_align(4);
            w.write(&s.data);
        }
        w.write_null_symbol();
        for (s, name) in spec.symbols.iter().zip(&names) {
            w.write_symbol(&WSym {
                name: Some(*name),
                section: (s.3 != elf::STT_FILE).then_some(text),
                st_info: (elf::STB_GLOBAL << 4) | s.3,
                st_other: 0,
                st_shndx: if s.3 == elf::STT_FILE {
                    elf::SHN_ABS
                } else {
                    0
                },
                st_value: u64::from(s.1),
                st_size: u64::from(s.2),
            });
        }
        w.write_strtab();
        w.write_shstrtab();
        w.write_null_section_header();
        w.write_section_header(&object::write::elf::SectionHeader {
            name: Some(text_name),
            sh_type: elf::SHT_PROGBITS,
            sh_flags: u64::from(elf::SHF_ALLOC | elf::SHF_EXECINSTR),
            sh_addr: spec.segments.first().map_or(0, |s| u64::from(s.vaddr)),
            sh_offset: offsets.first().map_or(0, |o| *o as u64),
            sh_size: spec.segments.first().map_or(0, |s| s.data.len() as u64),
            sh_link: 0,
            sh_info: 0,
            sh_addralign: 4,
            sh_entsize: 0,
        });
        w.write_symtab_section_header(1);
        w.write_strtab_section_header();
        w.write_shstrtab_section_header();
        out
    }

    fn parse(spec: &Spec) -> Result<ElfImage, ElfError> {
        ElfImage::parse(&build(spec))
    }

    #[test]
    fn good_image_parses() {
        let img = parse(&good()).unwrap();
        assert_eq!(img.entry, GuestVirtAddr::new(0x8000_0100));
        assert_eq!(img.segments.len(), 2);
        let text = &img.segments[0];
        assert_eq!(text.vaddr, GuestVirtAddr::new(0x8000_0100));
        assert_eq!(text.paddr, MachineAddr::new(0x100));
        assert_eq!(&text.data[..4], &0x2408_0001u32.to_le_bytes());
        assert_eq!(text.mem_size, 16);
        assert!(text.executable);
        let data = &img.segments[1];
        assert_eq!(data.paddr, MachineAddr::new(0x1000));
        assert_eq!(data.data, b"hi");
        assert_eq!(data.mem_size, 0x100);
        assert!(!data.executable);

        let names: Vec<&str> = img.symbols().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["_start", "loop", "msg"]);
        assert_eq!(img.symbol("msg"), Some(GuestVirtAddr::new(0x8000_1000)));
        assert_eq!(img.symbol("file.c"), None);
    }

    #[test]
    fn symbolize_prefers_the_nearest_containing_symbol() {
        let img = parse(&good()).unwrap();
        let at = |a| img.symbolize(GuestVirtAddr::new(a));
        assert_eq!(at(0x8000_0100), Some(("_start", 0)));
        assert_eq!(at(0x8000_0104), Some(("_start", 4)));
        assert_eq!(at(0x8000_010c), Some(("loop", 4)));
        assert_eq!(at(0x8000_1001), Some(("msg", 1)));
        // Past `msg`'s size: the unsized label below it is in another
        // segment, so nothing names it.
        assert_eq!(at(0x8000_1002), None);
        assert_eq!(at(0x8000_00fc), None);
        // Inside the text segment, past the sized `_start`: the label.
        assert_eq!(at(0x8000_0108), Some(("loop", 0)));
        // Past the end of every segment: nothing, though labels lie below.
        assert_eq!(at(0x8000_1100), None);
        assert_eq!(at(0xbfc0_0380), None);
    }

    #[test]
    fn an_address_past_a_sized_symbol_is_not_named_after_it_or_a_label_below() {
        // As the demo kernel lays out its text: an assembly label, then
        // sized functions, then padding up to the segment's end.
        let mut spec = good();
        spec.segments[0] = code(0x8000_0100, &[0; 16]);
        spec.symbols = vec![
            ("trap_resume", 0x8000_0100, 0, elf::STT_NOTYPE),
            ("outer", 0x8000_0110, 0x20, elf::STT_FUNC),
            ("inner", 0x8000_0114, 4, elf::STT_FUNC),
            ("last", 0x8000_0130, 8, elf::STT_FUNC),
        ];
        let img = parse(&spec).unwrap();
        let at = |a| img.symbolize(GuestVirtAddr::new(a));
        assert_eq!(at(0x8000_0108), Some(("trap_resume", 8)));
        assert_eq!(at(0x8000_0134), Some(("last", 4)));
        // `last` ends at 0x138 (addr + size): from there on, neither it
        // nor the label below every function names an address.
        assert_eq!(at(0x8000_0138), None);
        assert_eq!(at(0x8000_013c), None);
        // Past a nested symbol's end, the sized symbol around it answers.
        assert_eq!(at(0x8000_0120), Some(("outer", 0x10)));
        // A label after the last end names what follows it.
        spec.symbols.push(("tail", 0x8000_0138, 0, elf::STT_NOTYPE));
        let img = parse(&spec).unwrap();
        assert_eq!(
            img.symbolize(GuestVirtAddr::new(0x8000_013c)),
            Some(("tail", 4))
        );
    }

    #[test]
    fn kuseg_and_kseg1_addresses_are_placed_physically() {
        let mut spec = good();
        spec.entry = 0x0040_0000;
        spec.segments = vec![
            code(0x0040_0000, &[0; 2]),
            Seg {
                paddr: 0xa000_2000,
                ..code(0xa000_2000, &[0])
            },
        ];
        let img = parse(&spec).unwrap();
        assert_eq!(img.segments[0].paddr, MachineAddr::new(0x2000));
        assert_eq!(img.segments[1].paddr, MachineAddr::new(0x0040_0000));
    }

    #[test]
    fn paddr_not_vaddr_decides_placement() {
        let mut spec = good();
        spec.segments[1].paddr = 0x0010_0000;
        let img = parse(&spec).unwrap();
        assert_eq!(img.segments[1].vaddr, GuestVirtAddr::new(0x8000_1000));
        assert_eq!(img.segments[1].paddr, MachineAddr::new(0x0010_0000));
    }

    #[test]
    fn non_elf_inputs_are_refused() {
        assert!(matches!(ElfImage::parse(b""), Err(ElfError::NotElf)));
        assert!(matches!(
            ElfImage::parse(b"#!/bin/sh\necho hi\n"),
            Err(ElfError::NotElf)
        ));
        let full = build(&good());
        assert!(matches!(
            ElfImage::parse(&full[..30]),
            Err(ElfError::Malformed(_))
        ));
        // Program headers cut off.
        assert!(matches!(
            ElfImage::parse(&full[..60]),
            Err(ElfError::Malformed(_))
        ));
    }

    #[test]
    fn wrong_class_endianness_machine_or_type() {
        let mut s = good();
        s.is_64 = true;
        assert!(matches!(parse(&s), Err(ElfError::Class64)));

        let mut s = good();
        s.big = true;
        assert!(matches!(parse(&s), Err(ElfError::BigEndian)));

        let mut s = good();
        s.machine = elf::EM_X86_64;
        let e = parse(&s).unwrap_err();
        assert!(matches!(e, ElfError::WrongMachine(62)));
        assert_eq!(e.to_string(), "not a MIPS ELF (e_machine 62)");

        let mut s = good();
        s.kind = elf::ET_REL;
        assert!(matches!(parse(&s), Err(ElfError::NotExecutable(1))));
    }

    #[test]
    fn isa_flags_are_checked() {
        for ok in [
            elf::EF_MIPS_ARCH_1,
            elf::EF_MIPS_ARCH_2,
            elf::EF_MIPS_ARCH_32,
            elf::EF_MIPS_ARCH_32R2 | elf::EF_MIPS_NOREORDER,
        ] {
            let mut s = good();
            s.flags = ok | elf::EF_MIPS_ABI_O32;
            assert!(parse(&s).is_ok(), "flags {ok:#x}");
        }
        for (arch, field) in [
            (elf::EF_MIPS_ARCH_3, 2),
            (elf::EF_MIPS_ARCH_64, 6),
            (elf::EF_MIPS_ARCH_64R2, 8),
            (elf::EF_MIPS_ARCH_32R6, 9),
        ] {
            let mut s = good();
            s.flags = arch;
            assert!(
                matches!(parse(&s), Err(ElfError::UnsupportedIsa { flags, arch }) if flags == s.flags && arch == field)
            );
        }
        for ase in [EF_MIPS_ARCH_ASE_M16, EF_MIPS_MICROMIPS] {
            let mut s = good();
            s.flags |= ase;
            assert!(matches!(parse(&s), Err(ElfError::CompressedIsa(f)) if f == s.flags));
        }
    }

    #[test]
    fn segment_checks() {
        let mut s = good();
        s.segments.clear();
        assert!(matches!(parse(&s), Err(ElfError::NoLoadSegments)));

        let mut s = good();
        s.segments[1].memsz = 1;
        assert!(matches!(
            parse(&s),
            Err(ElfError::FileSizeExceedsMemSize {
                filesz: 2,
                memsz: 1,
                ..
            })
        ));

        let mut s = good();
        s.segments[1].vaddr = 0xc000_0000;
        assert!(matches!(
            parse(&s),
            Err(ElfError::MappedSegment { addr }) if addr.raw() == 0xc000_0000
        ));

        let mut s = good();
        s.segments[1].paddr = 0xe000_0000;
        assert!(matches!(
            parse(&s),
            Err(ElfError::MappedSegment { addr }) if addr.raw() == 0xe000_0000
        ));

        let mut s = good();
        s.segments[1].vaddr = 0x9fff_ff04;
        s.segments[1].paddr = 0x9fff_ff04;
        assert!(matches!(
            parse(&s),
            Err(ElfError::SegmentCrossesBoundary { memsz: 0x100, .. })
        ));
        // Ending exactly at the top of kseg0 is fine.
        s.segments[1].memsz = 0xfc;
        assert!(parse(&s).is_ok());

        // kseg1 alias of the text segment: overlaps physically.
        let mut s = good();
        s.segments[1].vaddr = 0xa000_010c;
        s.segments[1].paddr = 0xa000_010c;
        assert!(matches!(
            parse(&s),
            Err(ElfError::OverlappingSegments { first, second })
                if first.raw() == 0x100 && second.raw() == 0x10c
        ));
        // Touching is fine.
        s.segments[1].vaddr = 0xa000_0110;
        s.segments[1].paddr = 0xa000_0110;
        assert!(parse(&s).is_ok());
    }

    #[test]
    fn segment_bytes_outside_the_file() {
        let mut bytes = build(&good());
        // First program header starts at e_phoff = 52; p_offset is at +4.
        let ph = 52 + 4;
        bytes[ph..ph + 4].copy_from_slice(&0x00ff_0000u32.to_le_bytes());
        assert!(matches!(
            ElfImage::parse(&bytes),
            Err(ElfError::SegmentOutsideFile {
                offset: 0x00ff_0000,
                filesz: 16,
                ..
            })
        ));
    }

    #[test]
    fn entry_checks() {
        let mut s = good();
        s.entry = 0x8000_0102;
        assert!(matches!(parse(&s), Err(ElfError::MisalignedEntry(_))));

        // In the data segment.
        let mut s = good();
        s.entry = 0x8000_1000;
        assert!(matches!(
            parse(&s),
            Err(ElfError::EntryNotExecutable(e)) if e.raw() == 0x8000_1000
        ));

        // Just past the text's file bytes.
        let mut s = good();
        s.entry = 0x8000_0110;
        assert!(matches!(parse(&s), Err(ElfError::EntryNotExecutable(_))));

        // Empty segments are ignored, even executable ones.
        let mut s = good();
        s.segments.push(Seg {
            vaddr: 0x8000_2000,
            paddr: 0x8000_2000,
            data: vec![],
            memsz: 0,
            flags: elf::PF_X,
        });
        assert_eq!(parse(&s).unwrap().segments.len(), 2);
    }

    #[test]
    fn segments_needing_more_than_the_largest_ram_are_refused() {
        // Two zero-filled segments of 200 MiB: each could be placed, but
        // not both in one machine. Refused before anything is copied.
        let mut s = good();
        for paddr in [0x0100_0000, 0x1000_0000] {
            s.segments.push(Seg {
                vaddr: paddr,
                paddr,
                data: vec![],
                memsz: 200 << 20,
                flags: elf::PF_R | elf::PF_W,
            });
        }
        let e = parse(&s).unwrap_err();
        assert!(
            matches!(e, ElfError::ImageTooLarge { total, limit }
                if total == (400 << 20) + 0x110 && limit == MAX_IMAGE_BYTES),
            "{e:?}"
        );
        s.segments.pop();
        assert!(parse(&s).is_ok(), "one of them fits");
    }

    #[test]
    fn many_segments_over_the_same_file_bytes_are_bounded() {
        // 300 program headers all pointing at the same 1 MiB of the file,
        // at distinct physical addresses: 300 MiB of copies from a file of
        // little more than 1 MiB. Refused on the headers alone.
        const N: usize = 300;
        let mut s = good();
        for i in 0..N as u32 {
            let a = 0x0100_0000 + (i << 20);
            s.segments.push(Seg {
                vaddr: a,
                paddr: a,
                data: vec![0; 4],
                memsz: 1 << 20,
                flags: elf::PF_R,
            });
        }
        s.segments.push(Seg {
            vaddr: 0x4000_0000,
            paddr: 0x4000_0000,
            data: vec![0xa5; 1 << 20],
            memsz: 1 << 20,
            flags: elf::PF_R,
        });
        let mut bytes = build(&s);
        let phdr = |i: usize| 52 + 32 * i;
        let blob = phdr(2 + N);
        let blob_offset: [u8; 4] = bytes[blob + 4..blob + 8].try_into().unwrap();
        for i in 2..2 + N {
            let ph = phdr(i);
            bytes[ph + 4..ph + 8].copy_from_slice(&blob_offset);
            bytes[ph + 16..ph + 20].copy_from_slice(&(1u32 << 20).to_le_bytes());
        }
        let e = ElfImage::parse(&bytes).unwrap_err();
        assert!(
            matches!(e, ElfError::ImageTooLarge { total, .. } if total == ((N as u64 + 1) << 20) + 0x110),
            "{e:?}"
        );
    }

    #[test]
    fn symbol_names_are_bounded_and_printable() {
        let long: &'static str = Box::leak("x".repeat(MAX_SYMBOL_NAME + 50).into_boxed_str());
        let mut s = good();
        s.symbols = vec![
            ("evil\x1b[31m\nforged line", 0x8000_0100, 8, elf::STT_FUNC),
            (long, 0x8000_1000, 2, elf::STT_OBJECT),
        ];
        let img = parse(&s).unwrap();
        let (name, off) = img.symbolize(GuestVirtAddr::new(0x8000_0104)).unwrap();
        assert_eq!((name, off), ("evil\x1b[31m\nforged line", 4), "kept as is");
        assert_eq!(printable(name), "evil\\x1b[31m\\x0aforged line");
        let (name, _) = img.symbolize(GuestVirtAddr::new(0x8000_1000)).unwrap();
        assert_eq!(name.len(), MAX_SYMBOL_NAME + 3);
        assert!(name.ends_with("x..."));
        assert!(matches!(printable("_start"), Cow::Borrowed("_start")));
        assert_eq!(printable("a\\b\u{7f}\u{85}é"), "a\\\\b\\x7f\\u{85}é");
    }

    #[test]
    fn symbol_count_is_bounded() {
        let mut s = good();
        s.symbols = (0..=MAX_SYMBOLS)
            .map(|i| ("s", 0x8000_0100 + (i as u32 & 0xfff), 0, elf::STT_NOTYPE))
            .collect();
        assert!(matches!(
            parse(&s),
            Err(ElfError::TooManySymbols(MAX_SYMBOLS))
        ));
        s.symbols.pop();
        assert_eq!(parse(&s).unwrap().symbols().len(), MAX_SYMBOLS);
    }

    #[test]
    fn loading_writes_file_bytes_and_zero_fills_dirty_memory() {
        use crate::machine::{Machine, MachineConfig};
        let mut m = Machine::new(MachineConfig { ram_bytes: 1 << 20 }).unwrap();
        // Dirty the RAM the segments will cover, and a little past them.
        m.write_phys(MachineAddr::new(0), &[0xee; 0x3000]).unwrap();
        let mut s = good();
        // A zero-filled tail of several pages after two file bytes.
        s.segments[1].memsz = 0x1800;
        let img = parse(&s).unwrap();
        m.load_elf(&img).unwrap();
        let text = m.read_phys(MachineAddr::new(0x100), 16).unwrap();
        assert_eq!(&text[..4], &0x2408_0001u32.to_le_bytes());
        let data = m.read_phys(MachineAddr::new(0x1000), 0x1800).unwrap();
        assert_eq!(&data[..2], b"hi");
        assert!(data[2..].iter().all(|&b| b == 0), "tail zero-filled");
        let after = m.read_phys(MachineAddr::new(0x2800), 0x800).unwrap();
        assert!(after.iter().all(|&b| b == 0xee), "nothing past mem_size");
        let before = m.read_phys(MachineAddr::new(0xff), 1).unwrap();
        assert_eq!(before, [0xee], "nothing before the segment");
        assert_eq!(m.pc(), img.entry);
    }

    #[test]
    fn images_without_symbols_parse() {
        let mut s = good();
        s.symbols.clear();
        let img = parse(&s).unwrap();
        assert!(img.symbols().is_empty());
        assert_eq!(img.symbolize(img.entry), None);
    }
}
