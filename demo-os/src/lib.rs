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
//! # Boot arguments
//!
//! Beyond `a0`, both images read two boot arguments ([`BootArgs`]; a
//! loader sets them after loading the image, e.g. with
//! `Machine::set_gpr` or `Monitor::set_gpr`):
//!
//! | register | meaning |
//! |---|---|
//! | `a1` (`$5`) | the work scale N: every user program scales its work by N (more sieve segments, memory rounds, naps, chatty lines, TLB passes); 0 means 1, above [`WORK_MAX`] it is clamped |
//! | `a2` (`$6`) | the program mask: bit i starts program i of [`USER_PROGRAMS`]; 0 (or no valid bit) starts them all |
//!
//! With both 0 (or N = 1 and every program) the output is today's, ending
//! with [`EXPECTED_RESULTS`]. Otherwise the kernel prints a
//! `demo-os: work scale N, programs ...` line, and the `results:` line
//! lists only the started programs, with statuses that depend on N alone:
//! for a given N and mask it is the same in every mode. Each program keeps
//! its pid (its index + 1) whichever others start. Up to N = 4 the
//! programs print a line per step (memory round, nap); above it, only
//! their summaries (chatty prints all its 12 × N lines at every scale:
//! console output is its work). A native run takes about 3.9 million
//! instructions at N = 1 and about 36 million at N = 10.
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

/// The last console line of a successful run with the default boot
/// arguments, in every mode: each program's exit status, in start order.
pub const EXPECTED_RESULTS: &str =
    "results: sieve=3245 memory=501489664 sleeper=6 chatty=636 pages=2010588670";

/// The prefix of the lines whose content depends on timing or on the path
/// taken.
pub const STAT_PREFIX: &str = "stat";

/// The largest work scale the kernel honours (`a1`); a larger one is
/// clamped to it. The guest's `demo_sys::WORK_MAX`, which a test boots
/// to check.
pub const WORK_MAX: u32 = 1000;

/// The demo kernel's boot arguments beyond `a0` (see the crate docs): the
/// work scale in `a1` and the program mask in `a2`. Other kernels may
/// ignore them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootArgs {
    /// The work scale N (`a1`): 0 means 1, at most [`WORK_MAX`].
    pub work: u32,
    /// The program mask (`a2`): bit i is [`USER_PROGRAMS`]`[i]`; 0 means
    /// every program.
    pub programs: u32,
}

impl BootArgs {
    /// The register that carries [`BootArgs::work`]: `a1`.
    pub const WORK_REG: u8 = hv_abi::regs::A1;
    /// The register that carries [`BootArgs::programs`]: `a2`.
    pub const PROGRAMS_REG: u8 = hv_abi::regs::A2;

    /// Every program at work scale 1: today's run.
    pub const DEFAULT: BootArgs = BootArgs {
        work: 1,
        programs: 0,
    };

    /// The `(register, value)` pairs to set after loading the image.
    #[must_use]
    pub fn registers(self) -> [(u8, u32); 2] {
        [
            (Self::WORK_REG, self.work),
            (Self::PROGRAMS_REG, self.programs),
        ]
    }
}

