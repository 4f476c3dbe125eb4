//! Arithmetic, logic, shifts, multiply/divide and bit-field instructions.

use crate::machine::Machine;
use crate::machine::decode::Decoded;
use crate::machine::exception::ExcCode;

impl Machine {
    /// Shift Left Logical.
    #[inline(always)]
    pub(super) fn sll(&mut self, d: Decoded) {
        self.w(d.rd, self.r(d.rt) << d.imm);
    }
    /// Shift Right Logical.
    #[inline(always)]
    pub(super) fn srl(&mut self, d: Decoded) {
        self.w(d.rd, self.r(d.rt) >> d.imm);
    }
    /// Shift Right Arithmetic.
    #[inline(always)]
    pub(super) fn sra(&mut self, d: Decoded) {
        self.w(d.rd, ((self.r(d.rt) as i32) >> d.imm) as u32);
    }
    /// Rotate Word Right.
    #[inline(always)]
    pub(super) fn rotr(&mut self, d: Decoded) {
        self.w(d.rd, self.r(d.rt).rotate_right(d.imm));
    }
    /// Shift Left Logical Variable.
    #[inline(always)]
    pub(super) fn sllv(&mut self, d: Decoded) {
        self.w(d.rd, self.r(d.rt) << (self.r(d.rs) & 31));
    }
    /// Shift Right Logical Variable.
    #[inline(always)]
    pub(super) fn srlv(&mut self, d: Decoded) {
        self.w(d.rd, self.r(d.rt) >> (self.r(d.rs) & 31));
    }
    /// Shift Right Arithmetic Variable.
    #[inline(always)]
    pub(super) fn srav(&mut self, d: Decoded) {
        self.w(d.rd, ((self.r(d.rt) as i32) >> (self.r(d.rs) & 31)) as u32);
    }
    /// Rotate Word Right Variable.
    #[inline(always)]
    pub(super) fn rotrv(&mut self, d: Decoded) {
        self.w(d.rd, self.r(d.rt).rotate_right(self.r(d.rs) & 31));
    }
    /// Move Conditional on Zero.
    #[inline(always)]
    pub(super) fn movz(&mut self, d: Decoded) {
        if self.r(d.rt) == 0 {
            self.w(d.rd, self.r(d.rs));
        }
    }
    /// Move Conditional on Not Zero.
    #[inline(always)]
    pub(super) fn movn(&mut self, d: Decoded) {
        if self.r(d.rt) != 0 {
            self.w(d.rd, self.r(d.rs));
        }
    }
    /// Move From HI.
    #[inline(always)]
    pub(super) fn mfhi(&mut self, d: Decoded) {
        self.w(d.rd, self.hi);
    }
    /// Move To HI.
    #[inline(always)]
    pub(super) fn mthi(&mut self, d: Decoded) {
        self.hi = self.r(d.rs);
    }
    /// Move From LO.
    #[inline(always)]
    pub(super) fn mflo(&mut self, d: Decoded) {
        self.w(d.rd, self.lo);
    }
    /// Move To LO.
    #[inline(always)]
    pub(super) fn mtlo(&mut self, d: Decoded) {
        self.lo = self.r(d.rs);
    }

    fn set_hilo(&mut self, v: u64) {
        self.hi = (v >> 32) as u32;
        self.lo = v as u32;
    }

    fn hilo(&self) -> u64 {
        (u64::from(self.hi) << 32) | u64::from(self.lo)
    }

    fn product_signed(&self, d: Decoded) -> u64 {
        (i64::from(self.r(d.rs) as i32) * i64::from(self.r(d.rt) as i32)) as u64
    }

    fn product_unsigned(&self, d: Decoded) -> u64 {
        u64::from(self.r(d.rs)) * u64::from(self.r(d.rt))
    }

