//! A minimal ELF32 little-endian writer, so end-to-end tests can turn
//! assembled words into an executable file.
//!
//! It writes only what a loader reads: the file header, one `PT_LOAD`
//! program header per segment, the segment bytes, and (when there are
//! symbols) `.symtab`, `.strtab` and `.shstrtab` with a section header for
//! each segment. Nothing is validated: tests use it to build broken files
//! on purpose (a foreign `e_machine`, odd flags, an entry outside the code).

/// `e_machine` for MIPS.
pub const EM_MIPS: u16 = 8;
/// `e_machine` for x86-64, for a "wrong machine" test.
pub const EM_X86_64: u16 = 62;
/// `e_flags`: MIPS32 Release 2, o32 ABI (what GNU `as -march=mips32r2`
/// writes).
pub const EF_MIPS32R2_O32: u32 = 0x7000_1000;
/// Segment flag: executable.
pub const PF_X: u32 = 1;
/// Segment flag: writable.
pub const PF_W: u32 = 2;
/// Segment flag: readable.
pub const PF_R: u32 = 4;

const ET_EXEC: u16 = 2;
const PT_LOAD: u32 = 1;
const SHT_PROGBITS: u32 = 1;
const SHT_SYMTAB: u32 = 2;
const SHT_STRTAB: u32 = 3;
const SHF_WRITE: u32 = 1;
const SHF_ALLOC: u32 = 2;
const SHF_EXECINSTR: u32 = 4;
const SHN_ABS: u16 = 0xfff1;
const STB_GLOBAL: u8 = 1;
const STT_OBJECT: u8 = 1;
const STT_FUNC: u8 = 2;

const EHDR_SIZE: usize = 52;
const PHDR_SIZE: usize = 32;
const SHDR_SIZE: usize = 40;
const SYM_SIZE: usize = 16;

/// One loadable segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentSpec {
    /// `p_vaddr`.
    pub vaddr: u32,
    /// `p_paddr`.
    pub paddr: u32,
    /// The file bytes.
    pub data: Vec<u8>,
    /// `p_memsz` (may exceed `data.len()` for zero-filled space).
    pub mem_size: u32,
    /// `p_flags` (`PF_R | PF_X`, ...).
    pub flags: u32,
}

/// One symbol table entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolSpec {
    /// The name.
    pub name: String,
    /// `st_value`.
    pub addr: u32,
    /// `st_size`.
    pub size: u32,
    /// `STT_FUNC` if true, else `STT_OBJECT`.
    pub function: bool,
}

/// Builds an `ET_EXEC` ELF32 little-endian file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfBuilder {
    entry: u32,
    machine: u16,
    flags: u32,
    segments: Vec<SegmentSpec>,
    symbols: Vec<SymbolSpec>,
}

impl ElfBuilder {
    /// A MIPS32r2 executable entered at `entry`, with no segments yet.
    pub fn new(entry: u32) -> Self {
        Self {
            entry,
            machine: EM_MIPS,
            flags: EF_MIPS32R2_O32,
            segments: Vec::new(),
            symbols: Vec::new(),
        }
    }

    /// Overrides `e_machine`.
    pub fn machine(mut self, machine: u16) -> Self {
        self.machine = machine;
        self
    }

    /// Overrides `e_flags`.
    pub fn flags(mut self, flags: u32) -> Self {
        self.flags = flags;
        self
    }

    /// Adds a segment.
    pub fn segment(mut self, segment: SegmentSpec) -> Self {
        self.segments.push(segment);
        self
    }

    /// Adds an executable segment of instruction words at `vaddr`
    /// (`p_paddr` = `p_vaddr`).
    pub fn code(self, vaddr: u32, words: &[u32]) -> Self {
        let data: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        self.segment(SegmentSpec {
            vaddr,
            paddr: vaddr,
            mem_size: data.len() as u32,
            data,
            flags: PF_R | PF_X,
        })
    }

    /// Adds a read-write data segment at `vaddr` (`p_paddr` = `p_vaddr`).
    pub fn data(self, vaddr: u32, bytes: Vec<u8>) -> Self {
        self.segment(SegmentSpec {
            vaddr,
            paddr: vaddr,
            mem_size: bytes.len() as u32,
            data: bytes,
            flags: PF_R | PF_W,
        })
    }

    /// Adds a symbol.
    pub fn symbol(mut self, name: &str, addr: u32, size: u32, function: bool) -> Self {
        self.symbols.push(SymbolSpec {
            name: name.to_owned(),
            addr,
            size,
            function,
        });
        self
    }

