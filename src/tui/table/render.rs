//! Drawing the products table: the window of rows around the selection.

use chrono_tz::Tz;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Cell, Row, Table, TableState};

use super::super::text::{clip, pane_block, printable};
use super::TablePane;
use crate::domain::PublishState;

impl TablePane {
    pub fn render(&mut self, f: &mut Frame, area: Rect, focused: bool, tz: Tz) {
        let position = if self.rows.is_empty() {
            "no rows".to_string()
        } else {
            format!(
                "row {} of {}",
                self.window_start + self.selected as i64 + 1,
                self.total
            )
        };
        let filter = if self.filter_editing || !self.filter.is_empty() {
            format!(
                " · filter: {}{}",
                printable(&self.filter),
                if self.filter_editing { "▏" } else { "" }
            )
        } else {
            String::new()
        };
        let status = match (&self.error, self.loading) {
            (Some(e), _) => format!(" · ✗ {}", clip(&printable(e), 40)),
            (None, true) => " · loading…".to_string(),
            _ => String::new(),
        };
        let block = pane_block(format!(" Products · {position}{filter}{status} "), focused);
        self.page_height = area.height.saturating_sub(3).max(1) as usize;
        if self.rows.is_empty() {
            let msg = if self.loading {
                "Loading…"
            } else if self.filter.is_empty() {
                "No products yet: register one in the form (1)."
            } else {
                "No product matches the filter."
            };
            f.render_widget(ratatui::widgets::Paragraph::new(msg).block(block), area);
            return;
        }
        // Narrow terminals drop columns from the right of this priority list.
        let w = area.width;
        let show_time = w >= 110;
        let show_qty = w >= 70;
        let show_cat = w >= 60;
        let mut widths = vec![Constraint::Length(7), Constraint::Min(12)];
        let mut header = vec!["id", "name"];
        if show_cat {
            widths.push(Constraint::Length(14));
            header.push("category");
        }
        widths.push(Constraint::Length(16));
        header.push("amount");
        if show_qty {
            widths.push(Constraint::Length(9));
            header.push("qty");
        }
        if show_time {
            widths.push(Constraint::Length(25));
            header.push("timestamp");
        }
        widths.push(Constraint::Length(9));
        header.push("kafka");
        let rows = self.rows.iter().map(|p| {
            let mut cells = vec![Cell::from(p.id.to_string()), Cell::from(printable(&p.name))];
            if show_cat {
                cells.push(Cell::from(printable(&p.category)));
            }
            cells.push(Cell::from(format!("{} {}", p.amount, p.currency)));
            if show_qty {
                cells.push(Cell::from(p.quantity.to_string()));
            }
            if show_time {
                cells.push(Cell::from(
                    p.timestamp
                        .with_timezone(&tz)
                        .format("%Y-%m-%d %H:%M:%S %z")
                        .to_string(),
                ));
            }
            cells.push(match p.publish {
                PublishState::Published { .. } => {
                    Cell::from("published").style(Style::default().fg(Color::Green))
                }
                PublishState::Pending => {
                    Cell::from("pending").style(Style::default().fg(Color::Yellow))
                }
            });
            Row::new(cells)
        });
        let table = Table::new(rows, widths)
            .header(Row::new(header).style(Style::default().add_modifier(Modifier::BOLD)))
            .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
            .block(block);
        let mut state = TableState::default().with_selected(Some(self.selected));
        f.render_stateful_widget(table, area, &mut state);
    }
}
