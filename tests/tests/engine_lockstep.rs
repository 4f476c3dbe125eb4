//! Lockstep: the translating engine against the reference interpreter.
//!
//! Random kernel-mode programs (a hot loop of ALU operations that can
//! overflow, multiply/divide, bit fields, loads and stores of every size,
//! aligned or not, through a data pointer or a wild register, forward
//! branches and branch-likely with random delay slots, branch-and-link,
//! `jr`/`jalr` through a computed register,
//! self-modifying stores into the loop, CP0 reads and writes, TLB writes,
//! traps, system calls, random words, and in half the programs the timer
//! interrupt; a third of them in user mode, through TLB mappings) run on
//! two machines, one per engine, in the same random
//! slices of 1 to 300 instructions. After every slice the whole
//! architectural state must be equal: GPRs, HI/LO, PC, delay-slot state,
//! the CP0 register file and timer, the TLB, instruction count and ticks,
//! exception counters, console output, and the code and data pages; at the
//! end of each program all of RAM. An exception handler skips every
//! faulting instruction, so a program keeps running through its faults.
//!
//! `HV_LOCKSTEP_SEEDS=N` makes the ignored campaign test run N programs
//! of `HV_LOCKSTEP_INSNS` instructions each (default 100,000):
//! `HV_LOCKSTEP_SEEDS=100000 HV_LOCKSTEP_INSNS=5000 cargo test --release
//! -p hv-tests --test engine_lockstep -- --ignored --nocapture`.

use hv_host::addr::{GuestVirtAddr, MachineAddr};
use hv_host::machine::{Engine, Exit, Machine, MachineConfig};
use hv_tests::random_code::{self, Rng};

const RAM: u32 = 1 << 20;
const ENTRY: u32 = 0x8000_1000;
const DATA_BASE: u32 = 0x800f_0000;
const STEPS_MAX: u64 = 300;
/// Where user-mode programs see their code (physical 0) and data.
const USER_CODE: u32 = 0x0040_0000;
const USER_DATA: u32 = 0x0050_0000;

// Registers by number.
const ZERO: u32 = 0;
const V0: u32 = 2;
const V1: u32 = 3;
const A0: u32 = 4;
const T0: u32 = 8;
const T1: u32 = 9;
const T2: u32 = 10;
const T3: u32 = 11;
const T4: u32 = 12;
const T5: u32 = 13;
const T7: u32 = 15;
const S5: u32 = 21;
const S6: u32 = 22;
const S7: u32 = 23;
const K0: u32 = 26;
const K1: u32 = 27;
const RA: u32 = 31;
/// The registers random instructions use: t0..t6, s0..s3, v0, v1, a0..a3.
const WORK: [u32; 17] = [8, 9, 10, 11, 12, 13, 14, 16, 17, 18, 19, 2, 3, 4, 5, 6, 7];

fn rtype(rs: u32, rt: u32, rd: u32, sa: u32, funct: u32) -> u32 {
    (rs << 21) | (rt << 16) | (rd << 11) | (sa << 6) | funct
}
fn itype(op: u32, rs: u32, rt: u32, imm: u32) -> u32 {
    (op << 26) | (rs << 21) | (rt << 16) | (imm & 0xffff)
}
fn mfc0(rt: u32, rd: u32) -> u32 {
    (0x10 << 26) | (rt << 16) | (rd << 11)
}
fn mtc0(rt: u32, rd: u32) -> u32 {
    (0x10 << 26) | (4 << 21) | (rt << 16) | (rd << 11)
}
fn j(target: u32) -> u32 {
    (2 << 26) | ((target & 0x0fff_ffff) >> 2)
}
const NOP: u32 = 0;
const ERET: u32 = 0x4200_0018;

/// The exception handler at 0x8000_0180 (the refill vector jumps here):
/// an interrupt re-arms the timer; anything else skips the faulting
/// instruction (and its branch, in a delay slot).
fn handler() -> Vec<u32> {
    vec![
        mfc0(K1, 13),              // k1 = Cause
        itype(0x0c, K1, K0, 0x7c), // andi k0, k1, ExcCode
        itype(0x05, K0, ZERO, 6),  // bne k0, zero, not_int
        NOP,
        mfc0(K0, 9),              // k0 = Count
        itype(0x09, K0, K0, 700), // addiu k0, k0, 700
        mtc0(K0, 11),             // Compare = k0
        ERET,
        // not_int:
        mfc0(K0, 14),           // k0 = EPC
        itype(0x09, K0, K0, 4), // addiu k0, 4
        itype(0x01, K1, 1, 2),  // bgez k1, store (BD clear)
        NOP,
        itype(0x09, K0, K0, 4), // addiu k0, 4 (skip the branch too)
        // store:
        mtc0(K0, 14),
        ERET,
    ]
}