    /// The file's bytes.
    pub fn build(&self) -> Vec<u8> {
        let phoff = EHDR_SIZE;
        let mut out = vec![0u8; phoff + PHDR_SIZE * self.segments.len()];
        let mut seg_offsets = Vec::new();
        for s in &self.segments {
            align(&mut out, 4);
            seg_offsets.push(out.len());
            out.extend_from_slice(&s.data);
        }

        let mut shoff = 0;
        let mut shnum = 0u16;
        let mut shstrndx = 0u16;
        if !self.symbols.is_empty() {
            // Sections: null, one per segment, .symtab, .strtab, .shstrtab.
            let seg_sections = self.segments.len();
            let symtab_index = 1 + seg_sections;
            let mut shstr = Strings::new();
            let mut strtab = Strings::new();

            align(&mut out, 4);
            let symtab_off = out.len();
            out.extend_from_slice(&[0; SYM_SIZE]);
            for sym in &self.symbols {
                let name = strtab.add(&sym.name);
                let shndx = self
                    .segments
                    .iter()
                    .position(|s| sym.addr.wrapping_sub(s.vaddr) < s.mem_size.max(1))
                    .map_or(SHN_ABS, |i| i as u16 + 1);
                let kind = if sym.function { STT_FUNC } else { STT_OBJECT };
                put32(&mut out, name);
                put32(&mut out, sym.addr);
                put32(&mut out, sym.size);
                out.push((STB_GLOBAL << 4) | kind);
                out.push(0);
                put16(&mut out, shndx);
            }
            let symtab_size = out.len() - symtab_off;
            let strtab_off = out.len();
            out.extend_from_slice(&strtab.bytes);

            let mut headers = Vec::new();
            headers.push(SectionHeader::default());
            for (s, off) in self.segments.iter().zip(&seg_offsets) {
                let exec = s.flags & PF_X != 0;
                headers.push(SectionHeader {
                    name: shstr.add(if exec { ".text" } else { ".data" }),
                    kind: SHT_PROGBITS,
                    flags: SHF_ALLOC
                        | if exec { SHF_EXECINSTR } else { 0 }
                        | if s.flags & PF_W != 0 { SHF_WRITE } else { 0 },
                    addr: s.vaddr,
                    offset: *off as u32,
                    size: s.data.len() as u32,
                    link: 0,
                    info: 0,
                    align: 4,
                    entsize: 0,
                });
            }
            headers.push(SectionHeader {
                name: shstr.add(".symtab"),
                kind: SHT_SYMTAB,
                offset: symtab_off as u32,
                size: symtab_size as u32,
                link: symtab_index as u32 + 1,
                // One local symbol: the null entry.
                info: 1,
                align: 4,
                entsize: SYM_SIZE as u32,
                ..SectionHeader::default()
            });
            headers.push(SectionHeader {
                name: shstr.add(".strtab"),
                kind: SHT_STRTAB,
                offset: strtab_off as u32,
                size: strtab.bytes.len() as u32,
                align: 1,
                ..SectionHeader::default()
            });
            let shstr_name = shstr.add(".shstrtab");
            let shstr_off = out.len();
            out.extend_from_slice(&shstr.bytes);
            headers.push(SectionHeader {
                name: shstr_name,
                kind: SHT_STRTAB,
                offset: shstr_off as u32,
                size: shstr.bytes.len() as u32,
                align: 1,
                ..SectionHeader::default()
            });

            align(&mut out, 4);
            shoff = out.len();
            shnum = headers.len() as u16;
            shstrndx = shnum - 1;
            for h in &headers {
                h.write(&mut out);
            }
        }

        // File header.
        let mut eh = Vec::with_capacity(EHDR_SIZE);
        eh.extend_from_slice(&[0x7f, b'E', b'L', b'F', 1, 1, 1, 0]);
        eh.extend_from_slice(&[0; 8]);
        put16(&mut eh, ET_EXEC);
        put16(&mut eh, self.machine);
        put32(&mut eh, 1);
        put32(&mut eh, self.entry);
        put32(&mut eh, phoff as u32);
        put32(&mut eh, shoff as u32);
        put32(&mut eh, self.flags);
        put16(&mut eh, EHDR_SIZE as u16);
        put16(&mut eh, PHDR_SIZE as u16);
        put16(&mut eh, self.segments.len() as u16);
        put16(&mut eh, SHDR_SIZE as u16);
        put16(&mut eh, shnum);
        put16(&mut eh, shstrndx);
        out[..EHDR_SIZE].copy_from_slice(&eh);

        // Program headers.
        for (i, (s, off)) in self.segments.iter().zip(&seg_offsets).enumerate() {
            let mut ph = Vec::with_capacity(PHDR_SIZE);
            for v in [
                PT_LOAD,
                *off as u32,
                s.vaddr,
                s.paddr,
                s.data.len() as u32,
                s.mem_size,
                s.flags,
                4,
            ] {
                put32(&mut ph, v);
            }
            let at = phoff + i * PHDR_SIZE;
            out[at..at + PHDR_SIZE].copy_from_slice(&ph);
        }
        out
    }
}

