//! The PIIX4's two cascaded 8259A programmable interrupt controllers, as on
//! the Malta board: the master at ISA ports `0x20`/`0x21`, the slave at
//! `0xa0`/`0xa1` on the master's IR2, and the PIIX4 edge/level control
//! registers (ELCR) at `0x4d0`/`0x4d1`. The master's INTR output is the
//! board's one interrupt line to the CPU: hardware interrupt 0, Cause.IP2.
//!
//! Modelled: the ICW1–ICW4 initialisation sequence, OCW1 masking, OCW2
//! (non-specific, specific and rotating EOI, set priority, rotate in
//! automatic EOI), OCW3 (IRR/ISR read select, poll mode, special mask),
//! automatic EOI, special fully nested mode, rotating priority,
//! edge-triggered inputs by default and level-triggered ones per ELCR bit,
//! the spurious IRQ 7/15 vectors, and the interrupt acknowledge cycle
//! ([`DualPic::acknowledge`]). Linux on Malta acknowledges through the
//! GT-64120's PCI0 interrupt-acknowledge register (`GT_PCI0_IACK`, offset
//! `0xc34`), which runs this cycle and returns the vector (Linux programs
//! ICW2 = 0 and 8, so the vector is the IRQ number); see
//! [`super::gt64120`]. Linux's generic `i8259_irq()` poll (OCW3 poll mode)
//! is also supported.
//!
//! Left out: the ICW1 LTIM bit (the PIIX4 ignores it; ELCR decides),
//! buffered mode, 8080/8085 call-address mode, and the slave-address check
//! of ICW3 (the slave is always on IR2, as wired on the board). The PICs
//! have no notion of time, so there is no `tick`.

use super::{Device, InterruptAck, InterruptController};

/// Master PIC command/status port.
pub const MASTER_CMD: u32 = 0x20;
/// Master PIC data (mask) port.
pub const MASTER_DATA: u32 = 0x21;
/// Slave PIC command/status port.
pub const SLAVE_CMD: u32 = 0xa0;
/// Slave PIC data (mask) port.
pub const SLAVE_DATA: u32 = 0xa1;
/// PIIX4 ELCR for IRQs 0–7.
pub const ELCR_MASTER: u32 = 0x4d0;
/// PIIX4 ELCR for IRQs 8–15.
pub const ELCR_SLAVE: u32 = 0x4d1;
/// The master input the slave's INTR drives.
pub const CASCADE_IRQ: u8 = 2;

/// ELCR bits that may be set (IRQ 0, 1, 2 are always edge).
const ELCR_MASK_MASTER: u8 = 0xf8;
/// ELCR bits that may be set (IRQ 8 and 13 are always edge).
const ELCR_MASK_SLAVE: u8 = 0xde;

/// One 8259A.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Pic {
    /// Interrupt request register.
    irr: u8,
    /// Interrupt mask register (OCW1).
    imr: u8,
    /// In-service register.
    isr: u8,
    /// Input line levels last seen (for edge detection).
    lines: u8,
    /// Edge/level control: a set bit makes that input level-triggered.
    elcr: u8,
    /// Which bits of `elcr` may be set.
    elcr_mask: u8,
    /// The IR that has the lowest priority is `priority_add - 1`.
    priority_add: u8,
    /// Vector base from ICW2 (bits 7..3).
    vector_base: u8,
    /// 0: operational; 1..=3: waiting for ICW2..ICW4.
    init_state: u8,
    init4: bool,
    single: bool,
    auto_eoi: bool,
    rotate_on_auto_eoi: bool,
    special_fully_nested: bool,
    special_mask: bool,
    read_isr: bool,
    poll: bool,
    /// This PIC is the master (its IR2 carries the slave).
    master: bool,
}

impl Pic {
    fn new(master: bool) -> Self {
        Self {
            master,
            elcr_mask: if master {
                ELCR_MASK_MASTER
            } else {
                ELCR_MASK_SLAVE
            },
            ..Self::default()
        }
    }

    /// Priority (0 = highest) of the highest-priority bit of `mask`, 8 if
    /// none.
    fn priority(&self, mask: u8) -> u8 {
        if mask == 0 {
            return 8;
        }
        let mut p = 0;
        while mask & (1 << ((p + self.priority_add) & 7)) == 0 {
            p += 1;
        }
        p
    }

