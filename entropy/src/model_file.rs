//! The frozen model file (`.cvqm`): everything a decoder needs, with a hash that names
//! the model inside every `.cvq` file it writes.
//!
//! Layout (little-endian):
//!
//! | field | type |
//! |---|---|
//! | magic | `b"CVQM"` |
//! | version | `u8 = 1` |
//! | name | `u16` length + UTF-8 (≤ 255 bytes) |
//! | quality | `u8` (the rate point this model encodes at) |
//! | config | `u32` length + JSON of `codec_core::config::CvqnConfig` |
//! | weight precision | `u8`: 0 = f32, 1 = f16 |
//! | weights | `u32` length + Burn record bytes (opaque here) |
//! | entropy | `u32` length + [`EntropyModel::to_bytes`] |
//! | digest | SHA-256 of every byte before it (32 bytes) |
//!
//! The first 8 bytes of the digest are the model hash stored in `.cvq` headers.

use sha2::{Digest, Sha256};

use crate::EntropyError;
use crate::entropy_model::EntropyModel;
use crate::reader::{Reader, write_block};

/// Largest model file accepted by [`ModelFile::from_bytes`] (1 GiB).
pub const MAX_MODEL_FILE_BYTES: usize = 1 << 30;

/// Precision of the stored float weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightPrecision {
    /// 32-bit floats.
    F32 = 0,
    /// 16-bit floats (half the size; used for shipped models).
    F16 = 1,
}

/// A parsed model file.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelFile {
    /// Model name (stored in `.cvq` headers next to the hash).
    pub name: String,
    /// Quality / rate point of the model.
    pub quality: u8,
    /// The model configuration as JSON.
    pub config_json: String,
    /// Precision of `weights`.
    pub precision: WeightPrecision,
    /// Burn record bytes of the float model.
    pub weights: Vec<u8>,
    /// Integer entropy model used by encoder and decoder.
    pub entropy: EntropyModel,
}

const MAGIC: &[u8; 4] = b"CVQM";
const VERSION: u8 = 1;
const DIGEST_LEN: usize = 32;

fn bad(msg: &str) -> EntropyError {
    EntropyError::ModelFile(msg.to_string())
}

impl ModelFile {
    fn body(&self) -> Result<Vec<u8>, EntropyError> {
        let name = self.name.as_bytes();
        if name.is_empty() || name.len() > 255 {
            return Err(bad("model name must be 1..=255 bytes"));
        }
        let entropy = self.entropy.to_bytes();
        let mut b = Vec::with_capacity(self.weights.len() + entropy.len() + 1024);
        b.extend_from_slice(MAGIC);
        b.push(VERSION);
        b.extend_from_slice(&(name.len() as u16).to_le_bytes());
        b.extend_from_slice(name);
        b.push(self.quality);
        write_block(&mut b, self.config_json.as_bytes());
        b.push(self.precision as u8);
        write_block(&mut b, &self.weights);
        write_block(&mut b, &entropy);
        Ok(b)
    }

    /// Serialises the model (with its digest).
    ///
    /// # Errors
    ///
    /// [`EntropyError::ModelFile`] if the name is empty or longer than 255 bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EntropyError> {
        let mut b = self.body()?;
        let digest = Sha256::digest(&b);
        b.extend_from_slice(&digest);
        Ok(b)
    }

    /// The 8-byte model hash stored in `.cvq` headers.
    ///
    /// # Errors
    ///
    /// As [`ModelFile::to_bytes`].
    pub fn hash(&self) -> Result<[u8; 8], EntropyError> {
        let digest = Sha256::digest(self.body()?);
        let mut h = [0u8; 8];
        h.copy_from_slice(&digest[..8]);
        Ok(h)
    }

    /// Parses and verifies a model file.
    ///
    /// # Errors
    ///
    /// [`EntropyError::ModelFile`] (size, magic, digest, UTF-8) or the entropy model's
    /// parse errors.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EntropyError> {
        if bytes.len() > MAX_MODEL_FILE_BYTES {
            return Err(bad("larger than 1 GiB"));
        }
        if bytes.len() < 4 + 1 + DIGEST_LEN || &bytes[..4] != MAGIC {
            return Err(bad("not a cvq model file (magic CVQM)"));
        }
        if bytes[4] != VERSION {
            return Err(bad("unsupported model file version"));
        }
        let (body, digest) = bytes.split_at(bytes.len() - DIGEST_LEN);
        if Sha256::digest(body).as_slice() != digest {
            return Err(bad("digest mismatch (file corrupt or truncated)"));
        }
        let mut r = Reader::new(body);
        r.take(5)?;
        let name_len = usize::from(r.u16()?);
        let name = std::str::from_utf8(r.take(name_len)?)
            .map_err(|_| bad("name is not UTF-8"))?
            .to_string();
        let quality = r.u8()?;
        let config_json = std::str::from_utf8(r.block()?)
            .map_err(|_| bad("config is not UTF-8"))?
            .to_string();
        let precision = match r.u8()? {
            0 => WeightPrecision::F32,
            1 => WeightPrecision::F16,
            _ => return Err(bad("unknown weight precision")),
        };
        let weights = r.block()?.to_vec();
        let entropy = EntropyModel::from_bytes(r.block()?)?;
        r.finished()?;
        if name.is_empty() || name.len() > 255 {
            return Err(bad("model name must be 1..=255 bytes"));
        }
        Ok(Self {
            name,
            quality,
            config_json,
            precision,
            weights,
            entropy,
        })
    }
}
