//! `dataflow outbox replay`'s flags, turned into the composition root's own arguments.

use clap::Args;

#[derive(Debug, Args)]
pub struct ReplayFlags {
    /// The destination whose published events are sent (as `dataflow outbox` lists it; an
    /// old cluster's, to fill the configured one); default: this configuration's
    #[arg(long)]
    from: Option<String>,
    /// Send to this topic (of the configured cluster) instead of the live one
    #[arg(long)]
    to_topic: Option<String>,
    /// Only this product's events
    #[arg(long)]
    product: Option<i64>,
    /// Only events with an outbox id from this one
    #[arg(long)]
    from_id: Option<i64>,
    /// Only events with an outbox id up to this one
    #[arg(long)]
    to_id: Option<i64>,
    /// Only events committed since: 15m, 2h, 1d or an RFC 3339 instant
    #[arg(long)]
    since: Option<String>,
    /// Only events committed before: 15m, 2h, 1d (ago) or an RFC 3339 instant
    #[arg(long)]
    until: Option<String>,
    /// Allow replaying into the live topic: its consumers get a second copy of every chosen
    /// event (same event-id and version; they dedupe on either)
    #[arg(long)]
    into_live_topic: bool,
}

impl From<ReplayFlags> for crate::app::ReplayArgs {
    fn from(f: ReplayFlags) -> Self {
        crate::app::ReplayArgs {
            from: f.from,
            to_topic: f.to_topic,
            product: f.product,
            from_id: f.from_id,
            to_id: f.to_id,
            since: f.since,
            until: f.until,
            into_live_topic: f.into_live_topic,
        }
    }
}
