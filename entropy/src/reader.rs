//! Bounds-checked little-endian reader for the serialised models (never panics, never
//! allocates more than the input it was given).

use crate::EntropyError;

pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], EntropyError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or(EntropyError::Malformed("truncated"))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, EntropyError> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, EntropyError> {
        let s = self.take(2)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, EntropyError> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }

    pub(crate) fn i32s(&mut self, n: usize) -> Result<Vec<i32>, EntropyError> {
        Ok(self
            .take(n.checked_mul(4).ok_or(EntropyError::Malformed("length"))?)?
            .chunks_exact(4)
            .map(|s| i32::from_le_bytes([s[0], s[1], s[2], s[3]]))
            .collect())
    }

    pub(crate) fn i64s(&mut self, n: usize) -> Result<Vec<i64>, EntropyError> {
        Ok(self
            .take(n.checked_mul(8).ok_or(EntropyError::Malformed("length"))?)?
            .chunks_exact(8)
            .map(|s| i64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]))
            .collect())
    }

    pub(crate) fn i16s(&mut self, n: usize) -> Result<Vec<i16>, EntropyError> {
        Ok(self
            .take(n.checked_mul(2).ok_or(EntropyError::Malformed("length"))?)?
            .chunks_exact(2)
            .map(|s| i16::from_le_bytes([s[0], s[1]]))
            .collect())
    }

    /// A `u32`-length-prefixed byte block.
    pub(crate) fn block(&mut self) -> Result<&'a [u8], EntropyError> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    pub(crate) fn finished(&self) -> Result<(), EntropyError> {
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(EntropyError::Malformed("trailing bytes"))
        }
    }
}

/// Appends a `u32`-length-prefixed byte block.
pub(crate) fn write_block(out: &mut Vec<u8>, block: &[u8]) {
    out.extend_from_slice(&(block.len() as u32).to_le_bytes());
    out.extend_from_slice(block);
}
