//! Channel permutation by importance, and split / merge of the permuted channels
//! into quantization groups.
//!
//! Convention: a permutation `order` lists original channel indices from least to most
//! important; `permute(x, order)[:, i] = x[:, order[i]]`. Group 0 (coarsest quantizer)
//! takes the first channels.

use burn::tensor::{Int, Tensor, TensorData, backend::Backend};

/// Sizes of the channel groups (least important first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelGroups {
    sizes: Vec<usize>,
}

impl ChannelGroups {
    /// Groups with the given channel counts (all positive).
    pub fn new(sizes: Vec<usize>) -> Self {
        Self { sizes }
    }

    /// Channel count of each group.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// Total channels.
    pub fn total(&self) -> usize {
        self.sizes.iter().sum()
    }

    /// `[B, C, H, W]` → one `[B, C_g, H, W]` tensor per group.
    pub fn split<B: Backend>(&self, x: Tensor<B, 4>) -> Vec<Tensor<B, 4>> {
        let mut start = 0;
        self.sizes
            .iter()
            .map(|&n| {
                let part = x.clone().narrow(1, start, n);
                start += n;
                part
            })
            .collect()
    }

    /// Inverse of [`split`](Self::split): concatenates groups along channels.
    pub fn merge<B: Backend>(&self, parts: Vec<Tensor<B, 4>>) -> Tensor<B, 4> {
        Tensor::cat(parts, 1)
    }
}

/// Reorders channels: `out[:, i] = x[:, order[i]]`.
pub fn permute_channels<B: Backend>(x: Tensor<B, 4>, order: Tensor<B, 1, Int>) -> Tensor<B, 4> {
    x.select(1, order)
}

/// Undoes [`permute_channels`]: `out[:, order[i]] = y[:, i]`.
pub fn unpermute_channels<B: Backend>(y: Tensor<B, 4>, order: Tensor<B, 1, Int>) -> Tensor<B, 4> {
    y.select(1, inverse_permutation(order))
}

/// The inverse permutation (`inv[order[i]] = i`), computed on the device.
pub fn inverse_permutation<B: Backend>(order: Tensor<B, 1, Int>) -> Tensor<B, 1, Int> {
    order.argsort(0)
}

/// The inverse of a host permutation (`inv[order[i]] = i`). Decoders use this instead
/// of [`inverse_permutation`]: device sorting needs a synchronous read-back on some
/// backends (WebGPU in a browser cannot do one). `order` should be a permutation (the
/// container checks it); out-of-range entries are ignored rather than panicking.
pub fn inverse_order(order: &[usize]) -> Vec<usize> {
    let mut inv = vec![0; order.len()];
    for (i, &o) in order.iter().enumerate() {
        if let Some(slot) = inv.get_mut(o) {
            *slot = i;
        }
    }
    inv
}

/// Order (least → most important) from importance scores: `argsort` ascending, ties by
/// index (stable), computed on the host so every backend agrees.
pub fn order_from_importance(importance: &[f32]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..importance.len()).collect();
    idx.sort_by(|&a, &b| importance[a].total_cmp(&importance[b]).then(a.cmp(&b)));
    idx
}

/// A host permutation as a device tensor.
pub fn order_tensor<B: Backend>(order: &[usize], device: &B::Device) -> Tensor<B, 1, Int> {
    let data: Vec<i64> = order.iter().map(|&i| i as i64).collect();
    Tensor::from_data(TensorData::new(data, [order.len()]), device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::tensor::Distribution;

    type B = Flex;

    #[test]
    fn permute_split_merge_unpermute_is_identity() {
        let device = Default::default();
        let x = Tensor::<B, 4>::random([2, 8, 3, 3], Distribution::Default, &device);
        let order = order_from_importance(&[0.5, 0.1, 0.9, 0.3, 0.2, 0.8, 0.7, 0.0]);
        assert_eq!(order, vec![7, 1, 4, 3, 0, 6, 5, 2]);
        let o = order_tensor::<B>(&order, &device);
        let groups = ChannelGroups::new(vec![2, 4, 2]);
        let parts = groups.split(permute_channels(x.clone(), o.clone()));
        assert_eq!(
            parts.iter().map(|p| p.dims()[1]).collect::<Vec<_>>(),
            vec![2, 4, 2]
        );
        // first group holds the two least important channels, 7 and 1
        parts[0].clone().into_data().assert_eq(
            &Tensor::cat(
                vec![x.clone().narrow(1, 7, 1), x.clone().narrow(1, 1, 1)],
                1,
            )
            .into_data(),
            true,
        );
        let back = unpermute_channels(groups.merge(parts), o.clone());
        back.into_data().assert_eq(&x.into_data(), true);
        // The host inverse equals the device one.
        let host = order_tensor::<B>(&inverse_order(&order), &device);
        host.into_data()
            .convert::<i64>()
            .assert_eq(&inverse_permutation(o).into_data().convert::<i64>(), true);
        assert_eq!(inverse_order(&[1, 9]), vec![0, 0], "out of range: no panic");
    }
}
