//! Widens the last decoder cell of a recurrent model file without changing what it
//! computes (`RecurrentCodec::with_wider_last_decoder_cell`), so training can start from
//! the trained weights with more capacity at the full-resolution end:
//!
//! ```sh
//! cargo run --release -p cvq-core --example rnn_widen -- MODEL.cvqm WIDER.json OUT.cvqm
//! ```
//!
//! `WIDER.json` is the model's configuration with a larger `decoder_states[3]`; the
//! output stores f32 weights (train from it with `cvq-train train --config WIDER.json
//! --init-from OUT.cvqm`).

use burn::backend::Flex;
use cvq_core::recurrent::codec::RecurrentCodecModel;
use cvq_core::recurrent::config::RecurrentConfig;
use cvq_entropy::WeightPrecision;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, wider, out] = args.as_slice() else {
        return Err("usage: rnn_widen MODEL.cvqm WIDER.json OUT.cvqm".into());
    };
    let device = Default::default();
    let codec = RecurrentCodecModel::<Flex>::load(&std::fs::read(model)?, &device)?;
    let wider: RecurrentConfig = serde_json::from_str(&std::fs::read_to_string(wider)?)?;
    let net = codec
        .net
        .with_wider_last_decoder_cell(&codec.config, &wider, &device)?;
    let (codec, file) = RecurrentCodecModel::freeze(net, wider, WeightPrecision::F32, &device)?;
    std::fs::write(out, file.to_bytes()?)?;
    println!("{out}: {}", codec.id_string());
    Ok(())
}
