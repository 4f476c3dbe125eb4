//! The MC146818 real-time clock of the PIIX4, at ISA ports `0x70` (index)
//! and `0x71` (data), interrupting on IRQ 8 (the slave PIC's IR0).
//!
//! Time is deterministic: it comes from the machine's tick counter, passed
//! to [`Rtc::tick`] (never the host clock), at `tick_hz` ticks per second
//! (a constructor parameter), and the calendar starts from a fixed date
//! ([`DEFAULT_EPOCH`] unless the owner gives another). The owner calls
//! `tick(now)` before every register access and whenever the tick count
//! reaches [`Rtc::next_event`], then samples [`Rtc::irq`].
//!
//! Modelled: the time and date registers in BCD or binary and in 12- or
//! 24-hour form (register B's DM and 24/12 bits choose the presentation),
//! register A's divider control (only `010`, the 32.768 kHz time base, runs
//! the clock; `11x` holds the divider in reset and the first update then
//! comes half a second after release) and periodic rate, the update cycle
//! once a second with UIP set for the 244 µs before it (UIP falls and the
//! registers advance at the same instant, which is what Linux's Malta clock
//! calibration in `estimate_frequencies()` times against Count), register
//! B's SET bit (stops updates), the periodic, alarm (with don't-care
//! values) and update-ended flags and interrupt enables, register C
//! clearing on read, register D's valid-RAM bit, and 114 bytes of CMOS RAM
//! (`0x0e..0x80`, with the century in `0x32`).
//!
//! Left out: daylight-saving adjustment (DSE), the square-wave output, the
//! divider's other time bases (4.194304 and 1.048576 MHz), the PIIX4's
//! upper 128-byte RAM bank, and the real chip's habit of keeping register
//! contents unconverted when DM or 24/12 change (here the time is held in
//! binary and only its presentation changes). Register values written while
//! an update is due are applied as written.

use super::{Device, InterruptAck};
/// Index port: bits 6..0 select the register, bit 7 is the NMI mask.
pub const RTC_INDEX: u32 = 0x70;
/// Data port: reads and writes the selected register.
pub const RTC_DATA: u32 = 0x71;
/// The ISA IRQ the RTC drives (slave PIC IR0).
pub const RTC_IRQ: u8 = 8;

/// Register A.
pub const REG_A: u8 = 0x0a;
/// Register B.
pub const REG_B: u8 = 0x0b;
/// Register C.
pub const REG_C: u8 = 0x0c;
/// Register D.
pub const REG_D: u8 = 0x0d;

/// Register A: update in progress.
pub const A_UIP: u8 = 0x80;
/// Register B: SET (updates stopped).
pub const B_SET: u8 = 0x80;
/// Register B: periodic interrupt enable.
pub const B_PIE: u8 = 0x40;
/// Register B: alarm interrupt enable.
pub const B_AIE: u8 = 0x20;
/// Register B: update-ended interrupt enable.
pub const B_UIE: u8 = 0x10;
/// Register B: data mode binary (else BCD).
pub const B_DM_BINARY: u8 = 0x04;
/// Register B: 24-hour mode (else 12-hour with bit 7 = PM).
pub const B_24H: u8 = 0x02;
/// Register C: an interrupt is being requested.
pub const C_IRQF: u8 = 0x80;
/// Register C: periodic flag.
pub const C_PF: u8 = 0x40;
/// Register C: alarm flag.
pub const C_AF: u8 = 0x20;
/// Register C: update-ended flag.
pub const C_UF: u8 = 0x10;
/// Register D: valid RAM and time.
pub const D_VRT: u8 = 0x80;

/// Register A after reset: 32.768 kHz time base running, 1024 Hz rate.
const A_RESET: u8 = 0x26;
/// Register B after reset: 24-hour, BCD.
const B_RESET: u8 = B_24H;
/// Divider bits of register A meaning "32.768 kHz, running".
const DV_RUNNING: u8 = 0x20;
/// CMOS byte holding the century (BCD), as PC firmware keeps it.
const CENTURY: usize = 0x32;
/// How long UIP is set before the update, in microseconds.
const UIP_US: u64 = 244;

/// A calendar date and time (UTC, no leap seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DateTime {
    /// Full year, e.g. 2024.
    pub year: u16,
    /// 1..=12.
    pub month: u8,
    /// 1..=31.
    pub day: u8,
    /// 0..=23.
    pub hour: u8,
    /// 0..=59.
    pub minute: u8,
    /// 0..=59.
    pub second: u8,
}

