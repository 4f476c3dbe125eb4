//! Test kernels for the privileged architecture: small guest kernels,
//! built with the in-repo assembler, that each exercise one area of MIPS32
//! Release 2 Volume III (CP0 registers, exceptions, user mode, the TLB,
//! the timer, interrupts, LL/SC, the console) and print a deterministic
//! report of what they observed.
//!
//! Every kernel boots at `0x8000_1000` in kseg0, clears BEV and ERL,
//! installs its vectors at [`rt::EBASE`], and checks each value it prints
//! against the architecture: a mismatch prints `FAIL(want ...)`, and the
//! kernel ends with `verdict: ok` and UHI exit code 0, or `verdict: FAILED`
//! and exit code 1 (an unexpected exception prints its record and exits
//! with 2). The output never depends on exact timing (no raw Count values),
//! so a trap-and-emulate monitor must reproduce it byte for byte.
//!
//! [`all`] lists the kernels; [`run_native`] runs one on the bare machine
//! and [`run_full`] under the monitor (`*_with` set boot registers too).

pub mod console;
pub mod cp0_regs;
pub mod exceptions;
pub mod interrupts;
pub mod llsc;
pub mod rt;
pub mod timer;
pub mod tlb;
pub mod user_mode;

use crate::programs::GuestProgram;
use hv_host::machine::elf::ElfImage;
use hv_host::machine::{Exit, Machine, MachineConfig};

/// RAM the kernels need: the 16 MiB page test maps physical memory up to
/// 48 MiB.
pub const RAM_BYTES: u32 = 64 << 20;

/// A tick budget far above what any kernel needs (each runs well under a
/// million instructions).
pub const MAX_TICKS: u64 = 20_000_000;

/// Every test kernel, by name, in a fixed order.
pub fn all() -> Vec<(&'static str, GuestProgram)> {
    vec![
        ("cp0_regs", cp0_regs::kernel()),
        ("exceptions", exceptions::kernel()),
        ("user_mode", user_mode::kernel()),
        ("tlb", tlb::kernel()),
        ("timer", timer::kernel()),
        ("timer_dc", timer::count_freeze_kernel()),
        ("interrupts", interrupts::kernel()),
        ("llsc", llsc::kernel()),
        ("console_uart", console::uart_kernel()),
        ("console_uhi", console::uhi_kernel()),
    ]
}

/// Runs the ELF image `elf` natively on a machine with `ram_bytes` of RAM
/// for at most `max_ticks` ticks, and returns the console output (UART and
/// UHI writes to fd 1) and the UHI exit code, `None` if the kernel did not
/// exit within the budget. An image that does not parse, does not fit, or
/// a RAM size the machine rejects gives empty output and `None`.
pub fn run_native(elf: &[u8], ram_bytes: u32, max_ticks: u64) -> (Vec<u8>, Option<i32>) {
    run_native_with(elf, ram_bytes, &[], max_ticks)
}

/// [`run_native`] with the boot registers `regs` (`(register, value)`,
/// such as the demo OS's `demo_os::BootArgs::registers`) set after the
/// image is loaded.
pub fn run_native_with(
    elf: &[u8],
    ram_bytes: u32,
    regs: &[(u8, u32)],
    max_ticks: u64,
) -> (Vec<u8>, Option<i32>) {
    let Ok(image) = ElfImage::parse(elf) else {
        return (Vec::new(), None);
    };
    let Ok(mut m) = Machine::new(MachineConfig { ram_bytes }) else {
        return (Vec::new(), None);
    };
    if m.load_elf(&image).is_err() {
        return (Vec::new(), None);
    }
    for &(reg, value) in regs {
        m.set_gpr(reg, value);
    }
    let mut out = Vec::new();
    let code = loop {
        let left = max_ticks.saturating_sub(m.ticks());
        if left == 0 {
            break None;
        }
        let exit = m.run(left);
        out.extend(m.take_stdout());
        match exit {
            Exit::Shutdown { code } => break Some(code),
            Exit::OutputPending | Exit::BudgetExhausted => {}
            _ => break None,
        }
    };
    out.extend(m.take_stdout());
    (out, code)
}

