//! The login screen: username, masked password, one error that never tells which was wrong.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui_textarea::TextArea;

use super::text::{draw_input, printable};

pub struct LoginPane {
    username: TextArea<'static>,
    password: TextArea<'static>,
    /// 0 = username, 1 = password.
    pub focus: usize,
    pub error: Option<String>,
    pub busy: bool,
    /// The API user while its default password is in effect (never in production): said on
    /// screen so a first run needs no manual.
    pub first_run: Option<String>,
}

fn field() -> TextArea<'static> {
    let mut t = TextArea::default();
    t.set_cursor_line_style(Style::default());
    t
}

impl Default for LoginPane {
    fn default() -> Self {
        let mut password = field();
        password.set_mask_char('•');
        LoginPane {
            username: field(),
            password,
            focus: 0,
            error: None,
            busy: false,
            first_run: None,
        }
    }
}

impl LoginPane {
    /// Returns (username, password) when the user submits.
    pub fn on_key(&mut self, key: KeyEvent) -> Option<(String, String)> {
        match key.code {
            KeyCode::Tab | KeyCode::BackTab | KeyCode::Up | KeyCode::Down => {
                self.focus = 1 - self.focus
            }
            KeyCode::Enter if self.focus == 0 => self.focus = 1,
            KeyCode::Enter => {
                if self.busy {
                    return None;
                }
                let user = self.username.lines().join("");
                let pass = self.password.lines().join("");
                if user.is_empty() {
                    self.error = Some("Enter a username".into());
                    self.focus = 0;
                    return None;
                }
                self.busy = true;
                self.error = None;
                return Some((user, pass));
            }
            _ => {
                let target = if self.focus == 0 {
                    &mut self.username
                } else {
                    &mut self.password
                };
                target.input(key);
            }
        }
        None
    }

    /// Pasted text (cleaned to one line) into the focused field.
    pub fn paste(&mut self, text: &str) {
        let target = if self.focus == 0 {
            &mut self.username
        } else {
            &mut self.password
        };
        target.insert_str(text);
    }

    pub fn failed(&mut self, message: &str) {
        self.busy = false;
        self.error = Some(message.to_string());
        self.password = {
            let mut p = field();
            p.set_mask_char('•');
            p
        };
        self.focus = 1;
    }

    pub fn render(&self, f: &mut Frame, area: Rect, starting: Option<&str>) {
        let [row] = Layout::vertical([Constraint::Length(13)])
            .flex(Flex::Center)
            .areas(area);
        let [boxed] = Layout::horizontal([Constraint::Length(60.min(area.width))])
            .flex(Flex::Center)
            .areas(row);
        f.render_widget(Clear, boxed);
        let block = Block::default()
            .borders(Borders::ALL)
            .title(" dataflow · log in ")
            .border_style(Style::default().fg(Color::Cyan));
        let inner = block.inner(boxed);
        f.render_widget(block, boxed);
        let rows = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(2),
            Constraint::Min(1),
        ])
        .split(inner);
        for (i, (label, input)) in [("Username", &self.username), ("Password", &self.password)]
            .into_iter()
            .enumerate()
        {
            let [l, r] = Layout::horizontal([Constraint::Length(11), Constraint::Min(1)])
                .areas(rows[i * 2 + 1]);
            let active = self.focus == i;
            let style = if active {
                Style::default()
                    .fg(Color::Cyan)
                    .add_modifier(Modifier::BOLD)
            } else {
                Style::default()
            };
            f.render_widget(Paragraph::new(format!("{label}:")).style(style), l);
            draw_input(f, r, input, active);
        }
        let message = match (&self.error, self.busy, starting) {
            (Some(e), _, _) => {
                Line::from(Span::styled(printable(e), Style::default().fg(Color::Red)))
            }
            (None, true, Some(s)) => Line::from(format!("Waiting for start-up: {s}")),
            (None, true, None) => Line::from("Checking…"),
            (None, false, Some(s)) => Line::from(Span::styled(
                s.to_string(),
                Style::default().fg(Color::DarkGray),
            )),
            (None, false, None) => Line::from(""),
        };
        f.render_widget(
            Paragraph::new(message).wrap(ratatui::widgets::Wrap { trim: true }),
            rows[5],
        );
        let mut hint = vec![Line::from(Span::styled(
            "Tab switch field · Enter log in · Ctrl+C quit",
            Style::default().fg(Color::DarkGray),
        ))];
        if let Some(user) = &self.first_run {
            hint.insert(
                0,
                Line::from(Span::styled(
                    format!("First run: log in as {} / vert", printable(user)),
                    Style::default().fg(Color::Yellow),
                )),
            );
        }
        f.render_widget(Paragraph::new(hint), rows[6]);
    }
}