/// The date the clock starts from unless told otherwise:
/// 2024-01-01 00:00:00 (a Monday).
pub const DEFAULT_EPOCH: DateTime = DateTime {
    year: 2024,
    month: 1,
    day: 1,
    hour: 0,
    minute: 0,
    second: 0,
};

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01: (year, month, day).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

impl DateTime {
    /// Seconds since 1970-01-01 00:00:00 (fields out of range carry over).
    pub fn to_unix(self) -> i64 {
        days_from_civil(self.year.into(), self.month.into(), self.day.into()) * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }

    /// The date and time `secs` seconds after 1970-01-01 00:00:00.
    pub fn from_unix(secs: i64) -> Self {
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        let s = secs.rem_euclid(86_400);
        Self {
            year: y as u16,
            month: m as u8,
            day: d as u8,
            hour: (s / 3600) as u8,
            minute: (s / 60 % 60) as u8,
            second: (s % 60) as u8,
        }
    }

    /// Day of the week, 1 = Sunday .. 7 = Saturday (the RTC's numbering).
    pub fn weekday(self) -> u8 {
        // 1970-01-01 was a Thursday (5).
        let days = self.to_unix().div_euclid(86_400);
        ((days + 4).rem_euclid(7) + 1) as u8
    }
}

fn to_bcd(v: u8) -> u8 {
    ((v / 10) << 4) | (v % 10)
}

fn from_bcd(v: u8) -> u8 {
    (v >> 4) * 10 + (v & 0x0f)
}

/// The RTC's state.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Rtc {
    tick_hz: u64,
    /// The time shown, in binary.
    time: DateTime,
    /// Day of week as last set or computed (1..=7).
    weekday: u8,
    /// Alarm seconds, minutes, hours as written (register encoding).
    alarm: [u8; 3],
    reg_a: u8,
    reg_b: u8,
    reg_c: u8,
    #[serde(with = "crate::snapshot::array")]
    ram: [u8; 128],
    index: u8,
    /// Tick count of the last `tick`.
    now: u64,
    /// Tick count of a second boundary; updates happen at
    /// `phase + k * tick_hz`.
    phase: u64,
}

impl Rtc {
    /// An RTC counting `tick_hz` ticks per second (> 0), starting at
    /// [`DEFAULT_EPOCH`] at tick 0.
    pub fn new(tick_hz: u64) -> Self {
        Self::with_epoch(tick_hz, DEFAULT_EPOCH)
    }

    /// An RTC counting `tick_hz` ticks per second (> 0), showing `start` at
    /// tick 0; the first update comes at tick `tick_hz`.
    pub fn with_epoch(tick_hz: u64, start: DateTime) -> Self {
        let mut rtc = Self {
            tick_hz: tick_hz.max(1),
            time: start,
            weekday: start.weekday(),
            alarm: [0; 3],
            reg_a: A_RESET,
            reg_b: B_RESET,
            reg_c: 0,
            ram: [0; 128],
            index: 0,
            now: 0,
            phase: 0,
        };
        rtc.ram[CENTURY] = to_bcd((start.year / 100) as u8);
        rtc
    }

    /// Ticks per second.
    pub fn tick_hz(&self) -> u64 {
        self.tick_hz
    }

    /// The date and time the clock holds.
    pub fn time(&self) -> DateTime {
        self.time
    }

    fn divider_running(&self) -> bool {
        self.reg_a & 0x70 == DV_RUNNING
    }

    fn updating(&self) -> bool {
        self.divider_running() && self.reg_b & B_SET == 0
    }

    fn uip_ticks(&self) -> u64 {
        (self.tick_hz * UIP_US).div_ceil(1_000_000).max(1)
    }

    /// Number of update instants in `(phase, t]`.
    fn seconds_at(&self, t: u64) -> u64 {
        t.saturating_sub(self.phase) / self.tick_hz
    }

    /// The periodic interrupt's period in ticks, if enabled by the rate
    /// select bits.
    fn periodic_ticks(&self) -> Option<u64> {
        let rate = u32::from(self.reg_a & 0x0f);
        if rate == 0 || !self.divider_running() {
            return None;
        }
        // Rates 1 and 2 repeat rates 8 and 9 at the 32.768 kHz time base.
        let rate = if rate <= 2 { rate + 7 } else { rate };
        // 32768 >> (rate - 1) Hz.
        Some((self.tick_hz << (rate - 1)) / 32_768).map(|t| t.max(1))
    }

