//! `dataflow verify`'s flags, turned into the composition root's own arguments.

use clap::Args;

#[derive(Debug, Args)]
pub struct VerifyFlags {
    /// Only events published since: 15m, 2h, 1d or an RFC 3339 instant
    #[arg(long)]
    since: Option<String>,
    /// Only this product's events
    #[arg(long)]
    product: Option<i64>,
    /// The report as one JSON object
    #[arg(long)]
    json: bool,
}

impl From<VerifyFlags> for crate::app::VerifyArgs {
    fn from(f: VerifyFlags) -> Self {
        crate::app::VerifyArgs {
            since: f.since,
            product: f.product,
            json: f.json,
        }
    }
}
