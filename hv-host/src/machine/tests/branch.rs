//! Branches and jumps: conditions, delay slots, links, branch-likely
//! nullification.

use super::*;

/// A branch to a label on one register.
type Branch1 = for<'a> fn(&'a mut Asm, Reg, Label) -> &'a mut Asm;
/// A branch to a label on two registers.
type Branch2 = for<'a> fn(&'a mut Asm, Reg, Reg, Label) -> &'a mut Asm;

/// What one branch did: whether it was taken, whether its delay slot ran,
/// and `ra` afterwards (preset to a marker), with the branch's address.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    taken: bool,
    slot_ran: bool,
    ra: u32,
    at: u32,
}

fn run_branch(emit: impl FnOnce(&mut Asm, Label), t0: u32, t1: u32) -> Outcome {
    let mut k = Asm::new(ORIGIN);
    let target = k.new_label();
    k.li(T0, t0).li(T1, t1).li(RA, 0x5555_5555);
    let at = k.pc();
    emit(&mut k, target);
    k.emit(addiu(S0, ZERO, 1)); // delay slot
    k.emit(addiu(S1, ZERO, 1)); // fall-through path only
    k.bind(target);
    exit_ok(&mut k);
    let mut m = boot(k, []);
    assert_eq!(m.run(1000), Exit::Shutdown { code: 0 });
    Outcome {
        taken: m.gpr(S1.num()) == 0,
        slot_ran: m.gpr(S0.num()) == 1,
        ra: m.gpr(RA.num()),
        at,
    }
}

#[test]
fn one_register_branches() {
    let neg = u32::MAX;
    // (branch, name, likely, links, taken for -1, 0, 1)
    let cases: &[(Branch1, &str, bool, bool, [bool; 3])] = &[
        (Asm::bltz, "bltz", false, false, [true, false, false]),
        (Asm::bgez, "bgez", false, false, [false, true, true]),
        (Asm::blez, "blez", false, false, [true, true, false]),
        (Asm::bgtz, "bgtz", false, false, [false, false, true]),
        (Asm::bltzal, "bltzal", false, true, [true, false, false]),
        (Asm::bgezal, "bgezal", false, true, [false, true, true]),
        (Asm::bltzl, "bltzl", true, false, [true, false, false]),
        (Asm::bgezl, "bgezl", true, false, [false, true, true]),
        (Asm::blezl, "blezl", true, false, [true, true, false]),
        (Asm::bgtzl, "bgtzl", true, false, [false, false, true]),
        (Asm::bltzall, "bltzall", true, true, [true, false, false]),
        (Asm::bgezall, "bgezall", true, true, [false, true, true]),
    ];
    for &(br, name, likely, links, taken) in cases {
        for (v, want) in [neg, 0, 1].into_iter().zip(taken) {
            let o = run_branch(|a, l| _ = br(a, T0, l), v, 0);
            assert_eq!(o.taken, want, "{name} {v:#x}: taken");
            // The delay slot runs unless a likely branch falls through.
            assert_eq!(o.slot_ran, want || !likely, "{name} {v:#x}: delay slot");
            // Linking branches link whether or not they are taken.
            let ra = if links { o.at + 8 } else { 0x5555_5555 };
            assert_eq!(o.ra, ra, "{name} {v:#x}: ra");
        }
    }
}

#[test]
fn two_register_branches() {
    let cases: &[(Branch2, &str, bool, [bool; 2])] = &[
        (Asm::beq, "beq", false, [true, false]),
        (Asm::bne, "bne", false, [false, true]),
        (Asm::beql, "beql", true, [true, false]),
        (Asm::bnel, "bnel", true, [false, true]),
    ];
    for &(br, name, likely, taken) in cases {
        for ((a, b), want) in [(3, 3), (3, 4)].into_iter().zip(taken) {
            let o = run_branch(|asm, l| _ = br(asm, T0, T1, l), a, b);
            assert_eq!(o.taken, want, "{name} {a},{b}");
            assert_eq!(o.slot_ran, want || !likely, "{name} {a},{b}: delay slot");
            assert_eq!(o.ra, 0x5555_5555, "{name}: no link");
        }
    }
    // Signed/unsigned: beq compares all 32 bits.
    assert!(!run_branch(|a, l| _ = a.beq(T0, T1, l), 0x8000_0000, 0).taken);
}