fn reg(rng: &mut Rng) -> u32 {
    WORK[rng.below(WORK.len() as u32) as usize]
}

/// A random instruction with no control transfer (a delay-slot filler
/// too): mostly ALU, some memory, a few special ones.
fn simple(rng: &mut Rng, body_len: u32) -> Vec<u32> {
    let (d, s, t) = (reg(rng), reg(rng), reg(rng));
    let imm = rng.next_u32() & 0xffff;
    match rng.below(40) {
        0 => vec![rtype(s, t, d, 0, 0x20)], // add (may overflow)
        1 => vec![rtype(s, t, d, 0, 0x22)], // sub (may overflow)
        2 => vec![itype(0x08, s, d, imm)],  // addi (may overflow)
        3 => vec![rtype(s, t, d, 0, 0x21)], // addu
        4 => vec![rtype(s, t, d, 0, 0x23)], // subu
        5 => vec![rtype(s, t, d, 0, 0x24 + rng.below(4))], // and/or/xor/nor
        6 => vec![rtype(s, t, d, 0, 0x2a + rng.below(2))], // slt/sltu
        7 => vec![rtype(
            0,
            t,
            d,
            rng.below(32),
            [0, 2, 3][rng.below(3) as usize],
        )], // sll/srl/sra
        8 => vec![rtype(1, t, d, rng.below(32), 2)], // rotr
        9 => vec![rtype(s, t, d, 0, [4, 6, 7][rng.below(3) as usize])], // sllv/srlv/srav
        10 => vec![rtype(s, t, d, 1, 6)],   // rotrv
        11 => vec![rtype(s, t, d, 0, 0x0a + rng.below(2))], // movz/movn
        12 => vec![rtype(s, t, 0, 0, 0x18 + rng.below(4))], // mult/multu/div/divu
        13 => vec![rtype(0, 0, d, 0, 0x10 + 2 * rng.below(2))], // mfhi/mflo
        14 => vec![rtype(s, 0, 0, 0, 0x11 + 2 * rng.below(2))], // mthi/mtlo
        15 => vec![(0x1c << 26) | rtype(s, t, d, 0, [0, 1, 2, 4, 5][rng.below(5) as usize])], // madd.. mul
        16 => vec![(0x1c << 26) | rtype(s, d, d, 0, 0x20 + rng.below(2))], // clz/clo
        17 => {
            let (pos, size) = (rng.below(32), rng.below(32));
            vec![(0x1f << 26) | rtype(s, t, size, pos, [0, 4][rng.below(2) as usize])] // ext/ins
        }
        18 => vec![(0x1f << 26) | rtype(0, t, d, [2, 0x10, 0x18][rng.below(3) as usize], 0x20)], // wsbh/seb/seh
        19 => vec![itype(0x09 + rng.below(7), s, d, imm)], // addiu..lui
        20..=25 => {
            // Through the data pointer: aligned mostly, misaligned sometimes.
            let op = [0x20, 0x21, 0x23, 0x24, 0x25, 0x28, 0x29, 0x2b][rng.below(8) as usize];
            let mut off = rng.below(0x1000);
            if rng.below(8) != 0 {
                off &= !3;
            }
            vec![itype(op, S6, t, off)]
        }
        26 => {
            // Through a random register: anywhere (TLB refills, address
            // and bus errors, devices, the program itself).
            let op = [0x20, 0x23, 0x24, 0x28, 0x2b][rng.below(5) as usize];
            vec![itype(op, s, t, imm)]
        }
        27 => {
            // Self-modifying: rewrite a word of the loop body with a
            // random ALU instruction.
            let word = rtype(reg(rng), reg(rng), reg(rng), 0, 0x21 + rng.below(7));
            vec![
                itype(0x0f, 0, T7, word >> 16),
                itype(0x0d, T7, T7, word & 0xffff),
                itype(0x2b, S5, T7, 4 * rng.below(body_len.max(1))),
            ]
        }
        28 => vec![mfc0(d, [9, 1, 12, 13, 14, 8][rng.below(6) as usize])], // Count, Random, ...
        29 => vec![mtc0(t, [10, 2, 3, 5][rng.below(4) as usize])], // EntryHi, EntryLo0/1, PageMask
        30 => vec![0x4200_0006, 0x4200_0002, 0x4200_0008][rng.below(3) as usize..][..1].to_vec(), // tlbwr/tlbwi/tlbp
        31 => vec![[0x0000_000c, 0x0000_000d][rng.below(2) as usize]], // syscall/break
        32 if rng.below(2) == 0 => vec![rtype(s, t, 0, 0, 0x30 + rng.below(7))], // traps (0x35: reserved)
        32 => {
            // Trap on immediate: tgei..tltiu, teqi, tnei, against small
            // values as often as random ones.
            let rt = [8, 9, 10, 11, 12, 14][rng.below(6) as usize];
            let imm = if rng.below(2) == 0 { rng.below(4) } else { imm };
            vec![itype(0x01, s, rt, imm)]
        }
        33 => vec![random_code::word(rng)],
        34 => vec![
            itype(0x30, S6, t, imm & 0xffc),
            itype(0x38, S6, t, imm & 0xffc),
        ], // ll/sc
        35 => vec![itype(0x22 + 4 * rng.below(2), S6, t, imm & 0xfff)], // lwl/lwr
        _ => vec![rtype(s, t, d, 0, 0x21)],
    }
}