impl Default for BootArgs {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Why a program list (`sleeper,chatty`) is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProgramListError {
    /// A name is not one of [`USER_PROGRAMS`].
    #[error("unknown program `{0}` (the programs are {names})", names = program_names())]
    Unknown(String),
    /// The list, or an entry of it, is empty.
    #[error("empty program name (the programs are {names})", names = program_names())]
    Empty,
}

/// The names of [`USER_PROGRAMS`], comma-separated, in order.
#[must_use]
pub fn program_names() -> String {
    USER_PROGRAMS.map(|(name, _)| name).join(", ")
}

/// The program mask (`a2`) of a comma-separated list of program names
/// (`"sleeper,chatty"`, spaces around names allowed, repeats harmless).
pub fn program_mask(list: &str) -> Result<u32, ProgramListError> {
    let mut mask = 0;
    for name in list.split(',').map(str::trim) {
        if name.is_empty() {
            return Err(ProgramListError::Empty);
        }
        let i = USER_PROGRAMS
            .iter()
            .position(|(n, _)| *n == name)
            .ok_or_else(|| ProgramListError::Unknown(name.to_owned()))?;
        mask |= 1 << i;
    }
    Ok(mask)
}

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
        boot_with(image, ram_bytes, &[], BUDGET)
    }

    /// Boots `image` natively with `ram_bytes` of RAM, the boot registers
    /// `regs` set after loading, for at most `budget` clock ticks, and
    /// returns its console output and exit code.
    fn boot_with(image: &[u8], ram_bytes: u32, regs: &[(u8, u32)], budget: u64) -> (String, i32) {
        let mut machine = Machine::new(MachineConfig { ram_bytes }).expect("valid RAM size");
        let elf = ElfImage::parse(image).expect("the image is a MIPS ELF executable");
        machine.load_elf(&elf).expect("the image fits in RAM");
        for &(reg, value) in regs {
            machine.set_gpr(reg, value);
        }
        let code = match machine.run(budget) {
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

    /// The `results:` line of a console.
    fn results(console: &str) -> &str {
        console
            .lines()
            .rfind(|l| l.starts_with("results:"))
            .unwrap_or_else(|| panic!("no results line:\n{console}"))
    }

    #[test]
    fn program_lists_become_masks() {
        assert_eq!(program_mask("sieve"), Ok(0b00001));
        assert_eq!(program_mask("pages, sleeper,pages"), Ok(0b10100));
        assert_eq!(
            program_mask("sieve,memory,sleeper,chatty,pages"),
            Ok(0b11111)
        );
        assert_eq!(
            program_mask("sieve,shell"),
            Err(ProgramListError::Unknown("shell".into()))
        );
        assert_eq!(program_mask(""), Err(ProgramListError::Empty));
        assert_eq!(program_mask("sieve,,pages"), Err(ProgramListError::Empty));
        let message = ProgramListError::Unknown("shell".into()).to_string();
        assert_eq!(
            message,
            "unknown program `shell` (the programs are sieve, memory, sleeper, chatty, pages)"
        );
        assert_eq!(
            BootArgs::DEFAULT.registers(),
            [(BootArgs::WORK_REG, 1), (BootArgs::PROGRAMS_REG, 0)]
        );
    }

    #[test]
    fn explicit_default_arguments_give_todays_run() {
        // a1 = 1 and a2 = every program, or no valid bit, mean the default.
        let (work, programs) = (BootArgs::WORK_REG, BootArgs::PROGRAMS_REG);
        for regs in [
            [(work, 1), (programs, 0b11111)],
            [(work, 0), (programs, 0xffff_ffe0)],
        ] {
            let (console, code) = boot_with(UNMODIFIED_IMAGE, 64 << 20, &regs, BUDGET);
            assert_eq!(code, 0, "{console}");
            assert!(!console.contains("work scale"), "{console}");
            assert_eq!(results(&console), EXPECTED_RESULTS);
        }
    }

    #[test]
    fn work_scale_two_runs_the_same_in_both_images() {
        let args = BootArgs {
            work: 2,
            programs: 0,
        };
        let (unmodified, code) = boot_with(UNMODIFIED_IMAGE, 64 << 20, &args.registers(), BUDGET);
        assert_eq!(code, 0, "{unmodified}");
        let (pv, code) = boot_with(PV_IMAGE, 64 << 20, &args.registers(), BUDGET);
        assert_eq!(code, 0, "{pv}");
        assert_eq!(stable_lines(&unmodified), stable_lines(&pv));
        assert!(
            unmodified
                .contains("demo-os: work scale 2, programs sieve memory sleeper chatty pages\n"),
            "{unmodified}"
        );
        assert_eq!(
            results(&unmodified),
            "results: sieve=6057 memory=1002979328 sleeper=12 chatty=1272 pages=1354450968"
        );
        for line in [
            "sieve: 6057 primes below 60000, largest 59999, checksum 0x46ae465e",
            "memory: 8 rounds done, checksum 1002979328",
            "sleeper: woke from nap 12 of 12",
            "chatty: 480 writes, 1272 bytes",
            "pages: 8 rounds over 128 pages verified, checksum 1354450968",
        ] {
            assert!(
                unmodified.lines().any(|l| l == line),
                "{line}:\n{unmodified}"
            );
        }
    }

    #[test]
    fn the_mask_selects_programs_which_keep_their_pids() {
        for image in [UNMODIFIED_IMAGE, PV_IMAGE] {
            let regs = [(BootArgs::PROGRAMS_REG, 0b10100)];
            let (console, code) = boot_with(image, 64 << 20, &regs, BUDGET);
            assert_eq!(code, 0, "{console}");
            assert!(
                console.contains("demo-os: work scale 1, programs sleeper pages\n"),
                "{console}"
            );
            assert!(console.contains("demo-os: started pid 3 (sleeper)"));
            assert!(console.contains("demo-os: started pid 5 (pages)"));
            assert!(!console.contains("sieve") && !console.contains("chatty"));
            assert_eq!(
                results(&console),
                "results: sleeper=6 pages=2010588670",
                "statuses as in the full run"
            );
        }
    }

    #[test]
    fn a_work_scale_above_the_maximum_is_clamped() {
        // The sleeper alone is cheap even at the largest scale: it mostly
        // idles, and the machine skips idle time (about 61 million
        // instructions over 3.6 billion clock ticks).
        let regs = [(BootArgs::WORK_REG, 5000), (BootArgs::PROGRAMS_REG, 0b100)];
        let (console, code) = boot_with(UNMODIFIED_IMAGE, 16 << 20, &regs, 5_000_000_000);
        assert_eq!(code, 0, "{console}");
        assert!(
            console.contains(&format!(
                "demo-os: work scale {WORK_MAX} (clamped), programs sleeper\n"
            )),
            "{console}"
        );
        let naps = 6 * WORK_MAX;
        assert_eq!(results(&console), format!("results: sleeper={naps}"));
        // Above the verbose scale the sleeper reports its last nap only.
        let woke: Vec<&str> = console.lines().filter(|l| l.contains("woke")).collect();
        assert_eq!(woke, [format!("sleeper: woke from nap {naps} of {naps}")]);
    }
}
