//! Exact sequential coding of one channel group with the integer context model.

use cvq_bitstream::coder::{SymbolDecoder, SymbolEncoder};

use crate::EntropyError;
use crate::int_context3d::{GroupState, IntContextModel3d, check_symbols};

/// Encodes the symbols of one group (`c·h·w` values `< L`, raster order
/// `(c, y, x)`) into a range-coder payload.
///
/// # Errors
///
/// [`EntropyError::TooLarge`], [`EntropyError::LengthMismatch`],
/// [`EntropyError::SymbolOutOfRange`].
pub fn encode_group(
    model: &IntContextModel3d,
    symbols: &[usize],
    c: usize,
    h: usize,
    w: usize,
) -> Result<Vec<u8>, EntropyError> {
    let mut state = GroupState::new(model, c, h, w)?;
    check_symbols(model, symbols, state.positions)?;
    let mut enc = SymbolEncoder::new();
    for (p, &s) in symbols.iter().enumerate() {
        enc.encode(s, state.cdf_at(p)?)?;
        state.set_symbol(p, s);
    }
    Ok(enc.finish())
}

/// Decodes the `c·h·w` symbols of one group from `payload` (the inverse of
/// [`encode_group`]). Never panics on corrupt payloads: those give an error or
/// some symbols (integrity is the container's job).
///
/// # Errors
///
/// [`EntropyError::TooLarge`], or [`EntropyError::Coder`] (invalid data, or
/// bytes left unread after the last symbol).
pub fn decode_group(
    model: &IntContextModel3d,
    payload: &[u8],
    c: usize,
    h: usize,
    w: usize,
) -> Result<Vec<usize>, EntropyError> {
    let mut state = GroupState::new(model, c, h, w)?;
    let mut dec = SymbolDecoder::new(payload);
    let mut out = Vec::with_capacity(state.positions);
    for p in 0..state.positions {
        let s = dec.decode(state.cdf_at(p)?)?;
        state.set_symbol(p, s);
        out.push(s);
    }
    dec.finish()?;
    Ok(out)
}

/// Ideal code length in bits, `Σ −log2(freq(s_p) / 2^16)`, of the group under the
/// integer model (the real payload is this plus a few bytes of coder overhead).
///
/// # Errors
///
/// As [`encode_group`].
pub fn estimate_bits(
    model: &IntContextModel3d,
    symbols: &[usize],
    c: usize,
    h: usize,
    w: usize,
) -> Result<f64, EntropyError> {
    let mut state = GroupState::new(model, c, h, w)?;
    check_symbols(model, symbols, state.positions)?;
    let mut bits = 0.0;
    for (p, &s) in symbols.iter().enumerate() {
        let freq = state.cdf_at(p)?.frequency(s).unwrap_or(1);
        bits += 16.0 - libm::log2(f64::from(freq));
        state.set_symbol(p, s);
    }
    Ok(bits)
}
