//! Entropy models at the coder boundary: the deterministic integer models live in the
//! Burn-free crate [`cvq_entropy`] (re-exported here); this module adds the export of
//! the trained float twins ([`ContextModel3d`](crate::model::context3d::ContextModel3d),
//! [`ParallelContextModel`](crate::model::parallel::ParallelContextModel)) into them.

mod export;

pub use cvq_entropy::*;
pub use export::{export_context_model, export_entropy_model, export_parallel_model};
