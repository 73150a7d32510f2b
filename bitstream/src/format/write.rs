//! Writer: [`write_file`].

use super::permutation::pack;
use super::{FLAG_IDENTITY_PERMUTATION, FORMAT_VERSION, FileHeader, FormatError, MAGIC};

/// Serialises a complete `.cvq` file: the header (with payload lengths and
/// CRC32s computed from `payloads`) followed by the payloads in order.
///
/// `payloads[i]` is the entropy-coded payload of `header.groups[i]`; any
/// byte-slice-like type works (`&[&[u8]]`, `&[Vec<u8>]`, ...). An identity
/// permutation is stored as a flag (no table).
///
/// The writer checks the format constraints of [`FileHeader::validate`];
/// it does not apply [`Limits`](super::Limits) (readers may be configured
/// more strictly than the writer).
///
/// # Errors
///
/// [`FormatError::PayloadCountMismatch`] if `payloads.len() !=
/// header.groups.len()`, or any error of [`FileHeader::validate`].
pub fn write_file<P: AsRef<[u8]>>(
    header: &FileHeader,
    payloads: &[P],
) -> Result<Vec<u8>, FormatError> {
    header.validate()?;
    if payloads.len() != header.groups.len() {
        return Err(FormatError::PayloadCountMismatch {
            groups: header.groups.len(),
            payloads: payloads.len(),
        });
    }
    let total_payload: usize = payloads
        .iter()
        .fold(0usize, |acc, p| acc.saturating_add(p.as_ref().len()));

    let mut out = Vec::with_capacity(total_payload.saturating_add(128));
    out.extend_from_slice(&MAGIC);
    out.push(FORMAT_VERSION);
    let identity = header.permutation.is_identity();
    out.push(if identity {
        FLAG_IDENTITY_PERMUTATION
    } else {
        0
    });
    put_varint(&mut out, u64::from(header.width));
    put_varint(&mut out, u64::from(header.height));
    out.push(header.quality);
    out.push(header.entropy_model.as_u8());
    let name = header.model.name.as_bytes();
    // validate() guarantees name.len() <= 255.
    out.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(name);
    out.extend_from_slice(&header.model.hash);
    put_varint(&mut out, header.permutation.len() as u64);
    if !identity {
        pack(&header.permutation, &mut out);
    }
    put_varint(&mut out, header.groups.len() as u64);
    for (g, p) in header.groups.iter().zip(payloads) {
        let p = p.as_ref();
        out.push(g.levels);
        put_varint(&mut out, u64::from(g.channels));
        put_varint(&mut out, p.len() as u64);
        out.extend_from_slice(&crc32fast::hash(p).to_le_bytes());
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    for p in payloads {
        out.extend_from_slice(p.as_ref());
    }
    Ok(out)
}

/// Unsigned LEB128 (minimal encoding).
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_encoding() {
        let cases: &[(u64, &[u8])] = &[
            (0, &[0]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (768, &[0x80, 0x06]),
            (
                u64::MAX,
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ),
        ];
        for &(v, bytes) in cases {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out, bytes, "{v}");
        }
    }
}
