//! Drawing: the login screen, or tabs + focused pane + status bar, and the overlays.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::app::{App, Overlay, Pane, Screen, Startup};
use super::help::{HELP, hints_for};
use super::session::Main;
use super::text::{clip, printable};

/// The smallest terminal every pane, box and the form fit in.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;

pub fn draw(f: &mut Frame, app: &mut App) {
    let area = f.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!(
            "Terminal too small: {}x{}, need {MIN_WIDTH}x{MIN_HEIGHT}",
            area.width, area.height
        );
        let [row] = Layout::vertical([Constraint::Length(3)])
            .flex(Flex::Center)
            .areas(area);
        let lines = vec![
            Line::from(Span::styled(text, Style::default().fg(Color::Yellow))),
            Line::from("Enlarge it; Ctrl+C quits"),
        ];
        f.render_widget(
            Paragraph::new(lines).wrap(Wrap { trim: true }).centered(),
            row,
        );
        return;
    }
    let tz = app.tz;
    let status_line = app_status_line(app);
    match &mut app.screen {
        Screen::Login(login) => {
            let starting = match &app.startup {
                Startup::Starting => Some("starting the database and the broker…".to_string()),
                Startup::Failed(e) => Some(format!("Start-up failed: {e}")),
                Startup::Ready {
                    database,
                    bootstrap,
                    embedded,
                } => Some(format!(
                    "{database} · Kafka {}{bootstrap}",
                    if *embedded { "embedded " } else { "" }
                )),
            };
            login.render(f, area, starting.as_deref());
        }
        Screen::Main(main) => {
            let [tabs, body, notice, status, hints] = Layout::vertical([
                Constraint::Length(1),
                Constraint::Min(5),
                Constraint::Length(if main.notice.is_some() { 1 } else { 0 }),
                Constraint::Length(1),
                Constraint::Length(1),
            ])
            .areas(area);
            draw_tabs(f, tabs, main);
            match main.pane {
                Pane::Form => main.form.render(f, body, true),
                Pane::Table => main.table.render(f, body, true, tz),
                Pane::Tail => main.tail.render(f, body, true, tz),
                Pane::Pipeline => main.pipeline.render(f, body, tz),
            }
            if let Some(n) = &main.notice {
                f.render_widget(
                    Paragraph::new(Span::styled(
                        printable(n),
                        Style::default().fg(Color::Yellow),
                    )),
                    notice,
                );
            }
            draw_status(f, status, status_line);
            f.render_widget(
                Paragraph::new(Span::styled(
                    hints_for(main),
                    Style::default().fg(Color::DarkGray),
                )),
                hints,
            );
        }
    }
    draw_overlay(f, app);
}

fn draw_tabs(f: &mut Frame, area: Rect, main: &Main) {
    let mut spans = Vec::new();
    for (i, (pane, name)) in [
        (Pane::Form, "Form"),
        (Pane::Table, "Products"),
        (Pane::Tail, "Topic"),
        (Pane::Pipeline, "Pipeline"),
    ]
    .iter()
    .enumerate()
    {
        let style = if main.pane == *pane {
            Style::default()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        };
        spans.push(Span::styled(format!(" {} {name} ", i + 1), style));
        spans.push(Span::raw(" "));
    }
    spans.push(Span::styled(
        format!("  user {} ({})", printable(&main.user), main.role),
        Style::default().fg(Color::DarkGray),
    ));
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn app_status_line(app: &App) -> Line<'static> {
    let ok = |good: bool| {
        if good {
            Style::default().fg(Color::Green)
        } else {
            Style::default().fg(Color::Red)
        }
    };
    let Some(s) = &app.status else {
        return Line::from("checking database and broker…");
    };
    let user = app
        .main()
        .map(|m| format!("{} ({})", m.user, m.role))
        .unwrap_or_default();
    let mut spans = vec![
        Span::raw(format!("DB {} ", s.database)),
        Span::styled(if s.database_ok { "up" } else { "DOWN" }, ok(s.database_ok)),
        Span::raw(format!(
            " │ Kafka {}{} ",
            if s.broker_embedded { "embedded " } else { "" },
            s.bootstrap
        )),
        Span::styled(if s.broker_ok { "up" } else { "DOWN" }, ok(s.broker_ok)),
        Span::raw(format!(
            " │ pending {} │ {}",
            s.pending.map_or("?".to_string(), |p| p.to_string()),
            printable(&user)
        )),
    ];
    if let Some(why) = &s.broker_error {
        spans.push(Span::styled(
            format!(" │ broker: {}", printable(why)),
            Style::default().fg(Color::Red),
        ));
    }
    if let Some(note) = &s.broker_note {
        spans.push(Span::styled(
            format!(" │ {}", printable(note)),
            Style::default().fg(Color::Yellow),
        ));
    }
    let waiting: i64 = s.elsewhere.iter().map(|d| d.pending).sum();
    if waiting > 0 {
        spans.push(Span::styled(
            format!(" │ {waiting} for another destination: dataflow outbox"),
            Style::default().fg(Color::Yellow),
        ));
    }
    if let Some((n, why)) = &s.refused {
        spans.push(Span::styled(
            format!(" │ {n} refused: {}", printable(why)),
            Style::default().fg(Color::Red),
        ));
    }
    Line::from(spans)
}

