//! User mode: the kernel maps a user code page and a data page through
//! the TLB, ERETs to user mode (Status.KSU=user, EXL=1, then `eret`), and
//! the user program raises a sequence of exceptions the kernel logs and
//! resumes past: system calls (some asking for services), address errors
//! on kseg0 and sseg, Coprocessor Unusable for every privileged
//! instruction, RDHWR with HWREna bits clear (Reserved Instruction) and
//! set, Bp, Tr, Ov, and CP0 access from user mode once Status.CU0 is set.
//! A final system call returns to the kernel, which prints and checks the
//! log.

use super::rt::{Console, Kernel, c0, data, exc, st};
use super::tlb::init_tlb;
use crate::programs::GuestProgram;
use hv_host::machine::asm::{self, A0, Asm, K0, K1, T0, T1, T2, T3, T6, T7, V0, ZERO};

/// User code (even page) and data (odd page) virtual addresses.
const USER_CODE: u32 = 0x0040_0000;
const USER_DATA: u32 = 0x0040_1000;
/// Physical frame of the user data page.
const DATA_PA: u32 = 0x0010_5000;
/// The user's ASID.
const ASID: u32 = 0x10;

/// Log of user exceptions: count at `LOG_N`, then 16-byte records
/// (Cause, EPC, BadVAddr, Status) from `LOG`.
const LOG_N: i16 = data::SCRATCH;
const LOG: i16 = data::SCRATCH + 0x10;
const LOG_MAX: usize = 22;

/// System call services (in `v0`, argument in `a0`).
const SVC_EXIT: u32 = 1;
const SVC_HWRENA: u32 = 2;
const SVC_STATUS_OR: u32 = 3;

/// One expected log record.
struct Trap {
    what: &'static str,
    code: u32,
    epc: u32,
    ce: Option<u32>,
    badv: Option<u32>,
}

/// Emits `word`, expected to raise `code` (CpU with CE=0).
fn trap(u: &mut Asm, traps: &mut Vec<Trap>, what: &'static str, word: u32, code: u32) {
    traps.push(Trap {
        what,
        code,
        epc: u.pc(),
        ce: (code == exc::CPU).then_some(0),
        badv: None,
    });
    u.emit(word);
}

/// Emits a system call asking for service `n` with argument `arg`.
fn svc(u: &mut Asm, traps: &mut Vec<Trap>, what: &'static str, n: u32, arg: u32) {
    u.li(V0, n);
    u.li(A0, arg);
    traps.push(Trap {
        what,
        code: exc::SYS,
        epc: u.pc(),
        ce: None,
        badv: None,
    });
    u.emit(asm::syscall(0));
}

