//! Drawing the form: its fields, their checks, and the last save's outcome.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{DESCRIPTION, FIELDS, FormPane, Outcome};
use crate::domain::PublishState;
use crate::tui::text::{draw_input, pane_block, printable};

impl FormPane {
    pub fn render(&self, f: &mut Frame, area: Rect, focused: bool) {
        let title = format!(
            "{}{}",
            self.title(),
            if self.keep_values {
                "· keeping values after save (Ctrl+K) "
            } else {
                ""
            }
        );
        let block = pane_block(title, focused);
        let inner = block.inner(area);
        f.render_widget(block, area);
        // Small terminals: one row a field, the marks beside the labels, and the focused
        // field's reason on one line, so every field stays on screen down to 60x16.
        let compact = inner.height < 14;
        let desc_rows = if inner.height >= 20 {
            4
        } else if inner.height >= 16 {
            2
        } else {
            1
        };
        let mut rows: Vec<Constraint> = Vec::new();
        for i in 0..FIELDS.len() {
            rows.push(Constraint::Length(if i == DESCRIPTION {
                desc_rows
            } else {
                1
            }));
            if !compact {
                rows.push(Constraint::Length(1));
            }
        }
        rows.push(Constraint::Length(1));
        rows.push(Constraint::Min(1));
        let areas = Layout::vertical(rows).split(inner);
        let per_field = if compact { 1 } else { 2 };
        let label_w = 13.min(inner.width / 3);
        for (i, (_, label)) in FIELDS.iter().enumerate() {
            let [label_area, input_area] =
                Layout::horizontal([Constraint::Length(label_w), Constraint::Min(1)])
                    .areas(areas[i * per_field]);
            let active = focused && self.editing && self.focus == i;
            // The field typing goes to is marked even outside it (Enter or a letter enters).
            let label_style = if active {
                Style::default()
                    .fg(Color::Cyan)
                    .add_modifier(Modifier::BOLD)
            } else if focused && self.focus == i {
                Style::default().fg(Color::Cyan)
            } else {
                Style::default()
            };
            let error = self.field_error(i);
            let label = if compact {
                let mark = match &error {
                    Some(_) if self.touched[i] => "✗",
                    Some(_) => " ",
                    None => "✓",
                };
                format!("{mark}{label}:")
            } else {
                format!("{label}:")
            };
            f.render_widget(Paragraph::new(label).style(label_style), label_area);
            draw_input(f, input_area, &self.inputs[i], active);
            if compact {
                continue;
            }
            let msg = match error {
                Some(e) if self.touched[i] => Line::from(Span::styled(
                    format!("✗ {e}"),
                    Style::default().fg(Color::Red),
                )),
                Some(_) => Line::from(""),
                None => Line::from(Span::styled("✓", Style::default().fg(Color::Green))),
            };
            let [_, msg_area] =
                Layout::horizontal([Constraint::Length(label_w), Constraint::Min(1)])
                    .areas(areas[i * 2 + 1]);
            f.render_widget(Paragraph::new(msg), msg_area);
        }
        if compact
            && let Some(e) = self
                .field_error(self.focus)
                .filter(|_| self.touched[self.focus])
        {
            let line = Line::from(Span::styled(
                format!("✗ {}: {e}", FIELDS[self.focus].1),
                Style::default().fg(Color::Red),
            ));
            f.render_widget(Paragraph::new(line), areas[FIELDS.len()]);
        }
        let outcome = match &self.outcome {
            None => Line::from(Span::styled(
                "Ctrl+S save · Ctrl+R reset · Ctrl+K keep values",
                Style::default().fg(Color::DarkGray),
            )),
            Some(Outcome::Saving { name, repeat }) => Line::from(vec![
                Span::raw(format!("Saving {}…", printable(name))),
                Span::styled(
                    if *repeat {
                        " still in progress: Ctrl+S works again once it is done"
                    } else {
                        " the form is free for the next product"
                    },
                    Style::default().fg(if *repeat {
                        Color::Yellow
                    } else {
                        Color::DarkGray
                    }),
                ),
            ]),
            Some(Outcome::Saved {
                id,
                publish: PublishState::Published { partition, offset },
            }) => Line::from(vec![
                Span::styled(format!("✓ Saved #{id}"), Style::default().fg(Color::Green)),
                Span::raw(format!(
                    " · published to partition {partition}, offset {offset}"
                )),
            ]),
            Some(Outcome::Saved {
                id,
                publish: PublishState::Pending,
            }) => Line::from(vec![
                Span::styled(format!("✓ Saved #{id}"), Style::default().fg(Color::Green)),
                Span::styled(
                    " · pending: Kafka has not acknowledged yet; it will be published",
                    Style::default().fg(Color::Yellow),
                ),
            ]),
            Some(Outcome::Updated {
                id,
                version,
                publish,
            }) => Line::from(vec![
                Span::styled(
                    format!("✓ Updated #{id} to v{version}"),
                    Style::default().fg(Color::Green),
                ),
                match publish {
                    PublishState::Published { partition, offset } => Span::raw(format!(
                        " · published to partition {partition}, offset {offset}"
                    )),
                    PublishState::Pending => Span::styled(
                        " · pending: it will be published after the product's earlier events",
                        Style::default().fg(Color::Yellow),
                    ),
                },
            ]),
            Some(Outcome::Stale { message, .. }) => Line::from(Span::styled(
                format!("✗ Not saved: {}", printable(message)),
                Style::default().fg(Color::Yellow),
            )),
            Some(Outcome::Note(m)) => {
                Line::from(Span::styled(printable(m), Style::default().fg(Color::Cyan)))
            }
            Some(Outcome::Refused(m)) => {
                Line::from(Span::styled(m.clone(), Style::default().fg(Color::Red)))
            }
            Some(Outcome::Failed(m)) => Line::from(Span::styled(
                format!("✗ Not saved: {}", printable(m)),
                Style::default().fg(Color::Red),
            )),
        };
        let outcome_area = areas[FIELDS.len() * per_field + 1];
        f.render_widget(
            Paragraph::new(outcome).wrap(ratatui::widgets::Wrap { trim: true }),
            outcome_area,
        );
    }
}
