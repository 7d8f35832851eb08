//! A paste (bracketed: the terminal marks its start and end) is text for the focused field,
//! never keys: on a pane without a text field it is ignored and says so, so a pasted word can
//! never run as commands (`d`, `y`).

use super::app::{App, Overlay, Screen};
use super::events::Pane;

/// Turns a paste into what a field may hold: line ends become one space in one-line fields
/// (kept in the description), tabs a space; any other control character refuses the whole
/// paste, naming it, so nothing half-pasted lands.
pub fn clean(text: &str, multiline: bool) -> Result<String, String> {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    if let Some(c) = text
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\t'))
    {
        return Err(format!(
            "Not pasted: it holds a control character (U+{:04X})",
            c as u32
        ));
    }
    let text = text.replace('\t', " ");
    if multiline {
        return Ok(text);
    }
    Ok(text
        .split('\n')
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" "))
}

impl App {
    /// A bracketed paste: into the focused text field whole, or ignored with a notice.
    pub fn on_paste(&mut self, text: &str) {
        self.dirty = true;
        if let Some(overlay) = self.overlay.as_mut() {
            let result = match overlay {
                Overlay::Prompt(p) => clean(text, false).map(|t| {
                    p.text.push_str(&t);
                    p.error = None;
                }),
                _ => Err("Paste ignored: this window has no text field".to_string()),
            };
            if let (Err(e), Some(main)) = (result, self.main_mut()) {
                main.notice = Some(e);
            }
            return;
        }
        let main = match &mut self.screen {
            Screen::Login(login) => {
                if let Ok(t) = clean(text, false) {
                    login.paste(&t);
                }
                return;
            }
            Screen::Main(m) => m,
        };
        let result = if main.pane == Pane::Form && main.form.editing {
            main.form.paste(text)
        } else if main.pane == Pane::Table && main.table.filter_editing {
            clean(text, false).map(|t| main.table.filter.push_str(&t))
        } else if main.pane == Pane::Tail && main.tail.filter_editing {
            clean(text, false).map(|t| main.tail.paste_filter(&t))
        } else {
            Err("Paste ignored: no text field has the focus (Enter or / opens one)".to_string())
        };
        main.notice = result.err();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ends_and_tabs_become_spaces_in_one_line_fields() {
        assert_eq!(
            clean("Line1\nLine2\tTabbed", false).unwrap(),
            "Line1 Line2 Tabbed"
        );
        assert_eq!(clean("a\r\nb\n", false).unwrap(), "a b");
        assert_eq!(clean("a\r\nb\n", true).unwrap(), "a\nb\n");
        let e = clean("bell\u{7}", false).unwrap_err();
        assert!(e.contains("U+0007"), "{e}");
    }
}
