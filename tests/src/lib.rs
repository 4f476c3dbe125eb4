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

/// Whether the tests run under CI: the `CI` variable CI services set
/// (`CI=true`), set to anything but empty, `0` or `false`.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| {
        let v = v.trim();
        !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false"))
    })
}

/// Reports that a test cannot run here because something it needs from
/// outside is missing (`why`), for the caller to return early. Outside CI
/// it prints `SKIPPED: why` and the test passes; under CI ([`in_ci`]) it
/// panics, so that CI never passes a test it did not run.
pub fn skip(why: &str) {
    if in_ci() {
        panic!("CI is set: this test must run, but {why}");
    }
    println!("SKIPPED: {why}");
}
