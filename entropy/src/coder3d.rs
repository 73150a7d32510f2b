//! Exact sequential coding of one channel group with the integer context model.

use cvq_bitstream::coder::{SymbolDecoder, SymbolEncoder};

use crate::EntropyError;
use crate::int_context3d::{IntContextModel3d, check_symbols};
use crate::symbol_bits;

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
    check_symbols(model, symbols, model.checked_positions(c, h, w)?)?;
    let mut enc = SymbolEncoder::new();
    model.code(c, h, w, |p, cdf| {
        enc.encode(symbols[p], cdf)?;
        Ok(symbols[p])
    })?;
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
    let mut dec = SymbolDecoder::new(payload);
    let out = model.code(c, h, w, |_, cdf| Ok(dec.decode(cdf)?))?;
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
    check_symbols(model, symbols, model.checked_positions(c, h, w)?)?;
    let mut bits = 0.0;
    model.code(c, h, w, |p, cdf| {
        bits += symbol_bits(cdf, symbols[p]);
        Ok(symbols[p])
    })?;
    Ok(bits)
}