    fn periods_at(&self, t: u64, period: u64) -> u64 {
        t.saturating_sub(self.phase) / period
    }

    /// Advances the clock to tick count `now` (earlier counts are
    /// ignored): runs the updates and periodic ticks that fell in between.
    pub fn tick(&mut self, now: u64) {
        if now <= self.now {
            return;
        }
        if let Some(period) = self.periodic_ticks()
            && self.periods_at(now, period) > self.periods_at(self.now, period)
        {
            self.reg_c |= C_PF;
        }
        if self.updating() {
            let n = self.seconds_at(now) - self.seconds_at(self.now);
            if n > 0 {
                let t = DateTime::from_unix(self.time.to_unix() + n as i64);
                self.time = t;
                self.weekday = t.weekday();
                self.reg_c |= C_UF;
                if self.alarm_matches() {
                    self.reg_c |= C_AF;
                }
            }
        }
        self.now = now;
    }

    /// The earliest tick count after the last `tick` at which the interrupt
    /// line may rise, if any interrupt is enabled.
    pub fn next_event(&self) -> Option<u64> {
        let mut next = None::<u64>;
        if self.reg_b & B_PIE != 0
            && let Some(p) = self.periodic_ticks()
        {
            next = Some(self.phase + (self.periods_at(self.now, p) + 1) * p);
        }
        if self.reg_b & (B_UIE | B_AIE) != 0 && self.updating() {
            let u = self.phase + (self.seconds_at(self.now) + 1) * self.tick_hz;
            next = Some(next.map_or(u, |n| n.min(u)));
        }
        next
    }

    fn alarm_matches(&self) -> bool {
        let now = [self.time.second, self.time.minute, self.time.hour];
        self.alarm
            .iter()
            .zip(now)
            .enumerate()
            .all(|(i, (&a, v))| a >= 0xc0 || self.decode(a, i == 2) == v)
    }

    /// The tick at which the data port next reads differently with the
    /// register selected now, if only time changes it: register A's UIP
    /// edges, the time and date registers' update instants (while the
    /// clock runs). Register C clears on read, the others change only by
    /// writes: `None`.
    pub fn stable_until(&self, port: u32) -> Option<u64> {
        if port != RTC_DATA || !self.updating() {
            return None;
        }
        let hz = self.tick_hz;
        let update = self.phase + (self.seconds_at(self.now) + 1) * hz;
        match self.index {
            REG_A => {
                let rise = update - self.uip_ticks();
                Some(if self.now < rise { rise } else { update })
            }
            0..=9 => Some(update),
            _ => None,
        }
    }

    /// Whether UIP reads as set now.
    fn uip(&self) -> bool {
        if !self.updating() {
            return false;
        }
        let into = self.now.saturating_sub(self.phase) % self.tick_hz;
        into >= self.tick_hz - self.uip_ticks()
    }

    fn encode(&self, v: u8, hour: bool) -> u8 {
        let (v, pm) = if hour && self.reg_b & B_24H == 0 {
            let h12 = match v % 12 {
                0 => 12,
                h => h,
            };
            (h12, v >= 12)
        } else {
            (v, false)
        };
        let v = if self.reg_b & B_DM_BINARY != 0 {
            v
        } else {
            to_bcd(v)
        };
        v | if pm { 0x80 } else { 0 }
    }

    fn decode(&self, raw: u8, hour: bool) -> u8 {
        let twelve = hour && self.reg_b & B_24H == 0;
        let pm = twelve && raw & 0x80 != 0;
        let raw = if twelve { raw & 0x7f } else { raw };
        let v = if self.reg_b & B_DM_BINARY != 0 {
            raw
        } else {
            from_bcd(raw)
        };
        if twelve {
            v % 12 + if pm { 12 } else { 0 }
        } else {
            v
        }
    }

    fn irqf(&self) -> bool {
        self.reg_c & self.reg_b & (C_PF | C_AF | C_UF) != 0
    }

    /// The level of the IRQ 8 line (IRQF).
    pub fn irq(&self) -> bool {
        self.irqf()
    }

