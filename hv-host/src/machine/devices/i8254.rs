//! The PIIX4's 8254 programmable interval timer at ISA ports `0x40..0x44`:
//! three 16-bit down counters clocked at [`PIT_HZ`], channel 0's output on
//! ISA IRQ 0 (Linux's `setup_pit_timer` uses it as a clock event device at
//! boot, before the CP0 timer takes over).
//!
//! Time is deterministic: the owner passes its tick count to [`Pit::tick`]
//! before every register access and when the tick count reaches
//! [`Pit::next_event`], at `tick_hz` ticks per second (a constructor
//! parameter, the board's clock); the counters are a pure function of the
//! ticks elapsed since they were loaded. Never the host clock.
//!
//! Modelled: the control word (counter select, latch command, read/write
//! LSB, MSB or LSB then MSB, modes 0 to 5, binary counting), the read-back
//! command (count and status latches), counter latches, the counting of
//! each mode as seen by a reader, and channel 0's output edges: mode 0
//! rises once at terminal count; modes 2 and 3 rise once per period; mode
//! 4 and 5 pulse once at terminal count. [`Pit::take_edges`] reports how
//! many rising edges channel 0's output made, for an edge-triggered PIC.
//!
//! Left out: BCD counting (the count is held in binary), the gate inputs
//! (channels 0 and 1 are always enabled, as wired on the PIIX4; channel 2's
//! gate, port `0x61`, is not decoded, so modes 1 and 5 start counting when
//! loaded), and the speaker output.

use super::{Device, InterruptAck};
/// Input clock of the counters: 1.193182 MHz.
pub const PIT_HZ: u64 = 1_193_182;
/// First ISA port (channel 0's counter).
pub const PIT_BASE: u32 = 0x40;
/// Control word port.
pub const PIT_CONTROL: u32 = 0x43;
/// Interrupt of channel 0's output.
pub const PIT_IRQ: u8 = 0;

/// How a counter is read and written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
enum Access {
    Lsb,
    Msb,
    /// LSB then MSB; `true` while the MSB is next.
    Word,
}

/// One counter.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Channel {
    mode: u8,
    access: Access,
    /// The initial count (0 means 65536).
    reload: u32,
    /// PIT clock at which the count was loaded, if it is counting.
    loaded_at: Option<u64>,
    /// The LSB of a count being written in `Word` access.
    write_lsb: Option<u8>,
    /// Whether the MSB comes next when reading in `Word` access.
    read_msb: bool,
    /// A latched count, read out before the live count.
    latch: Option<u16>,
    /// A latched status byte (read-back command).
    status: Option<u8>,
    /// Channel 0's output edges already reported.
    edges_seen: u64,
}

impl Channel {
    /// A counter after power-on: mode 3, no count loaded, output high.
    fn new() -> Self {
        Self {
            mode: 3,
            access: Access::Lsb,
            reload: 0x1_0000,
            loaded_at: None,
            write_lsb: None,
            read_msb: false,
            latch: None,
            status: None,
            edges_seen: 0,
        }
    }

    /// Whether the mode repeats (2 and 3, also as 6 and 7).
    fn periodic(&self) -> bool {
        self.mode & 2 != 0
    }

    /// PIT clocks counted since loading at PIT clock `p`.
    fn elapsed(&self, p: u64) -> Option<u64> {
        self.loaded_at.map(|t| p.saturating_sub(t))
    }

    /// The count a reader sees at PIT clock `p`.
    fn count(&self, p: u64) -> u16 {
        let Some(e) = self.elapsed(p) else {
            return self.reload as u16;
        };
        let r = u64::from(self.reload);
        let c = match self.mode & 3 {
            // Mode 3 counts down by two, twice per period.
            3 if self.periodic() => {
                let half = (r / 2).max(1);
                r - ((e % half) * 2).min(r - 1)
            }
            2 if self.periodic() => r - e % r,
            // One-shot modes wrap past zero and keep counting.
            _ => (r + 0x1_0000 - e % 0x1_0000) % 0x1_0000,
        };
        c as u16
    }

