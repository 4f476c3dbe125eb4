//! The page of CP0 registers a paravirtualized guest shares with the
//! monitor (`CommpageSet`, `hv_abi::commpage` has the layout): the
//! monitor writes every field when the guest resumes and reads the
//! writable ones back when the guest exits, applying them as `mtc0`
//! would. The guest's exception paths then read Cause, EPC, Status and
//! BadVAddr and write EPC, Status and EntryLo with plain loads and stores:
//! no exit for each, which is most of the exits a trap-and-emulated
//! kernel takes (Disco's special pages, KVM/MIPS's commpage).

use super::cost;
use super::exit::ExitCtx;
use super::vcpu::Effects;
use crate::machine::cp0::reg;
use hv_abi::Commpage;
use zerocopy::little_endian::U32;

impl ExitCtx<'_> {
    /// After the guest ran: apply what it wrote to its page.
    pub(super) fn commpage_in(&mut self) {
        let Some(gpa) = self.vm.commpage else {
            return;
        };
        let Some(ma) = self.vm.mem.peek(gpa) else {
            return;
        };
        let mut bytes = [0u8; Commpage::SIZE];
        if self.machine.read_machine(ma, &mut bytes).is_err() {
            return;
        }
        let page = Commpage::from_wire(bytes);
        let now = self.now();
        let vm = &mut *self.vm;
        let mut fx = Effects::default();
        for (rd, v) in [
            (reg::STATUS, page.status.get()),
            (reg::EPC, page.epc.get()),
            (reg::CONTEXT, page.context.get()),
            (reg::ENTRYLO0, page.entry_lo0.get()),
            (reg::ENTRYLO1, page.entry_lo1.get()),
            (reg::PAGEMASK, page.page_mask.get()),
            (reg::INDEX, page.index.get()),
            (reg::ERROREPC, page.error_epc.get()),
        ] {
            if vm.cp0.read(rd, 0, now, 0) != v || rd == reg::CONTEXT {
                let f = vm.cp0.write(rd, 0, v, now);
                fx.mode |= f.mode;
                fx.erl |= f.erl;
            }
        }
        self.charge(cost::COMMPAGE_SYNC);
        if fx.erl {
            self.erl_changed();
        }
        if fx.mode {
            self.apply_mode();
        }
    }

    /// Whether an interrupt is deliverable to the VM by the Status it has
    /// stored in its page since its last exit (by its virtual CP0 when it
    /// shares none): while a stretch is paused, the virtual CP0 is stale
    /// and the page is what the guest set.
    pub(super) fn page_interrupt_deliverable(&self) -> bool {
        let vm = &*self.vm;
        let lines = vm.irq_lines();
        let page = vm.commpage.and_then(|gpa| vm.mem.peek(gpa)).and_then(|ma| {
            let mut bytes = [0u8; Commpage::SIZE];
            self.machine.read_machine(ma, &mut bytes).ok()?;
            Some(Commpage::from_wire(bytes))
        });
        match page {
            Some(page) => {
                let mut cp0 = vm.cp0.clone();
                cp0.write(reg::STATUS, 0, page.status.get(), self.now());
                cp0.interrupt_deliverable(lines)
            }
            None => vm.cp0.interrupt_deliverable(lines),
        }
    }

    /// Before the guest runs: write its page.
    pub(super) fn commpage_out(&mut self) {
        let Some(gpa) = self.vm.commpage else {
            return;
        };
        // Page sharing may have backed another VM's frame with this one:
        // the monitor's writes must stay this VM's.
        if self.vm.mem.is_shared(gpa, self.pool)
            && self
                .vm
                .mem
                .private_frame(gpa, self.pool, self.machine)
                .is_ok()
        {
            self.frame_copied();
        }
        let vm = &*self.vm;
        let Some(ma) = vm.mem.peek(gpa) else {
            return;
        };
        let now = self.now();
        let c = &vm.cp0;
        let r = |rd| U32::new(c.read(rd, 0, now, vm.irq_lines()));
        let page = Commpage {
            status: r(reg::STATUS),
            cause: r(reg::CAUSE),
            epc: r(reg::EPC),
            bad_vaddr: r(reg::BADVADDR),
            context: r(reg::CONTEXT),
            entry_hi: r(reg::ENTRYHI),
            entry_lo0: r(reg::ENTRYLO0),
            entry_lo1: r(reg::ENTRYLO1),
            page_mask: r(reg::PAGEMASK),
            index: r(reg::INDEX),
            error_epc: r(reg::ERROREPC),
            count: r(reg::COUNT),
        };
        // The page is guest RAM in use: the write cannot fail.
        let _ = self.machine.write_machine(ma, &page.to_wire());
    }
}