/// The loop body: simple instructions, forward branches with a delay slot,
/// jump-and-link over a few words, all inside the body.
fn body(rng: &mut Rng) -> Vec<u32> {
    let target_len = 8 + rng.below(40);
    let mut b: Vec<u32> = Vec::new();
    while (b.len() as u32) < target_len {
        match rng.below(6) {
            0 => {
                // A forward branch over 1..=3 words, with a delay slot.
                let skip = 1 + rng.below(3);
                let (s, t) = (reg(rng), reg(rng));
                let op = match rng.below(10) {
                    0 => itype(0x04, s, t, skip),                   // beq
                    1 => itype(0x05, s, t, skip),                   // bne
                    2 => itype(0x06, s, 0, skip),                   // blez
                    3 => itype(0x07, s, 0, skip),                   // bgtz
                    4 => itype(0x01, s, rng.below(2), skip),        // bltz/bgez
                    5 => itype(0x01, s, 0x10 + rng.below(2), skip), // bltzal/bgezal
                    6 => itype(0x14 + rng.below(4), s, t, skip),    // beql..bgtzl
                    7 => itype(0x01, s, 2 + rng.below(2), skip),    // bltzl/bgezl
                    8 => itype(0x04, 0, 0, skip),                   // b
                    _ => itype(0x01, s, 0x12 + rng.below(2), skip), // bltzall/bgezall
                };
                b.push(op);
                let slot = simple(rng, target_len);
                b.push(slot[0]);
                for _ in 0..skip {
                    b.push(simple(rng, target_len)[0]);
                }
            }
            1 if rng.below(3) == 0 => {
                // A jump through a register: `bltzal` (either way, to the
                // next word after its slot) puts the return address in
                // ra, then `jr`/`jalr` jumps over 1..=3 words from it.
                let skip = 1 + rng.below(3);
                let (s, t) = (reg(rng), reg(rng));
                b.push(itype(0x01, s, 0x10, 1)); // bltzal s, +1
                b.push(simple(rng, target_len)[0]);
                b.push(itype(0x09, 31, t, 4 * (3 + skip))); // addiu t, ra, ..
                b.push(if rng.below(2) == 0 {
                    rtype(t, 0, 0, 0, 0x08) // jr t
                } else {
                    rtype(t, 0, reg(rng), 0, 0x09) // jalr d, t
                });
                b.push(simple(rng, target_len)[0]);
                for _ in 0..skip {
                    b.push(simple(rng, target_len)[0]);
                }
            }
            _ => b.extend(simple(rng, target_len)),
        }
    }
    b
}

/// A whole program: (words at ENTRY, whether the timer interrupts).
fn program(seed: u64) -> (Vec<u32>, bool) {
    program_at(seed, ENTRY)
}

