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
//! | config | `u32` length + JSON of `cvq_core::config::CvqnConfig` |
//! | weight precision | `u8`: 0 = f32, 1 = f16 |
//! | weights | `u32` length + Burn record bytes (opaque here) |
//! | entropy | `u32` length + [`EntropyModel::to_bytes`] |
//! | digest | SHA-256 of every byte before it (32 bytes) |
//!
//! The first 8 bytes of the digest are the model hash stored in `.cvq` headers.
//!
//! A **decoder-only** file (`.cvqd`, [`ModelKind::DecoderOnly`]) has the same layout
//! with magic `b"CVQD"` and, right after the quality byte, the 8-byte hash of the full
//! `.cvqm` it was cut from; its weights hold only what synthesis needs (decoder and
//! quantizers). Its [`ModelFile::hash`] is that stored hash, so `.cvq` files made with
//! the full model decode with it; its own digest only guards integrity.

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

/// Whether a model file can encode or only decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// A `.cvqm`: encoder and decoder; its hash is computed from its bytes.
    Full,
    /// A `.cvqd`: decoder and quantizers only, cut from the full model whose hash it
    /// carries.
    DecoderOnly {
        /// Hash of the full `.cvqm` (the id written into `.cvq` headers).
        model_hash: [u8; 8],
    },
}

impl ModelKind {
    /// The file magic of this kind: `full` or `decoder_only`.
    pub(crate) fn magic<'a>(&self, full: &'a [u8; 4], decoder_only: &'a [u8; 4]) -> &'a [u8; 4] {
        match self {
            Self::Full => full,
            Self::DecoderOnly { .. } => decoder_only,
        }
    }

    /// Appends a decoder-only file's 8-byte full-model hash (nothing for a full file).
    pub(crate) fn write_hash(&self, b: &mut Vec<u8>) {
        if let Self::DecoderOnly { model_hash } = self {
            b.extend_from_slice(model_hash);
        }
    }

    /// Reads what [`Self::write_hash`] wrote, for a file whose magic says
    /// `decoder_only` or not.
    pub(crate) fn read(r: &mut Reader<'_>, decoder_only: bool) -> Result<Self, EntropyError> {
        if !decoder_only {
            return Ok(Self::Full);
        }
        let mut model_hash = [0u8; 8];
        model_hash.copy_from_slice(r.take(8)?);
        Ok(Self::DecoderOnly { model_hash })
    }

    /// The model hash of `.cvq` headers: a decoder-only file's stored one, else `own()`
    /// (the hash of the file's own body).
    pub(crate) fn hash_or(
        &self,
        own: impl FnOnce() -> Result<[u8; 8], EntropyError>,
    ) -> Result<[u8; 8], EntropyError> {
        match self {
            Self::DecoderOnly { model_hash } => Ok(*model_hash),
            Self::Full => own(),
        }
    }
}

/// A parsed model file.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelFile {
    /// Full model or decoder-only cut.
    pub kind: ModelKind,
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
const DECODER_MAGIC: &[u8; 4] = b"CVQD";
const VERSION: u8 = 1;
const DIGEST_LEN: usize = 32;

pub(crate) fn bad(msg: &str) -> EntropyError {
    EntropyError::ModelFile(msg.to_string())
}

/// The body of a model file (everything before its SHA-256 digest) once its size, magic
/// (one of `magics`), version byte and digest are checked.
pub(crate) fn verified_body<'a>(
    bytes: &'a [u8],
    magics: &[&[u8; 4]],
    version: u8,
) -> Result<&'a [u8], EntropyError> {
    let (body, digest) = framed(bytes, magics, version)?;
    if Sha256::digest(body).as_slice() != digest {
        return Err(bad("digest mismatch (file corrupt or truncated)"));
    }
    Ok(body)
}