/// Builds the user program at [`USER_CODE`]; it uses only `t0..t5`,
/// `v0` and `a0` (the kernel's hook uses `t6`, `t7`, `k0`, `k1`).
fn user_program(traps: &mut Vec<Trap>) -> Vec<u32> {
    let mut u = Asm::new(USER_CODE);
    u.li(V0, 0);
    trap(&mut u, traps, "syscall", asm::syscall(0), exc::SYS);
    u.li(T1, 0x8000_0800);
    trap(&mut u, traps, "lw kseg0", asm::lw(T0, 0, T1), exc::ADEL);
    u.li(T1, 0xc000_0000);
    trap(&mut u, traps, "sw sseg", asm::sw(T0, 0, T1), exc::ADES);
    u.li(T1, 0xa000_0000);
    trap(&mut u, traps, "lb kseg1", asm::lb(T0, 3, T1), exc::ADEL);
    trap(&mut u, traps, "mfc0", asm::mfc0(T0, 12, 0), exc::CPU);
    trap(&mut u, traps, "mtc0", asm::mtc0(T0, 14, 0), exc::CPU);
    trap(&mut u, traps, "eret", asm::eret(), exc::CPU);
    trap(&mut u, traps, "di", asm::di(T0), exc::CPU);
    trap(&mut u, traps, "wait", asm::wait(0), exc::CPU);
    trap(&mut u, traps, "tlbwi", asm::tlbwi(), exc::CPU);
    trap(&mut u, traps, "cache", asm::cache(0x10, 0, T1), exc::CPU);
    trap(
        &mut u,
        traps,
        "rdhwr 29 disabled",
        asm::rdhwr(T0, 29),
        exc::RI,
    );
    trap(
        &mut u,
        traps,
        "rdhwr 2 disabled",
        asm::rdhwr(T0, 2),
        exc::RI,
    );
    svc(
        &mut u,
        traps,
        "svc hwrena=2000000f",
        SVC_HWRENA,
        0x2000_000f,
    );
    // With HWREna set: CPUNum, SYNCI_Step, CCRes, UserLocal, and whether
    // CC moves, stored in the data page for the kernel to check.
    u.li(T2, USER_DATA);
    for (i, n) in [0u8, 1, 3, 29].into_iter().enumerate() {
        u.emit(asm::rdhwr(T0, n));
        u.emit(asm::sw(T0, 4 * i as i16, T2));
    }
    u.emit(asm::rdhwr(T0, 2));
    for _ in 0..8 {
        u.nop();
    }
    u.emit(asm::rdhwr(T1, 2));
    u.emit(asm::subu(T0, T1, T0));
    u.emit(asm::sltu(T0, ZERO, T0));
    u.emit(asm::sw(T0, 16, T2));
    svc(
        &mut u,
        traps,
        "svc hwrena=20000000",
        SVC_HWRENA,
        0x2000_0000,
    );
    trap(
        &mut u,
        traps,
        "rdhwr 2 disabled",
        asm::rdhwr(T0, 2),
        exc::RI,
    );
    u.emit(asm::rdhwr(T0, 29));
    u.emit(asm::sw(T0, 20, T2));
    trap(&mut u, traps, "break", asm::break_(0), exc::BP);
    trap(&mut u, traps, "teq", asm::teq(ZERO, ZERO, 0), exc::TR);
    u.li(T1, 0x7fff_ffff);
    trap(
        &mut u,
        traps,
        "addi overflow",
        asm::addi(T3, T1, 1),
        exc::OV,
    );
    u.li(T1, USER_DATA + 2);
    trap(
        &mut u,
        traps,
        "lw misaligned",
        asm::lw(T0, 0, T1),
        exc::ADEL,
    );
    svc(&mut u, traps, "svc status|=cu0", SVC_STATUS_OR, st::CU0);
    u.emit(asm::mfc0(T0, 12, 0));
    u.emit(asm::sw(T0, 24, T2));
    svc(&mut u, traps, "svc exit", SVC_EXIT, 0);
    let spin = u.here();
    u.b(spin);
    u.nop();
    // BadVAddr of the address errors.
    for t in traps.iter_mut() {
        t.badv = match t.what {
            "lw kseg0" => Some(0x8000_0800),
            "sw sseg" => Some(0xc000_0000),
            "lb kseg1" => Some(0xa000_0003),
            "lw misaligned" => Some(USER_DATA + 2),
            _ => None,
        };
    }
    u.finish().expect("the user program assembles")
}