    /// The IR this PIC would deliver now, if any.
    fn pending(&self) -> Option<u8> {
        let p = self.priority(self.irr & !self.imr);
        if p == 8 {
            return None;
        }
        let mut in_service = self.isr;
        if self.special_mask {
            in_service &= !self.imr;
        }
        if self.special_fully_nested && self.master {
            // A further slave interrupt may nest inside one in service.
            in_service &= !(1 << CASCADE_IRQ);
        }
        (p < self.priority(in_service)).then_some((p + self.priority_add) & 7)
    }

    /// Level of the INTR output.
    fn intr(&self) -> bool {
        self.pending().is_some()
    }

    fn set_line(&mut self, ir: u8, level: bool) {
        let bit = 1u8 << ir;
        if self.elcr & bit != 0 {
            if level {
                self.irr |= bit;
                self.lines |= bit;
            } else {
                self.irr &= !bit;
                self.lines &= !bit;
            }
        } else if level {
            if self.lines & bit == 0 {
                self.irr |= bit;
            }
            self.lines |= bit;
        } else {
            self.lines &= !bit;
        }
    }

    /// The acknowledge pulses for `ir`: sets ISR (unless automatic EOI) and
    /// clears an edge request.
    fn intack(&mut self, ir: u8) {
        let bit = 1u8 << ir;
        if self.auto_eoi {
            if self.rotate_on_auto_eoi {
                self.priority_add = (ir + 1) & 7;
            }
        } else {
            self.isr |= bit;
        }
        if self.elcr & bit == 0 {
            self.irr &= !bit;
        }
    }

    fn init_reset(&mut self) {
        self.lines = 0;
        self.irr &= self.elcr;
        self.imr = 0;
        self.isr = 0;
        self.priority_add = 0;
        self.vector_base = 0;
        self.init_state = 0;
        self.init4 = false;
        self.single = false;
        self.auto_eoi = false;
        self.rotate_on_auto_eoi = false;
        self.special_fully_nested = false;
        self.special_mask = false;
        self.read_isr = false;
        self.poll = false;
    }

    fn write_cmd(&mut self, v: u8) {
        if v & 0x10 != 0 {
            // ICW1.
            self.init_reset();
            self.init_state = 1;
            self.init4 = v & 0x01 != 0;
            self.single = v & 0x02 != 0;
        } else if v & 0x08 != 0 {
            // OCW3.
            if v & 0x04 != 0 {
                self.poll = true;
            }
            if v & 0x02 != 0 {
                self.read_isr = v & 0x01 != 0;
            }
            if v & 0x40 != 0 {
                self.special_mask = v & 0x20 != 0;
            }
        } else {
            // OCW2.
            let ir = v & 7;
            match v >> 5 {
                0 | 4 => self.rotate_on_auto_eoi = v >> 7 != 0,
                1 | 5 => {
                    let p = self.priority(self.isr);
                    if p != 8 {
                        let ir = (p + self.priority_add) & 7;
                        self.isr &= !(1 << ir);
                        if v >> 5 == 5 {
                            self.priority_add = (ir + 1) & 7;
                        }
                    }
                }
                3 => self.isr &= !(1 << ir),
                6 => self.priority_add = (ir + 1) & 7,
                7 => {
                    self.isr &= !(1 << ir);
                    self.priority_add = (ir + 1) & 7;
                }
                _ => {}
            }
        }
    }

    fn write_data(&mut self, v: u8) {
        match self.init_state {
            0 => self.imr = v,
            1 => {
                self.vector_base = v & 0xf8;
                self.init_state = match (self.single, self.init4) {
                    (false, _) => 2,
                    (true, true) => 3,
                    (true, false) => 0,
                };
            }
            2 => self.init_state = if self.init4 { 3 } else { 0 },
            _ => {
                self.special_fully_nested = v & 0x10 != 0;
                self.auto_eoi = v & 0x02 != 0;
                self.init_state = 0;
            }
        }
    }

    /// A read in poll mode: `0x80 | ir` and the acknowledge, or 0.
    fn poll_read(&mut self) -> u8 {
        self.poll = false;
        match self.pending() {
            Some(ir) => {
                self.intack(ir);
                0x80 | ir
            }
            None => 0,
        }
    }

    fn read(&mut self, data_port: bool) -> u8 {
        if self.poll {
            self.poll_read()
        } else if data_port {
            self.imr
        } else if self.read_isr {
            self.isr
        } else {
            self.irr
        }
    }
}

/// The master/slave pair.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct DualPic {
    master: Pic,
    slave: Pic,
}

impl Default for DualPic {
    fn default() -> Self {
        Self::new()
    }
}

