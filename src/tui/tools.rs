//! The working tools of the products and topic panes: `i` import, `x` export or save, `y` copy
//! (OSC 52), `s` seek. Keys open a prompt; its answer becomes an effect for the runner.

use std::path::{Path, PathBuf};

use super::app::{App, Effect, Overlay, Pane};
use super::import::ImportView;
use super::prompt::{Ask, Prompt, PromptKey};
use super::session::Main;
use crate::domain::{Seek, parse_seek};
use crate::service::{Format, TailStart};

/// `~/x` is under the home directory; a relative path is under the working directory.
fn expand(text: &str) -> PathBuf {
    let path = match text.strip_prefix("~/") {
        Some(rest) => directories::BaseDirs::new()
            .map(|b| b.home_dir().join(rest))
            .unwrap_or_else(|| PathBuf::from(text)),
        None => PathBuf::from(text),
    };
    std::path::absolute(&path).unwrap_or(path)
}

/// `dataflow-products-20261201-190500.csv`, in the app's time zone.
fn default_name(app: &App, what: &str, ext: &str) -> String {
    let now = chrono::Utc::now().with_timezone(&app.tz);
    format!("dataflow-{what}-{}.{ext}", now.format("%Y%m%d-%H%M%S"))
}

/// `products.csv` -> `products.rejects.csv`, beside it.
fn rejects_path(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("import");
    let ext = path.extension().and_then(|s| s.to_str()).unwrap_or("csv");
    path.with_file_name(format!("{stem}.rejects.{ext}"))
}

impl App {
    /// A tool key on the products or topic pane; None when `c` is not one there.
    pub(super) fn on_tool_key(&mut self, c: char) -> Option<Vec<Effect>> {
        let products = default_name(self, "products", "csv");
        let topic = default_name(self, "topic", "jsonl");
        let tz = self.tz;
        let main = self.main_mut()?;
        let (overlay, copy) = match (main.pane, c) {
            (Pane::Table, 'i') => match &main.import {
                Some(v) if v.running() || !v.seen => (Some(Overlay::Import), None),
                _ => (
                    Some(Overlay::Prompt(Prompt::new(Ask::ImportPath, ""))),
                    None,
                ),
            },
            (Pane::Table, 'x') => (
                Some(Overlay::Prompt(Prompt::new(Ask::ExportProducts, products))),
                None,
            ),
            (Pane::Tail, 'x') => (
                Some(Overlay::Prompt(Prompt::new(Ask::SaveMessages, topic))),
                None,
            ),
            (Pane::Tail, 's') => (Some(Overlay::Prompt(Prompt::new(Ask::Seek, ""))), None),
            (Pane::Table, 'y') => {
                let p = main.table.selected_product()?;
                let text = crate::service::product_json(p, tz).to_string();
                (None, Some((format!("#{}", p.id), text)))
            }
            (Pane::Tail, 'y') => {
                let m = main.tail.selected_message()?;
                let what = format!("message {}:{}", m.partition, m.offset);
                (None, Some((what, m.to_json(tz).to_string())))
            }
            _ => return None,
        };
        if let Some((what, text)) = copy {
            main.notice = Some(format!(
                "Copied {what} to the clipboard (OSC 52; in tmux: set -g set-clipboard on)"
            ));
            self.clipboard = Some(text);
        }
        self.overlay = overlay;
        Some(Vec::new())
    }

    pub(super) fn on_prompt_key(
        &mut self,
        mut prompt: Prompt,
        key: crossterm::event::KeyEvent,
    ) -> Vec<Effect> {
        let answer = match prompt.on_key(key) {
            PromptKey::Cancel => return Vec::new(),
            PromptKey::Typing => {
                self.overlay = Some(Overlay::Prompt(prompt));
                return Vec::new();
            }
            PromptKey::Answer(a) => a,
        };
        match self.answer(prompt.ask, &answer) {
            Ok(effects) => effects,
            Err(e) => {
                prompt.error = Some(e);
                self.overlay = Some(Overlay::Prompt(prompt));
                Vec::new()
            }
        }
    }