#[test]
fn jumps_link_past_the_delay_slot() {
    // j, jal, jr, jalr (to ra and to another register), bal, and the
    // hazard-barrier forms: each skips one marker, runs its delay slot.
    let mut k = Asm::new(ORIGIN);
    let (l1, l2, l3, l4, l5, l6, l7) = (
        k.new_label(),
        k.new_label(),
        k.new_label(),
        k.new_label(),
        k.new_label(),
        k.new_label(),
        k.new_label(),
    );
    k.j(l1);
    k.emit(addiu(S0, S0, 1)); // slot
    k.emit(addiu(S7, S7, 1)); // skipped
    k.bind(l1);
    let jal_at = k.pc();
    k.jal(l2);
    k.emit(addiu(S0, S0, 1));
    k.emit(addiu(S7, S7, 1));
    k.bind(l2);
    k.emit(mov(S1, RA));
    k.la(T0, l3);
    k.emit(jr(T0));
    k.emit(addiu(S0, S0, 1));
    k.emit(addiu(S7, S7, 1));
    k.bind(l3);
    k.la(T0, l4);
    let jalr_at = k.pc();
    k.emit(jalr(S2, T0));
    k.emit(addiu(S0, S0, 1));
    k.emit(addiu(S7, S7, 1));
    k.bind(l4);
    k.la(T0, l5);
    let jalr_ra_at = k.pc();
    k.emit(jalr(RA, T0));
    k.emit(addiu(S0, S0, 1));
    k.emit(addiu(S7, S7, 1));
    k.bind(l5);
    k.emit(mov(S3, RA));
    let bal_at = k.pc();
    k.bal(l6);
    k.emit(addiu(S0, S0, 1));
    k.emit(addiu(S7, S7, 1));
    k.bind(l6);
    k.emit(mov(S4, RA));
    k.la(T0, l7);
    let hb_at = k.pc();
    k.emit(jalr_hb(S5, T0));
    k.emit(addiu(S0, S0, 1));
    k.emit(addiu(S7, S7, 1));
    k.bind(l7);
    let done = k.new_label();
    k.la(T0, done);
    k.emit(jr_hb(T0));
    k.emit(addiu(S0, S0, 1));
    k.emit(addiu(S7, S7, 1));
    k.bind(done);
    exit_ok(&mut k);
    let mut m = boot(k, []);
    assert_eq!(m.run(1000), Exit::Shutdown { code: 0 });
    let g = |r: Reg| m.gpr(r.num());
    assert_eq!(g(S0), 8, "every delay slot ran");
    assert_eq!(g(S7), 0, "no fall-through ran");
    assert_eq!(g(S1), jal_at + 8, "jal link");
    assert_eq!(g(S2), jalr_at + 8, "jalr link to s2");
    assert_eq!(g(S3), jalr_ra_at + 8, "jalr link to ra");
    assert_eq!(g(S4), bal_at + 8, "bal link");
    assert_eq!(g(S5), hb_at + 8, "jalr.hb link");
}

#[test]
fn delay_slot_sees_state_before_the_jump_lands() {
    // The delay slot of a taken backward branch runs once per iteration;
    // a branch-likely loop runs its slot only while looping.
    let mut k = Asm::new(ORIGIN);
    k.li(T0, 5);
    let top = k.here();
    k.emit(addiu(T0, T0, -1));
    k.bgtz(T0, top);
    k.emit(addiu(S0, S0, 1)); // 5 times
    k.li(T1, 5);
    let top2 = k.here();
    k.emit(addiu(T1, T1, -1));
    k.bgtzl(T1, top2);
    k.emit(addiu(S1, S1, 1)); // 4 times: annulled on the exit
    exit_ok(&mut k);
    let mut m = boot(k, []);
    assert_eq!(m.run(1000), Exit::Shutdown { code: 0 });
    assert_eq!(m.gpr(S0.num()), 5);
    assert_eq!(m.gpr(S1.num()), 4);
}

#[test]
fn jalr_reads_its_target_before_linking() {
    // `jalr ra, ra`-style reuse is UNPREDICTABLE, but a link register that
    // differs from the target register must not disturb the jump: the
    // target comes from rs as it was before the instruction.
    let mut k = Asm::new(ORIGIN);
    let there = k.new_label();
    k.la(RA, there);
    let at = k.pc();
    k.emit(jalr(T0, RA));
    k.nop();
    k.emit(addiu(S7, ZERO, 1));
    k.bind(there);
    k.emit(mov(S0, RA));
    exit_ok(&mut k);
    let there = k.label_addr(there).expect("bound");
    let mut m = boot(k, []);
    assert_eq!(m.run(1000), Exit::Shutdown { code: 0 });
    assert_eq!(m.gpr(S7.num()), 0);
    assert_eq!(m.gpr(T0.num()), at + 8, "t0 linked");
    assert_eq!(m.gpr(S0.num()), there, "ra unchanged");
}
