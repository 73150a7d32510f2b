//! Fuzz harness bodies, shared by the cargo-fuzz targets in `fuzz/` and the
//! regression test `tests/fuzz_regressions.rs`. Not part of the stable API.

use crate::coder::{IntCdf, SymbolDecoder, SymbolEncoder};
use crate::format::{FormatError, Limits, read_file, read_prefix, write_file};

/// `parse_header` target: runs [`read_file`] and [`read_prefix`] with default
/// limits on `data` (and on `data` with a repaired header CRC) and checks
/// their mutual consistency; a file that parses must re-serialise to the same
/// bytes.
pub fn parse_header(data: &[u8]) {
    check_parse(data);
    // The header CRC stops mutation-based fuzzing from reaching the semantic
    // checks behind it; also try the input with its header CRC repaired.
    if let Err(FormatError::HeaderCrcMismatch {
        offset, computed, ..
    }) = read_prefix(data, &Limits::default())
    {
        let mut fixed = data.to_vec();
        if let Some(field) = fixed.get_mut(offset..offset + 4) {
            field.copy_from_slice(&computed.to_le_bytes());
            assert!(!matches!(
                read_prefix(&fixed, &Limits::default()),
                Err(FormatError::HeaderCrcMismatch { .. })
            ));
            check_parse(&fixed);
        }
    }
}

fn check_parse(data: &[u8]) {
    let limits = Limits::default();
    let full = read_file(data, &limits);
    let prefix = read_prefix(data, &limits);
    match (&full, &prefix) {
        (Ok(file), Ok(partial)) => {
            assert!(partial.is_complete());
            assert_eq!(file.payloads, partial.complete);
            assert_eq!(file.header, partial.header);
            let rewritten = write_file(&file.header, &file.payloads).expect("re-serialise");
            assert_eq!(rewritten, data, "parsed file must re-serialise identically");
        }
        (Ok(_), Err(e)) => panic!("read_file succeeded but read_prefix failed: {e}"),
        (Err(FormatError::Truncated { .. }), Ok(partial)) => {
            assert!(!partial.is_complete());
        }
        (Err(_), _) => {}
    }
    if let Ok(partial) = prefix {
        assert!(partial.complete.len() <= partial.header.groups.len());
        assert_eq!(partial.payload_info.len(), partial.header.groups.len());
    }
}

/// `decode_symbols` target. Input layout:
///
/// * byte 0 (`b0`) and byte 1 (`b1`): alphabet size `n = 1 + b0` (up to
///   256) if bit 7 of `b1` is set, else `n = 1 + (b0 % 16)`; number of
///   weight vectors `k = 1 + (b1 & 0x3f)`; bit 6 of `b1` selects adaptive
///   mode (the model for each symbol is chosen by the previously decoded
///   symbol instead of round-robin);
/// * bytes 2..4: symbol count `N` (u16 LE, low 12 bits: `N <= 4095`);
/// * then `k * n` weights of 2 bytes each (LE, shifted left by the low 4 bits
///   of the first weight byte to reach skewed u32 values);
/// * the rest is the payload.
///
/// Decodes `N` symbols (never panicking), then re-encodes the decoded symbols
/// with the same models and checks that they decode back identically.
pub fn decode_symbols(data: &[u8]) {
    let [b0, b1, c0, c1, rest @ ..] = data else {
        return;
    };
    let n = if b1 & 0x80 == 0 {
        1 + usize::from(b0 % 16)
    } else {
        1 + usize::from(*b0)
    };
    let k = 1 + usize::from(b1 & 0x3f);
    let adaptive = b1 & 0x40 != 0;
    let count = usize::from(u16::from_le_bytes([*c0, *c1]) & 0x0fff);

    let mut models = Vec::with_capacity(k);
    let mut rest = rest;
    for _ in 0..k {
        let mut weights = Vec::with_capacity(n);
        for _ in 0..n {
            let (w, tail) = match rest {
                [a, b, tail @ ..] => {
                    let shift = u32::from(a & 0x0f);
                    (u32::from(u16::from_le_bytes([*a, *b])) << shift, tail)
                }
                _ => (0, rest),
            };
            rest = tail;
            weights.push(w);
        }
        let cdf = IntCdf::from_weights(&weights).expect("1 <= n <= 256");
        assert_eq!(cdf.num_symbols(), n);
        assert_eq!(cdf.cdf().last().copied(), Some(crate::coder::TOTAL));
        assert!(cdf.frequencies().all(|f| f >= 1));
        models.push(cdf);
    }
    let payload = rest;

    let pick = |i: usize, prev: usize| -> usize {
        if adaptive {
            prev % models.len()
        } else {
            i % models.len()
        }
    };

    let mut dec = SymbolDecoder::new(payload);
    let mut decoded = Vec::with_capacity(count);
    let mut prev = 0usize;
    for i in 0..count {
        let m = &models[pick(i, prev)];
        match dec.decode(m) {
            Ok(s) => {
                assert!(s < n);
                decoded.push(s);
                prev = s;
            }
            Err(_) => break,
        }
    }
    let _ = dec.finish();

    let mut enc = SymbolEncoder::new();
    let mut prev = 0usize;
    for (i, &s) in decoded.iter().enumerate() {
        enc.encode(s, &models[pick(i, prev)]).expect("in range");
        prev = s;
    }
    let bytes = enc.finish();
    let mut dec = SymbolDecoder::new(&bytes);
    let mut prev = 0usize;
    for (i, &s) in decoded.iter().enumerate() {
        let got = dec.decode(&models[pick(i, prev)]).expect("valid stream");
        assert_eq!(got, s);
        prev = s;
    }
    dec.finish().expect("all bytes consumed");
}
