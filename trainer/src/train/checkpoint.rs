//! Run folders and checkpoints.
//!
//! ```text
//! runs/NAME/train.json          TrainConfig
//! runs/NAME/metrics.csv         one row per logged step
//! runs/NAME/checkpoint/         the latest complete checkpoint:
//!     model.mpk                 model weights (f32, Burn NamedMpk)
//!     optimizer.mpk             Adam moments of every parameter
//!     state.json                step, channel order (CVQN; empty for the recurrent
//!                               family), seconds trained
//! ```
//!
//! A checkpoint is written to `checkpoint.tmp/` and renamed over `checkpoint/`, so a run
//! killed at any moment leaves the previous complete checkpoint in place.

use std::path::{Path, PathBuf};

use burn::module::{AutodiffModule, Module};
use burn::optim::Optimizer;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
use burn::tensor::backend::AutodiffBackend;
use cvq_core::codec::CodecModel;
use cvq_core::config::CvqnConfig;
use cvq_core::model::Cvqn;
use cvq_core::recurrent::RecurrentCodec;
use cvq_core::recurrent::codec::RecurrentCodecModel;
use cvq_core::recurrent::config::RecurrentConfig;
use serde::{Deserialize, Serialize};

use super::TrainError;

/// Progress stored next to the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointState {
    /// Optimisation steps completed.
    pub step: u64,
    /// The model's fixed channel order (least → most important).
    pub order: Vec<usize>,
    /// Wall-clock seconds of training so far (all sessions).
    pub seconds: f64,
}

fn recorder() -> NamedMpkFileRecorder<FullPrecisionSettings> {
    NamedMpkFileRecorder::<FullPrecisionSettings>::new()
}

/// The checkpoint folder of a run.
pub fn checkpoint_dir(run: &Path) -> PathBuf {
    run.join("checkpoint")
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn rec(path: &Path) -> impl FnOnce(burn::record::RecorderError) -> TrainError + '_ {
    move |e| TrainError::Checkpoint(format!("{}: {e}", path.display()))
}

/// Writes a checkpoint atomically (see the module docs).
///
/// # Errors
///
/// I/O or serialisation errors.
pub fn save<B, M, O>(
    run: &Path,
    model: &M,
    optimizer: &O,
    state: &CheckpointState,
) -> Result<(), TrainError>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    O: Optimizer<M, B>,
{
    let tmp = run.join("checkpoint.tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    model
        .clone()
        .save_file(tmp.join("model"), &recorder())
        .map_err(rec(&tmp))?;
    recorder()
        .record(optimizer.to_record(), tmp.join("optimizer"))
        .map_err(rec(&tmp))?;
    let json = serde_json::to_string_pretty(state).expect("state serialises");
    let state_path = tmp.join("state.json");
    std::fs::write(&state_path, json).map_err(io(&state_path))?;
    let dir = checkpoint_dir(run);
    let old = run.join("checkpoint.old");
    if dir.exists() {
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(io(&old))?;
        }
        std::fs::rename(&dir, &old).map_err(io(&dir))?;
    }
    std::fs::rename(&tmp, &dir).map_err(io(&tmp))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(io(&old))?;
    }
    Ok(())
}

/// The checkpoint to read: `checkpoint/`, or `checkpoint.old/` when a run was killed
/// between the two renames of [`save`].
fn existing_dir(run: &Path) -> Result<PathBuf, TrainError> {
    [checkpoint_dir(run), run.join("checkpoint.old")]
        .into_iter()
        .find(|d| d.join("state.json").exists())
        .ok_or_else(|| {
            TrainError::Checkpoint(format!("{}: no checkpoint to resume from", run.display()))
        })
}

/// Reads a checkpoint's state.
///
/// # Errors
///
/// Missing or malformed checkpoint.
pub fn load_state(run: &Path) -> Result<CheckpointState, TrainError> {
    let path = existing_dir(run)?.join("state.json");
    let text = std::fs::read_to_string(&path).map_err(io(&path))?;
    serde_json::from_str(&text)
        .map_err(|e| TrainError::Checkpoint(format!("{}: {e}", path.display())))
}

