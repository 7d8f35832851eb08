//! Keys while a window is drawn over the panes: confirmations, details, prompts, the import.

use crossterm::event::{KeyCode, KeyEvent};

use super::app::{App, Effect, Overlay, Screen};
use super::changes::{change_key, change_verb};
use super::session::{link_to_message, link_to_product, may};
use super::text::plain;
use crate::domain::Role;

impl App {
    pub(super) fn on_overlay_key(&mut self, overlay: Overlay, key: KeyEvent) -> Vec<Effect> {
        let closes =
            key.code == KeyCode::Esc || key.code == KeyCode::Enter || plain(&key) == Some('q');
        match overlay {
            Overlay::ConfirmQuit => {
                self.quit = matches!(plain(&key), Some('y' | 'Y'));
                Vec::new()
            }
            Overlay::Help => {
                match (key.code, plain(&key)) {
                    (KeyCode::Down, _) | (_, Some('j')) => self.help_scroll += 1,
                    (KeyCode::Up, _) | (_, Some('k')) => {
                        self.help_scroll = self.help_scroll.saturating_sub(1)
                    }
                    _ => return Vec::new(),
                }
                self.help_scroll = self.help_scroll.min(super::help::HELP.len());
                self.overlay = Some(Overlay::Help);
                Vec::new()
            }
            Overlay::ConfirmLogout if matches!(plain(&key), Some('y' | 'Y')) => self.log_out(),
            Overlay::ConfirmLogout => Vec::new(),
            Overlay::Prompt(p) => self.on_prompt_key(p, key),
            Overlay::Import => {
                self.on_import_key(key);
                Vec::new()
            }
            Overlay::Audit => self.on_audit_key(key),
            Overlay::ConfirmDelete(p) => match (plain(&key), &mut self.screen) {
                (Some('y' | 'Y'), Screen::Main(main)) => {
                    main.notice = Some(format!("Deleting #{}…", p.id));
                    vec![Effect::Delete {
                        id: p.id,
                        expected: p.revision.version,
                    }]
                }
                _ => Vec::new(),
            },
            Overlay::Product(p) if matches!(plain(&key), Some('e' | 'c' | 'd')) => {
                if let (Screen::Main(main), Some(c)) = (&mut self.screen, plain(&key)) {
                    if may(main, Role::Editor, change_verb(c)) {
                        self.overlay = change_key(main, c, *p);
                    } else {
                        self.overlay = Some(Overlay::Product(p));
                    }
                }
                Vec::new()
            }
            Overlay::Product(p) if plain(&key) == Some('m') => {
                if let Screen::Main(main) = &mut self.screen {
                    if let Some(i) = main.table.rows.iter().position(|r| r.id == p.id) {
                        main.table.selected = i;
                    }
                    link_to_message(main);
                }
                Vec::new()
            }
            Overlay::Message(m) if plain(&key) == Some('o') => match &mut self.screen {
                Screen::Main(main) => {
                    main.tail.select_key(m.key.as_deref().unwrap_or_default());
                    link_to_product(main)
                }
                Screen::Login(_) => Vec::new(),
            },
            other => {
                if !closes {
                    self.overlay = Some(other);
                }
                Vec::new()
            }
        }
    }
}
