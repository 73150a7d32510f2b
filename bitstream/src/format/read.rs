//! Hardened reader: [`read_file`] and [`read_prefix`].

use super::permutation::{packed_len, unpack};
use super::{
    EntropyModelKind, FLAG_IDENTITY_PERMUTATION, FORMAT_VERSION, FileHeader, FormatError,
    GroupHeader, LimitKind, Limits, MAGIC, ModelId, Permutation,
};

/// Minimum encoded size of one group entry: levels (1) + channels varint (1)
/// + payload length varint (1) + CRC32 (4).
const MIN_GROUP_ENTRY_LEN: u64 = 7;

/// Location and checksum of one group payload inside a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PayloadInfo {
    /// Byte offset of the payload from the start of the file.
    pub offset: usize,
    /// Payload length in bytes.
    pub len: usize,
    /// CRC32 (IEEE, as computed by `crc32fast`) of the payload.
    pub crc32: u32,
}

impl PayloadInfo {
    /// Offset one past the payload's last byte.
    pub fn end(&self) -> usize {
        // Cannot overflow: the reader checked `end <= file length`.
        self.offset.saturating_add(self.len)
    }
}

/// A complete, validated `.cvq` file (payloads borrowed from the input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CvqFile<'a> {
    /// The parsed header.
    pub header: FileHeader,
    /// Length of the header in bytes (including its CRC32); the first
    /// payload starts here.
    pub header_len: usize,
    /// Payload bytes of every group, in stored order; CRC-checked.
    pub payloads: Vec<&'a [u8]>,
}

/// A file prefix whose header is complete: the groups whose payloads are
/// fully present (and CRC-checked) are available for progressive decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialFile<'a> {
    /// The parsed header.
    pub header: FileHeader,
    /// Length of the header in bytes (including its CRC32).
    pub header_len: usize,
    /// Length of the complete file in bytes according to the header.
    pub file_len: usize,
    /// Location and CRC of every group's payload (all groups, complete or
    /// not).
    pub payload_info: Vec<PayloadInfo>,
    /// Payloads of the leading complete groups, in stored order: group `i`
    /// is complete iff `i < complete.len()`. Groups after the first
    /// incomplete one are missing.
    pub complete: Vec<&'a [u8]>,
}

impl PartialFile<'_> {
    /// Number of leading groups whose payload is complete.
    pub fn complete_groups(&self) -> usize {
        self.complete.len()
    }

    /// `true` if every group is complete (the prefix is the whole file).
    pub fn is_complete(&self) -> bool {
        self.complete.len() == self.header.groups.len()
    }

    /// Number of bytes (from the start of the file) needed to complete group
    /// `group`, or `None` if there is no such group.
    pub fn bytes_needed_for_group(&self, group: usize) -> Option<usize> {
        self.payload_info.get(group).map(PayloadInfo::end)
    }
}

/// Parses and validates a complete `.cvq` file.
///
/// Checks, in this order: magic, version, reserved flags, every size against
/// `limits` and against the input length (before allocating), the header
/// CRC32, the semantic constraints of [`FileHeader::validate`] (dimensions,
/// UTF-8 name, known entropy model, valid permutation, levels, channel sums),
/// the total length (no truncation, no trailing bytes), and every payload
/// CRC32.
///
/// # Errors
///
/// A [`FormatError`] describing the first problem found. Never panics.
pub fn read_file<'a>(bytes: &'a [u8], limits: &Limits) -> Result<CvqFile<'a>, FormatError> {
    let parsed = parse_header(bytes, limits)?;
    if bytes.len() < parsed.file_len {
        return Err(FormatError::Truncated {
            available: bytes.len(),
            needed: parsed.file_len as u64,
        });
    }
    if bytes.len() > parsed.file_len {
        return Err(FormatError::TrailingBytes {
            expected: parsed.file_len,
            actual: bytes.len(),
        });
    }
    let mut payloads = Vec::with_capacity(parsed.payload_info.len());
    for (group, info) in parsed.payload_info.iter().enumerate() {
        payloads.push(checked_payload(bytes, group, info)?);
    }
    Ok(CvqFile {
        header: parsed.header,
        header_len: parsed.header_len,
        payloads,
    })
}