/// `(body, stored digest)` of a model file once its size, magic (one of `magics`) and
/// version byte are checked; the digest is not verified.
fn framed<'a>(
    bytes: &'a [u8],
    magics: &[&[u8; 4]],
    version: u8,
) -> Result<(&'a [u8], &'a [u8]), EntropyError> {
    if bytes.len() > MAX_MODEL_FILE_BYTES {
        return Err(bad("larger than 1 GiB"));
    }
    if bytes.len() < 4 + 1 + DIGEST_LEN || !magics.iter().any(|m| &bytes[..4] == *m) {
        return Err(bad("not a cvq model file (magic CVQM, CVQD, CVQR or CVRD)"));
    }
    if bytes[4] != version {
        return Err(bad("unsupported model file version"));
    }
    Ok(bytes.split_at(bytes.len() - DIGEST_LEN))
}

/// The identity a model file states: what `.cvq` headers name it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelIdentity {
    /// The codec family (from the magic).
    pub family: ModelFamily,
    /// The model name.
    pub name: String,
    /// The 8-byte model hash of `.cvq` headers.
    pub hash: [u8; 8],
}

/// The name and model hash of a model file of either family (`.cvqm` or `.cvqd`, magic
/// `CVQM`, `CVQD`, `CVQR` or `CVRD`) as the file states them, without reading its
/// weights: the name from the start of the file, and the hash from the stored SHA-256
/// digest (a full model's hash is the digest's first 8 bytes) or, for a decoder-only
/// file, the full model's hash it carries.
///
/// The digest is **not** verified (that would read every byte): use this to pick one
/// file among several, then parse the pick with [`ModelFile::from_bytes`] or
/// [`RecurrentModelFile::from_bytes`](crate::RecurrentModelFile::from_bytes), whose
/// digest check confirms the stated hash — for a full file they are the same bytes.
///
/// ```
/// // not a model file: a typed error, not a panic
/// assert!(cvq_entropy::model_identity(b"CVQM\x01").is_err());
/// ```
///
/// # Errors
///
/// [`EntropyError::ModelFile`] for bytes that are not a model file (size, magic,
/// version, name) and [`EntropyError::Malformed`] for a file cut inside its header.
pub fn model_identity(bytes: &[u8]) -> Result<ModelIdentity, EntropyError> {
    use crate::recurrent_file as rnn;
    let family = model_family(bytes)
        .ok_or_else(|| bad("not a cvq model file (magic CVQM, CVQD, CVQR or CVRD)"))?;
    let (magics, version) = match family {
        ModelFamily::Cvqn => ([MAGIC, DECODER_MAGIC], VERSION),
        ModelFamily::Recurrent => ([rnn::MAGIC, rnn::DECODER_MAGIC], rnn::VERSION),
    };
    let (body, digest) = framed(bytes, &magics, version)?;
    let mut r = Reader::new(body);
    r.take(5)?;
    let name = read_name(&mut r)?;
    if family == ModelFamily::Cvqn {
        r.u8()?; // quality
    }
    let kind = ModelKind::read(&mut r, &bytes[..4] == magics[1])?;
    let hash = kind.hash_or(|| Ok(digest_hash(digest)))?;
    Ok(ModelIdentity { family, name, hash })
}

/// Starts a model file body: magic, version byte, the name (`u16` length + UTF-8,
/// 1..=255 bytes).
pub(crate) fn write_start(
    b: &mut Vec<u8>,
    magic: &[u8; 4],
    version: u8,
    name: &str,
) -> Result<(), EntropyError> {
    let name = name.as_bytes();
    if name.is_empty() || name.len() > 255 {
        return Err(bad("model name must be 1..=255 bytes"));
    }
    b.extend_from_slice(magic);
    b.push(version);
    b.extend_from_slice(&(name.len() as u16).to_le_bytes());
    b.extend_from_slice(name);
    Ok(())
}

