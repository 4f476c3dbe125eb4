//! The guest is untrusted: random code in every mode, with random register
//! contents, random exception routing and random code at the exception
//! vectors, must never panic the host or run past its budget, and must
//! behave the same on every run.
//!
//! The programs are pseudo-random but seeded, so a failure names the seed
//! that reproduces it. `HV_FUZZ_SEEDS=N` runs N seeds per test instead of
//! the default few hundred.

use hv_host::addr::{GuestVirtAddr, MachineAddr};
use hv_host::machine::{ExcCode, Exit, Machine, MachineConfig, RouteMask};
use hv_tests::random_code::{Rng, code};

/// Builds a machine full of random code and state for `seed`.
fn random_machine(seed: u64) -> Machine {
    let mut rng = Rng::new(seed);
    let mut m = Machine::new(MachineConfig { ram_bytes: 1 << 20 }).expect("valid size");
    // Vectors at EBase (0x8000_0000), the program at 0x8000_1000, and the
    // boot ROM's vectors: all random.
    m.write_phys(MachineAddr::new(0), &code(&mut rng, 0x800))
        .expect("RAM");
    m.write_phys(MachineAddr::new(0x1fc0_0000), &code(&mut rng, 0x200))
        .expect("ROM");
    m.boot(GuestVirtAddr::new(0x8000_1000));
    for r in 1..32 {
        let v = match rng.next_u32() % 4 {
            // Pointers into RAM through kseg0 and kuseg, and anything.
            0 => 0x8000_0000 | (rng.next_u32() & 0x000f_fffc),
            1 => rng.next_u32() & 0x000f_fffc,
            _ => rng.next_u32(),
        };
        m.set_gpr(r, v);
    }
    let mut route = RouteMask::NONE;
    for code in [
        ExcCode::CpU,
        ExcCode::Ri,
        ExcCode::Sys,
        ExcCode::Tlbl,
        ExcCode::Int,
    ] {
        if rng.next_u32().is_multiple_of(4) {
            route = route.with(code);
        }
    }
    m.set_routing(route);
    m
}

/// Runs `m` for `ticks`, handling routed exceptions the way a monitor
/// would (skipping the instruction), and returns a fingerprint of the
/// final state.
fn run(m: &mut Machine, ticks: u64) -> (u64, u64, u32, Vec<u8>, Vec<u32>) {
    let start = m.ticks();
    let mut exits = 0;
    let mut out = Vec::new();
    while m.ticks() - start < ticks && exits < 1000 {
        let before = m.ticks();
        match m.run(ticks - (m.ticks() - start)) {
            Exit::BudgetExhausted => {}
            Exit::OutputPending => {
                out.extend(m.take_stdout());
                m.take_stderr();
            }
            Exit::Shutdown { .. }
            | Exit::Stalled
            | Exit::PowerOff
            | Exit::Reset
            | Exit::NoHandler(_) => break,
            Exit::Trap(_) => {
                exits += 1;
                m.skip_instruction();
            }
        }
        assert!(m.ticks() - before <= ticks, "ran past its budget");
    }
    assert!(m.ticks() - start <= ticks, "ran past its budget");
    let regs = (0..32).map(|r| m.gpr(r)).collect();
    out.extend(m.take_stdout());
    (m.instructions(), m.ticks(), m.pc().raw(), out, regs)
}

fn seeds(default: u64) -> u64 {
    std::env::var("HV_FUZZ_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

#[test]
fn random_code_never_panics_and_is_deterministic() {
    for seed in 0..seeds(300) {
        let a = run(&mut random_machine(seed), 20_000);
        let b = run(&mut random_machine(seed), 20_000);
        assert_eq!(a, b, "seed {seed}: two runs differ");
    }
}

#[test]
fn random_code_in_user_and_supervisor_mode() {
    for seed in 1_000_000..1_000_000 + seeds(200) {
        let mut m = random_machine(seed);
        // Drop to user (KSU=2) or supervisor (KSU=1) mode at the program's
        // first instruction: Status.EXL=1 with EPC there, then `eret`,
        // executed from a scratch page (code at physical 0x8_0000).
        let ksu = if seed.is_multiple_of(2) {
            2 << 3
        } else {
            1 << 3
        };
        let entry = if seed.is_multiple_of(3) {
            0x8000_1000
        } else {
            0x0000_1000
        };
        let mut words = Vec::new();
        let li = |r: u32, v: u32| {
            [
                0x3c00_0000 | (r << 16) | (v >> 16),
                0x3400_0000 | (r << 21) | (r << 16) | (v & 0xffff),
            ]
        };
        words.extend(li(8, 0x0000_ff02 | ksu)); // IM all, EXL, KSU
        words.push(0x4088_6000); // mtc0 t0, Status
        words.extend(li(8, entry));
        words.push(0x4088_7000); // mtc0 t0, EPC
        words.push(0x0000_00c0); // ehb
        words.push(0x4200_0018); // eret
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        m.write_phys(MachineAddr::new(0x8_0000), &bytes)
            .expect("RAM");
        m.boot(GuestVirtAddr::new(0x8008_0000));
        let a = run(&mut m, 20_000);
        assert!(a.0 > 0, "seed {seed}: nothing ran");
    }
}
