//! The model's symbols and channel order survive the `.cvq` container and the range coder:
//! encode an image with a (seeded, untrained) model, store each group's symbols in a file
//! (uniform integer CDFs — the learned entropy model is wired in by the `.cvq` issue),
//! parse the file, decode the symbols and reconstruct: the image equals the one decoded
//! from the in-memory symbols.

use burn::backend::Flex;
use burn::tensor::{Distribution, Int, Tensor, TensorData, backend::Backend};
use cvq_bitstream::coder::{IntCdf, SymbolDecoder, SymbolEncoder};
use cvq_bitstream::format::{
    EntropyModelKind, FileHeader, GroupHeader, Limits, ModelId, Permutation, read_file, write_file,
};
use cvq_core::config::{CvqnConfig, Preset};
use cvq_core::model::Cvqn;
use cvq_core::model::split_merge::order_tensor;

type B = Flex;

fn to_vec_i64(t: Tensor<B, 4, Int>) -> Vec<i64> {
    t.into_data().convert::<i64>().into_vec().unwrap()
}

#[test]
fn symbols_round_trip_through_a_cvq_file() {
    B::seed(&Default::default(), 42);
    let device = Default::default();
    let cfg = CvqnConfig::preset(Preset::Small);
    let model = Cvqn::<B>::new(&cfg, &device).unwrap();
    let image = Tensor::<B, 4>::random([1, 3, 48, 32], Distribution::Default, &device);
    let out = model.forward(image);
    let order: Vec<u32> = out
        .order
        .clone()
        .into_data()
        .convert::<i64>()
        .into_vec::<i64>()
        .unwrap()
        .into_iter()
        .map(|v| v as u32)
        .collect();

    // Groups are stored most important first.
    let stored: Vec<usize> = (0..cfg.num_groups()).rev().collect();
    let sizes = cfg.group_channels();
    let mut payloads = Vec::new();
    let mut groups = Vec::new();
    let mut permutation = Vec::new();
    for &g in &stored {
        let start: usize = sizes[..g].iter().sum();
        permutation.extend_from_slice(&order[start..start + sizes[g]]);
        let cdf = IntCdf::uniform(cfg.levels[g]).unwrap();
        let mut enc = SymbolEncoder::new();
        for s in to_vec_i64(out.groups[g].symbols.clone()) {
            enc.encode(s as usize, &cdf).unwrap();
        }
        payloads.push(enc.finish());
        groups.push(GroupHeader {
            levels: cfg.levels[g] as u8,
            channels: sizes[g] as u32,
        });
    }
    let header = FileHeader {
        width: 32,
        height: 48,
        model: ModelId::new(cfg.name.clone(), [7; 8]).unwrap(),
        quality: 0,
        entropy_model: EntropyModelKind::Parallel,
        permutation: Permutation::new(permutation).unwrap(),
        groups,
    };
    let bytes = write_file(&header, &payloads).unwrap();

    let file = read_file(&bytes, &Limits::default()).unwrap();
    assert_eq!(file.header, header);
    let (h, w) = file.header.latent_size();
    let mut symbols = vec![None; cfg.num_groups()];
    let mut offset = 0usize;
    let mut decoded_order = vec![0usize; cfg.code_channels];
    for (i, &g) in stored.iter().enumerate() {
        let gh = &file.header.groups[i];
        let count = gh.channels as usize * (h * w) as usize;
        let cdf = IntCdf::uniform(gh.levels as usize).unwrap();
        let values = SymbolDecoder::new(file.payloads[i])
            .decode_all(count, &cdf)
            .unwrap();
        let data: Vec<i64> = values.into_iter().map(|v| v as i64).collect();
        let shape = [1, gh.channels as usize, h as usize, w as usize];
        symbols[g] = Some(Tensor::<B, 4, Int>::from_data(
            TensorData::new(data, shape),
            &device,
        ));
        // the model order lists group 0's channels first
        let start: usize = sizes[..g].iter().sum();
        for k in 0..sizes[g] {
            decoded_order[start + k] = file.header.permutation.as_slice()[offset + k] as usize;
        }
        offset += sizes[g];
    }
    let symbols: Vec<_> = symbols.into_iter().map(Option::unwrap).collect();
    for (a, b) in symbols.iter().zip(&out.groups) {
        assert_eq!(to_vec_i64(a.clone()), to_vec_i64(b.symbols.clone()));
    }
    let from_file = model.decode_symbols(symbols, order_tensor(&decoded_order, &device), 0);
    from_file
        .into_data()
        .assert_approx_eq::<f32>(&out.reconstruction.into_data(), Default::default());
}