    /// Multiply Word.
    #[inline(always)]
    pub(super) fn mult(&mut self, d: Decoded) {
        let p = self.product_signed(d);
        self.set_hilo(p);
    }
    /// Multiply Unsigned Word.
    #[inline(always)]
    pub(super) fn multu(&mut self, d: Decoded) {
        let p = self.product_unsigned(d);
        self.set_hilo(p);
    }
    /// Multiply and Add Word to HI, LO.
    #[inline(always)]
    pub(super) fn madd(&mut self, d: Decoded) {
        let v = self.hilo().wrapping_add(self.product_signed(d));
        self.set_hilo(v);
    }
    /// Multiply and Add Unsigned Word to HI, LO.
    #[inline(always)]
    pub(super) fn maddu(&mut self, d: Decoded) {
        let v = self.hilo().wrapping_add(self.product_unsigned(d));
        self.set_hilo(v);
    }
    /// Multiply and Subtract Word from HI, LO.
    #[inline(always)]
    pub(super) fn msub(&mut self, d: Decoded) {
        let v = self.hilo().wrapping_sub(self.product_signed(d));
        self.set_hilo(v);
    }
    /// Multiply and Subtract Unsigned Word from HI, LO.
    #[inline(always)]
    pub(super) fn msubu(&mut self, d: Decoded) {
        let v = self.hilo().wrapping_sub(self.product_unsigned(d));
        self.set_hilo(v);
    }
    /// Multiply Word to GPR (HI and LO are left unchanged).
    #[inline(always)]
    pub(super) fn mul(&mut self, d: Decoded) {
        self.w(d.rd, self.r(d.rs).wrapping_mul(self.r(d.rt)));
    }
    /// Divide Word. Division by zero leaves HI and LO unchanged (the
    /// architecture makes the result UNPREDICTABLE and raises nothing).
    #[inline(always)]
    pub(super) fn div(&mut self, d: Decoded) {
        let (a, b) = (self.r(d.rs) as i32, self.r(d.rt) as i32);
        if b != 0 {
            self.lo = a.wrapping_div(b) as u32;
            self.hi = a.wrapping_rem(b) as u32;
        }
    }
    /// Divide Unsigned Word (division by zero as for DIV).
    #[inline(always)]
    pub(super) fn divu(&mut self, d: Decoded) {
        let (a, b) = (self.r(d.rs), self.r(d.rt));
        if let (Some(q), Some(r)) = (a.checked_div(b), a.checked_rem(b)) {
            self.lo = q;
            self.hi = r;
        }
    }
    /// Add Word (traps on signed overflow, leaving `rd` unchanged).
    #[inline(always)]
    pub(super) fn add(&mut self, d: Decoded) {
        match (self.r(d.rs) as i32).checked_add(self.r(d.rt) as i32) {
            Some(v) => self.w(d.rd, v as u32),
            None => self.raise(ExcCode::Ov),
        }
    }
    /// Add Unsigned Word (no trap).
    #[inline(always)]
    pub(super) fn addu(&mut self, d: Decoded) {
        self.w(d.rd, self.r(d.rs).wrapping_add(self.r(d.rt)));
    }
    /// Subtract Word (traps on signed overflow).
    #[inline(always)]
    pub(super) fn sub(&mut self, d: Decoded) {
        match (self.r(d.rs) as i32).checked_sub(self.r(d.rt) as i32) {
            Some(v) => self.w(d.rd, v as u32),
            None => self.raise(ExcCode::Ov),
        }
    }
    /// Subtract Unsigned Word (no trap).
    #[inline(always)]
    pub(super) fn subu(&mut self, d: Decoded) {
        self.w(d.rd, self.r(d.rs).wrapping_sub(self.r(d.rt)));
    }
    /// And.
    #[inline(always)]
    pub(super) fn and(&mut self, d: Decoded) {
        self.w(d.rd, self.r(d.rs) & self.r(d.rt));
    }
    /// Or.
    #[inline(always)]
    pub(super) fn or(&mut self, d: Decoded) {
        self.w(d.rd, self.r(d.rs) | self.r(d.rt));
    }
    /// Exclusive Or.
    #[inline(always)]
    pub(super) fn xor(&mut self, d: Decoded) {
        self.w(d.rd, self.r(d.rs) ^ self.r(d.rt));
    }
    /// Not Or.
    #[inline(always)]
    pub(super) fn nor(&mut self, d: Decoded) {
        self.w(d.rd, !(self.r(d.rs) | self.r(d.rt)));
    }
    /// Set on Less Than.
    #[inline(always)]
    pub(super) fn slt(&mut self, d: Decoded) {
        self.w(d.rd, u32::from((self.r(d.rs) as i32) < self.r(d.rt) as i32));
    }
    /// Set on Less Than Unsigned.
    #[inline(always)]
    pub(super) fn sltu(&mut self, d: Decoded) {
        self.w(d.rd, u32::from(self.r(d.rs) < self.r(d.rt)));
    }
    /// Add Immediate Word (traps on signed overflow).
    #[inline(always)]
    pub(super) fn addi(&mut self, d: Decoded) {
        match (self.r(d.rs) as i32).checked_add(d.imm as i32) {
            Some(v) => self.w(d.rt, v as u32),
            None => self.raise(ExcCode::Ov),
        }
    }
    /// Add Immediate Unsigned Word.
    #[inline(always)]
    pub(super) fn addiu(&mut self, d: Decoded) {
        self.w(d.rt, self.r(d.rs).wrapping_add(d.imm));
    }
    /// Set on Less Than Immediate.
    #[inline(always)]
    pub(super) fn slti(&mut self, d: Decoded) {
        self.w(d.rt, u32::from((self.r(d.rs) as i32) < d.imm as i32));
    }
    /// Set on Less Than Immediate Unsigned (the immediate is sign-extended,
    /// then compared unsigned).
    #[inline(always)]
    pub(super) fn sltiu(&mut self, d: Decoded) {
        self.w(d.rt, u32::from(self.r(d.rs) < d.imm));
    }
    /// And Immediate.
    #[inline(always)]
    pub(super) fn andi(&mut self, d: Decoded) {
        self.w(d.rt, self.r(d.rs) & d.imm);
    }
    /// Or Immediate.
    #[inline(always)]
    pub(super) fn ori(&mut self, d: Decoded) {
        self.w(d.rt, self.r(d.rs) | d.imm);
    }
    /// Exclusive Or Immediate.
    #[inline(always)]
    pub(super) fn xori(&mut self, d: Decoded) {
        self.w(d.rt, self.r(d.rs) ^ d.imm);
    }
    /// Load Upper Immediate.
    #[inline(always)]
    pub(super) fn lui(&mut self, d: Decoded) {
        self.w(d.rt, d.imm);
    }
    /// Count Leading Zeros in Word.
    #[inline(always)]
    pub(super) fn clz(&mut self, d: Decoded) {
        self.w(d.rd, self.r(d.rs).leading_zeros());
    }
    /// Count Leading Ones in Word.
    #[inline(always)]
    pub(super) fn clo(&mut self, d: Decoded) {
        self.w(d.rd, self.r(d.rs).leading_ones());
    }
    /// Extract Bit Field.
    #[inline(always)]
    pub(super) fn ext(&mut self, d: Decoded) {
        let (pos, size) = (d.imm & 31, d.imm >> 8);
        let field = (u64::from(self.r(d.rs)) >> pos) & ((1u64 << size) - 1);
        self.w(d.rt, field as u32);
    }
    /// Insert Bit Field. An encoding with `msb < lsb` is UNPREDICTABLE in
    /// the architecture; here it leaves `rt` unchanged.
    #[inline(always)]
    pub(super) fn ins(&mut self, d: Decoded) {
        let (pos, size) = (d.imm & 31, d.imm >> 8);
        if size == 0 || pos + size > 32 {
            return;
        }
        let mask = (((1u64 << size) - 1) << pos) as u32;
        let v = (self.r(d.rt) & !mask) | ((self.r(d.rs) << pos) & mask);
        self.w(d.rt, v);
    }
    /// Word Swap Bytes Within Halfwords.
    #[inline(always)]
    pub(super) fn wsbh(&mut self, d: Decoded) {
        let x = self.r(d.rt);
        self.w(d.rd, ((x & 0x00ff_00ff) << 8) | ((x >> 8) & 0x00ff_00ff));
    }
    /// Sign-Extend Byte.
    #[inline(always)]
    pub(super) fn seb(&mut self, d: Decoded) {
        self.w(d.rd, self.r(d.rt) as i8 as i32 as u32);
    }
    /// Sign-Extend Halfword.
    #[inline(always)]
    pub(super) fn seh(&mut self, d: Decoded) {
        self.w(d.rd, self.r(d.rt) as i16 as i32 as u32);
    }
}