    fn read_reg(&mut self, r: u8) -> u8 {
        match r {
            0x00 => self.encode(self.time.second, false),
            0x01 => self.alarm[0],
            0x02 => self.encode(self.time.minute, false),
            0x03 => self.alarm[1],
            0x04 => self.encode(self.time.hour, true),
            0x05 => self.alarm[2],
            0x06 => self.encode(self.weekday, false),
            0x07 => self.encode(self.time.day, false),
            0x08 => self.encode(self.time.month, false),
            0x09 => self.encode((self.time.year % 100) as u8, false),
            REG_A => self.reg_a | if self.uip() { A_UIP } else { 0 },
            REG_B => self.reg_b,
            REG_C => {
                let v = self.reg_c | if self.irqf() { C_IRQF } else { 0 };
                self.reg_c = 0;
                v
            }
            REG_D => D_VRT,
            _ => self.ram[usize::from(r & 0x7f)],
        }
    }

    fn write_reg(&mut self, r: u8, v: u8) {
        let mut t = self.time;
        match r {
            0x00 => t.second = self.decode(v & 0x7f, false),
            0x01 => self.alarm[0] = v,
            0x02 => t.minute = self.decode(v & 0x7f, false),
            0x03 => self.alarm[1] = v,
            0x04 => t.hour = self.decode(v, true),
            0x05 => self.alarm[2] = v,
            0x06 => self.weekday = self.decode(v, false),
            0x07 => t.day = self.decode(v, false),
            0x08 => t.month = self.decode(v, false),
            0x09 => {
                let century = u16::from(from_bcd(self.ram[CENTURY]));
                t.year = century * 100 + u16::from(self.decode(v, false));
            }
            REG_A => {
                let was_running = self.divider_running();
                self.reg_a = v & 0x7f;
                if !was_running && self.divider_running() {
                    // Out of divider reset: the first update comes half a
                    // second later.
                    self.phase = (self.now + self.tick_hz / 2).saturating_sub(self.tick_hz);
                }
            }
            REG_B => {
                let mut v = v;
                if v & B_SET != 0 {
                    v &= !B_UIE;
                }
                self.reg_b = v;
            }
            REG_C | REG_D => {}
            _ => {
                self.ram[usize::from(r & 0x7f)] = v;
                if usize::from(r) == CENTURY {
                    t.year = u16::from(from_bcd(v)) * 100 + t.year % 100;
                }
            }
        }
        if t != self.time {
            self.time = t;
        }
    }

    /// Reads the register at ISA `port` (0x70 or 0x71). Reading the index
    /// port gives `0xff`, as on the PIIX4 where it is write-only.
    pub fn read(&mut self, port: u32, _size: u32) -> u32 {
        match port {
            RTC_DATA => u32::from(self.read_reg(self.index)),
            _ => 0xff,
        }
    }

    /// Writes the low byte of `value` to ISA `port` (0x70 or 0x71).
    pub fn write(&mut self, port: u32, _size: u32, value: u32) {
        let v = value as u8;
        match port {
            RTC_INDEX => self.index = v & 0x7f,
            RTC_DATA => self.write_reg(self.index, v),
            _ => {}
        }
    }
}

/// On the bus: offsets are ISA port numbers (`0x70`, `0x71`).
impl Device for Rtc {
    fn read(&mut self, port: u32, size: u32, _intc: &mut dyn InterruptAck) -> u32 {
        Rtc::read(self, port, size)
    }

    fn write(&mut self, port: u32, size: u32, value: u32) {
        Rtc::write(self, port, size, value);
    }

    fn keeps_time(&self) -> bool {
        true
    }

    fn tick(&mut self, now: u64) {
        Rtc::tick(self, now);
    }

    fn next_event(&self) -> Option<u64> {
        Rtc::next_event(self)
    }

    fn stable_until(&self, port: u32, _size: u32) -> Option<u64> {
        Rtc::stable_until(self, port)
    }

