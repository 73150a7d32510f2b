//! `exp`, `tanh` and `sigmoid` for `f32` from additions, multiplications, a division and
//! bit operations only (cvq patch, see `VENDORED.md`): loops over them vectorise, where
//! `f32::exp` / `f32::tanh` are scalar library calls (a quarter of a recurrent-codec
//! training step on the CPU), and every target computes the same bits (no `mul_add`:
//! Rust never fuses). Relative error: `exp` below 4e-7, `sigmoid` below 1e-6, `tanh`
//! below 2e-6 (tested against `f64` in the workspace's `trainer/tests/flex_math.rs`).

/// `exp(x)`: `x = n·ln 2 + r` with `|r| ≤ ln 2 / 2` (Cody–Waite), `exp(r)` by its Taylor
/// polynomial to degree 6, times `2ⁿ` built in the exponent bits. `x` is clamped to
/// `[−87, 88]`, the normal range (so `exp` never returns 0 or infinity).
#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    const SHIFT: f32 = 12_582_912.0; // 1.5 · 2²³: adding it rounds to an integer
    const LN2_HI: f32 = 0.693_145_75; // ln 2 in 24 bits, exact in products by n < 2⁸
    const LN2_LO: f32 = 1.428_606_8e-6;
    let x = x.clamp(-87.0, 88.0);
    let t = x * core::f32::consts::LOG2_E + SHIFT;
    let n = t - SHIFT;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // n (an integer in −126..=127) sits in the low mantissa bits of t
    let n = (t.to_bits() as i32).wrapping_sub(SHIFT.to_bits() as i32);
    p * f32::from_bits(((n + 127) as u32) << 23)
}

/// `tanh(x)`: `(1 − e) / (1 + e)` with `e = exp(−2|x|)`, below `|x|` = 0.25 its odd
/// Taylor polynomial (no cancellation near 0), with the sign of `x`.
#[inline(always)]
pub(crate) fn tanh_f32(x: f32) -> f32 {
    let a = f32::from_bits(x.to_bits() & 0x7fff_ffff).min(9.0); // tanh(9) rounds to 1
    let e = exp_f32(-2.0 * a);
    let large = (1.0 - e) / (1.0 + e);
    let a2 = a * a;
    let small = a
        * (1.0
            + a2 * (-1.0 / 3.0 + a2 * (2.0 / 15.0 + a2 * (-17.0 / 315.0 + a2 * (62.0 / 2835.0)))));
    let t = if a < 0.25 { small } else { large };
    f32::from_bits(t.to_bits() | (x.to_bits() & 0x8000_0000))
}

/// `sigmoid(x) = 1 / (1 + exp(−x))`.
#[inline(always)]
pub(crate) fn sigmoid_f32(x: f32) -> f32 {
    1.0 / (1.0 + exp_f32(-x))
}