/// Parses a prefix of a `.cvq` file (e.g. the bytes received so far).
///
/// The header must be complete; the leading groups whose payloads are fully
/// present are CRC-checked and returned in [`PartialFile::complete`].
/// Passing the whole file is allowed (then [`PartialFile::is_complete`]).
///
/// # Errors
///
/// * [`FormatError::Truncated`] if the header is incomplete (`needed` is a
///   lower bound on the bytes required; retry when that many are available);
///   a prefix that already contradicts the magic gives
///   [`FormatError::BadMagic`];
/// * [`FormatError::PayloadCrcMismatch`] if a complete payload is corrupt;
/// * [`FormatError::TrailingBytes`] if `bytes` is longer than the file;
/// * any header error of [`read_file`].
pub fn read_prefix<'a>(bytes: &'a [u8], limits: &Limits) -> Result<PartialFile<'a>, FormatError> {
    let parsed = parse_header(bytes, limits)?;
    if bytes.len() > parsed.file_len {
        return Err(FormatError::TrailingBytes {
            expected: parsed.file_len,
            actual: bytes.len(),
        });
    }
    let mut complete = Vec::new();
    for (group, info) in parsed.payload_info.iter().enumerate() {
        if info.end() > bytes.len() {
            break;
        }
        complete.push(checked_payload(bytes, group, info)?);
    }
    Ok(PartialFile {
        header: parsed.header,
        header_len: parsed.header_len,
        file_len: parsed.file_len,
        payload_info: parsed.payload_info,
        complete,
    })
}

fn checked_payload<'a>(
    bytes: &'a [u8],
    group: usize,
    info: &PayloadInfo,
) -> Result<&'a [u8], FormatError> {
    let payload = bytes
        .get(info.offset..info.end())
        .ok_or(FormatError::Truncated {
            available: bytes.len(),
            needed: info.end() as u64,
        })?;
    let computed = crc32fast::hash(payload);
    if computed != info.crc32 {
        return Err(FormatError::PayloadCrcMismatch {
            group,
            stored: info.crc32,
            computed,
        });
    }
    Ok(payload)
}

/// Result of [`parse_header`].
struct ParsedHeader {
    header: FileHeader,
    header_len: usize,
    file_len: usize,
    payload_info: Vec<PayloadInfo>,
}

/// Bounds-checked forward reader over the input.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn truncated(&self, extra: u64) -> FormatError {
        FormatError::Truncated {
            available: self.bytes.len(),
            needed: (self.pos as u64).saturating_add(extra),
        }
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], FormatError> {
        let slice = usize::try_from(n)
            .ok()
            .and_then(|n| Some((n, self.pos.checked_add(n)?)))
            .and_then(|(_, end)| self.bytes.get(self.pos..end));
        match slice {
            Some(s) => {
                self.pos += s.len();
                Ok(s)
            }
            None => Err(self.truncated(n)),
        }
    }

    fn u8(&mut self) -> Result<u8, FormatError> {
        match self.bytes.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(self.truncated(1)),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], FormatError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N as u64)?);
        Ok(out)
    }

    fn u32_le(&mut self) -> Result<u32, FormatError> {
        self.array::<4>().map(u32::from_le_bytes)
    }

    /// Unsigned LEB128, at most 10 bytes, minimal encoding required.
    fn varint(&mut self) -> Result<u64, FormatError> {
        let offset = self.pos;
        let mut value: u64 = 0;
        for i in 0..10u32 {
            let byte = self.u8()?;
            let low = u64::from(byte & 0x7f);
            let shift = 7 * i;
            // The 10th byte may only contribute the single top bit.
            if i == 9 && low > 1 {
                return Err(FormatError::InvalidVarint { offset });
            }
            value |= low << shift;
            if byte & 0x80 == 0 {
                // Overlong: a final 0x00 after at least one byte.
                if byte == 0 && i > 0 {
                    return Err(FormatError::InvalidVarint { offset });
                }
                return Ok(value);
            }
        }
        Err(FormatError::InvalidVarint { offset })
    }
}

