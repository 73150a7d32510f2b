//! Validated channel permutation and its bit-packed representation.

use super::FormatError;

/// A validated permutation of the latent channels `0..C`.
///
/// Meaning: `as_slice()[i]` is the index of the model's latent channel that
/// is stored at position `i` of the stored channel order. Groups take
/// consecutive stored positions: group 0 holds stored channels
/// `0..c_0`, group 1 holds `c_0..c_0 + c_1`, and so on (most important
/// first). [`Permutation::inverse`] maps model channels to stored positions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Permutation(Vec<u32>);

impl Permutation {
    /// The identity permutation of `0..len` (stored in the file as a single
    /// flag bit).
    pub fn identity(len: u32) -> Self {
        Self((0..len).collect())
    }

    /// Validates that `order` is a permutation of `0..order.len()`.
    ///
    /// # Errors
    ///
    /// [`FormatError::InvalidPermutation`] naming the first entry that is out
    /// of range or repeats an earlier one.
    pub fn new(order: Vec<u32>) -> Result<Self, FormatError> {
        let n = order.len();
        let mut seen = vec![false; n];
        for (index, &value) in order.iter().enumerate() {
            let slot = usize::try_from(value)
                .ok()
                .and_then(|v| seen.get_mut(v))
                .filter(|s| !**s);
            match slot {
                Some(s) => *s = true,
                None => {
                    return Err(FormatError::InvalidPermutation {
                        index,
                        value: u64::from(value),
                    });
                }
            }
        }
        Ok(Self(order))
    }

    /// Number of channels `C`.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// `true` for the permutation of zero channels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The stored-position → model-channel table.
    pub fn as_slice(&self) -> &[u32] {
        &self.0
    }

    /// Consumes the permutation, returning the table.
    pub fn into_inner(self) -> Vec<u32> {
        self.0
    }

    /// `true` if this is the identity (`as_slice()[i] == i` for all `i`).
    pub fn is_identity(&self) -> bool {
        self.0
            .iter()
            .enumerate()
            .all(|(i, &v)| usize::try_from(v).is_ok_and(|v| v == i))
    }

    /// The inverse permutation (model channel → stored position).
    pub fn inverse(&self) -> Self {
        let mut inv = vec![0u32; self.0.len()];
        for (pos, &ch) in self.0.iter().enumerate() {
            // Valid by construction: `ch < len` and `pos < len <= 2^32`.
            if let (Some(slot), Ok(pos)) = (inv.get_mut(ch as usize), u32::try_from(pos)) {
                *slot = pos;
            }
        }
        Self(inv)
    }
}

/// Bits per packed entry for a permutation of `channels` entries:
/// `ceil(log2(channels))` (0 for `channels <= 1`).
pub(crate) fn packed_bits(channels: u64) -> u32 {
    if channels <= 1 {
        0
    } else {
        64 - (channels - 1).leading_zeros()
    }
}

/// Byte length of the packed representation: `ceil(channels * bits / 8)`.
pub(crate) fn packed_len(channels: u64) -> Option<u64> {
    channels
        .checked_mul(u64::from(packed_bits(channels)))
        .map(|b| b.div_ceil(8))
}

/// Appends the LSB-first bit-packed entries to `out`.
pub(crate) fn pack(perm: &Permutation, out: &mut Vec<u8>) {
    let bits = packed_bits(perm.len() as u64);
    let mut acc: u64 = 0;
    let mut filled: u32 = 0;
    for &v in perm.as_slice() {
        acc |= u64::from(v) << filled;
        filled += bits;
        while filled >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            filled -= 8;
        }
    }
    if filled > 0 {
        out.push(acc as u8);
    }
}

/// Unpacks `channels` entries of [`packed_bits`] bits each from `bytes`
/// (which must be exactly [`packed_len`] long; the caller checked the
/// length and the channel limit). The values are *not* validated as a
/// permutation here, but non-zero padding bits are rejected.
pub(crate) fn unpack(bytes: &[u8], channels: usize) -> Result<Vec<u32>, FormatError> {
    let bits = packed_bits(channels as u64);
    let mask: u64 = (1u64 << bits) - 1;
    let mut out = Vec::with_capacity(channels);
    let mut acc: u64 = 0;
    let mut filled: u32 = 0;
    let mut iter = bytes.iter();
    for _ in 0..channels {
        while filled < bits {
            let byte = iter.next().copied().unwrap_or(0);
            acc |= u64::from(byte) << filled;
            filled += 8;
        }
        out.push((acc & mask) as u32);
        acc >>= bits;
        filled -= bits;
    }
    if acc != 0 || iter.next().is_some() {
        return Err(FormatError::InvalidPermutation {
            index: channels,
            value: acc,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert!(Permutation::new(vec![]).is_ok());
        assert!(Permutation::new(vec![0]).is_ok());
        assert!(Permutation::new(vec![2, 0, 1]).is_ok());
        assert_eq!(
            Permutation::new(vec![0, 0]),
            Err(FormatError::InvalidPermutation { index: 1, value: 0 })
        );
        assert_eq!(
            Permutation::new(vec![0, 2]),
            Err(FormatError::InvalidPermutation { index: 1, value: 2 })
        );
        assert_eq!(
            Permutation::new(vec![u32::MAX]),
            Err(FormatError::InvalidPermutation {
                index: 0,
                value: u64::from(u32::MAX)
            })
        );
    }

    #[test]
    fn identity_and_inverse() {
        let p = Permutation::new(vec![2, 0, 3, 1]).unwrap();
        assert!(!p.is_identity());
        let inv = p.inverse();
        assert_eq!(inv.as_slice(), &[1, 3, 0, 2]);
        assert_eq!(inv.inverse(), p);
        assert!(Permutation::identity(5).is_identity());
    }

    #[test]
    fn packing_roundtrip() {
        for c in [1u32, 2, 3, 7, 8, 9, 32, 33, 100, 1024, 1025] {
            let order: Vec<u32> = (0..c).map(|i| (i * 7 + 3) % c).collect();
            // (7, c) may share factors; fall back to a reversal then.
            let perm = Permutation::new(order)
                .unwrap_or_else(|_| Permutation::new((0..c).rev().collect()).unwrap());
            let mut buf = Vec::new();
            pack(&perm, &mut buf);
            assert_eq!(buf.len() as u64, packed_len(u64::from(c)).unwrap());
            assert_eq!(unpack(&buf, c as usize).unwrap(), perm.as_slice());
        }
        assert_eq!(packed_len(32), Some(20));
        assert_eq!(packed_len(1), Some(0));
    }

    #[test]
    fn nonzero_padding_rejected() {
        // 3 entries of 2 bits = 6 bits; set a padding bit.
        assert!(unpack(&[0b0100_1001], 3).is_err());
        assert_eq!(unpack(&[0b0000_1001], 3).unwrap(), vec![1, 2, 0]);
    }
}