    fn answer(&mut self, ask: Ask, text: &str) -> Result<Vec<Effect>, String> {
        let tz = self.tz;
        let user = self.main().map(|m| m.user.clone());
        let Some(main) = self.main_mut() else {
            return Ok(Vec::new());
        };
        if ask == Ask::Seek {
            return seek(main, text, tz);
        }
        if text.is_empty() {
            return Err("type a file's path".into());
        }
        let path = expand(text);
        // Refused names keep the box open with the reason (the writer checks again, so a
        // file made meanwhile is never overwritten either).
        if matches!(ask, Ask::ExportProducts | Ask::SaveMessages) {
            if path.exists() {
                return Err(format!(
                    "{} exists already; choose another name",
                    path.display()
                ));
            }
            if let Some(dir) = path.parent().filter(|d| !d.is_dir()) {
                return Err(format!("no folder {}", dir.display()));
            }
        }
        match ask {
            Ask::ImportPath => {
                Format::of_path(&path).ok_or("the file must end in .csv or .jsonl")?;
                let rejects = rejects_path(&path);
                main.import = Some(ImportView::new(path.clone(), rejects.clone()));
                main.notice = main.import.as_ref().map(ImportView::notice);
                self.overlay = Some(Overlay::Import);
                Ok(vec![Effect::Import {
                    path,
                    rejects,
                    by: user,
                }])
            }
            Ask::ExportProducts => {
                let format = Format::of_path(&path).ok_or("the file must end in .csv or .jsonl")?;
                let filter = main.table.filter.trim();
                main.notice = Some(format!("Exporting to {}…", path.display()));
                Ok(vec![Effect::ExportProducts {
                    path,
                    format,
                    filter: (!filter.is_empty()).then(|| filter.to_string()),
                }])
            }
            Ask::SaveMessages => {
                // Oldest first, as the topic holds them.
                let messages = main.tail.shown().iter().rev().cloned().collect();
                main.notice = Some(format!("Saving to {}…", path.display()));
                Ok(vec![Effect::SaveMessages { path, messages }])
            }
            Ask::Seek => Ok(Vec::new()),
        }
    }

    /// Keys in the import window: j/k scroll the rejected rows; Esc closes it.
    pub(super) fn on_import_key(&mut self, key: crossterm::event::KeyEvent) {
        use crossterm::event::KeyCode;
        let Some(view) = self.main_mut().and_then(|m| m.import.as_mut()) else {
            return;
        };
        match (key.code, super::text::plain(&key)) {
            (KeyCode::Down, _) | (_, Some('j')) => {
                view.scroll = (view.scroll + 1).min(view.rejects.len().saturating_sub(1))
            }
            (KeyCode::Up, _) | (_, Some('k')) => view.scroll = view.scroll.saturating_sub(1),
            _ => {
                view.seen = !view.running();
                return;
            }
        }
        self.overlay = Some(Overlay::Import);
    }
}

fn seek(main: &mut Main, text: &str, tz: chrono_tz::Tz) -> Result<Vec<Effect>, String> {
    let (start, partition, origin) = match parse_seek(text, chrono::Utc::now())? {
        Seek::Time(at) => (
            TailStart::Time(at.timestamp_millis()),
            None,
            format!(
                "since {}",
                at.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S")
            ),
        ),
        Seek::Offset { partition, .. } if main.tail.partitions.is_some_and(|n| partition >= n) => {
            return Err(super::tail::partitions_are(
                main.tail.partitions.unwrap_or(0),
            ));
        }
        Seek::Offset { partition, offset } => (
            TailStart::Offset(offset),
            Some(partition),
            format!("partition {partition} from offset {offset}"),
        ),
    };
    main.tail.clear();
    main.tail.origin = origin;
    main.notice = None;
    Ok(vec![Effect::Seek { start, partition }])
}
