//! The monitor's state in a snapshot ([`crate::snapshot`]): the machine
//! under it ([`crate::machine::MachineImage`], all machine memory
//! included), the frame pool, every VM (CPU state, virtual CP0 and TLB,
//! guest-physical map, board devices, console output not taken, counters,
//! hypercall state), page sharing's scan state, the scheduler (the VM on the CPU, the end of its
//! slice, a pause at the caller's budget), the real TLB's bookkeeping and
//! the exit log (trace, hypercall log, timeline).
//!
//! [`Monitor::snapshot`] destructures the monitor without `..`, so a field
//! added to [`Monitor`] does not compile until it is saved here.

use super::exit::ExitLog;
use super::memory::FramePool;
use super::rtlb::RealTlb;
use super::{Monitor, MonitorConfig, Vm};
use crate::machine::MachineImage;
use crate::machine::board::map::BoardImage;
use crate::snapshot::SnapshotError;
use serde::{Deserialize, Serialize};

/// A monitor's state, as [`Monitor::snapshot`] takes it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MonitorImage {
    machine: MachineImage,
    config: MonitorConfig,
    pool: FramePool,
    vms: Vec<Vm>,
    boards: Vec<BoardImage>,
    cur: usize,
    slice_end: u64,
    paused: Option<usize>,
    rtlb: RealTlb,
    log: ExitLog,
    sharing: super::share::Sharing,
    idle_total: u64,
}

impl MonitorImage {
    /// The machine's part (memory included).
    pub fn machine(&self) -> &MachineImage {
        &self.machine
    }
}

impl Monitor {
    /// The monitor's whole state (see the module doc), between two runs.
    pub fn snapshot(&self) -> MonitorImage {
        let Monitor {
            machine,
            config,
            pool,
            vms,
            cur,
            slice_end,
            paused,
            rtlb,
            log,
            // Derived from the VMs' states on restore.
            waiting: _,
            wake: _,
            runnable: _,
            woke_output: _,
            cpu_total: _,
            sharing,
            idle_total,
        } = self;
        MonitorImage {
            machine: machine.snapshot(),
            config: *config,
            pool: pool.clone(),
            vms: vms.clone(),
            boards: vms.iter().map(|v| v.board.save_state()).collect(),
            cur: *cur,
            slice_end: *slice_end,
            paused: *paused,
            rtlb: rtlb.clone(),
            log: log.clone(),
            sharing: sharing.clone(),
            idle_total: *idle_total,
        }
    }

    /// Puts the monitor in the state `image` holds. The monitor must be
    /// built as the saved one was (as many VMs, each with the same board
    /// and RAM); otherwise it is left unchanged and the mismatch is the
    /// error. What this run records (the exit trace, the hypercall log, a
    /// timeline) stays as this monitor was set up: a recording the
    /// snapshot holds goes on, one it lacks starts now.
    pub fn restore(&mut self, image: &MonitorImage) -> Result<(), SnapshotError> {
        let n = self.vms.len();
        if image.vms.len() != n || image.boards.len() != n {
            return Err(SnapshotError::Mismatch(format!(
                "the snapshot has {} VMs, this monitor {n}",
                image.vms.len()
            )));
        }
        if image.cur >= n || image.paused.is_some_and(|p| p >= n) {
            return Err(SnapshotError::Decode(
                "the VM on the CPU does not exist".into(),
            ));
        }
        let mut boards = Vec::with_capacity(n);
        for (i, (vm, saved)) in self.vms.iter().zip(&image.vms).enumerate() {
            if saved.tlb.len() != vm.tlb.len() {
                return Err(SnapshotError::Mismatch(format!(
                    "vm{i} of the snapshot has {} TLB entries, this one {} (--vtlb)",
                    saved.tlb.len(),
                    vm.tlb.len()
                )));
            }
            if saved.id.0 != i || !saved.mem.same_shape(&vm.mem) {
                return Err(SnapshotError::Mismatch(format!(
                    "vm{i} of the snapshot has {} bytes of RAM, this one {}",
                    saved.mem.ram_bytes(),
                    vm.mem.ram_bytes()
                )));
            }
            let mut board = vm.board.clone();
            board
                .load_state(&image.boards[i])
                .map_err(|e| in_vm(i, e))?;
            boards.push(board);
        }
        if !image.pool.same_shape(&self.pool)
            || !image.vms.iter().all(|v| v.mem.valid_in(&image.pool))
        {
            return Err(SnapshotError::Decode(
                "the frame pool or a VM's frame map does not fit this machine".into(),
            ));
        }
        // The machine last: it checks its own fit before it changes.
        self.machine.restore(&image.machine)?;
        for (vm, (saved, board)) in self.vms.iter_mut().zip(image.vms.iter().zip(boards)) {
            *vm = saved.clone();
            vm.board = board;
        }
        let trace_exits = self.config.trace_exits;
        self.config = image.config;
        self.config.trace_exits = trace_exits;
        self.pool = image.pool.clone();
        self.cur = image.cur;
        self.slice_end = image.slice_end;
        self.paused = image.paused;
        self.rtlb = image.rtlb.clone();
        self.sharing = image.sharing.clone();
        self.idle_total = image.idle_total;
        self.cpu_total = self.vms.iter().map(|v| v.stats.cpu_ticks).sum();
        self.waiting = (0..n)
            .filter(|&i| self.vms[i].state == super::VmState::Waiting)
            .collect();
        self.runnable = (0..n)
            .filter(|&i| self.vms[i].state == super::VmState::Running)
            .collect();
        // Every waiting VM is checked at the next step (as often as
        // before: a check changes nothing that time did not).
        self.wake.clear();
        for &i in &self.waiting {
            self.vms[i].wake_at = 0;
            self.wake.push(std::cmp::Reverse((0, i)));
        }
        let record_hypercalls = self.log.record_hypercalls;
        let timeline = self.log.timeline.take();
        self.log = image.log.clone();
        self.log.record_hypercalls = record_hypercalls;
        self.log.timeline = match (timeline, self.log.timeline.take()) {
            (Some(_), Some(saved)) => Some(saved),
            (fresh, _) => fresh,
        };
        Ok(())
    }
}

/// `e`, said of VM `i`.
fn in_vm(i: usize, e: SnapshotError) -> SnapshotError {
    match e {
        SnapshotError::Mismatch(why) => SnapshotError::Mismatch(format!("vm{i}: {why}")),
        SnapshotError::Decode(why) => SnapshotError::Decode(format!("vm{i}: {why}")),
        other => other,
    }
}