/// The name written by [`write_start`] (checked: UTF-8, 1..=255 bytes).
pub(crate) fn read_name(r: &mut Reader<'_>) -> Result<String, EntropyError> {
    let len = usize::from(r.u16()?);
    let name = std::str::from_utf8(r.take(len)?).map_err(|_| bad("name is not UTF-8"))?;
    if name.is_empty() || name.len() > 255 {
        return Err(bad("model name must be 1..=255 bytes"));
    }
    Ok(name.to_string())
}

/// The config JSON block, the weight precision byte and the weights block of a model
/// file body.
pub(crate) fn read_config_and_weights(
    r: &mut Reader<'_>,
) -> Result<(String, WeightPrecision, Vec<u8>), EntropyError> {
    let config_json = std::str::from_utf8(r.block()?)
        .map_err(|_| bad("config is not UTF-8"))?
        .to_string();
    let precision = match r.u8()? {
        0 => WeightPrecision::F32,
        1 => WeightPrecision::F16,
        _ => return Err(bad("unknown weight precision")),
    };
    Ok((config_json, precision, r.block()?.to_vec()))
}

/// `body` followed by its SHA-256 digest.
pub(crate) fn sealed(mut body: Vec<u8>) -> Vec<u8> {
    let digest = Sha256::digest(&body);
    body.extend_from_slice(&digest);
    body
}

/// The first 8 bytes of the SHA-256 of `body` (the model hash of `.cvq` headers).
pub(crate) fn body_hash(body: &[u8]) -> [u8; 8] {
    digest_hash(&Sha256::digest(body))
}

/// The model hash of `.cvq` headers from a model file's SHA-256 `digest`: its first 8
/// bytes.
fn digest_hash(digest: &[u8]) -> [u8; 8] {
    let mut h = [0u8; 8];
    h.copy_from_slice(&digest[..8]);
    h
}

/// Which codec family a model file (`.cvqm`/`.cvqd` bytes) belongs to, from its magic;
/// `None` for bytes that are not a cvq model file.
pub fn model_family(bytes: &[u8]) -> Option<ModelFamily> {
    match bytes.get(..4)? {
        m if m == MAGIC || m == DECODER_MAGIC => Some(ModelFamily::Cvqn),
        m if m == crate::recurrent_file::MAGIC || m == crate::recurrent_file::DECODER_MAGIC => {
            Some(ModelFamily::Recurrent)
        }
        _ => None,
    }
}

/// The two codec families of cvq.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelFamily {
    /// CVQN: one-shot analysis, vector quantisation, parallel or 3-D context entropy
    /// models ([`ModelFile`]).
    Cvqn,
    /// The recurrent progressive codec: binary codes per iteration
    /// ([`RecurrentModelFile`](crate::RecurrentModelFile)).
    Recurrent,
}

impl ModelFile {
    fn body(&self) -> Result<Vec<u8>, EntropyError> {
        let entropy = self.entropy.to_bytes();
        let mut b = Vec::with_capacity(self.weights.len() + entropy.len() + 1024);
        write_start(
            &mut b,
            self.kind.magic(MAGIC, DECODER_MAGIC),
            VERSION,
            &self.name,
        )?;
        b.push(self.quality);
        self.kind.write_hash(&mut b);
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
        Ok(sealed(self.body()?))
    }

    /// The 8-byte model hash stored in `.cvq` headers (for a decoder-only file, the
    /// full model's hash it carries).
    ///
    /// # Errors
    ///
    /// As [`ModelFile::to_bytes`].
    pub fn hash(&self) -> Result<[u8; 8], EntropyError> {
        self.kind.hash_or(|| Ok(body_hash(&self.body()?)))
    }