/// Program `seed` placed at `entry` (a kseg0 address in the first 4 MiB)
/// instead of [`ENTRY`]. Where that is not ENTRY, user-mode programs map
/// two more pages of code (the loop may run on into them).
fn program_at(seed: u64, entry: u32) -> (Vec<u32>, bool) {
    let mut rng = Rng::new(seed);
    let timer = rng.below(2) == 0;
    // A third of the programs run their loop in user mode, from useg
    // pages the TLB maps onto the program's and the data's.
    let user = rng.below(3) == 0;
    let iterations = 30 + rng.below(300);
    let body = body(&mut rng);
    let mut p = vec![mtc0(ZERO, 12)]; // Status = 0: kernel, BEV=0, ERL=0
    if timer {
        p.extend([mfc0(K0, 9), itype(0x09, K0, K0, 400), mtc0(K0, 11)]);
    }
    let entry_lo = |pfn: u32| (pfn << 6) | (2 << 3) | 0x7; // uncached, D, V, G
    if user {
        let mut maps = vec![
            (0, USER_CODE, 0),
            (1, USER_DATA, (DATA_BASE & 0x1fff_ffff) >> 12),
        ];
        if entry != ENTRY {
            let pfn = ((entry & 0x1fff_ffff) >> 12) & !1;
            maps[0] = (0, USER_CODE + (pfn << 12), pfn);
            maps.push((2, USER_CODE + ((pfn + 2) << 12), pfn + 2));
        }
        for (index, va, pfn) in maps {
            p.extend([
                itype(0x0f, 0, K0, va >> 16),
                mtc0(K0, 10), // EntryHi
                itype(0x0d, ZERO, K0, entry_lo(pfn)),
                mtc0(K0, 2), // EntryLo0
                itype(0x0d, ZERO, K0, entry_lo(pfn + 1)),
                mtc0(K0, 3),   // EntryLo1
                mtc0(ZERO, 5), // PageMask
                itype(0x0d, ZERO, K0, index),
                mtc0(K0, 0), // Index
                0x4200_0002, // tlbwi
            ]);
        }
        p.push(mtc0(ZERO, 10)); // ASID 0
    }
    // The loop's address as it runs (kseg0, or its useg alias).
    let at = |kseg0: u32| {
        if user {
            USER_CODE + (kseg0 & 0x1fff_ffff)
        } else {
            kseg0
        }
    };
    // Where the body will be: after the rest of the prologue.
    let rest =
        4 + if user {
            4
        } else if timer {
            2
        } else {
            0
        } + 1;
    let body_at = entry + 4 * (p.len() as u32 + rest);
    // s6 = data, s5 = the body's address, s7 = iterations.
    let data = if user { USER_DATA } else { DATA_BASE };
    p.push(itype(0x0f, 0, S6, data >> 16));
    p.push(itype(0x0f, 0, S5, at(body_at) >> 16));
    p.push(itype(0x0d, S5, S5, at(body_at) & 0xffff));
    p.push(itype(0x0d, ZERO, S7, iterations));
    let ie = if timer { 0x8001 } else { 0 };
    if user {
        // Status = KSU user | EXL (| IM7 | IE), EPC = the body, eret.
        p.extend([
            itype(0x0d, ZERO, K0, 0x12 | ie),
            mtc0(K0, 12),
            mtc0(S5, 14),
            ERET,
        ]);
    } else if timer {
        p.extend([itype(0x0d, ZERO, K0, ie), mtc0(K0, 12)]);
    }
    p.push(NOP);
    assert_eq!(entry + 4 * p.len() as u32, body_at);
    let n = body.len() as i32;
    p.extend(&body);
    p.push(itype(0x09, S7, S7, 0xffff)); // addiu s7, -1
    p.push(itype(0x07, S7, 0, (-(n + 2)) as u32 & 0xffff)); // bgtz s7, body
    p.push(NOP);
    let here = at(entry + 4 * p.len() as u32);
    p.push(j(here)); // spin at the end
    p.push(NOP);
    (p, timer)
}

fn boot(words: &[u32], engine: Engine) -> Machine {
    boot_at(words, engine, ENTRY)
}

/// [`boot`] with the program at `entry`.
fn boot_at(words: &[u32], engine: Engine, entry: u32) -> Machine {
    let mut m = Machine::new(MachineConfig { ram_bytes: RAM }).expect("1 MiB is valid");
    m.set_engine(engine).expect("the engine is available");
    m.set_jit_threshold(3);
    let bytes = |w: &[u32]| w.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    m.write_phys(MachineAddr::new(0), &bytes(&[j(0x8000_0180), NOP]))
        .expect("refill vector");
    m.write_phys(MachineAddr::new(0x180), &bytes(&handler()))
        .expect("handler");
    m.write_phys(MachineAddr::new(entry & 0x1fff_ffff), &bytes(words))
        .expect("program");
    m.boot(GuestVirtAddr::new(entry));
    m
}

/// Everything a program can observe, and some it cannot.
#[derive(Debug, PartialEq)]
struct State {
    gpr: Vec<u32>,
    hi_lo: (u32, u32),
    cpu: String,
    instructions: u64,
    ticks: u64,
    cp0: String,
    tlb: String,
    stats: String,
    pages: u64,
}