fn check_limit(limit: LimitKind, value: u64, max: u64) -> Result<(), FormatError> {
    if value > max {
        Err(FormatError::LimitExceeded { limit, value, max })
    } else {
        Ok(())
    }
}

/// Converts a value already checked against a `u32` limit.
fn to_u32(limit: LimitKind, value: u64) -> Result<u32, FormatError> {
    u32::try_from(value).map_err(|_| FormatError::LimitExceeded {
        limit,
        value,
        max: u64::from(u32::MAX),
    })
}

/// Converts a byte count to `usize` (only fails on targets whose address
/// space is smaller than the configured limits).
fn to_usize(limit: LimitKind, value: u64) -> Result<usize, FormatError> {
    usize::try_from(value).map_err(|_| FormatError::LimitExceeded {
        limit,
        value,
        max: usize::MAX as u64,
    })
}

fn parse_header(bytes: &[u8], limits: &Limits) -> Result<ParsedHeader, FormatError> {
    // Magic: reject a contradicting prefix early, even if it is short.
    let have = bytes.len().min(MAGIC.len());
    if bytes.get(..have) != MAGIC.get(..have) {
        return Err(FormatError::BadMagic);
    }
    let mut cur = Cursor { bytes, pos: 0 };
    cur.take(MAGIC.len() as u64)?;

    let version = cur.u8()?;
    if version != FORMAT_VERSION {
        return Err(FormatError::UnsupportedVersion {
            version,
            supported: FORMAT_VERSION,
        });
    }
    let flags = cur.u8()?;
    if flags & !FLAG_IDENTITY_PERMUTATION != 0 {
        return Err(FormatError::ReservedFlags { flags });
    }
    let identity = flags & FLAG_IDENTITY_PERMUTATION != 0;

    let width = cur.varint()?;
    check_limit(LimitKind::Width, width, u64::from(limits.max_width))?;
    let width = to_u32(LimitKind::Width, width)?;
    let height = cur.varint()?;
    check_limit(LimitKind::Height, height, u64::from(limits.max_height))?;
    let height = to_u32(LimitKind::Height, height)?;
    // Both factors are < 2^32, so the product cannot overflow.
    let pixels = u64::from(width) * u64::from(height);
    check_limit(LimitKind::Pixels, pixels, limits.max_pixels)?;

    let quality = cur.u8()?;
    let entropy_model_byte = cur.u8()?;

    let name_len = cur.u8()?;
    check_limit(
        LimitKind::ModelNameLen,
        u64::from(name_len),
        limits.max_model_name_len as u64,
    )?;
    let name_bytes = cur.take(u64::from(name_len))?;
    let hash = cur.array::<8>()?;

    let channels = cur.varint()?;
    check_limit(
        LimitKind::Channels,
        channels,
        u64::from(limits.max_channels),
    )?;
    let channels_usize = to_usize(LimitKind::Channels, channels)?;
    let order = if identity {
        None
    } else {
        let len = packed_len(channels).ok_or(FormatError::LimitExceeded {
            limit: LimitKind::Channels,
            value: channels,
            max: u64::from(limits.max_channels),
        })?;
        // `take` checks the input length before `unpack` allocates.
        let packed = cur.take(len)?;
        Some(unpack(packed, channels_usize)?)
    };

    let num_groups = cur.varint()?;
    check_limit(LimitKind::Groups, num_groups, u64::from(limits.max_groups))?;
    // Every group entry plus the header CRC must still fit in the input
    // before the group table is allocated.
    let min_rest = num_groups
        .saturating_mul(MIN_GROUP_ENTRY_LEN)
        .saturating_add(4);
    if (bytes.len().saturating_sub(cur.pos) as u64) < min_rest {
        return Err(cur.truncated(min_rest));
    }
    let num_groups = to_usize(LimitKind::Groups, num_groups)?;
    let mut groups = Vec::with_capacity(num_groups);
    let mut lens_crcs = Vec::with_capacity(num_groups);
    for _ in 0..num_groups {
        let levels = cur.u8()?;
        let group_channels = cur.varint()?;
        check_limit(
            LimitKind::GroupChannels,
            group_channels,
            u64::from(limits.max_channels),
        )?;
        let group_channels = to_u32(LimitKind::GroupChannels, group_channels)?;
        let payload_len = cur.varint()?;
        check_limit(
            LimitKind::GroupPayloadBytes,
            payload_len,
            limits.max_group_payload_bytes,
        )?;
        let crc = cur.u32_le()?;
        groups.push(GroupHeader {
            levels,
            channels: group_channels,
        });
        lens_crcs.push((payload_len, crc));
    }

    let crc_offset = cur.pos;
    let stored = cur.u32_le()?;
    let computed = crc32fast::hash(bytes.get(..crc_offset).unwrap_or(&[]));
    if stored != computed {
        return Err(FormatError::HeaderCrcMismatch {
            offset: crc_offset,
            stored,
            computed,
        });
    }
    let header_len = cur.pos;

    // Semantic validation (the header is intact, so these are real errors of
    // the writer, not transmission damage).
    let entropy_model = EntropyModelKind::try_from(entropy_model_byte)?;
    let name = core::str::from_utf8(name_bytes)
        .map_err(|_| FormatError::InvalidModelName)?
        .to_owned();
    let permutation = match order {
        Some(order) => Permutation::new(order)?,
        None => Permutation::identity(to_u32(LimitKind::Channels, channels)?),
    };
    let header = FileHeader {
        width,
        height,
        model: ModelId { name, hash },
        quality,
        entropy_model,
        permutation,
        groups,
    };
    header.validate()?;

    // Payload layout and total length.
    let mut offset = header_len as u64;
    let mut payload_info = Vec::with_capacity(num_groups);
    for (len, crc32) in lens_crcs {
        let end = offset.saturating_add(len);
        check_limit(LimitKind::FileBytes, end, limits.max_file_bytes)?;
        payload_info.push(PayloadInfo {
            offset: to_usize(LimitKind::FileBytes, offset)?,
            len: to_usize(LimitKind::GroupPayloadBytes, len)?,
            crc32,
        });
        offset = end;
    }
    let file_len = to_usize(LimitKind::FileBytes, offset)?;
    check_limit(LimitKind::FileBytes, offset, limits.max_file_bytes)?;

    Ok(ParsedHeader {
        header,
        header_len,
        file_len,
        payload_info,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(bytes: &[u8]) -> Result<u64, FormatError> {
        let mut c = Cursor { bytes, pos: 0 };
        let v = c.varint()?;
        assert_eq!(c.pos, bytes.len(), "varint must consume its bytes");
        Ok(v)
    }

    #[test]
    fn varints() {
        assert_eq!(varint(&[0]), Ok(0));
        assert_eq!(varint(&[0x7f]), Ok(127));
        assert_eq!(varint(&[0x80, 0x01]), Ok(128));
        assert_eq!(varint(&[0x80, 0x06]), Ok(768));
        assert_eq!(
            varint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
            Ok(u64::MAX)
        );
        // Overflow past 64 bits.
        assert_eq!(
            varint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]),
            Err(FormatError::InvalidVarint { offset: 0 })
        );
        // Overlong encodings.
        assert_eq!(
            varint(&[0x80, 0x00]),
            Err(FormatError::InvalidVarint { offset: 0 })
        );
        assert_eq!(
            varint(&[0x81, 0x80, 0x00]),
            Err(FormatError::InvalidVarint { offset: 0 })
        );
        // Eleven bytes.
        assert_eq!(
            varint(&[0x80; 11]),
            Err(FormatError::InvalidVarint { offset: 0 })
        );
        // Truncated.
        let mut c = Cursor {
            bytes: &[0x80, 0x80],
            pos: 0,
        };
        assert_eq!(
            c.varint(),
            Err(FormatError::Truncated {
                available: 2,
                needed: 3
            })
        );
    }
}