    /// The output level at PIT clock `p`.
    fn out(&self, p: u64) -> bool {
        let Some(e) = self.elapsed(p) else {
            // Mode 0 sets the output low when programmed; others high.
            return self.mode != 0;
        };
        let r = u64::from(self.reload);
        match self.mode {
            0 => e >= r,
            2 | 6 => e % r != r - 1,
            3 | 7 => e % r < r.div_ceil(2),
            _ => e != r,
        }
    }

    /// Rising edges of the output in `(loaded, p]`.
    fn edges(&self, p: u64) -> u64 {
        let Some(e) = self.elapsed(p) else {
            return 0;
        };
        let r = u64::from(self.reload);
        match self.mode {
            0 | 1 | 4 | 5 => u64::from(e >= r),
            // A rising edge at the end of every period.
            _ => e / r,
        }
    }

    /// PIT clock of the next rising edge after `edges_seen` edges.
    fn next_edge(&self) -> Option<u64> {
        let t = self.loaded_at?;
        let r = u64::from(self.reload);
        match self.mode {
            0 | 1 | 4 | 5 if self.edges_seen == 0 => Some(t + r),
            0 | 1 | 4 | 5 => None,
            _ => Some(t + (self.edges_seen + 1) * r),
        }
    }
}

/// The three counters.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Pit {
    tick_hz: u64,
    channels: [Channel; 3],
    /// PIT clock of the last `tick`.
    now: u64,
    /// Tick count of the last `tick`.
    now_ticks: u64,
}

impl Pit {
    /// A PIT driven by a clock of `tick_hz` ticks per second (> 0), all
    /// counters idle.
    pub fn new(tick_hz: u64) -> Self {
        Self {
            tick_hz: tick_hz.max(1),
            channels: [Channel::new(), Channel::new(), Channel::new()],
            now: 0,
            now_ticks: 0,
        }
    }

    /// PIT clocks elapsed at tick count `t` (rounded down).
    fn pit_at(&self, t: u64) -> u64 {
        (u128::from(t) * u128::from(PIT_HZ) / u128::from(self.tick_hz)) as u64
    }

    /// The first tick count at which the PIT clock reaches `p`.
    fn tick_of(&self, p: u64) -> u64 {
        (u128::from(p) * u128::from(self.tick_hz)).div_ceil(u128::from(PIT_HZ)) as u64
    }

    /// Advances to tick count `now` (earlier counts are ignored).
    pub fn tick(&mut self, now: u64) {
        if now > self.now_ticks {
            self.now_ticks = now;
            self.now = self.pit_at(now);
        }
    }

    /// The tick count of channel 0's next rising output edge, if any.
    pub fn next_event(&self) -> Option<u64> {
        self.channels[0].next_edge().map(|p| self.tick_of(p))
    }

    /// Rising edges of channel 0's output since the last call (after the
    /// last `tick`); the owner pulses IRQ 0 once if any.
    pub fn take_edges(&mut self) -> u64 {
        let now = self.now;
        let ch = &mut self.channels[0];
        let total = ch.edges(now);
        let new = total.saturating_sub(ch.edges_seen);
        ch.edges_seen = total.max(ch.edges_seen);
        new
    }

    /// The level of channel 0's output.
    pub fn out0(&self) -> bool {
        self.channels[0].out(self.now)
    }

    /// Whether `port` is one of the PIT's.
    pub fn decodes(port: u32) -> bool {
        (PIT_BASE..PIT_BASE + 4).contains(&port)
    }

