//! The pipeline pane (key 4): what waits in the outbox and for how long, how long events take
//! from commit to the broker, the topic's partitions, how far every consumer group has read,
//! and the broker's ups and downs. Readings come from the runner while the pane is shown.

use chrono_tz::Tz;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Block, Borders, Paragraph, Sparkline};

use super::text::printable;
use crate::service::pipeline::{
    BrokerChange, History, LATENCY_BOUNDS_MS, Reading, age_text, ms_text,
};

/// A reading with what the history adds: series for the graphs and the broker's changes.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineView {
    pub reading: Reading,
    pub pending: Vec<u64>,
    /// Each group's lag in seconds per reading, oldest first (the graph).
    pub lag: Vec<(String, Vec<u64>)>,
    pub changes: Vec<BrokerChange>,
}

impl PipelineView {
    pub fn of(h: &History) -> Option<PipelineView> {
        let reading = h.latest()?.clone();
        Some(PipelineView {
            pending: h.pending(),
            lag: reading
                .groups
                .iter()
                .map(|g| (g.group.clone(), h.lag_seconds(&g.group)))
                .collect(),
            changes: h.changes().cloned().collect(),
            reading,
        })
    }
}

#[derive(Debug, Default)]
pub struct PipelinePane {
    pub view: Option<Box<PipelineView>>,
}

fn title(s: &str) -> Block<'_> {
    Block::default().borders(Borders::ALL).title(Span::styled(
        s,
        Style::default().add_modifier(Modifier::BOLD),
    ))
}

impl PipelinePane {
    pub fn render(&self, f: &mut Frame, area: Rect, tz: Tz) {
        let Some(v) = &self.view else {
            f.render_widget(
                Paragraph::new("reading the outbox, the topic and its consumer groups…")
                    .block(title("Pipeline")),
                area,
            );
            return;
        };
        let r = &v.reading;
        let groups_height = (r.groups.len() as u16 * 3).max(1) + 2;
        let [outbox, middle, readers, broker] = Layout::vertical([
            Constraint::Length(r.destinations.len().max(1) as u16 + 3),
            Constraint::Length(9),
            Constraint::Min(groups_height.min(12)),
            Constraint::Length(3),
        ])
        .areas(area);
        self.outbox(f, outbox, v);
        let [latency, topic] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                .areas(middle);
        latency_block(f, latency, r);
        topic_block(f, topic, r);
        readers_block(f, readers, v);
        broker_block(f, broker, v, tz);
    }

    fn outbox(&self, f: &mut Frame, area: Rect, v: &PipelineView) {
        let r = &v.reading;
        let block = title("Outbox");
        let inner = block.inner(area);
        f.render_widget(block, area);
        let [text, graph] =
            Layout::horizontal([Constraint::Min(30), Constraint::Length(graph_width(inner))])
                .areas(inner);
        let mut lines = vec![Line::from(match (&r.database_error, r.pending) {
            (Some(e), _) => format!("database unavailable: {}", printable(e)),
            (None, p) => format!(
                "pending {} · published {:.1}/s",
                p.unwrap_or(0),
                r.latency.per_s
            ),
        })];
        for d in &r.destinations {
            let oldest = d.oldest_age_s.map_or("-".into(), age_text);
            let (what, style) = if d.served {
                ("published here", Style::default())
            } else if d.pending > 0 {
                ("NO process here serves it", Style::default().fg(Color::Red))
            } else {
                ("not published here", Style::default().fg(Color::DarkGray))
            };
            lines.push(Line::from(vec![
                Span::raw(format!(
                    "{}  pending {}  oldest {oldest}  ",
                    printable(&d.name),
                    d.pending
                )),
                Span::styled(what, style),
            ]));
        }
        f.render_widget(Paragraph::new(lines), text);
        f.render_widget(
            Sparkline::default()
                .block(Block::default().title("pending over time"))
                .data(tail_of(&v.pending, graph.width))
                .style(Style::default().fg(Color::Yellow)),
            graph,
        );
    }
}

/// A graph beside text takes a quarter of the width, 40 columns at most.
fn graph_width(area: Rect) -> u16 {
    (area.width / 4).min(40)
}

/// The last `width` points of `series` (a sparkline draws one column per point).
fn tail_of(series: &[u64], width: u16) -> &[u64] {
    &series[series.len().saturating_sub(width as usize)..]
}