/// An executable with `code` at `load_addr` (also its physical address
/// after kseg masking), entered at `entry`, plus read-write data segments
/// given as `(vaddr, bytes)`.
pub fn elf_from_words(
    entry: u32,
    load_addr: u32,
    code: &[u32],
    data: &[(u32, Vec<u8>)],
) -> Vec<u8> {
    let mut b = ElfBuilder::new(entry).code(load_addr, code);
    for (vaddr, bytes) in data {
        b = b.data(*vaddr, bytes.clone());
    }
    b.build()
}

#[derive(Default)]
struct SectionHeader {
    name: u32,
    kind: u32,
    flags: u32,
    addr: u32,
    offset: u32,
    size: u32,
    link: u32,
    info: u32,
    align: u32,
    entsize: u32,
}

impl SectionHeader {
    fn write(&self, out: &mut Vec<u8>) {
        for v in [
            self.name,
            self.kind,
            self.flags,
            self.addr,
            self.offset,
            self.size,
            self.link,
            self.info,
            self.align,
            self.entsize,
        ] {
            put32(out, v);
        }
    }
}

/// A string table under construction (starts with the empty string).
struct Strings {
    bytes: Vec<u8>,
}

impl Strings {
    fn new() -> Self {
        Self { bytes: vec![0] }
    }

    fn add(&mut self, s: &str) -> u32 {
        let at = self.bytes.len() as u32;
        self.bytes.extend_from_slice(s.as_bytes());
        self.bytes.push(0);
        at
    }
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn align(out: &mut Vec<u8>, to: usize) {
    out.resize(out.len().next_multiple_of(to), 0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use hv_host::addr::{GuestVirtAddr, MachineAddr};
    use hv_host::machine::elf::{ElfError, ElfImage};

    #[test]
    fn written_files_parse_back() {
        let bytes = ElfBuilder::new(0x8000_0000)
            .code(0x8000_0000, &[0x2408_0001, 0])
            .data(0x8000_1000, b"hello".to_vec())
            .symbol("_start", 0x8000_0000, 8, true)
            .symbol("msg", 0x8000_1000, 5, false)
            .build();
        let img = ElfImage::parse(&bytes).unwrap();
        assert_eq!(img.entry, GuestVirtAddr::new(0x8000_0000));
        assert_eq!(img.segments.len(), 2);
        assert_eq!(img.segments[0].paddr, MachineAddr::new(0));
        assert_eq!(img.segments[0].data, [1, 0, 8, 0x24, 0, 0, 0, 0]);
        assert!(img.segments[0].executable);
        assert_eq!(img.segments[1].data, b"hello");
        assert!(!img.segments[1].executable);
        assert_eq!(img.symbol("msg"), Some(GuestVirtAddr::new(0x8000_1000)));
        assert_eq!(
            img.symbolize(GuestVirtAddr::new(0x8000_0004)),
            Some(("_start", 4))
        );
    }

    #[test]
    fn elf_from_words_without_symbols() {
        let bytes = elf_from_words(0x0040_0004, 0x0040_0000, &[0, 0], &[(0x0050_0000, vec![7])]);
        let img = ElfImage::parse(&bytes).unwrap();
        assert_eq!(img.entry.raw(), 0x0040_0004);
        assert_eq!(img.segments[1].paddr, MachineAddr::new(0x0050_0000));
        assert!(img.symbols().is_empty());
    }

    #[test]
    fn knobs_produce_the_matching_errors() {
        let x86 = ElfBuilder::new(0).machine(EM_X86_64).code(0, &[0]).build();
        assert!(matches!(
            ElfImage::parse(&x86),
            Err(ElfError::WrongMachine(62))
        ));
        let r6 = ElfBuilder::new(0).flags(0x9000_1000).code(0, &[0]).build();
        assert!(matches!(
            ElfImage::parse(&r6),
            Err(ElfError::UnsupportedIsa { .. })
        ));
    }
}
