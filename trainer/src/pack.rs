//! The data pack written by `cvq-train prepare`: training photos (optionally
//! downscaled) re-encoded as PNG in one file, so a GPU machine without a shared folder
//! gets the whole set in one copy (≤ 64 MiB per call there). Entries are PNG
//! (lossless) or, with a JPEG quality, JPEG (the 207 training photos at ≤ 768 px are
//! 164 MB as PNG, too much for one copy).
//!
//! Layout (little-endian): `b"CVQD"`, `u32` version (1), `u32` count, then per image:
//! `u16` name length, name (UTF-8), `u32` width, `u32` height, `u32` PNG length, PNG.

use std::path::Path;

use image::imageops::FilterType;

use crate::data::{DataError, Dataset};

const MAGIC: &[u8; 4] = b"CVQD";
const VERSION: u32 = 1;
/// Upper bound on entries, checked before allocating.
const MAX_ENTRIES: u32 = 1_000_000;

/// One packed image.
#[derive(Debug, Clone, PartialEq)]
pub struct PackEntry {
    /// Original file name.
    pub name: String,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// The image as PNG or JPEG.
    pub encoded: Vec<u8>,
}

/// Serialises entries.
pub fn write(entries: &[PackEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for e in entries {
        let name = e.name.as_bytes();
        out.extend_from_slice(&(name.len().min(u16::MAX as usize) as u16).to_le_bytes());
        out.extend_from_slice(&name[..name.len().min(u16::MAX as usize)]);
        out.extend_from_slice(&(e.width as u32).to_le_bytes());
        out.extend_from_slice(&(e.height as u32).to_le_bytes());
        out.extend_from_slice(&(e.encoded.len() as u32).to_le_bytes());
        out.extend_from_slice(&e.encoded);
    }
    out
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| format!("truncated at byte {}", self.pos))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
}

/// Parses a pack; every length is checked against the remaining bytes before use.
///
/// # Errors
///
/// A description of what is malformed.
pub fn parse(bytes: &[u8]) -> Result<Vec<PackEntry>, String> {
    let mut c = Cursor { bytes, pos: 0 };
    if c.take(4).map_err(|_| "too short".to_string())? != MAGIC {
        return Err("wrong magic (expected CVQD)".into());
    }
    let version = c.u32()?;
    if version != VERSION {
        return Err(format!("unsupported version {version}"));
    }
    let count = c.u32()?;
    if count > MAX_ENTRIES {
        return Err(format!("{count} entries exceed the limit {MAX_ENTRIES}"));
    }
    let mut entries = Vec::new();
    for _ in 0..count {
        let n = c.u16()? as usize;
        let name = String::from_utf8_lossy(c.take(n)?).into_owned();
        let width = c.u32()? as usize;
        let height = c.u32()? as usize;
        let len = c.u32()? as usize;
        let encoded = c.take(len)?.to_vec();
        entries.push(PackEntry {
            name,
            width,
            height,
            encoded,
        });
    }
    if c.pos != bytes.len() {
        return Err(format!("{} trailing bytes", bytes.len() - c.pos));
    }
    Ok(entries)
}

/// Packs every image of `data` (a folder) into `out`, downscaling so the longer side is
/// at most `max_side` (Lanczos3) when given, storing PNG, or JPEG of quality
/// `jpeg_quality` (1–100) when given. Returns (images, bytes written).
///
/// # Errors
///
/// Reading, encoding or writing fails.
pub fn prepare(
    data: &Path,
    out: &Path,
    max_side: Option<usize>,
    jpeg_quality: Option<u8>,
    progress: impl Fn(usize, usize),
) -> Result<(usize, usize), DataError> {
    let set = Dataset::open(data, 1)?;
    let mut entries = Vec::with_capacity(set.len());
    for i in 0..set.len() {
        progress(i, set.len());
        let img = set.image(i)?;
        let buf = image::RgbImage::from_raw(img.width as u32, img.height as u32, img.data.clone())
            .expect("buffer size checked by RgbImage");
        let buf = match max_side {
            Some(m) if img.width.max(img.height) > m => {
                let s = m as f64 / img.width.max(img.height) as f64;
                let (w, h) = (
                    ((img.width as f64 * s).round() as u32).max(1),
                    ((img.height as f64 * s).round() as u32).max(1),
                );
                image::imageops::resize(&buf, w, h, FilterType::Lanczos3)
            }
            _ => buf,
        };
        let mut encoded = Vec::new();
        let written = match jpeg_quality {
            Some(q) => {
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut encoded, q.clamp(1, 100))
                    .encode_image(&buf)
            }
            None => buf.write_to(
                &mut std::io::Cursor::new(&mut encoded),
                image::ImageFormat::Png,
            ),
        };
        written.map_err(|e| DataError::Image {
            path: set.names()[i].clone(),
            message: e.to_string(),
        })?;
        entries.push(PackEntry {
            name: set.names()[i].clone(),
            width: buf.width() as usize,
            height: buf.height() as usize,
            encoded,
        });
    }
    let bytes = write(&entries);
    std::fs::write(out, &bytes).map_err(|source| DataError::Io {
        path: out.display().to_string(),
        source,
    })?;
    Ok((entries.len(), bytes.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let entries = vec![PackEntry {
            name: "a.png".into(),
            width: 2,
            height: 1,
            encoded: vec![1, 2, 3],
        }];
        let bytes = write(&entries);
        assert_eq!(parse(&bytes).unwrap(), entries);
        for cut in 0..bytes.len() {
            assert!(parse(&bytes[..cut]).is_err(), "prefix {cut}");
        }
        let mut huge = bytes.clone();
        huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse(&huge).unwrap_err().contains("exceed"));
    }
}