impl DualPic {
    /// Both PICs after power-on: all inputs edge-triggered, unmasked, not
    /// initialised (vector base 0).
    pub fn new() -> Self {
        Self {
            master: Pic::new(true),
            slave: Pic::new(false),
        }
    }

    /// Whether `port` is one of the PICs' or the ELCR's ports.
    pub fn decodes(port: u32) -> bool {
        matches!(
            port,
            MASTER_CMD | MASTER_DATA | SLAVE_CMD | SLAVE_DATA | ELCR_MASTER | ELCR_SLAVE
        )
    }

    /// Reads the byte register at ISA `port` (wider accesses read that byte,
    /// zero-extended). Unknown ports read `0xff`.
    pub fn read(&mut self, port: u32, _size: u32) -> u32 {
        let v = match port {
            MASTER_CMD | MASTER_DATA => self.master.read(port == MASTER_DATA),
            SLAVE_CMD | SLAVE_DATA => self.slave.read(port == SLAVE_DATA),
            ELCR_MASTER => self.master.elcr,
            ELCR_SLAVE => self.slave.elcr,
            _ => 0xff,
        };
        self.update_cascade();
        u32::from(v)
    }

    /// Writes the low byte of `value` to ISA `port`.
    pub fn write(&mut self, port: u32, _size: u32, value: u32) {
        let v = value as u8;
        match port {
            MASTER_CMD => self.master.write_cmd(v),
            MASTER_DATA => self.master.write_data(v),
            SLAVE_CMD => self.slave.write_cmd(v),
            SLAVE_DATA => self.slave.write_data(v),
            ELCR_MASTER => self.master.elcr = v & self.master.elcr_mask,
            ELCR_SLAVE => self.slave.elcr = v & self.slave.elcr_mask,
            _ => {}
        }
        self.update_cascade();
    }

    /// Drives ISA interrupt input `irq` (0..16) to `level`.
    pub fn set_irq(&mut self, irq: u8, level: bool) {
        if irq < 8 {
            self.master.set_line(irq, level);
        } else if irq < 16 {
            self.slave.set_line(irq - 8, level);
        }
        self.update_cascade();
    }

    fn update_cascade(&mut self) {
        let s = self.slave.intr();
        self.master.set_line(CASCADE_IRQ, s);
    }

    /// Level of the master's INTR output: the CPU's hardware interrupt 0
    /// (Cause.IP2) on Malta.
    pub fn irq(&self) -> bool {
        self.master.intr()
    }

    /// The interrupt-acknowledge cycle: returns the vector of the
    /// highest-priority pending request and marks it in service. With no
    /// request (a spurious interrupt) it returns the master's IR7 vector,
    /// or the slave's IR7 (IRQ 15) vector if the cascade input was taken
    /// but the slave no longer has a request; nothing is marked in service
    /// for a spurious IR7.
    pub fn acknowledge(&mut self) -> u8 {
        let v = match self.master.pending() {
            Some(CASCADE_IRQ) => {
                self.master.intack(CASCADE_IRQ);
                match self.slave.pending() {
                    Some(ir) => {
                        self.slave.intack(ir);
                        self.slave.vector_base | ir
                    }
                    None => self.slave.vector_base | 7,
                }
            }
            Some(ir) => {
                self.master.intack(ir);
                self.master.vector_base | ir
            }
            None => self.master.vector_base | 7,
        };
        self.update_cascade();
        v
    }
}

impl InterruptAck for DualPic {
    fn acknowledge(&mut self) -> u8 {
        DualPic::acknowledge(self)
    }
}

impl InterruptController for DualPic {
    fn set_irq(&mut self, irq: u8, level: bool) {
        DualPic::set_irq(self, irq, level);
    }
}

/// On the bus: offsets are ISA port numbers (the board maps the ports
/// [`DualPic::decodes`] to it).
impl Device for DualPic {
    fn read(&mut self, port: u32, size: u32, _intc: &mut dyn InterruptAck) -> u32 {
        DualPic::read(self, port, size)
    }

    fn write(&mut self, port: u32, size: u32, value: u32) {
        DualPic::write(self, port, size, value);
    }

    fn irq(&self) -> bool {
        DualPic::irq(self)
    }

