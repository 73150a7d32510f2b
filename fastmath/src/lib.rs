//! `exp`, `sigmoid` and `tanh` for `f32` from additions, multiplications, a division and
//! bit operations only. Two reasons to have them instead of `f32::exp` / `f32::tanh`:
//!
//! - **The same bits on every target.** `f32::exp` calls the platform's library, which
//!   differs between x86-64 and wasm32; these are plain IEEE arithmetic (no `mul_add`:
//!   Rust never fuses), so the recurrent codec's CPU decoder
//!   (`cvq_core::recurrent::cpu`) reconstructs the same pixels natively and in the
//!   browser.
//! - **Speed.** Loops over them vectorise, where the library calls are scalar: the gates of
//!   a recurrent decode spent a third of its time in `libm::expf`, and the gates of a
//!   recurrent training step a quarter in `expf` / `tanhf` / `expm1f` (the vendored
//!   burn-flex's patch 2 calls these).
//!
//! Accuracy (tested against `f64`): relative error below 4e-7 (`exp`), 1e-6 (`sigmoid`),
//! 2e-6 (`tanh`); `exp` clamps its input to `[−87, 88]`, the normal range, so it never
//! returns 0 or infinity.
//!
//! ```
//! let e = cvq_fastmath::exp(1.0);
//! assert!((e - core::f32::consts::E).abs() < 1e-6);
//! assert_eq!(cvq_fastmath::sigmoid(0.0), 0.5);
//! assert_eq!(cvq_fastmath::tanh(-20.0), -1.0);
//! ```
#![no_std]

/// `exp(x)`: `x = n·ln 2 + r` with `|r| ≤ ln 2 / 2` (Cody–Waite), `exp(r)` by its Taylor
/// polynomial to degree 6, times `2ⁿ` built in the exponent bits. `x` is clamped to
/// `[−87, 88]`.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
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

/// `sigmoid(x) = 1 / (1 + exp(−x))`.
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// `tanh(x)`: `(1 − e) / (1 + e)` with `e = exp(−2|x|)`, below `|x|` = 0.25 its odd
/// Taylor polynomial (no cancellation near 0), with the sign of `x`.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let a = f32::from_bits(x.to_bits() & 0x7fff_ffff).min(9.0); // tanh(9) rounds to 1
    let e = exp(-2.0 * a);
    let large = (1.0 - e) / (1.0 + e);
    let a2 = a * a;
    let small = a
        * (1.0
            + a2 * (-1.0 / 3.0 + a2 * (2.0 / 15.0 + a2 * (-17.0 / 315.0 + a2 * (62.0 / 2835.0)))));
    let t = if a < 0.25 { small } else { large };
    f32::from_bits(t.to_bits() | (x.to_bits() & 0x8000_0000))
}

/// `±10⁻ᵏ` for k = 1…30: the inputs near 0 that both tests add to their grids.
#[cfg(test)]
fn small_of_both_signs() -> impl Iterator<Item = f32> {
    (1..=30).flat_map(|k| {
        let v = libm::powf(10.0, -(k as f32));
        [v, -v]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every 1e-4 from −100 to 100, and small values down to 1e-30 of both signs.
    fn inputs() -> impl Iterator<Item = f32> {
        (-1_000_000..=1_000_000)
            .map(|i| i as f32 * 1e-4)
            .chain(small_of_both_signs())
    }

    /// The largest relative error of `f` against `reference` in f64 (absolute where the
    /// value is below `floor`).
    fn worst(f: impl Fn(f32) -> f32, reference: impl Fn(f64) -> f64, floor: f64) -> (f64, f32) {
        let mut worst = (0f64, 0f32);
        for x in inputs() {
            let r = reference(f64::from(x));
            let err = (f64::from(f(x)) - r).abs() / r.abs().max(floor);
            if err > worst.0 {
                worst = (err, x);
            }
        }
        worst
    }

    #[test]
    fn exp_sigmoid_and_tanh_are_within_a_few_ulp_of_f64() {
        // exp's input is clamped to [−87, 88]: compare there.
        let e = worst(
            |x| exp(x.clamp(-87.0, 88.0)),
            |x| libm::exp(x.clamp(-87.0, 88.0)),
            0.0,
        );
        assert!(e.0 < 4e-7, "exp: {e:?}");
        let s = worst(sigmoid, |x| 1.0 / (1.0 + libm::exp(-x)), 1e-30);
        assert!(s.0 < 1e-6, "sigmoid: {s:?}");
        let t = worst(tanh, libm::tanh, 1e-30);
        assert!(t.0 < 2e-6, "tanh: {t:?}");
    }

    #[test]
    fn the_ends_saturate_and_stay_finite() {
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(-1e30) > 0.0 && exp(1e30).is_finite());
        assert_eq!((tanh(100.0), tanh(-100.0), tanh(0.0)), (1.0, -1.0, 0.0));
        assert!(tanh(-0.0).is_sign_negative());
        assert_eq!(sigmoid(200.0), 1.0);
        assert!(sigmoid(-200.0) > 0.0 && sigmoid(-200.0) < 1e-37);
    }
}

/// The functions' bits over a range, as one digest: the same on every target (this test
/// also runs on wasm32 in CI, `.ci/run` "cross-target").
#[cfg(test)]
mod cross_target {
    use super::*;

    /// FNV-1a over the bits of `exp`, `sigmoid` and `tanh` at every 1e-3 from −100 to 100
    /// and at 1e-30 … 1e-1 of both signs.
    fn digest() -> u64 {
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        let mut eat = |v: f32| {
            for b in v.to_bits().to_le_bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
            }
        };
        for x in (-100_000..=100_000)
            .map(|i| i as f32 * 1e-3)
            .chain(small_of_both_signs())
        {
            eat(exp(x));
            eat(sigmoid(x));
            eat(tanh(x));
        }
        h
    }

    #[test]
    fn the_bits_are_the_golden_ones() {
        assert_eq!(digest(), 0x13f8_9cda_eacb_5631, "digest {:#018x}", digest());
    }
}