    /// Parses and verifies a model file.
    ///
    /// # Errors
    ///
    /// [`EntropyError::ModelFile`] (size, magic, digest, UTF-8) or the entropy model's
    /// parse errors.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EntropyError> {
        let body = verified_body(bytes, &[MAGIC, DECODER_MAGIC], VERSION)?;
        let mut r = Reader::new(body);
        r.take(5)?;
        let name = read_name(&mut r)?;
        let quality = r.u8()?;
        let kind = ModelKind::read(&mut r, &bytes[..4] == DECODER_MAGIC)?;
        let (config_json, precision, weights) = read_config_and_weights(&mut r)?;
        let entropy = EntropyModel::from_bytes(r.block()?)?;
        r.finished()?;
        Ok(Self {
            kind,
            name,
            quality,
            config_json,
            precision,
            weights,
            entropy,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: &[u8] = include_bytes!("../tests/fixtures/golden/tiny-parallel.cvqm");

    fn decoder_only(full: &ModelFile) -> ModelFile {
        ModelFile {
            kind: ModelKind::DecoderOnly {
                model_hash: full.hash().unwrap(),
            },
            weights: full.weights[..full.weights.len() / 2].to_vec(),
            ..full.clone()
        }
    }

    #[test]
    fn the_stated_identity_is_the_hash_of_cvq_headers_for_every_kind() {
        let full = ModelFile::from_bytes(TINY).unwrap();
        let cut = decoder_only(&full);
        for (file, bytes) in [(&full, TINY.to_vec()), (&cut, cut.to_bytes().unwrap())] {
            let id = model_identity(&bytes).unwrap();
            assert_eq!(id.family, ModelFamily::Cvqn);
            assert_eq!(id.name, file.name);
            assert_eq!(id.hash, file.hash().unwrap());
        }
    }

    #[test]
    fn identity_reads_only_the_header_and_the_stated_digest() {
        // a weight byte changed: the digest no longer matches, so parsing refuses the
        // file, while the stated identity stays the same (it reads no weights)
        let mut bytes = TINY.to_vec();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x55;
        assert!(ModelFile::from_bytes(&bytes).is_err());
        assert_eq!(
            model_identity(&bytes).unwrap(),
            model_identity(TINY).unwrap()
        );
        // cut inside the name, wrong magic, wrong version: typed errors
        for bad in [
            &TINY[..7],
            b"XXXX\x01",
            &[b"CVQM".as_slice(), &[9; 40]].concat(),
        ] {
            assert!(model_identity(bad).is_err());
        }
    }

    #[test]
    fn full_model_round_trips_and_keeps_its_hash() {
        let full = ModelFile::from_bytes(TINY).unwrap();
        assert_eq!(full.kind, ModelKind::Full);
        assert_eq!(full.to_bytes().unwrap(), TINY);
    }

    #[test]
    fn decoder_only_file_carries_the_full_models_hash() {
        let full = ModelFile::from_bytes(TINY).unwrap();
        let cut = decoder_only(&full);
        let bytes = cut.to_bytes().unwrap();
        assert_eq!(&bytes[..4], b"CVQD");
        let parsed = ModelFile::from_bytes(&bytes).unwrap();
        assert_eq!(parsed, cut);
        assert_eq!(parsed.hash().unwrap(), full.hash().unwrap());
        assert!(bytes.len() < TINY.len());
    }

    #[test]
    fn damaged_files_are_typed_errors() {
        let full = ModelFile::from_bytes(TINY).unwrap();
        let cut = decoder_only(&full).to_bytes().unwrap();
        for bytes in [TINY.to_vec(), cut] {
            // Truncations and flipped bytes spread over the whole file (about 100 of
            // each: every check hashes the file, slow under wasm32 in debug): an error,
            // never a panic.
            let step = bytes.len() / 97 + 1;
            for len in (0..bytes.len()).step_by(step) {
                assert!(ModelFile::from_bytes(&bytes[..len]).is_err(), "len {len}");
            }
            for i in (3..bytes.len()).step_by(step) {
                let mut b = bytes.clone();
                b[i] ^= 0x40;
                let err = ModelFile::from_bytes(&b).unwrap_err().to_string();
                assert!(err.contains("model file"), "byte {i}: {err}");
            }
        }
    }
}
