//! Every field of one product, for the detail window.

use chrono_tz::Tz;
use ratatui::text::Line;

use super::text::printable;
use crate::domain::{Product, PublishState};

/// Every field of one product, for the detail overlay.
pub fn detail_lines(p: &Product, tz: Tz) -> Vec<Line<'static>> {
    let publish = match p.publish {
        PublishState::Published { partition, offset } => {
            format!("published · partition {partition} · offset {offset}")
        }
        PublishState::Pending => "pending (not yet acknowledged by Kafka)".to_string(),
    };
    let mut lines = vec![
        Line::from(format!("id            {}", p.id)),
        Line::from(format!("name          {}", printable(&p.name))),
        Line::from(format!("category      {}", printable(&p.category))),
        Line::from(format!("amount        {} {}", p.amount, p.currency)),
        Line::from(format!("quantity      {}", p.quantity)),
        Line::from(format!(
            "registered    {}",
            p.timestamp.with_timezone(&tz).to_rfc3339()
        )),
        Line::from(format!("pricing id    {}", p.pricing_id)),
        Line::from(format!("availability  {}", p.availability_id)),
        Line::from(format!("kafka         {publish}")),
        Line::from(format!("version       {}", p.revision.version)),
        Line::from(format!(
            "created by    {}",
            printable(p.revision.created_by.as_deref().unwrap_or("(unknown)"))
        )),
        Line::from(match (&p.revision.updated_by, p.revision.updated_at) {
            (by, Some(at)) => format!(
                "changed       {} by {}",
                at.with_timezone(&tz).to_rfc3339(),
                printable(by.as_deref().unwrap_or("(unknown)"))
            ),
            _ => "changed       never".to_string(),
        }),
        Line::from("description"),
    ];
    lines.extend(
        p.description
            .lines()
            .map(|l| Line::from(format!("  {}", printable(l)))),
    );
    lines
}