    fn irq(&self) -> bool {
        Rtc::irq(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HZ: u64 = 1_000_000;

    fn rd(r: &mut Rtc, reg: u8) -> u8 {
        r.write(RTC_INDEX, 1, reg.into());
        r.read(RTC_DATA, 1) as u8
    }

    fn wr(r: &mut Rtc, reg: u8, v: u8) {
        r.write(RTC_INDEX, 1, reg.into());
        r.write(RTC_DATA, 1, v.into());
    }

    #[test]
    fn calendar_conversions() {
        let t = DateTime {
            year: 2024,
            month: 2,
            day: 29,
            hour: 23,
            minute: 59,
            second: 59,
        };
        assert_eq!(DateTime::from_unix(t.to_unix()), t);
        assert_eq!(DateTime::from_unix(t.to_unix() + 1).month, 3);
        assert_eq!(DEFAULT_EPOCH.weekday(), 2, "2024-01-01 was a Monday");
        assert_eq!(DEFAULT_EPOCH.to_unix(), 1_704_067_200);
    }

    #[test]
    fn reads_epoch_in_bcd_24h() {
        let mut r = Rtc::new(HZ);
        assert_eq!(rd(&mut r, 0x09), 0x24);
        assert_eq!(rd(&mut r, 0x08), 0x01);
        assert_eq!(rd(&mut r, 0x07), 0x01);
        assert_eq!(rd(&mut r, 0x06), 0x02);
        assert_eq!(rd(&mut r, 0x32), 0x20, "century");
        assert_eq!(rd(&mut r, REG_D), D_VRT);
    }

    #[test]
    fn update_cycle_advances_the_clock_once_a_second() {
        let mut r = Rtc::new(HZ);
        r.tick(HZ - 1);
        assert_eq!(rd(&mut r, 0x00), 0x00);
        r.tick(HZ);
        assert_eq!(rd(&mut r, 0x00), 0x01);
        r.tick(61 * HZ + 5);
        assert_eq!(rd(&mut r, 0x00), 0x01);
        assert_eq!(rd(&mut r, 0x02), 0x01, "a minute later");
    }

    #[test]
    fn stable_until_names_the_next_uip_edge_and_update() {
        let mut r = Rtc::new(HZ);
        let hz = r.tick_hz();
        r.write(RTC_INDEX, 1, u32::from(REG_A));
        // Every tick before the named one reads the same; that one differs.
        let mut now = 1;
        for _ in 0..4 {
            r.tick(now);
            let v = r.read(RTC_DATA, 1);
            let until = r
                .stable_until(RTC_DATA)
                .expect("UIP only changes with time");
            assert!(until > now && until - now <= hz);
            for t in [now + 1, until - 1] {
                r.tick(t);
                assert_eq!(r.read(RTC_DATA, 1), v, "tick {t}");
            }
            r.tick(until);
            assert_ne!(r.read(RTC_DATA, 1), v, "tick {until}");
            now = until;
        }
        r.write(RTC_INDEX, 1, u32::from(REG_C));
        assert_eq!(r.stable_until(RTC_DATA), None, "register C clears on read");
        assert_eq!(r.stable_until(RTC_INDEX), None);
    }

    #[test]
    fn uip_window_precedes_the_update() {
        let mut r = Rtc::new(HZ);
        let uip = |r: &mut Rtc| rd(r, REG_A) & A_UIP != 0;
        r.tick(HZ - 245);
        assert!(!uip(&mut r));
        r.tick(HZ - 244);
        assert!(uip(&mut r), "set 244 us before the update");
        assert_eq!(rd(&mut r, 0x00), 0x00, "not yet updated");
        r.tick(HZ - 1);
        assert!(uip(&mut r));
        r.tick(HZ);
        assert!(!uip(&mut r), "falls as the registers advance");
        assert_eq!(rd(&mut r, 0x00), 0x01);
    }

    /// Linux's `estimate_frequencies()`: wait for UIP to rise, read Count,
    /// wait for it to fall, read seconds, wait for it to rise, read Count,
    /// wait to fall, read seconds; Count delta / seconds delta = Hz.
    #[test]
    fn linux_calibration_measures_tick_hz() {
        let hz = 200_000;
        let mut r = Rtc::new(hz);
        let mut now = 12_345u64;
        let uip = |r: &mut Rtc, now: &mut u64| {
            *now += 7; // a few instructions per poll
            r.tick(*now);
            rd(r, REG_A) & A_UIP != 0
        };
        while uip(&mut r, &mut now) {}
        while !uip(&mut r, &mut now) {}
        let start = now;
        while uip(&mut r, &mut now) {}
        let s1 = rd(&mut r, 0x00);
        while !uip(&mut r, &mut now) {}
        let count = now - start;
        while uip(&mut r, &mut now) {}
        let s2 = rd(&mut r, 0x00);
        assert_eq!(from_bcd(s2) - from_bcd(s1), 1);
        assert!(count.abs_diff(hz) <= 7, "measured {count}");
    }

    #[test]
    fn binary_and_12_hour_modes() {
        let start = DateTime {
            year: 2031,
            month: 12,
            day: 31,
            hour: 23,
            minute: 59,
            second: 58,
        };
        let mut r = Rtc::with_epoch(HZ, start);
        assert_eq!(rd(&mut r, 0x04), 0x23);
        wr(&mut r, REG_B, B_DM_BINARY | B_24H);
        assert_eq!(rd(&mut r, 0x04), 23);
        assert_eq!(rd(&mut r, 0x00), 58);
        wr(&mut r, REG_B, B_DM_BINARY);
        assert_eq!(rd(&mut r, 0x04), 0x80 | 11, "11 PM");
        wr(&mut r, REG_B, 0);
        assert_eq!(rd(&mut r, 0x04), 0x80 | 0x11, "11 PM in BCD");
        r.tick(2 * HZ);
        assert_eq!(rd(&mut r, 0x04), 0x12, "12 AM");
        assert_eq!(rd(&mut r, 0x09), 0x32);
        assert_eq!(rd(&mut r, 0x08), 0x01);
        assert_eq!(rd(&mut r, 0x32), 0x20);
    }

    #[test]
    fn set_bit_stops_the_clock_and_writes_take() {
        let mut r = Rtc::new(HZ);
        wr(&mut r, REG_B, B_SET | B_24H);
        wr(&mut r, 0x04, 0x13);
        wr(&mut r, 0x02, 0x45);
        wr(&mut r, 0x00, 0x30);
        r.tick(5 * HZ);
        assert_eq!(rd(&mut r, 0x00), 0x30, "stopped while SET");
        assert_eq!(rd(&mut r, REG_A) & A_UIP, 0);
        wr(&mut r, REG_B, B_24H);
        r.tick(6 * HZ);
        assert_eq!(rd(&mut r, 0x00), 0x31);
        assert_eq!(rd(&mut r, 0x04), 0x13);
        assert_eq!(rd(&mut r, 0x02), 0x45);
    }

    #[test]
    fn periodic_interrupt_at_the_selected_rate() {
        let hz = 1 << 20;
        let mut r = Rtc::new(hz);
        wr(&mut r, REG_A, 0x20 | 0x0f); // 2 Hz
        wr(&mut r, REG_B, B_24H | B_PIE);
        assert_eq!(r.next_event(), Some(hz / 2));
        r.tick(hz / 2 - 1);
        assert!(!r.irq());
        r.tick(hz / 2);
        assert!(r.irq());
        assert_eq!(rd(&mut r, REG_C), C_IRQF | C_PF);
        assert!(!r.irq(), "reading C acknowledges");
        assert_eq!(rd(&mut r, REG_C), 0);
        wr(&mut r, REG_A, 0x26); // 1024 Hz
        assert_eq!(r.next_event(), Some(hz / 2 + hz / 1024));
    }

    #[test]
    fn periodic_flag_without_enable_raises_no_irq() {
        let mut r = Rtc::new(HZ);
        r.tick(HZ / 100);
        assert!(!r.irq());
        assert_eq!(rd(&mut r, REG_C), C_PF, "PF set regardless of PIE");
    }

    #[test]
    fn update_ended_and_alarm_interrupts() {
        let mut r = Rtc::new(HZ);
        wr(&mut r, REG_B, B_24H | B_UIE);
        assert_eq!(r.next_event(), Some(HZ));
        r.tick(HZ);
        assert!(r.irq());
        assert_eq!(rd(&mut r, REG_C) & (C_IRQF | C_UF), C_IRQF | C_UF);
        wr(&mut r, REG_B, B_24H | B_AIE);
        wr(&mut r, 0x01, 0x05);
        wr(&mut r, 0x03, 0xc0);
        wr(&mut r, 0x05, 0xff);
        r.tick(4 * HZ);
        assert!(!r.irq());
        r.tick(5 * HZ);
        assert!(r.irq());
        assert_eq!(rd(&mut r, REG_C) & C_AF, C_AF);
    }

    #[test]
    fn divider_reset_holds_and_restarts_half_a_second_later() {
        let mut r = Rtc::new(HZ);
        wr(&mut r, REG_A, 0x70);
        r.tick(10 * HZ);
        assert_eq!(rd(&mut r, 0x00), 0x00);
        wr(&mut r, REG_A, 0x26);
        r.tick(10 * HZ + HZ / 2 - 1);
        assert_eq!(rd(&mut r, 0x00), 0x00);
        r.tick(10 * HZ + HZ / 2);
        assert_eq!(rd(&mut r, 0x00), 0x01);
    }
}
