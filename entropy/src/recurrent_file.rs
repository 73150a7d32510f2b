//! The frozen model file of the recurrent codec family (`.cvqm` with magic `CVQR`).
//!
//! Layout (little-endian):
//!
//! | field | type |
//! |---|---|
//! | magic | `b"CVQR"` |
//! | version | `u8 = 1` |
//! | name | `u16` length + UTF-8 (1..=255 bytes) |
//! | config | `u32` length + JSON of `cvq_core::recurrent::config::RecurrentConfig` |
//! | weight precision | `u8`: 0 = f32, 1 = f16 |
//! | weights | `u32` length + Burn record bytes (opaque here) |
//! | digest | SHA-256 of every byte before it (32 bytes) |
//!
//! There is no entropy block: the recurrent family's bits are coded by the fixed
//! adaptive context model of [`crate::binary`], which has no parameters. The first 8
//! bytes of the digest are the model hash stored in `.cvq` headers.
//!
//! A **decoder-only** file (`.cvqd`, [`ModelKind::DecoderOnly`]) has the same layout with
//! magic `b"CVRD"` and, right after the name, the 8-byte hash of the full model it was cut
//! from; its weights lack the encoder's recurrent cells. Its [`RecurrentModelFile::hash`]
//! is that stored hash, so files made with the full model decode with it.

use crate::EntropyError;
use crate::model_file::{
    ModelKind, WeightPrecision, body_hash, read_config_and_weights, read_name, sealed,
    verified_body, write_start,
};
use crate::reader::{Reader, write_block};

/// The 4 magic bytes of a recurrent model file.
pub const MAGIC: &[u8; 4] = b"CVQR";
/// The 4 magic bytes of a decoder-only recurrent model file.
pub const DECODER_MAGIC: &[u8; 4] = b"CVRD";
pub(crate) const VERSION: u8 = 1;

/// A parsed recurrent model file.
#[derive(Debug, Clone, PartialEq)]
pub struct RecurrentModelFile {
    /// Full model or decoder-only cut.
    pub kind: ModelKind,
    /// Model name (stored in `.cvq` headers next to the hash).
    pub name: String,
    /// The model configuration as JSON.
    pub config_json: String,
    /// Precision of `weights`.
    pub precision: WeightPrecision,
    /// Burn record bytes of the networks.
    pub weights: Vec<u8>,
}

impl RecurrentModelFile {
    fn body(&self) -> Result<Vec<u8>, EntropyError> {
        let mut b = Vec::with_capacity(self.weights.len() + self.config_json.len() + 64);
        write_start(
            &mut b,
            self.kind.magic(MAGIC, DECODER_MAGIC),
            VERSION,
            &self.name,
        )?;
        self.kind.write_hash(&mut b);
        write_block(&mut b, self.config_json.as_bytes());
        b.push(self.precision as u8);
        write_block(&mut b, &self.weights);
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
    /// As [`RecurrentModelFile::to_bytes`].
    pub fn hash(&self) -> Result<[u8; 8], EntropyError> {
        self.kind.hash_or(|| Ok(body_hash(&self.body()?)))
    }

    /// Parses and verifies a recurrent model file.
    ///
    /// # Errors
    ///
    /// [`EntropyError::ModelFile`] (size, magic, version, digest, UTF-8, precision) or
    /// [`EntropyError::Malformed`] for a truncated body.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EntropyError> {
        let body = verified_body(bytes, &[MAGIC, DECODER_MAGIC], VERSION)?;
        let mut r = Reader::new(body);
        r.take(5)?;
        let name = read_name(&mut r)?;
        let kind = ModelKind::read(&mut r, &bytes[..4] == DECODER_MAGIC)?;
        let (config_json, precision, weights) = read_config_and_weights(&mut r)?;
        r.finished()?;
        Ok(Self {
            kind,
            name,
            config_json,
            precision,
            weights,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model_file::{ModelFamily, model_family, model_identity};

    fn sample() -> RecurrentModelFile {
        RecurrentModelFile {
            kind: ModelKind::Full,
            name: "rnn-test".into(),
            config_json: r#"{"name":"rnn-test"}"#.into(),
            precision: WeightPrecision::F16,
            weights: (0..=255u8).cycle().take(1000).collect(),
        }
    }

    #[test]
    fn round_trips_with_its_hash_and_family() {
        let file = sample();
        let bytes = file.to_bytes().unwrap();
        assert_eq!(&bytes[..4], b"CVQR");
        assert_eq!(model_family(&bytes), Some(ModelFamily::Recurrent));
        let parsed = RecurrentModelFile::from_bytes(&bytes).unwrap();
        assert_eq!(parsed, file);
        assert_eq!(parsed.hash().unwrap(), bytes[bytes.len() - 32..][..8]);
        assert_eq!(model_family(b"CVQM..."), Some(ModelFamily::Cvqn));
        assert_eq!(model_family(b"PNG"), None);
    }

    #[test]
    fn decoder_only_file_carries_the_full_models_hash() {
        let full = sample();
        let cut = RecurrentModelFile {
            kind: ModelKind::DecoderOnly {
                model_hash: full.hash().unwrap(),
            },
            weights: vec![7; 100],
            ..sample()
        };
        let bytes = cut.to_bytes().unwrap();
        assert_eq!(&bytes[..4], b"CVRD");
        assert_eq!(model_family(&bytes), Some(ModelFamily::Recurrent));
        let parsed = RecurrentModelFile::from_bytes(&bytes).unwrap();
        assert_eq!(parsed, cut);
        assert_eq!(parsed.hash().unwrap(), full.hash().unwrap());
        for (file, bytes) in [(&full, full.to_bytes().unwrap()), (&cut, bytes.clone())] {
            let id = model_identity(&bytes).unwrap();
            assert_eq!(id.family, ModelFamily::Recurrent);
            assert_eq!(
                (id.name.as_str(), id.hash),
                ("rnn-test", file.hash().unwrap())
            );
        }
        for len in 0..bytes.len() {
            assert!(
                RecurrentModelFile::from_bytes(&bytes[..len]).is_err(),
                "{len}"
            );
        }
    }

    #[test]
    fn damaged_files_are_typed_errors() {
        let bytes = sample().to_bytes().unwrap();
        for len in 0..bytes.len() {
            assert!(
                RecurrentModelFile::from_bytes(&bytes[..len]).is_err(),
                "{len}"
            );
        }
        for i in (0..bytes.len()).step_by(7) {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            assert!(RecurrentModelFile::from_bytes(&b).is_err(), "byte {i}");
        }
        let empty_name = RecurrentModelFile {
            name: String::new(),
            ..sample()
        };
        assert!(empty_name.to_bytes().is_err());
    }
}
