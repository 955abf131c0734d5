//! `kiln models`: every registered architecture with its parameter count.

use kiln_models::ModelSpec;

use super::error::CliError;
use kiln_train::{ModelListing, Registry};

/// Flags of `kiln models`.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelsArgs {
    /// Classes of the head the counts are for.
    #[arg(long, default_value_t = 1000)]
    pub num_classes: usize,
    /// Input channels the counts are for.
    #[arg(long, default_value_t = 3)]
    pub in_channels: usize,
    /// Input size (matters for the models with a flattening head: mnist-cnn, lenet5).
    #[arg(long, default_value_t = 28)]
    pub image_size: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Lists the architectures of `registry` with their learnable-parameter counts (PyTorch's
/// `sum(p.numel() for p in model.parameters())`).
pub fn models(registry: &Registry, args: &ModelsArgs) -> Result<Vec<ModelListing>, CliError> {
    for (flag, value) in [
        ("--num-classes", args.num_classes),
        ("--in-channels", args.in_channels),
        ("--image-size", args.image_size),
    ] {
        if value == 0 {
            return Err(CliError::Flag {
                flag,
                message: "must be at least 1".into(),
            });
        }
    }
    let spec = ModelSpec::new(args.num_classes, args.in_channels, args.image_size);
    let listing = registry.listing(&spec);
    if args.json {
        super::print_json(&listing)?;
    } else {
        println!(
            "{} classes, {}×{}×{} input\n",
            spec.num_classes, spec.in_channels, spec.image_size, spec.image_size
        );
        println!("{:<12} {:>12}  description", "model", "parameters");
        for m in &listing {
            println!("{:<12} {:>12}  {}", m.name, group(m.parameters), m.summary);
        }
    }
    Ok(listing)
}

/// 11689512 → "11,689,512".
fn group(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