    fn interrupt_controller(&mut self) -> Option<&mut dyn InterruptController> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The initialisation Linux's `init_8259A(0)` performs.
    fn linux_init(p: &mut DualPic) {
        p.write(MASTER_DATA, 1, 0xff);
        p.write(SLAVE_DATA, 1, 0xff);
        p.write(MASTER_CMD, 1, 0x11);
        p.write(MASTER_DATA, 1, 0x00);
        p.write(MASTER_DATA, 1, 1 << CASCADE_IRQ);
        p.write(MASTER_DATA, 1, 0x01);
        p.write(SLAVE_CMD, 1, 0x11);
        p.write(SLAVE_DATA, 1, 0x08);
        p.write(SLAVE_DATA, 1, CASCADE_IRQ.into());
        p.write(SLAVE_DATA, 1, 0x01);
        p.write(MASTER_DATA, 1, 0xff);
        p.write(SLAVE_DATA, 1, 0xff);
    }

    /// Unmasks `irq` as Linux's `enable_8259A_irq` does (cascade open too).
    fn unmask(p: &mut DualPic, irq: u8) {
        if irq < 8 {
            let m = p.read(MASTER_DATA, 1) as u8 & !(1 << irq);
            p.write(MASTER_DATA, 1, m.into());
        } else {
            let m = p.read(SLAVE_DATA, 1) as u8 & !(1 << (irq - 8));
            p.write(SLAVE_DATA, 1, m.into());
            let m = p.read(MASTER_DATA, 1) as u8 & !(1 << CASCADE_IRQ);
            p.write(MASTER_DATA, 1, m.into());
        }
    }

    /// Linux's `mask_and_ack_8259A` EOI part (specific EOIs).
    fn eoi(p: &mut DualPic, irq: u8) {
        if irq >= 8 {
            p.write(SLAVE_CMD, 1, 0x60 + u32::from(irq & 7));
            p.write(MASTER_CMD, 1, 0x60 + u32::from(CASCADE_IRQ));
        } else {
            p.write(MASTER_CMD, 1, 0x60 + u32::from(irq));
        }
    }

    #[test]
    fn init_sequence_sets_masks_and_vectors() {
        let mut p = DualPic::new();
        linux_init(&mut p);
        assert_eq!(p.read(MASTER_DATA, 1), 0xff);
        assert_eq!(p.read(SLAVE_DATA, 1), 0xff);
        unmask(&mut p, 4);
        p.set_irq(4, true);
        assert!(p.irq());
        assert_eq!(p.acknowledge(), 4, "ICW2 = 0: vector = IRQ");
    }

    #[test]
    fn masked_request_stays_pending_until_unmasked() {
        let mut p = DualPic::new();
        linux_init(&mut p);
        p.set_irq(3, true);
        assert!(!p.irq(), "masked");
        assert_eq!(p.read(MASTER_CMD, 1) & 0x08, 0x08, "IRR shows it");
        unmask(&mut p, 3);
        assert!(p.irq());
    }

    #[test]
    fn edge_needs_a_new_rising_edge() {
        let mut p = DualPic::new();
        linux_init(&mut p);
        unmask(&mut p, 4);
        p.set_irq(4, true);
        assert_eq!(p.acknowledge(), 4);
        eoi(&mut p, 4);
        assert!(!p.irq(), "line still high but no new edge");
        p.set_irq(4, false);
        p.set_irq(4, true);
        assert!(p.irq());
    }

    #[test]
    fn level_mode_follows_the_line() {
        let mut p = DualPic::new();
        linux_init(&mut p);
        p.write(ELCR_SLAVE, 1, 0x0c); // IRQ 10, 11 level
        assert_eq!(p.read(ELCR_SLAVE, 1), 0x0c);
        p.write(ELCR_MASTER, 1, 0xff);
        assert_eq!(p.read(ELCR_MASTER, 1), 0xf8, "IRQ 0-2 cannot be level");
        unmask(&mut p, 10);
        p.set_irq(10, true);
        assert_eq!(p.acknowledge(), 10);
        eoi(&mut p, 10);
        assert!(p.irq(), "still asserted: requests again");
        p.set_irq(10, false);
        // The slave withdrew its request, but the master latched the
        // cascade's edge: the acknowledge finds nothing on the slave and
        // returns its IR7 vector, a spurious IRQ 15 (as on QEMU).
        assert!(p.irq());
        assert_eq!(p.acknowledge(), 15);
        eoi(&mut p, 15);
        assert!(!p.irq());
    }

    #[test]
    fn cascade_delivers_slave_vectors() {
        let mut p = DualPic::new();
        linux_init(&mut p);
        unmask(&mut p, 8);
        p.set_irq(8, true);
        assert!(p.irq());
        assert_eq!(p.acknowledge(), 8);
        // Both in service until both EOIs.
        p.write(MASTER_CMD, 1, 0x0b);
        assert_eq!(p.read(MASTER_CMD, 1), 1 << CASCADE_IRQ);
        p.write(SLAVE_CMD, 1, 0x0b);
        assert_eq!(p.read(SLAVE_CMD, 1), 0x01);
        eoi(&mut p, 8);
        assert_eq!(p.read(MASTER_CMD, 1), 0);
        assert_eq!(p.read(SLAVE_CMD, 1), 0);
    }

