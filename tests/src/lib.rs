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

/// Counter `name` of the demo kernel's last `stat <line>:` console line
/// (`demo_stat(console, "memory", "frames zeroed")`); each item of the line
/// is `<name> <number>`, possibly followed by a remark. Panics if the
/// console has no such line or the line no such counter.
pub fn demo_stat(console: &str, line: &str, name: &str) -> u64 {
    let prefix = format!("stat {line}:");
    let text = console
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{console}"));
    text.split(',')
        .find_map(|item| {
            let words: Vec<&str> = item.split_whitespace().collect();
            let i = words.iter().position(|w| w.parse::<u64>().is_ok())?;
            (words[..i].join(" ") == name).then(|| words[i].parse().ok())?
        })
        .unwrap_or_else(|| panic!("no `{name}` in `{prefix}{text}`"))
}
