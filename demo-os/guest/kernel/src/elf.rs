//! A small ELF reader for the user programs embedded in the kernel: the
//! header checks and the loadable segments of a 32-bit little-endian MIPS
//! executable. Every field is read with a bounds check; nothing is trusted
//! about the image beyond what is checked here.

use core::fmt;

/// `PT_LOAD`: a segment to load.
const PT_LOAD: u32 = 1;

/// `PF_W`: the segment is writable.
const PF_W: u32 = 2;

/// `EM_MIPS`.
const EM_MIPS: u16 = 8;

/// `ET_EXEC`.
const ET_EXEC: u16 = 2;

/// The size of an ELF32 file header.
const EHDR_SIZE: usize = 52;

/// The size of an ELF32 program header.
const PHDR_SIZE: usize = 32;

/// Why an image is not a loadable program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElfError {
    /// A header or table reaches past the end of the image.
    Truncated,
    /// No `\x7fELF` magic.
    BadMagic,
    /// Not ELFCLASS32 / ELFDATA2LSB.
    NotElf32LittleEndian,
    /// Not an `EM_MIPS` executable (`ET_EXEC`).
    NotMipsExecutable,
    /// A program header has an unexpected size.
    BadProgramHeaderSize(u16),
    /// A segment's file bytes lie outside the image, or exceed its memory
    /// size.
    BadSegment {
        /// The segment's virtual address.
        vaddr: u32,
    },
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElfError::Truncated => f.write_str("image truncated"),
            ElfError::BadMagic => f.write_str("not an ELF image"),
            ElfError::NotElf32LittleEndian => f.write_str("not a 32-bit little-endian ELF"),
            ElfError::NotMipsExecutable => f.write_str("not a MIPS executable"),
            ElfError::BadProgramHeaderSize(size) => write!(f, "program header size {size}"),
            ElfError::BadSegment { vaddr } => write!(f, "bad segment at {vaddr:#010x}"),
        }
    }
}

/// A checked ELF image.
#[derive(Debug, Clone, Copy)]
pub struct Elf<'a> {
    bytes: &'a [u8],
    entry: u32,
    phoff: usize,
    phnum: usize,
}

/// A loadable segment.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    /// Where it goes.
    pub vaddr: u32,
    /// Its size in memory (the bytes past `data` are zero).
    pub memsz: u32,
    /// Its contents from the file.
    pub data: &'a [u8],
    /// Whether user code may write it.
    pub writable: bool,
}

/// Reads a little-endian `u16` at `offset`.
fn u16_at(bytes: &[u8], offset: usize) -> Result<u16, ElfError> {
    let field = bytes.get(offset..offset + 2).ok_or(ElfError::Truncated)?;
    Ok(u16::from_le_bytes([field[0], field[1]]))
}

/// Reads a little-endian `u32` at `offset`.
fn u32_at(bytes: &[u8], offset: usize) -> Result<u32, ElfError> {
    let field = bytes.get(offset..offset + 4).ok_or(ElfError::Truncated)?;
    Ok(u32::from_le_bytes([field[0], field[1], field[2], field[3]]))
}

impl<'a> Elf<'a> {
    /// Checks the file header of `bytes`.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ElfError> {
        let ident = bytes.get(..16).ok_or(ElfError::Truncated)?;
        if ident[..4] != *b"\x7fELF" {
            return Err(ElfError::BadMagic);
        }
        if ident[4] != 1 || ident[5] != 1 {
            return Err(ElfError::NotElf32LittleEndian);
        }
        if u16_at(bytes, 16)? != ET_EXEC || u16_at(bytes, 18)? != EM_MIPS {
            return Err(ElfError::NotMipsExecutable);
        }
        let entry = u32_at(bytes, 24)?;
        let phoff = u32_at(bytes, 28)? as usize;
        let phentsize = u16_at(bytes, 42)?;
        let phnum = usize::from(u16_at(bytes, 44)?);
        if usize::from(phentsize) != PHDR_SIZE {
            return Err(ElfError::BadProgramHeaderSize(phentsize));
        }
        let table_end = phnum
            .checked_mul(PHDR_SIZE)
            .and_then(|size| size.checked_add(phoff))
            .ok_or(ElfError::Truncated)?;
        if bytes.len() < EHDR_SIZE || bytes.len() < table_end {
            return Err(ElfError::Truncated);
        }
        Ok(Self {
            bytes,
            entry,
            phoff,
            phnum,
        })
    }

    /// The entry point.
    #[must_use]
    pub fn entry(&self) -> u32 {
        self.entry
    }

    /// The loadable segments, in table order.
    pub fn segments(&self) -> impl Iterator<Item = Result<Segment<'a>, ElfError>> + '_ {
        (0..self.phnum).filter_map(move |i| self.segment(self.phoff + i * PHDR_SIZE).transpose())
    }

    /// The program header at `at`, if it is `PT_LOAD`.
    fn segment(&self, at: usize) -> Result<Option<Segment<'a>>, ElfError> {
        let b = self.bytes;
        if u32_at(b, at)? != PT_LOAD {
            return Ok(None);
        }
        let offset = u32_at(b, at + 4)? as usize;
        let vaddr = u32_at(b, at + 8)?;
        let filesz = u32_at(b, at + 16)?;
        let memsz = u32_at(b, at + 20)?;
        let flags = u32_at(b, at + 24)?;
        let bad = ElfError::BadSegment { vaddr };
        if filesz > memsz {
            return Err(bad);
        }
        let data = offset
            .checked_add(filesz as usize)
            .and_then(|end| b.get(offset..end))
            .ok_or(bad)?;
        Ok(Some(Segment {
            vaddr,
            memsz,
            data,
            writable: flags & PF_W != 0,
        }))
    }
}