/// Runs the kernel `elf` alone under the monitor (`--mode full`) with
/// `ram_bytes` of guest RAM for at most `max_ticks` clock ticks; returns
/// what [`run_native`] returns.
pub fn run_full(elf: &[u8], ram_bytes: u32, max_ticks: u64) -> (Vec<u8>, Option<i32>) {
    run_full_with(elf, ram_bytes, &[], max_ticks)
}

/// [`run_full`] with the boot registers `regs` set in the VM after the
/// image is loaded, as [`run_native_with`] does natively.
pub fn run_full_with(
    elf: &[u8],
    ram_bytes: u32,
    regs: &[(u8, u32)],
    max_ticks: u64,
) -> (Vec<u8>, Option<i32>) {
    use hv_host::monitor::{Monitor, MonitorConfig, MonitorExit, VmConfig, VmId, VmStop};
    let Ok(image) = ElfImage::parse(elf) else {
        return (Vec::new(), None);
    };
    let vm = VmConfig {
        ram_bytes,
        ..VmConfig::default()
    };
    let Ok(mut mon) = Monitor::new(MonitorConfig::default(), &[vm]) else {
        return (Vec::new(), None);
    };
    if mon.load(VmId(0), &image).is_err() {
        return (Vec::new(), None);
    }
    for &(reg, value) in regs {
        mon.set_gpr(VmId(0), reg, value);
    }
    let mut out = Vec::new();
    loop {
        let left = max_ticks.saturating_sub(mon.ticks());
        if left == 0 {
            break;
        }
        let exit = mon.run(left);
        out.extend(mon.take_console(VmId(0)));
        if exit == MonitorExit::AllStopped {
            break;
        }
    }
    out.extend(mon.take_console(VmId(0)));
    let code = match mon.stop_reason(VmId(0)) {
        Some(VmStop::Exited(code)) => Some(*code),
        _ => None,
    };
    (out, code)
}

/// A run of one VM under the monitor ([`run_monitored`]).
#[derive(Debug)]
pub struct MonitoredRun {
    /// The console (UART and UHI fd 1).
    pub out: Vec<u8>,
    /// Why the VM stopped; `None` if it still ran after the budget.
    pub stop: Option<hv_host::monitor::VmStop>,
    /// Its counters.
    pub stats: hv_host::monitor::stats::VmStats,
    /// Every hypercall it made.
    pub calls: Vec<hv_host::monitor::hypercall::HypercallRecord>,
}

/// Runs `image` as the one VM `vm` of a monitor configured by `config`,
/// with the boot registers `regs` set after loading, for at most
/// `max_ticks` clock ticks, recording its console and hypercalls.
pub fn run_monitored(
    image: &ElfImage,
    config: hv_host::monitor::MonitorConfig,
    vm: hv_host::monitor::VmConfig,
    regs: &[(u8, u32)],
    max_ticks: u64,
) -> MonitoredRun {
    use hv_host::monitor::{Monitor, MonitorExit, VmId};
    let mut mon = Monitor::new(config, &[vm]).expect("a valid VM configuration");
    mon.load(VmId(0), image).expect("the image fits the VM");
    for &(reg, value) in regs {
        mon.set_gpr(VmId(0), reg, value);
    }
    mon.record_hypercalls(true);
    let (mut out, mut calls) = (Vec::new(), Vec::new());
    while mon.ticks() < max_ticks {
        let exit = mon.run(max_ticks - mon.ticks());
        out.extend(mon.take_console(VmId(0)));
        calls.extend(mon.take_hypercalls().into_iter().map(|(_, c)| c));
        if exit == MonitorExit::AllStopped {
            break;
        }
    }
    MonitoredRun {
        out,
        stop: mon.stop_reason(VmId(0)).cloned(),
        stats: mon.stats(VmId(0)).expect("VM 0 exists"),
        calls,
    }
}
