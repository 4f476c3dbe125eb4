//! The demo guest OS images and the runner's building blocks.
//!
//! The guest kernel and its user programs live in `demo-os/guest/`, their
//! own workspace built for `mipsel-unknown-none` by this package's build
//! script. The kernel is one source built twice:
//!
//! - [`UNMODIFIED_IMAGE`]: no `hv-guest`, not a single hypercall
//!   instruction; for bare hardware and full virtualization.
//! - [`PV_IMAGE`]: feature `pv`, links `hv-guest`; at boot it detects the
//!   monitor and uses hypercalls (page-zeroed, batched TLB install, idle
//!   yield, console, shutdown) if one answers, or takes the unmodified
//!   paths if none does.
//!
//! Both are ELF executables linked at `0x8000_1000` (kseg0, entry there).
//! They expect `a0` = the RAM size in bytes at entry (16 MiB is assumed if
//! `a0` is not a plausible size), use the UART at physical `0x1fd0_03f8`
//! for output in the unmodified path, and stop through UHI semihosting
//! `exit` (unmodified) or the `Shutdown` hypercall (paravirtualized).
//!
//! # Output
//!
//! The console output is whole lines. Lines whose content depends on
//! timing or on the path taken begin with `stat`; every other line is the
//! same in every mode and on every machine, up to the order in which the
//! concurrent programs print. The last line is [`EXPECTED_RESULTS`]. The
//! exit code is 0 when every program succeeded, 1 if one failed (or
//! frames leaked), 2 on a kernel panic.

/// Bytes aligned for ELF parsers that read headers in place (the
/// `object` crate wants the file 4-byte aligned); `include_bytes!` alone
/// only guarantees byte alignment.
#[repr(C, align(8))]
struct Aligned<B: ?Sized>(B);

/// `include_bytes!` of a file in `OUT_DIR`, 8-byte aligned.
macro_rules! include_out_aligned {
    ($file:literal) => {{
        const ALIGNED: &Aligned<[u8]> =
            &Aligned(*include_bytes!(concat!(env!("OUT_DIR"), "/", $file)));
        &ALIGNED.0
    }};
}

/// The kernel built without feature `pv` (ELF, mipsel; 8-byte aligned).
pub const UNMODIFIED_IMAGE: &[u8] = include_out_aligned!("kernel-unmodified.elf");

/// The kernel built with feature `pv` (ELF, mipsel; 8-byte aligned).
pub const PV_IMAGE: &[u8] = include_out_aligned!("kernel-pv.elf");

/// The user programs both kernels embed, in start order (pid 1 to 5), as
/// `(name, ELF image)`: a prime sieve, a memory job (sbrk rounds), a
/// sleeper, a chatty writer and a TLB stress (more heap pages than the TLB
/// maps, visited in scattered order).
pub const USER_PROGRAMS: [(&str, &[u8]); 5] = [
    ("sieve", include_out_aligned!("user-sieve.elf")),
    ("memory", include_out_aligned!("user-memory.elf")),
    ("sleeper", include_out_aligned!("user-sleeper.elf")),
    ("chatty", include_out_aligned!("user-chatty.elf")),
    ("pages", include_out_aligned!("user-pages.elf")),
];

/// The last console line of a successful run, in every mode: each
/// program's exit status, in start order.
pub const EXPECTED_RESULTS: &str =
    "results: sieve=3245 memory=501489664 sleeper=6 chatty=636 pages=2010588670";

/// The prefix of the lines whose content depends on timing or on the path
/// taken.
pub const STAT_PREFIX: &str = "stat";

#[cfg(test)]
mod tests {
    use super::*;
    use hv_host::machine::elf::ElfImage;
    use hv_host::machine::{Exit, Machine, MachineConfig};

    /// The instruction budget of one boot: a run takes about 4 million.
    const BUDGET: u64 = 50_000_000;

    /// The `HYPCALL` word as it appears in a little-endian image.
    const HYPCALL_LE: [u8; 4] = 0x4200_0028u32.to_le_bytes();

    /// Boots `image` natively on the machine with `ram_bytes` of RAM and
    /// returns its console output and exit code.
    fn boot(image: &[u8], ram_bytes: u32) -> (String, i32) {
        let mut machine = Machine::new(MachineConfig { ram_bytes }).expect("valid RAM size");
        let elf = ElfImage::parse(image).expect("the image is a MIPS ELF executable");
        machine.load_elf(&elf).expect("the image fits in RAM");
        let code = match machine.run(BUDGET) {
            Exit::Shutdown { code } => code,
            other => panic!("the kernel did not shut down: {other:?}"),
        };
        let console = String::from_utf8(machine.take_stdout()).expect("console output is UTF-8");
        (console, code)
    }

    /// The lines that do not begin with `stat`, sorted (the order of
    /// concurrent programs' lines may vary).
    fn stable_lines(console: &str) -> Vec<&str> {
        let mut lines: Vec<&str> = console
            .lines()
            .filter(|l| !l.starts_with(STAT_PREFIX))
            .collect();
        lines.sort_unstable();
        lines
    }

    /// Counts the 4-byte-aligned `HYPCALL` words in an image.
    fn hypcalls(image: &[u8]) -> usize {
        image.chunks_exact(4).filter(|w| *w == HYPCALL_LE).count()
    }

    #[test]
    fn only_the_pv_image_contains_hypercalls() {
        assert_eq!(
            hypcalls(UNMODIFIED_IMAGE),
            0,
            "the unmodified kernel must not contain HYPCALL"
        );
        assert!(hypcalls(PV_IMAGE) > 0, "the PV kernel makes hypercalls");
        for (name, image) in USER_PROGRAMS {
            assert_eq!(hypcalls(image), 0, "{name}");
        }
    }

    #[test]
    fn images_are_kseg0_kernels_entered_at_0x8000_1000() {
        for image in [UNMODIFIED_IMAGE, PV_IMAGE] {
            let elf = ElfImage::parse(image).expect("a MIPS ELF executable");
            assert_eq!(elf.entry.raw(), 0x8000_1000);
        }
    }

    #[test]
    fn both_images_run_every_program_natively_with_the_same_output() {
        let (unmodified, code) = boot(UNMODIFIED_IMAGE, 64 << 20);
        assert_eq!(code, 0, "{unmodified}");
        let (pv, code) = boot(PV_IMAGE, 64 << 20);
        assert_eq!(code, 0, "{pv}");
        for console in [&unmodified, &pv] {
            assert!(console.ends_with('\n'), "output is whole lines");
            assert_eq!(console.lines().last(), Some(EXPECTED_RESULTS), "{console}");
            // No monitor answers on the bare machine: PV takes the unmodified path.
            assert!(
                console.contains("stat boot: unmodified path (no monitor)\n"),
                "{console}"
            );
            for (pid, (name, _)) in USER_PROGRAMS.iter().enumerate() {
                let exited = format!("demo-os: pid {} ({name}) exited with status ", pid + 1);
                assert!(console.contains(&exited), "{name} did not exit:\n{console}");
            }
        }
        assert_eq!(stable_lines(&unmodified), stable_lines(&pv));
    }

    #[test]
    fn the_kernel_takes_its_ram_size_from_a0() {
        let (console, code) = boot(UNMODIFIED_IMAGE, 4 << 20);
        assert_eq!(code, 0, "{console}");
        assert!(console.contains("ram 4096 KiB (from a0)"), "{console}");
        assert_eq!(console.lines().last(), Some(EXPECTED_RESULTS));
    }
}