fn hash(bytes: &[u8]) -> u64 {
    // FNV-1a.
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn state(m: &Machine) -> State {
    state_at(m, ENTRY)
}

/// [`state`] of a program at `entry`: its code pages are the page of
/// `entry` and the next.
fn state_at(m: &Machine, entry: u32) -> State {
    let mut pages = Vec::new();
    let code = entry & 0x1fff_f000;
    let mut bases = vec![0u32, code, DATA_BASE & 0x1fff_f000];
    if entry != ENTRY {
        bases.push(code + 0x1000);
    }
    for base in bases {
        let mut buf = vec![0; 0x1000];
        m.read_machine(MachineAddr::new(base), &mut buf)
            .expect("RAM");
        pages.extend(buf);
    }
    State {
        gpr: (0..32).map(|r| m.gpr(r)).collect(),
        hi_lo: m.hi_lo(),
        cpu: format!("{:?}", m.cpu_state()),
        instructions: m.instructions(),
        ticks: m.ticks(),
        cp0: format!("{:?}", m.cp0()),
        tlb: format!("{:?}", m.tlb()),
        stats: format!("{:?}", m.stats()),
        pages: hash(&pages),
    }
}

fn ram(m: &Machine) -> u64 {
    let mut buf = vec![0; RAM as usize];
    m.read_machine(MachineAddr::new(0), &mut buf).expect("RAM");
    hash(&buf)
}

/// Runs program `seed` on both engines in lockstep for about `total`
/// instructions; returns the instructions the translated code ran.
fn lockstep(seed: u64, total: u64) -> u64 {
    lockstep_at(seed, total, ENTRY)
}

/// [`lockstep`] with the program at `entry`.
fn lockstep_at(seed: u64, total: u64, entry: u32) -> u64 {
    let (words, _timer) = program_at(seed, entry);
    let mut interp = boot_at(&words, Engine::Interp, entry);
    let mut jit = boot_at(&words, Engine::Jit, entry);
    let mut rng = Rng::new(seed ^ 0x5eed);
    let mut out = (Vec::new(), Vec::new());
    while interp.instructions() < total {
        let budget = 1 + u64::from(rng.below(STEPS_MAX as u32));
        let a = interp.run(budget);
        let b = jit.run(budget);
        out.0.extend(interp.take_stdout());
        out.1.extend(jit.take_stdout());
        let (sa, sb) = (state_at(&interp, entry), state_at(&jit, entry));
        assert_eq!(
            (a, &sa),
            (b, &sb),
            "seed {seed}: the engines differ after a slice of {budget} (interp left, jit right)"
        );
        assert_eq!(out.0, out.1, "seed {seed}: console output differs");
        if a != Exit::BudgetExhausted && a != Exit::OutputPending {
            break;
        }
    }
    assert_eq!(
        ram(&interp),
        ram(&jit),
        "seed {seed}: RAM differs at the end"
    );
    jit.jit_stats().insns
}

#[test]
fn random_programs_agree_on_both_engines() {
    let mut translated = 0;
    let seeds = 2000;
    for seed in 0..seeds {
        translated += lockstep(seed, 10_000);
    }
    // The test must not pass by never translating anything.
    assert!(
        translated > seeds * 1_000,
        "only {translated} instructions ran translated"
    );
}

/// Where program `seed` starts for its loop to straddle a page boundary:
/// the boundary falls at a random word of the loop (its branch back and
/// delay slot included).
fn straddling_entry(seed: u64) -> u32 {
    // (The layout is the same at any entry but ENTRY.)
    let (words, _) = program_at(seed, 0x8000_2000);
    // The loop is everything between the prologue and the final jump
    // (the last four words: branch back, slot, `j`, slot).
    let mut rng = Rng::new(seed ^ 0xc055);
    let body_end = words.len() as u32 - 2;
    let prologue = words
        .iter()
        .position(|&w| w == NOP)
        .map_or(0, |i| i as u32 + 1);
    let at = prologue + rng.below(body_end - prologue);
    // ENTRY's page is followed by a free one; the boundary is the next.
    0x8000_3000 - 4 * at
}

#[test]
fn random_programs_across_a_page_boundary_agree() {
    // Loops that run on from one page into the next: translated blocks
    // that hold words of both (and chain, store into, and fault in
    // either), in user mode through TLB mappings too.
    let mut translated = 0;
    let seeds = 600;
    for seed in 0..seeds {
        translated += lockstep_at(seed, 10_000, straddling_entry(seed));
    }
    assert!(
        translated > seeds * 1_000,
        "only {translated} instructions ran translated"
    );
    for seed in 1000..1010 {
        let entry = straddling_entry(seed);
        let (words, _) = program_at(seed, entry);
        let mut interp = boot_at(&words, Engine::Interp, entry);
        let mut jit = boot_at(&words, Engine::Jit, entry);
        for budget in (1..=40).cycle().take(400) {
            assert_eq!(interp.run(budget), jit.run(budget), "seed {seed}");
            assert_eq!(
                state_at(&interp, entry),
                state_at(&jit, entry),
                "seed {seed}, budget {budget}"
            );
        }
    }
}

/// Ends the program `p` (loaded at `entry`) with the loop's branch
/// (`bgtz s7` back to word `head`) and its slot, then a jump to itself.
fn close_loop(p: &mut Vec<u32>, head: i32, entry: u32) {
    let n = p.len() as i32;
    p.push(itype(0x07, S7, 0, (head - (n + 1)) as u32 & 0xffff)); // bgtz s7, loop
    p.push(NOP);
    p.push(j(entry + 4 * p.len() as u32));
    p.push(NOP);
}

/// Runs a program (at `entry`) on both machines in the same random
/// slices (`seed`) until `total` instructions, comparing their states
/// after each.
fn in_step(interp: &mut Machine, jit: &mut Machine, entry: u32, seed: u64, total: u64) {
    let mut rng = Rng::new(seed);
    while interp.instructions() < total {
        let budget = 1 + u64::from(rng.below(STEPS_MAX as u32));
        assert_eq!(interp.run(budget), jit.run(budget), "seed {seed}");
        assert_eq!(
            state_at(interp, entry),
            state_at(jit, entry),
            "seed {seed}, budget {budget}"
        );
    }
}

#[test]
fn stores_into_the_next_page_of_a_translated_loop_agree() {
    // A loop that runs on from one page into the next and, every eighth
    // pass, rewrites an instruction of the second page with one of two
    // different ones: the blocks holding it (made for the first page)
    // must not run the old word.
    let entry = 0x8000_2fc0;
    let w = 0x8000_3004;
    let add1 = itype(0x09, V0, V0, 1); // addiu v0, v0, 1
    let add2 = itype(0x09, V0, V0, 2); // addiu v0, v0, 2
    let mut p = vec![
        itype(0x0f, 0, S5, w >> 16),
        itype(0x0d, S5, S5, w & 0xffff),
        itype(0x0f, 0, T0, add1 >> 16),
        itype(0x0d, T0, T0, add1 & 0xffff),
        itype(0x0f, 0, T1, add2 >> 16),
        itype(0x0d, T1, T1, add2 & 0xffff),
        itype(0x0d, ZERO, S7, 2000),
        // loop (word 7):
        itype(0x0c, S7, T2, 7),     // andi t2, s7, 7
        itype(0x05, T2, ZERO, 4),   // bne t2, zero, skip
        itype(0x0c, S7, T3, 8),     // andi t3, s7, 8
        rtype(T0, T3, T4, 0, 0x0b), // movn t4, t0, t3
        rtype(T1, T3, T4, 0, 0x0a), // movz t4, t1, t3
        itype(0x2b, S5, T4, 0),     // sw t4, 0(s5)
        // skip (word 13):
        itype(0x09, V1, V1, 3),
        itype(0x09, V1, V1, 3),
        itype(0x09, V1, V1, 3),
        // The next page (word 16, 0x8000_3000):
        itype(0x09, V1, V1, 1),
        add1, // the word rewritten (0x8000_3004)
        itype(0x09, A0, A0, 5),
        itype(0x09, S7, S7, 0xffff), // addiu s7, -1
    ];
    close_loop(&mut p, 7, entry);
    for seed in 0..20 {
        let mut interp = boot_at(&p, Engine::Interp, entry);
        let mut jit = boot_at(&p, Engine::Jit, entry);
        in_step(&mut interp, &mut jit, entry, seed, 40_000);
        assert!(jit.jit_stats().insns > 10_000, "the loop ran translated");
    }
}

#[test]
fn a_jump_through_a_register_into_a_remapped_page_agrees() {
    // A kernel-mode loop that calls virtual page 0x0040_0000 with `jalr`
    // and, every 16 passes, maps it to the other of two physical pages:
    // one adds 1 to v0, the other 100. Between remappings, the jump keeps
    // the block it went to in its chain cell and goes straight there; the
    // TLB write must make that stale (no translation-cache fill comes
    // between the write and the jump), or the loop calls the old page.
    const TLBWI: u32 = 0x4200_0002;
    // EntryLo: PFN, cacheable, dirty, valid, global.
    let lo = |pa: u32| ((pa >> 12) << 6) | (3 << 3) | 0b111;
    let callee = |add: u32| vec![itype(0x09, V0, V0, add), rtype(RA, 0, 0, 0, 0x08), NOP];
    let mut p = vec![
        mtc0(ZERO, 12), // Status = 0: kernel mode, ERL clear (kuseg mapped)
        itype(0x0f, 0, T5, 0x0040),
        itype(0x0d, ZERO, T0, lo(0x3000)),
        itype(0x0d, ZERO, T1, lo(0x4000)),
        itype(0x0d, ZERO, S7, 400),
        // loop (word 5):
        itype(0x0c, S7, T2, 15),    // andi t2, s7, 15
        itype(0x05, T2, ZERO, 11),  // bne t2, zero, call
        itype(0x0c, S7, T2, 16),    // andi t2, s7, 16
        rtype(T0, T2, T4, 0, 0x0b), // movn t4, t0, t2
        rtype(T1, T2, T4, 0, 0x0a), // movz t4, t1, t2
        mtc0(T4, 2),
        mtc0(T4, 3),
        mtc0(T5, 10),
        mtc0(ZERO, 0),
        mtc0(ZERO, 5),
        TLBWI,
        // To the call with a jump, so that its block runs (straight
        // after a TLB write the interpreter would run it).
        j(ENTRY + 18 * 4),
        NOP,
        // call (word 18):
        rtype(T5, 0, RA, 0, 0x09), // jalr t5
        NOP,
        itype(0x09, S7, S7, 0xffff), // addiu s7, -1
    ];
    close_loop(&mut p, 5, ENTRY);
    let bytes = |w: &[u32]| w.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    for seed in 0..10 {
        let mut machines = [Engine::Interp, Engine::Jit].map(|engine| {
            let mut m = boot(&p, engine);
            m.write_phys(MachineAddr::new(0x3000), &bytes(&callee(1)))
                .expect("page A");
            m.write_phys(MachineAddr::new(0x4000), &bytes(&callee(100)))
                .expect("page B");
            m
        });
        let [interp, jit] = &mut machines;
        in_step(interp, jit, ENTRY, seed, 12_000);
        // 400 calls, each to the page bit 4 of the loop count picked at
        // the last remapping (when the count was a multiple of 16).
        let want: u32 = (1..=400u32)
            .map(|s| {
                if s.next_multiple_of(16) & 16 != 0 {
                    1
                } else {
                    100
                }
            })
            .sum();
        assert_eq!(interp.gpr(V0 as u8), want, "seed {seed}");
        assert_eq!(jit.gpr(V0 as u8), interp.gpr(V0 as u8), "seed {seed}");
        assert!(jit.jit_stats().chained > 100, "the calls ran chained");
    }
}

#[test]
fn kernel_mode_loads_and_stores_through_the_tlb_agree() {
    // Kernel-mode code (translated to try kseg0 straight first) loading
    // and storing words, halves and bytes through a TLB mapping: its
    // accesses take the translation-cache lookup out of line. The even
    // page is data; the odd one aliases the program's own page, so every
    // store there must leave for the interpreter (the page holds code;
    // the stores keep off the program's own words).
    const TLBWI: u32 = 0x4200_0002;
    const T6: u32 = 14;
    let lo = |pa: u32| ((pa >> 12) << 6) | (3 << 3) | 0b111;
    let mut p = vec![
        mtc0(ZERO, 12), // Status = 0: kernel mode, ERL clear (kuseg mapped)
        itype(0x0f, 0, T5, 0x0040),
        itype(0x0d, ZERO, T0, lo(0x5000)),
        itype(0x0d, ZERO, T1, lo(ENTRY & 0x1fff_f000)),
        mtc0(T0, 2),
        mtc0(T1, 3),
        mtc0(T5, 10),
        mtc0(ZERO, 0),
        mtc0(ZERO, 5),
        TLBWI,
        itype(0x0d, ZERO, S7, 700),
        j(ENTRY + 13 * 4),
        NOP,
        // loop (word 13):
        rtype(0, S7, T3, 3, 0x00),   // sll t3, s7, 3
        itype(0x0c, T3, T3, 0x1ffc), // andi t3, t3, 0x1ffc
        itype(0x0d, T3, T3, 0x100),  // ori t3, t3, 0x100 (not the program)
        rtype(T5, T3, T4, 0, 0x21),  // addu t4, t5, t3
        itype(0x2b, T4, S7, 0),      // sw s7, 0(t4)
        itype(0x23, T4, T6, 4),      // lw t6, 4(t4)
        rtype(V0, T6, V0, 0, 0x21),  // addu v0, v0, t6
        itype(0x29, T4, S7, 2),      // sh s7, 2(t4)
        itype(0x25, T4, T6, 2),      // lhu t6, 2(t4)
        rtype(V0, T6, V0, 0, 0x21),  // addu v0, v0, t6
        itype(0x28, T4, S7, 1),      // sb s7, 1(t4)
        itype(0x20, T4, T6, 1),      // lb t6, 1(t4)
        rtype(V0, T6, V0, 0, 0x23),  // subu v0, v0, t6
        itype(0x09, S7, S7, 0xffff), // addiu s7, -1
    ];
    close_loop(&mut p, 13, ENTRY);
    for seed in 0..6 {
        let mut interp = boot(&p, Engine::Interp);
        let mut jit = boot(&p, Engine::Jit);
        in_step(&mut interp, &mut jit, ENTRY, seed, 14_000);
        assert_eq!(jit.gpr(S7 as u8), 0, "seed {seed}: the loop ran to its end");
        let stats = jit.jit_stats();
        assert!(
            stats.insns > 5_000,
            "seed {seed}: ran translated: {stats:?}"
        );
        assert!(
            stats.bailouts > 100,
            "seed {seed}: stores to code left: {stats:?}"
        );
    }
}

#[test]
fn a_program_stopped_at_every_budget_agrees() {
    // Budgets of 1: the translated code may never run a block that does
    // not fit, so the JIT interprets everything; then budgets of 2..=40 on
    // a few programs, where blocks must stop exactly at the limit.
    for seed in 1000..1020 {
        let (words, _) = program(seed);
        let mut interp = boot(&words, Engine::Interp);
        let mut jit = boot(&words, Engine::Jit);
        for budget in (1..=40).cycle().take(400) {
            assert_eq!(interp.run(budget), jit.run(budget), "seed {seed}");
            assert_eq!(state(&interp), state(&jit), "seed {seed}, budget {budget}");
        }
    }
}

#[test]
#[ignore = "a long campaign: set HV_LOCKSTEP_SEEDS"]
fn campaign() {
    let seeds: u64 = std::env::var("HV_LOCKSTEP_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let each: u64 = std::env::var("HV_LOCKSTEP_INSNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let (mut translated, mut guest) = (0, 0);
    for seed in 0..seeds {
        translated += lockstep(1_000_000 + seed, each);
        guest += each;
    }
    println!(
        "lockstep campaign: {seeds} programs, ~{guest} guest instructions per engine, {translated} run translated"
    );
}

/// Program `seed` as a kernel image: the vectors and handler at
/// 0x8000_0000, the program at [`ENTRY`].
fn image(seed: u64) -> hv_host::machine::elf::ElfImage {
    let (words, _) = program(seed);
    let mut all = vec![j(0x8000_0180), NOP];
    all.resize(0x180 / 4, NOP);
    all.extend(handler());
    all.resize(((ENTRY - 0x8000_0000) / 4) as usize, NOP);
    all.extend(words);
    let elf = hv_tests::elf_writer::elf_from_words(ENTRY, 0x8000_0000, &all, &[]);
    hv_host::machine::elf::ElfImage::parse(&elf).expect("a valid image")
}

/// Program `seed` as a VM's kernel under the monitor on each engine, in
/// the same slices: the VM's CPU state, statistics, console and clock
/// must agree after every slice.
fn monitored_lockstep(seed: u64, total: u64, hostile: Option<Vec<u32>>) -> u64 {
    use hv_host::monitor::{Monitor, MonitorConfig, VmConfig, VmId};
    let image = match &hostile {
        None => image(seed),
        Some(words) => {
            let elf = hv_tests::elf_writer::elf_from_words(ENTRY, ENTRY, words, &[]);
            hv_host::machine::elf::ElfImage::parse(&elf).expect("a valid image")
        }
    };
    let vm = VmConfig {
        ram_bytes: 4 << 20,
        ..VmConfig::default()
    };
    let config = MonitorConfig {
        slice_ticks: 20_000,
        ..MonitorConfig::default()
    };
    let boot = |engine| {
        let mut m = Monitor::new(config, &[vm]).expect("a valid VM");
        m.set_engine(engine).expect("the engine is available");
        m.set_jit_threshold(3);
        m.load(VmId(0), &image).expect("the image fits");
        m
    };
    let (mut a, mut b) = (boot(Engine::Interp), boot(Engine::Jit));
    let mut rng = Rng::new(seed ^ 0xfeed);
    while a.ticks() < total {
        let budget = 1 + u64::from(rng.below(2_000));
        let (ea, eb) = (a.run(budget), b.run(budget));
        let sa = (
            ea,
            a.ticks(),
            a.cpu_state(VmId(0)),
            format!("{:?}", a.stats(VmId(0))),
            format!("{:?}", a.stop_reason(VmId(0))),
            a.take_console(VmId(0)),
        );
        let sb = (
            eb,
            b.ticks(),
            b.cpu_state(VmId(0)),
            format!("{:?}", b.stats(VmId(0))),
            format!("{:?}", b.stop_reason(VmId(0))),
            b.take_console(VmId(0)),
        );
        assert_eq!(sa, sb, "seed {seed}: the engines differ under the monitor");
        if ea == hv_host::monitor::MonitorExit::AllStopped {
            break;
        }
    }
    b.jit_stats().insns
}

#[test]
fn random_programs_agree_under_the_monitor() {
    let mut translated = 0;
    for seed in 5000..5060 {
        translated += monitored_lockstep(seed, 60_000, None);
    }
    assert!(translated > 0, "nothing ran translated under the monitor");
}

#[test]
fn hostile_code_agrees_and_never_panics() {
    // Random words, wild jumps, stores into the running code, natively
    // and under the monitor, with blocks translated after 3 runs.
    for seed in 0..150u64 {
        let mut rng = Rng::new(seed);
        let mut words = random_code::words(&mut rng, 256);
        // A hot loop over the random words: the last word branches back.
        let n = words.len() as i32;
        words.push(itype(0x05, ZERO, ZERO + 1, (-(n + 1)) as u32 & 0xffff)); // bne zero, at
        words.push(itype(0x2b, S5, T7, 0)); // a store into the code in the slot
        let mut interp = boot(&words, Engine::Interp);
        let mut jit = boot(&words, Engine::Jit);
        for _ in 0..100 {
            let budget = 1 + u64::from(rng.below(500));
            assert_eq!(interp.run(budget), jit.run(budget), "seed {seed}");
            assert_eq!(state(&interp), state(&jit), "seed {seed}");
        }
        monitored_lockstep(seed, 40_000, Some(words));
    }
}
