//! Integer logistic functions of the mixing model: probabilities in 12 bits
//! (`p / 4096`), log-odds in 1/256 units clamped to ±2047 (the lpaq1 convention).
//! Both are pure integer tables, so every target computes the same values.

/// Highest log-odds magnitude, in 1/256 units (≈ 8 nats: p ≈ 0.99966).
pub const MAX_LOGIT: i32 = 2047;

/// `4096 / (1 + e^(−d/256))` at `d = −2048, −1920, …, 2048` (33 knots, rounded).
const KNOTS: [i32; 33] = [
    1, 2, 3, 6, 10, 16, 27, 45, 73, 120, 194, 310, 488, 747, 1101, 1546, 2047, 2549, 2994, 3348,
    3607, 3785, 3901, 3975, 4024, 4050, 4068, 4079, 4085, 4089, 4092, 4093, 4094,
];

/// The probability (12 bits, `1..=4095`) of log-odds `d` (1/256 units), linear between
/// the knots.
pub const fn squash(d: i32) -> i32 {
    if d > MAX_LOGIT {
        return 4095;
    }
    if d < -MAX_LOGIT {
        return 1;
    }
    let w = d & 127;
    let i = ((d >> 7) + 16) as usize;
    let p = (KNOTS[i] * (128 - w) + KNOTS[i + 1] * w + 64) >> 7;
    if p < 1 { 1 } else { p }
}

/// The inverse of [`squash`] on 12-bit probabilities: the smallest `d` whose squash
/// reaches `p`.
const STRETCH: [i16; 4096] = {
    let mut t = [0i16; 4096];
    let mut next = 0usize;
    let mut d = -MAX_LOGIT;
    while d <= MAX_LOGIT {
        let v = squash(d) as usize;
        while next <= v {
            t[next] = d as i16;
            next += 1;
        }
        d += 1;
    }
    while next < 4096 {
        t[next] = MAX_LOGIT as i16;
        next += 1;
    }
    t
};

/// The log-odds (1/256 units, `±2047`) of a 12-bit probability `p` (`0..4096`).
pub fn stretch(p: u16) -> i32 {
    i32::from(STRETCH[usize::from(p & 4095)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squash_and_stretch_are_monotone_inverses() {
        assert_eq!(squash(0), 2047);
        assert_eq!((squash(-5000), squash(5000)), (1, 4095));
        let mut last = 0;
        for d in -MAX_LOGIT..=MAX_LOGIT {
            let p = squash(d);
            assert!(p >= last && (1..=4095).contains(&p));
            last = p;
        }
        for p in 1..4095u16 {
            let d = stretch(p);
            assert!(stretch(p + 1) >= d);
            // squash(stretch(p)) comes back to p where squash reaches p exactly.
            assert!((squash(d) - i32::from(p)).abs() <= 1 || squash(d) > i32::from(p));
        }
        assert_eq!(stretch(2047), 0);
    }
}