fn latency_block(f: &mut Frame, area: Rect, r: &Reading) {
    let l = &r.latency;
    let block = title("Commit → acknowledgement (5 min)");
    let inner = block.inner(area);
    f.render_widget(block, area);
    let [head, chart] = Layout::vertical([Constraint::Length(1), Constraint::Min(3)]).areas(inner);
    f.render_widget(
        Paragraph::new(format!(
            "p50 {} · p99 {} · {} events",
            ms_text(l.p50_ms),
            ms_text(l.p99_ms),
            l.events
        )),
        head,
    );
    let labels: Vec<String> = LATENCY_BOUNDS_MS
        .iter()
        .map(|b| {
            if *b >= 1000.0 {
                format!("{}s", b / 1000.0)
            } else {
                format!("{b}")
            }
        })
        .chain(std::iter::once(">5s".to_string()))
        .collect();
    let bars: Vec<Bar> = labels
        .iter()
        .zip(&l.bars)
        .map(|(label, n)| Bar::default().value(*n).label(Line::from(label.clone())))
        .collect();
    f.render_widget(
        BarChart::default()
            .data(BarGroup::default().bars(&bars))
            .bar_width(3)
            .bar_gap(1)
            .bar_style(Style::default().fg(Color::Cyan)),
        chart,
    );
}

fn topic_block(f: &mut Frame, area: Rect, r: &Reading) {
    let mut lines = vec![Line::styled(
        format!("{:>4} {:>10} {:>10} {:>8}", "part", "low", "high", "msg/s"),
        Style::default().add_modifier(Modifier::BOLD),
    )];
    for p in &r.partitions {
        let rate = p.per_s.map_or("-".into(), |v| format!("{v:.1}"));
        lines.push(Line::from(format!(
            "{:>4} {:>10} {:>10} {:>8}",
            p.partition, p.low, p.high, rate
        )));
    }
    let name = format!("Topic {}", printable(&r.topic));
    f.render_widget(Paragraph::new(lines).block(title(&name)), area);
}

fn readers_block(f: &mut Frame, area: Rect, v: &PipelineView) {
    let block = title("Readers (consumer groups)");
    let inner = block.inner(area);
    f.render_widget(block, area);
    if v.reading.groups.is_empty() {
        f.render_widget(
            Paragraph::new("no consumer group has read the topic"),
            inner,
        );
        return;
    }
    let rows =
        Layout::vertical(v.reading.groups.iter().map(|_| Constraint::Length(3))).split(inner);
    for (g, row) in v.reading.groups.iter().zip(rows.iter()) {
        let [text, graph] =
            Layout::horizontal([Constraint::Min(30), Constraint::Length(graph_width(*row))])
                .areas(*row);
        let mut head = vec![Span::styled(
            format!(
                "{}  lag {}{}",
                printable(&g.group),
                g.lag,
                g.lag_seconds
                    .map_or(String::new(), |s| format!(", {} behind", behind(s)))
            ),
            Style::default().add_modifier(Modifier::BOLD),
        )];
        if g.stalled {
            head.push(Span::styled(
                "  STALLED: lag grows, offsets stand still",
                Style::default().fg(Color::Red),
            ));
        }
        let parts: Vec<String> = g
            .partitions
            .iter()
            .map(|p| {
                let c = p.committed.map_or("-".into(), |c| c.to_string());
                format!("p{} at {c} lag {}", p.partition, p.lag)
            })
            .collect();
        f.render_widget(
            Paragraph::new(vec![Line::from(head), Line::from(parts.join(" · "))]),
            text,
        );
        let series = v
            .lag
            .iter()
            .find(|(name, _)| *name == g.group)
            .map_or(&[][..], |(_, s)| s.as_slice());
        f.render_widget(
            Sparkline::default()
                .data(tail_of(series, graph.width))
                .style(Style::default().fg(if g.stalled { Color::Red } else { Color::Green })),
            graph,
        );
    }
}

/// "0 s", "45 s", "3 min 20 s", "2 h 5 min": how far behind a reader is.
pub(crate) fn behind(secs: f64) -> String {
    let s = secs.max(0.0) as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

fn broker_block(f: &mut Frame, area: Rect, v: &PipelineView, tz: Tz) {
    let b = &v.reading.broker;
    let mut spans = vec![
        Span::raw(format!("{} ", printable(&b.bootstrap))),
        if b.up {
            Span::styled("up", Style::default().fg(Color::Green))
        } else {
            Span::styled("DOWN", Style::default().fg(Color::Red))
        },
    ];
    if let Some(e) = &b.error {
        spans.push(Span::raw(format!(": {}", printable(e))));
    }
    let changes: Vec<String> = v
        .changes
        .iter()
        .rev()
        .take(4)
        .map(|c| {
            let at = c.at.with_timezone(&tz).format("%H:%M:%S");
            if c.up {
                format!("up {at}")
            } else {
                format!("down {at}")
            }
        })
        .collect();
    if !changes.is_empty() {
        spans.push(Span::styled(
            format!("  ·  {}", changes.join(", ")),
            Style::default().fg(Color::DarkGray),
        ));
    }
    f.render_widget(
        Paragraph::new(Line::from(spans)).block(title("Broker")),
        area,
    );
}
