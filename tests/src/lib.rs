//! Shared support for the end-to-end tests: an ELF writer
//! ([`elf_writer`]), guest programs built with the assembler
//! ([`programs`]), seeded random code ([`random_code`]), and helpers to
//! run the runner binary ([`process`]).

pub mod elf_writer;
pub mod kernels;
pub mod linux;
pub mod process;
pub mod programs;
pub mod random_code;

pub use elf_writer::{ElfBuilder, elf_from_words};
