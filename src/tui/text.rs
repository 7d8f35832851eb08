//! Small text helpers shared by the panes: safe display of untrusted text, and key tests.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, Borders};
use ratatui_textarea::TextArea;

/// A pane's frame; the focused one is highlighted.
pub fn pane_block(title: String, focused: bool) -> Block<'static> {
    let border = if focused {
        Color::Cyan
    } else {
        Color::DarkGray
    };
    Block::default()
        .borders(Borders::ALL)
        .title(title)
        .border_style(Style::default().fg(border))
}

/// A one-field input: shaded, with a visible cursor only where typing goes.
pub fn draw_input(f: &mut Frame, area: Rect, input: &TextArea<'static>, active: bool) {
    let mut ta = input.clone();
    ta.set_style(Style::default().bg(if active {
        Color::Rgb(40, 40, 60)
    } else {
        Color::Rgb(28, 28, 28)
    }));
    ta.set_cursor_style(if active {
        Style::default().add_modifier(Modifier::REVERSED)
    } else {
        Style::default()
    });
    f.render_widget(&ta, area);
}

/// Text from the database or the topic, made safe to draw: control characters (escape
/// sequences included) would corrupt the terminal, so each becomes a visible placeholder.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '·' } else { c })
        .collect()
}

/// At most `max` characters, with an ellipsis when cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

pub fn ctrl(key: &KeyEvent, c: char) -> bool {
    key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char(c)
}

/// A plain character typed without Control (Shift is fine).
pub fn plain(key: &KeyEvent) -> Option<char> {
    match key.code {
        KeyCode::Char(c)
            if !key
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
        {
            Some(c)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_neutralised() {
        assert_eq!(printable("a\u{1b}[31mb\n"), "a·[31mb·");
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
    }
}
