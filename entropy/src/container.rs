//! The entropy model's side of the `.cvq` container: groups are stored most important
//! first (the reverse of model order) and the permutation maps stored channel
//! positions to latent channels.

use cvq_bitstream::format::{FileHeader, GroupHeader, Permutation};

use crate::EntropyError;
use crate::entropy_model::EntropyModel;

/// Symbols recovered from a (possibly partial) `.cvq` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSymbols {
    /// Symbols per group in model order (least important first), `[c_g][h/16][w/16]`.
    pub symbols: Vec<Vec<usize>>,
    /// Channel order (least → most important): `order[k]` is the latent channel at
    /// permuted position `k`.
    pub order: Vec<usize>,
    /// Groups whose payload was present (the others are most-probable guesses).
    pub groups_received: usize,
}

fn layout_error(msg: &str) -> EntropyError {
    EntropyError::Layout(msg.to_string())
}

/// The header's groups (stored order) and permutation for symbols coded in model
/// channel `order` (least → most important, `order.len() = C`).
///
/// # Errors
///
/// [`EntropyError::Layout`] if `order` has the wrong length or is not a permutation.
pub fn stored_layout(
    entropy: &EntropyModel,
    order: &[usize],
) -> Result<(Permutation, Vec<GroupHeader>), EntropyError> {
    let shapes = entropy.shapes();
    let mut starts = Vec::with_capacity(shapes.len());
    let mut total = 0;
    for s in &shapes {
        starts.push(total);
        total += s.channels;
    }
    if order.len() != total {
        return Err(layout_error("channel order length differs from the model"));
    }
    let mut permutation = Vec::with_capacity(total);
    let mut groups = Vec::with_capacity(shapes.len());
    for g in (0..shapes.len()).rev() {
        let range = starts[g]..starts[g] + shapes[g].channels;
        permutation.extend(order[range].iter().map(|&c| c as u32));
        groups.push(GroupHeader {
            levels: shapes[g].levels as u8,
            channels: shapes[g].channels as u32,
        });
    }
    let permutation =
        Permutation::new(permutation).map_err(|_| layout_error("order is not a permutation"))?;
    Ok((permutation, groups))
}

/// The rate point (`0..K`) of a variable-rate model that quality `quality` (`1..=K`, as
/// stored in `.cvq` headers) names.
///
/// # Errors
///
/// [`EntropyError::Layout`] if the model has no such rate point.
pub fn rate_of_quality(entropy: &EntropyModel, quality: u8) -> Result<usize, EntropyError> {
    let k = entropy.rate_points();
    match usize::from(quality) {
        q @ 1.. if q <= k => Ok(q - 1),
        _ => Err(layout_error(&format!(
            "quality {quality} is not a rate point of this model (1..={k})"
        ))),
    }
}

/// Entropy-decodes the stored payloads of a file (`stored[i]` is stored group `i`, or
/// `None` if not received) after checking that the header fits the model. A
/// variable-rate model decodes at the rate point the header's quality names.
///
/// # Errors
///
/// [`EntropyError::Layout`] when the kind, group count, levels or channels differ from
/// the model; coder errors on corrupt payloads.
pub fn decode_stored(
    entropy: &EntropyModel,
    header: &FileHeader,
    stored: &[Option<&[u8]>],
) -> Result<ContainerSymbols, EntropyError> {
    let shapes = entropy.shapes();
    let layout_ok =
        header.entropy_model == entropy.kind()
            && header.groups.len() == shapes.len()
            && stored.len() == shapes.len()
            && header.groups.iter().rev().zip(&shapes).all(|(h, s)| {
                usize::from(h.levels) == s.levels && h.channels as usize == s.channels
            });
    if !layout_ok {
        return Err(layout_error(
            "groups or entropy model kind differ from the model",
        ));
    }
    let (lh, lw) = header.latent_size();
    let payloads: Vec<Option<&[u8]>> = stored.iter().rev().copied().collect();
    let symbols = if entropy.rate_points() > 0 {
        entropy
            .at_rate(rate_of_quality(entropy, header.quality)?)?
            .decode(&payloads, lh as usize, lw as usize)?
    } else {
        entropy.decode(&payloads, lh as usize, lw as usize)?
    };
    let mut order = Vec::with_capacity(header.channels());
    for g in (0..shapes.len()).rev() {
        let range = header
            .group_channel_range(g)
            .ok_or_else(|| layout_error("group channel range"))?;
        order.extend(
            header
                .permutation
                .as_slice()
                .get(range)
                .ok_or_else(|| layout_error("group channel range"))?
                .iter()
                .map(|&c| c as usize),
        );
    }
    Ok(ContainerSymbols {
        symbols,
        order,
        groups_received: stored.iter().filter(|p| p.is_some()).count(),
    })
}