/// The user-mode kernel.
pub fn kernel() -> GuestProgram {
    let mut k = Kernel::new("user_mode", Console::Uart);
    let mut traps = Vec::new();
    let user = user_program(&mut traps);
    assert!(
        traps.len() <= LOG_MAX,
        "the log area holds {LOG_MAX} records"
    );

    // The user code, page-aligned in the image.
    let over = k.a.new_label();
    k.a.b(over);
    k.a.nop();
    let page = (k.a.pc() + 0xfff) & !0xfff;
    k.pad_to(page);
    k.a.emit_all(&user);
    k.a.bind(over);
    let code_pa = page - 0x8000_0000;

    // The hook: log the exception, serve system calls, resume at EPC+4.
    let hook = k.a.new_label();
    let back = k.a.new_label();
    let after_hook = k.a.new_label();
    k.a.b(after_hook);
    k.a.nop();
    {
        let a = &mut k.a;
        let (resume, svc_exit, svc_hwrena, svc_status) =
            (a.new_label(), a.new_label(), a.new_label(), a.new_label());
        a.bind(hook);
        a.emit(asm::lw(T7, LOG_N, K0));
        a.emit(asm::addiu(T6, T7, 1));
        a.emit(asm::sw(T6, LOG_N, K0));
        a.emit(asm::sll(T7, T7, 4));
        a.emit(asm::addu(T7, T7, K0));
        for (i, off) in [data::CAUSE, data::EPC, data::BADV, data::STATUS]
            .into_iter()
            .enumerate()
        {
            a.emit(asm::lw(T6, off, K0));
            a.emit(asm::sw(T6, LOG + 4 * i as i16, T7));
        }
        a.emit(asm::lw(T6, data::CAUSE, K0));
        a.emit(asm::ext(T6, T6, 2, 5));
        a.li(T7, exc::SYS);
        a.bne(T6, T7, resume);
        a.li(T7, SVC_EXIT);
        a.beq(V0, T7, svc_exit);
        a.li(T7, SVC_HWRENA);
        a.beq(V0, T7, svc_hwrena);
        a.li(T7, SVC_STATUS_OR);
        a.beq(V0, T7, svc_status);
        a.nop();
        a.bind(resume);
        a.emit(asm::mfc0(K1, 14, 0));
        a.emit(asm::addiu(K1, K1, 4));
        a.emit(asm::mtc0(K1, 14, 0));
        a.emit(asm::ehb());
        a.emit(asm::eret());
        a.bind(svc_hwrena);
        a.emit(asm::mtc0(A0, 7, 0));
        a.b(resume);
        a.nop();
        a.bind(svc_status);
        a.emit(asm::mfc0(T6, 12, 0));
        a.emit(asm::or(T6, T6, A0));
        a.emit(asm::mtc0(T6, 12, 0));
        a.b(resume);
        a.nop();
        a.bind(svc_exit);
        a.la(K1, back);
        a.emit(asm::mtc0(K1, 14, 0));
        a.li(K1, st::EXL); // kernel mode, CU0 and everything else clear
        a.emit(asm::mtc0(K1, 12, 0));
        a.emit(asm::ehb());
        a.emit(asm::eret());
    }
    k.a.bind(after_hook);

    init_tlb(&mut k);
    k.set_c0(c0::INDEX, 0);
    k.set_c0(c0::ENTRYHI, USER_CODE | ASID);
    k.set_c0(c0::ENTRYLO0, ((code_pa >> 12) << 6) | (3 << 3) | 2);
    k.set_c0(c0::ENTRYLO1, ((DATA_PA >> 12) << 6) | (3 << 3) | 4 | 2);
    k.a.emit(asm::tlbwi());
    k.a.emit(asm::ehb());
    k.set_c0(c0::USERLOCAL, 0x00c0_ffee);
    k.set_hook(Some(hook));

    k.line("to user:");
    k.set_c0(c0::EPC, USER_CODE);
    k.set_c0(c0::STATUS, st::UM | st::EXL);
    k.a.emit(asm::eret());
    k.a.bind(back);
    k.clear_hook();
    k.set_c0(c0::HWRENA, 0);

    k.say("back in kernel:");
    k.mfc0(T0, c0::STATUS);
    k.check("status", T0, 0);
    k.load_data(T0, LOG_N);
    k.check("traps", T0, traps.len() as u32);
    k.nl();

    for (i, t) in traps.iter().enumerate() {
        let base = LOG + 16 * i as i16;
        k.say(&format!("{}:", t.what));
        k.load_data(T0, base);
        k.a.emit(asm::ext(T1, T0, 2, 5));
        k.check("exc", T1, t.code);
        k.a.emit(asm::srl(T1, T0, 31));
        k.check("bd", T1, 0);
        if let Some(ce) = t.ce {
            k.a.emit(asm::ext(T1, T0, 28, 2));
            k.check("ce", T1, ce);
        }
        k.load_data(T0, base + 4);
        k.check("epc", T0, t.epc);
        if let Some(v) = t.badv {
            k.load_data(T0, base + 8);
            k.check("badvaddr", T0, v);
        }
        if i == 0 {
            // Taken from user mode: KSU still says user, EXL now set.
            k.load_data(T0, base + 12);
            k.check_masked("status", T0, 0x1f, st::UM | st::EXL);
        }
        k.nl();
    }

    k.say("user rdhwr with hwrena:");
    k.a.li(T2, 0x8000_0000 | DATA_PA);
    for (i, (name, want)) in [
        ("cpunum", 0),
        ("synci_step", 0),
        ("ccres", 1),
        ("ulr", 0x00c0_ffee),
        ("cc advances", 1),
        ("ulr only", 0x00c0_ffee),
    ]
    .into_iter()
    .enumerate()
    {
        k.a.emit(asm::lw(T0, 4 * i as i16, T2));
        k.check(name, T0, want);
    }
    k.nl();
    k.say("user mfc0 status with cu0:");
    k.a.emit(asm::lw(T0, 24, T2));
    k.check("status", T0, st::CU0 | st::UM);
    k.nl();
    k.set_c0(c0::ENTRYHI, 0);
    k.finish()
}