    /// Reads the byte at ISA `port`.
    pub fn read(&mut self, port: u32, _size: u32) -> u32 {
        let Some(n) = port.checked_sub(PIT_BASE).filter(|&n| n < 3) else {
            // The control word cannot be read.
            return 0xff;
        };
        let now = self.now;
        let ch = &mut self.channels[n as usize];
        if let Some(s) = ch.status.take() {
            return u32::from(s);
        }
        let value = ch.latch.unwrap_or_else(|| ch.count(now));
        let byte = match ch.access {
            Access::Lsb => {
                ch.latch = None;
                value as u8
            }
            Access::Msb => {
                ch.latch = None;
                (value >> 8) as u8
            }
            Access::Word if ch.read_msb => {
                ch.read_msb = false;
                ch.latch = None;
                (value >> 8) as u8
            }
            Access::Word => {
                ch.read_msb = true;
                // The MSB must come from the same count.
                ch.latch = Some(value);
                value as u8
            }
        };
        u32::from(byte)
    }

    /// Writes the low byte of `value` to ISA `port`.
    pub fn write(&mut self, port: u32, _size: u32, value: u32) {
        let v = value as u8;
        let now = self.now;
        match port {
            PIT_CONTROL => self.control(v),
            p if (PIT_BASE..PIT_BASE + 3).contains(&p) => {
                let ch = &mut self.channels[(p - PIT_BASE) as usize];
                let count = match ch.access {
                    Access::Lsb => Some(u32::from(v)),
                    Access::Msb => Some(u32::from(v) << 8),
                    Access::Word => match ch.write_lsb.take() {
                        Some(lsb) => Some(u32::from(lsb) | u32::from(v) << 8),
                        None => {
                            ch.write_lsb = Some(v);
                            None
                        }
                    },
                };
                if let Some(c) = count {
                    ch.reload = if c == 0 { 0x1_0000 } else { c };
                    // Counting starts with the next clock.
                    ch.loaded_at = Some(now);
                    ch.edges_seen = 0;
                }
            }
            _ => {}
        }
    }

    fn control(&mut self, v: u8) {
        let sel = v >> 6;
        let now = self.now;
        if sel == 3 {
            // Read-back: bit 5 clear latches counts, bit 4 clear statuses.
            for (i, ch) in self.channels.iter_mut().enumerate() {
                if v & (2 << i) == 0 {
                    continue;
                }
                if v & 0x20 == 0 && ch.latch.is_none() {
                    ch.latch = Some(ch.count(now));
                    ch.read_msb = false;
                }
                if v & 0x10 == 0 && ch.status.is_none() {
                    let rw = match ch.access {
                        Access::Lsb => 1,
                        Access::Msb => 2,
                        Access::Word => 3,
                    };
                    let out = if ch.out(now) { 0x80 } else { 0 };
                    let null = if ch.loaded_at.is_none() { 0x40 } else { 0 };
                    ch.status = Some(out | null | rw << 4 | ch.mode << 1);
                }
            }
            return;
        }
        let ch = &mut self.channels[usize::from(sel)];
        match (v >> 4) & 3 {
            0 => {
                if ch.latch.is_none() {
                    ch.latch = Some(ch.count(now));
                    ch.read_msb = false;
                }
            }
            rw => {
                ch.access = match rw {
                    1 => Access::Lsb,
                    2 => Access::Msb,
                    _ => Access::Word,
                };
                ch.mode = (v >> 1) & 7;
                ch.loaded_at = None;
                ch.latch = None;
                ch.status = None;
                ch.write_lsb = None;
                ch.read_msb = false;
                ch.edges_seen = 0;
            }
        }
    }
}

/// On the bus: offsets are ISA port numbers (`0x40..0x44`); the line is
/// channel 0's output, with the edges [`Pit::take_edges`] counts.
impl Device for Pit {
    fn read(&mut self, port: u32, size: u32, _intc: &mut dyn InterruptAck) -> u32 {
        Pit::read(self, port, size)
    }

    fn write(&mut self, port: u32, size: u32, value: u32) {
        Pit::write(self, port, size, value);
    }

    fn keeps_time(&self) -> bool {
        true
    }

    fn tick(&mut self, now: u64) {
        Pit::tick(self, now);
    }

    fn next_event(&self) -> Option<u64> {
        Pit::next_event(self)
    }

    fn irq(&self) -> bool {
        self.out0()
    }