fn draw_status(f: &mut Frame, area: Rect, line: Line<'static>) {
    f.render_widget(
        Paragraph::new(line).style(Style::default().bg(Color::Rgb(30, 30, 30))),
        area,
    );
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(h.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(w.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    cell
}

/// A detail window's lines, then a blank line and its key hint.
fn with_hint(mut lines: Vec<Line<'static>>, hint: &'static str) -> Vec<Line<'static>> {
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        hint,
        Style::default().fg(Color::DarkGray),
    )));
    lines
}

fn draw_overlay(f: &mut Frame, app: &App) {
    let area = f.area();
    let (title, lines, w, h): (&str, Vec<Line>, u16, u16) = match &app.overlay {
        None => return,
        Some(Overlay::Help) => {
            let lines: Vec<Line> = HELP
                .iter()
                .map(|(k, v)| {
                    if v.is_empty() {
                        Line::from(Span::styled(
                            *k,
                            Style::default()
                                .add_modifier(Modifier::BOLD)
                                .fg(Color::Cyan),
                        ))
                    } else {
                        Line::from(vec![
                            Span::styled(format!("  {k:<18}"), Style::default().fg(Color::Yellow)),
                            Span::raw(*v),
                        ])
                    }
                })
                .collect();
            // Scrolled (j/k) when the terminal is shorter than the help.
            let shown = area.height.saturating_sub(2) as usize;
            let top = app.help_scroll.min(HELP.len().saturating_sub(shown));
            let lines: Vec<Line> = lines.into_iter().skip(top).collect();
            let title = if shown < HELP.len() {
                " Keys · j/k scroll · any other key closes "
            } else {
                " Keys · any key closes "
            };
            (title, lines, 80, HELP.len() as u16 + 2)
        }
        Some(Overlay::ConfirmQuit) => (
            " Quit? ",
            vec![
                Line::from("The form has unsaved input. Quit and lose it?"),
                Line::from(""),
                Line::from("y quit · any other key stays"),
            ],
            52,
            5,
        ),
        Some(Overlay::ConfirmLogout) => (
            " Log out? ",
            vec![
                Line::from("The form has unsaved input or drafts set aside."),
                Line::from("Log out and lose them?"),
                Line::from(""),
                Line::from("y log out · any other key stays"),
            ],
            52,
            6,
        ),
        Some(Overlay::ConfirmDelete(p)) => (
            " Delete? ",
            vec![
                Line::from(format!(
                    "Delete #{} {} (v{})?",
                    p.id,
                    clip(&super::text::printable(&p.name), 40),
                    p.revision.version
                )),
                Line::from("It leaves the catalogue; a tombstone goes to the topic."),
                Line::from(""),
                Line::from("y delete · any other key keeps it"),
            ],
            64,
            6,
        ),
        Some(Overlay::Product(p)) => {
            let lines = with_hint(
                super::details::detail_lines(p, app.tz),
                "e edit · c copy as new · d delete · m its message · Esc close",
            );
            let h = lines.len() as u16 + 2;
            (" Product ", lines, 90, h)
        }
        Some(Overlay::Prompt(p)) => {
            let mut lines = vec![
                Line::from(Span::styled(
                    p.ask.help(),
                    Style::default().fg(Color::DarkGray),
                )),
                Line::from(""),
                Line::from(format!("> {}▏", printable(&p.text))),
            ];
            if let Some(e) = &p.error {
                lines.push(Line::from(Span::styled(
                    printable(e),
                    Style::default().fg(Color::Red),
                )));
            }
            let lines = with_hint(lines, "Enter go · Ctrl+U clear · Esc cancel");
            let h = lines.len() as u16 + 2;
            (p.ask.title(), lines, 90, h)
        }
        Some(Overlay::Import) => {
            let height = area.height.saturating_sub(4) as usize;
            let lines = app
                .main()
                .and_then(|m| m.import.as_ref())
                .map(|v| v.lines(height))
                .unwrap_or_default();
            let lines = with_hint(lines, "j/k scroll · Esc close (the import goes on)");
            let h = lines.len() as u16 + 2;
            (" Import ", lines, 100, h)
        }
        Some(Overlay::Audit) => {
            let height = area.height.saturating_sub(4) as usize;
            let lines = app
                .main()
                .map(|m| m.audit.lines(height, app.tz))
                .unwrap_or_default();
            let lines = with_hint(lines, "j/k scroll · r read again · Esc close");
            let h = lines.len() as u16 + 2;
            (" Audit trail (newest first) ", lines, 140, h)
        }
        Some(Overlay::Message(m)) => {
            let lines = with_hint(
                super::message::detail_lines(m, app.tz),
                "o its product · Esc close",
            );
            let h = lines.len() as u16 + 2;
            (" Message ", lines, 90, h)
        }
    };
    let rect = centered(area, w, h);
    f.render_widget(Clear, rect);
    let lines: Vec<Line> = lines
        .into_iter()
        .map(|l| {
            // Inside the borders: a clipped line never wraps into the next one.
            let inner = rect.width.saturating_sub(2) as usize;
            if l.width() > inner {
                Line::from(clip(&l.to_string(), inner))
            } else {
                l
            }
        })
        .collect();
    let block = Block::default()
        .borders(Borders::ALL)
        .title(title)
        .border_style(Style::default().fg(Color::Cyan));
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        rect,
    );
}