    #[test]
    fn priority_and_nesting() {
        let mut p = DualPic::new();
        linux_init(&mut p);
        for irq in [1, 4, 12] {
            unmask(&mut p, irq);
        }
        p.set_irq(4, true);
        p.set_irq(12, true);
        // IRQ 12 comes through IR2, which outranks IR4.
        assert_eq!(p.acknowledge(), 12);
        assert!(!p.irq(), "IR4 is lower than the IR2 in service");
        p.set_irq(1, true);
        assert!(p.irq(), "IR1 outranks IR2 in service: nests");
        assert_eq!(p.acknowledge(), 1);
        eoi(&mut p, 1);
        eoi(&mut p, 12);
        assert_eq!(p.acknowledge(), 4);
    }

    #[test]
    fn non_specific_eoi_clears_highest_in_service() {
        let mut p = DualPic::new();
        linux_init(&mut p);
        unmask(&mut p, 5);
        unmask(&mut p, 0);
        p.set_irq(5, true);
        assert_eq!(p.acknowledge(), 5);
        p.set_irq(0, true);
        assert_eq!(p.acknowledge(), 0);
        p.write(MASTER_CMD, 1, 0x20);
        p.write(MASTER_CMD, 1, 0x0b);
        assert_eq!(p.read(MASTER_CMD, 1), 1 << 5, "IR0 cleared, IR5 left");
        p.write(MASTER_CMD, 1, 0x20);
        assert_eq!(p.read(MASTER_CMD, 1), 0);
    }

    #[test]
    fn rotation_changes_priority() {
        let mut p = DualPic::new();
        linux_init(&mut p);
        unmask(&mut p, 1);
        unmask(&mut p, 6);
        p.write(MASTER_CMD, 1, 0xc0 | 3); // set priority: IR3 lowest
        p.set_irq(1, true);
        p.set_irq(6, true);
        assert_eq!(p.acknowledge(), 6, "IR4 is now highest, then 5, 6...");
    }

    #[test]
    fn poll_mode_reads_and_acknowledges() {
        let mut p = DualPic::new();
        linux_init(&mut p);
        unmask(&mut p, 9);
        p.set_irq(9, true);
        p.write(MASTER_CMD, 1, 0x0c);
        assert_eq!(p.read(MASTER_CMD, 1), 0x80 | 2, "master: the cascade");
        p.write(SLAVE_CMD, 1, 0x0c);
        assert_eq!(p.read(SLAVE_CMD, 1), 0x80 | 1, "slave: IR1 = IRQ 9");
        p.write(MASTER_CMD, 1, 0x0c);
        assert_eq!(p.read(MASTER_CMD, 1), 0, "nothing more pending");
        assert_eq!(p.read(MASTER_CMD, 1), 0, "poll lasts one read: IRR");
    }

    #[test]
    fn spurious_acknowledge_returns_ir7() {
        let mut p = DualPic::new();
        linux_init(&mut p);
        assert_eq!(p.acknowledge(), 7);
        p.write(MASTER_CMD, 1, 0x0b);
        assert_eq!(p.read(MASTER_CMD, 1), 0, "IR7 not put in service");
        // A slave request that vanishes after the master saw it.
        p.write(ELCR_SLAVE, 1, 0x08);
        unmask(&mut p, 11);
        p.set_irq(11, true);
        p.set_irq(11, false);
        assert!(p.irq(), "the master latched the cascade edge");
        assert_eq!(p.acknowledge(), 15);
        p.write(SLAVE_CMD, 1, 0x0b);
        assert_eq!(p.read(SLAVE_CMD, 1), 0, "slave IR7 not in service");
    }

    #[test]
    fn auto_eoi_leaves_nothing_in_service() {
        let mut p = DualPic::new();
        p.write(MASTER_CMD, 1, 0x11);
        p.write(MASTER_DATA, 1, 0x20);
        p.write(MASTER_DATA, 1, 0x04);
        p.write(MASTER_DATA, 1, 0x03);
        p.write(MASTER_DATA, 1, 0x00);
        p.set_irq(3, true);
        assert_eq!(p.acknowledge(), 0x23);
        p.write(MASTER_CMD, 1, 0x0b);
        assert_eq!(p.read(MASTER_CMD, 1), 0);
    }
}