    fn take_edges(&mut self) -> u64 {
        Pit::take_edges(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clock at exactly the PIT's rate: one tick per PIT clock.
    fn pit() -> Pit {
        Pit::new(PIT_HZ)
    }

    fn read_word(p: &mut Pit, port: u32) -> u16 {
        let lo = p.read(port, 1);
        let hi = p.read(port, 1);
        (lo | hi << 8) as u16
    }

    #[test]
    fn mode2_counts_down_and_interrupts_each_period() {
        let mut p = pit();
        p.write(PIT_CONTROL, 1, 0x34); // ch0, LSB/MSB, mode 2
        p.write(0x40, 1, 100);
        p.write(0x40, 1, 0);
        assert_eq!(p.next_event(), Some(100));
        p.tick(30);
        p.write(PIT_CONTROL, 1, 0x00); // latch ch0
        p.tick(40);
        assert_eq!(read_word(&mut p, 0x40), 70, "the latched count");
        assert_eq!(read_word(&mut p, 0x40), 60, "the live count");
        assert_eq!(p.take_edges(), 0);
        p.tick(100);
        assert_eq!(p.take_edges(), 1);
        assert_eq!(p.next_event(), Some(200));
        p.tick(450);
        assert_eq!(p.take_edges(), 3);
        assert_eq!(p.take_edges(), 0);
        assert_eq!(p.next_event(), Some(500));
    }

    #[test]
    fn mode0_fires_once_and_wraps() {
        let mut p = pit();
        p.write(PIT_CONTROL, 1, 0x30); // ch0, LSB/MSB, mode 0
        assert!(!p.out0(), "mode 0 output is low once programmed");
        p.write(0x40, 1, 10);
        p.write(0x40, 1, 0);
        p.tick(9);
        assert!(!p.out0());
        assert_eq!(p.take_edges(), 0);
        p.tick(10);
        assert!(p.out0());
        assert_eq!(p.take_edges(), 1);
        assert_eq!(p.next_event(), None);
        p.tick(12);
        assert_eq!(read_word(&mut p, 0x40), 0xfffe, "counts on past zero");
        assert_eq!(p.take_edges(), 0);
    }

    #[test]
    fn time_scales_with_the_tick_rate() {
        // 100 MHz ticks: a PIT period of 11932 clocks is 10.00015 ms.
        let mut p = Pit::new(100_000_000);
        p.write(PIT_CONTROL, 1, 0x34);
        p.write(0x40, 1, 11932 & 0xff);
        p.write(0x40, 1, 11932 >> 8);
        let e = p.next_event().unwrap();
        assert!((1_000_015..=1_000_016).contains(&e), "{e}");
        p.tick(e - 1);
        assert_eq!(p.take_edges(), 0);
        p.tick(e);
        assert_eq!(p.take_edges(), 1);
    }

    #[test]
    fn lsb_only_access_and_read_back() {
        let mut p = pit();
        p.write(PIT_CONTROL, 1, 0x96); // ch2, LSB only, mode 3
        p.write(0x42, 1, 0x40);
        p.tick(5);
        // Read-back of ch2's status then count.
        p.write(PIT_CONTROL, 1, 0xc8);
        let status = p.read(0x42, 1);
        assert_eq!(status & 0x3f, 0x16, "LSB access, mode 3");
        assert_eq!(p.read(0x42, 1), 0x40 - 10, "mode 3 counts by two");
        assert_eq!(p.read(PIT_CONTROL, 1), 0xff);
        assert!(!Pit::decodes(0x44) && Pit::decodes(0x43));
    }

    #[test]
    fn reprogramming_stops_the_counter() {
        let mut p = pit();
        p.write(PIT_CONTROL, 1, 0x34);
        p.write(0x40, 1, 50);
        p.write(0x40, 1, 0);
        p.write(PIT_CONTROL, 1, 0x34);
        assert_eq!(p.next_event(), None, "no count loaded yet");
        p.write(0x40, 1, 0);
        p.write(0x40, 1, 0);
        assert_eq!(p.next_event(), Some(0x1_0000), "0 means 65536");
    }
}