/// Loads checkpointed weights (and the stored channel order) into `model`.
///
/// # Errors
///
/// Missing files or weights that do not fit the model.
pub fn load_model<B: burn::tensor::backend::Backend>(
    run: &Path,
    model: Cvqn<B>,
    device: &B::Device,
) -> Result<Cvqn<B>, TrainError> {
    let state = load_state(run)?;
    let mut model = load_weights(run, model, device)?;
    if state.order.len() != model.code_channels() {
        return Err(TrainError::Checkpoint(format!(
            "{}: channel order of length {} does not fit the model",
            existing_dir(run)?.display(),
            state.order.len()
        )));
    }
    model.set_order(&state.order);
    Ok(model)
}

/// Loads a model file (`.cvqm`) that `--init-from` names instead of a run folder with
/// `load`, which gives the file's configuration and networks; the configuration must be
/// the run's.
fn from_model_file<C: PartialEq, T>(
    path: &Path,
    config: &C,
    name: impl Fn(&C) -> &str,
    load: impl FnOnce(&[u8]) -> Result<(C, T), cvq_core::codec::CodecError>,
) -> Result<T, TrainError> {
    let bytes = std::fs::read(path).map_err(|source| TrainError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let (stored, networks) =
        load(&bytes).map_err(|e| TrainError::Checkpoint(format!("{}: {e}", path.display())))?;
    if stored != *config {
        return Err(TrainError::Checkpoint(format!(
            "{}: the model file holds `{}`, whose configuration differs from this run's; \
             start from it with the run configuration it was trained with (`cvq info --json`)",
            path.display(),
            name(&stored)
        )));
    }
    Ok(networks)
}

/// A CVQN model's weights and channel order from a `.cvqm` file (f16 weights widened to
/// f32): fine-tuning a shipped model. Its configuration must equal the run's `config`.
///
/// # Errors
///
/// Unreadable or invalid files, a decoder-only file, another architecture.
pub fn cvqn_from_model_file<B: burn::tensor::backend::Backend>(
    path: &Path,
    config: &CvqnConfig,
    device: &B::Device,
) -> Result<Cvqn<B>, TrainError> {
    let model = from_model_file(
        path,
        config,
        |c| &c.name,
        |bytes| CodecModel::<B>::load(bytes, device).map(|m| (m.config, m.model)),
    )?;
    model.ok_or_else(|| {
        TrainError::Checkpoint(format!(
            "{}: a decoder-only file has no encoder to train; start from the full `.cvqm`",
            path.display()
        ))
    })
}

/// A recurrent model's weights from a `.cvqm` file (as [`cvqn_from_model_file`]).
///
/// # Errors
///
/// Unreadable or invalid files, another architecture.
pub fn recurrent_from_model_file<B: burn::tensor::backend::Backend>(
    path: &Path,
    config: &RecurrentConfig,
    device: &B::Device,
) -> Result<RecurrentCodec<B>, TrainError> {
    from_model_file(
        path,
        config,
        |c| &c.name,
        |bytes| RecurrentCodecModel::<B>::load(bytes, device).map(|m| (m.config, m.net)),
    )
}

/// Loads checkpointed weights into `module` (any architecture; the record must fit it).
///
/// # Errors
///
/// Missing files or weights that do not fit the module.
pub fn load_weights<B: burn::tensor::backend::Backend, M: Module<B>>(
    run: &Path,
    module: M,
    device: &B::Device,
) -> Result<M, TrainError> {
    let dir = existing_dir(run)?;
    module
        .load_file(dir.join("model"), &recorder(), device)
        .map_err(rec(&dir))
}

/// Loads the optimizer state of a checkpoint. A checkpoint without `optimizer.mpk`
/// (the weights-only trunks kept in git and carried between GPU windows, see
/// `docs/TRAINING.md`) gives `None`: the run then continues with fresh Adam moments (a
/// warm restart).
///
/// # Errors
///
/// Missing checkpoint or a malformed optimizer file.
pub fn load_optimizer<B, M, O>(
    run: &Path,
    optimizer: O,
    device: &B::Device,
) -> Result<Option<O>, TrainError>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    O: Optimizer<M, B>,
{
    let dir = existing_dir(run)?;
    if !dir.join("optimizer.mpk").exists() {
        return Ok(None);
    }
    let record = recorder()
        .load(dir.join("optimizer"), device)
        .map_err(rec(&dir))?;
    Ok(Some(optimizer.load_record(record)))
}
