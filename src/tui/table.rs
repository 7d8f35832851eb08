//! The product table: newest first, fetched by key in pages as you scroll, never all at once.
//! Only a window of rows is kept; "row X of N" counts from the top of the whole table.

use crossterm::event::{KeyCode, KeyEvent};

use super::text::plain;
use crate::domain::{Position, Product, PublishState};

mod render;

pub const PAGE: i64 = 200;
/// Rows kept in memory; scrolling further drops rows at the other end.
const WINDOW: usize = 1000;
/// Fetch the next page when the selection comes this close to the window's edge.
const MARGIN: usize = 20;

/// Which rows a request asks for; the answer comes back with the same value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetch {
    /// The newest page: first load, filter change, `g`.
    Top,
    /// Older than the window's last row.
    Older(i64),
    /// Newer than the window's first row (scrolling up, or new products arriving).
    Newer(i64),
    /// The oldest page: `G`.
    Bottom,
    /// The page starting at this product (a jump from the tail).
    At(i64),
    /// Products committed after this position, whatever their ids (new products arriving).
    Since(Position),
}

/// A page's answer.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// Newest first; for `Since`, in commit order.
    pub rows: Vec<Product>,
    /// Absolute index of the first row, when known.
    pub position: Option<i64>,
    /// Where following new products resumes (`Top`: taken before the page was read).
    pub follow: Option<Position>,
}

impl Loaded {
    pub fn page(rows: Vec<Product>, position: Option<i64>) -> Loaded {
        Loaded {
            rows,
            position,
            follow: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRequest {
    pub generation: u64,
    pub fetch: Fetch,
    pub filter: Option<String>,
}

pub struct TablePane {
    pub rows: Vec<Product>,
    /// Absolute index (0 = newest) of `rows[0]` in the filtered table.
    pub window_start: i64,
    pub selected: usize,
    pub total: i64,
    pub filter: String,
    pub filter_editing: bool,
    pub loading: bool,
    pub error: Option<String>,
    generation: u64,
    has_older: bool,
    /// A product to select once its page arrives.
    pending_select: Option<i64>,
    page_height: usize,
    /// Where new products are followed from: ids are not in commit order, so "newer than the
    /// top row" would miss a product committed after it with a lower id.
    follow: Option<Position>,
    /// The total may be off (a row placed outside the window): ask for a count.
    pub recount: bool,
}

impl Default for TablePane {
    fn default() -> Self {
        TablePane {
            rows: Vec::new(),
            window_start: 0,
            selected: 0,
            total: 0,
            filter: String::new(),
            filter_editing: false,
            loading: false,
            error: None,
            generation: 0,
            has_older: true,
            pending_select: None,
            page_height: 10,
            follow: None,
            recount: false,
        }
    }
}

impl TablePane {
    fn filter_value(&self) -> Option<String> {
        let f = self.filter.trim();
        (!f.is_empty()).then(|| f.to_string())
    }

    pub fn request(&mut self, fetch: Fetch) -> TableRequest {
        if matches!(fetch, Fetch::Top | Fetch::Bottom | Fetch::At(_)) {
            self.generation += 1;
        }
        self.loading = true;
        TableRequest {
            generation: self.generation,
            fetch,
            filter: self.filter_value(),
        }
    }

    pub fn selected_product(&self) -> Option<&Product> {
        self.rows.get(self.selected)
    }

    /// Keys in the table; returns a fetch to run, if any.
    pub fn on_key(&mut self, key: KeyEvent) -> Option<TableRequest> {
        if self.filter_editing {
            match key.code {
                KeyCode::Enter => self.filter_editing = false,
                KeyCode::Esc => {
                    self.filter_editing = false;
                    self.filter.clear();
                    return Some(self.request(Fetch::Top));
                }
                KeyCode::Backspace => {
                    self.filter.pop();
                    return Some(self.request(Fetch::Top));
                }
                _ => {
                    if let Some(c) = plain(&key) {
                        self.filter.push(c);
                        return Some(self.request(Fetch::Top));
                    }
                }
            }
            return None;
        }
        match (key.code, plain(&key)) {
            (_, Some('/')) => {
                self.filter_editing = true;
                None
            }
            (KeyCode::Down, _) | (_, Some('j')) => self.move_by(1),
            (KeyCode::Up, _) | (_, Some('k')) => self.move_by(-1),
            (KeyCode::PageDown, _) => self.move_by(self.page_height as i64),
            (KeyCode::PageUp, _) => self.move_by(-(self.page_height as i64)),
            (KeyCode::Home, _) | (_, Some('g')) => {
                if self.window_start == 0 {
                    self.selected = 0;
                    None
                } else {
                    Some(self.request(Fetch::Top))
                }
            }
            (KeyCode::End, _) | (_, Some('G')) => Some(self.request(Fetch::Bottom)),
            (KeyCode::Esc, _) if !self.filter.is_empty() => {
                self.filter.clear();
                Some(self.request(Fetch::Top))
            }
            _ => None,
        }
    }

    fn move_by(&mut self, delta: i64) -> Option<TableRequest> {
        if self.rows.is_empty() {
            return None;
        }
        let last = self.rows.len() as i64 - 1;
        self.selected = (self.selected as i64 + delta).clamp(0, last) as usize;
        if self.loading {
            return None;
        }
        if self.has_older && self.selected + MARGIN >= self.rows.len() {
            let cursor = self.rows.last()?.id;
            return Some(self.request(Fetch::Older(cursor)));
        }
        if self.window_start > 0 && self.selected < MARGIN {
            let cursor = self.rows.first()?.id;
            return Some(self.request(Fetch::Newer(cursor)));
        }
        None
    }

    /// Selects `id` if loaded; otherwise asks for the page that starts with it.
    pub fn select_product(&mut self, id: i64) -> Option<TableRequest> {
        if let Some(i) = self.rows.iter().position(|p| p.id == id) {
            self.selected = i;
            return None;
        }
        self.filter.clear();
        self.pending_select = Some(id);
        Some(self.request(Fetch::At(id)))
    }

    /// New products may exist: fetch what is newer than the top, when the top is in view.
    pub fn refresh(&mut self) -> Option<TableRequest> {
        if self.loading || self.window_start != 0 {
            return None;
        }
        if let Some(at) = self.follow {
            return Some(self.request(Fetch::Since(at)));
        }
        match self.rows.first() {
            Some(p) => {
                let id = p.id;
                Some(self.request(Fetch::Newer(id)))
            }
            None => Some(self.request(Fetch::Top)),
        }
    }

    /// Merges a page; `position` is the absolute index of its first row when known.
    pub fn on_page(&mut self, req: TableRequest, result: Result<Loaded, String>) {
        if req.generation != self.generation {
            return; // an answer to a filter or jump that was since replaced
        }
        self.loading = false;
        let Loaded {
            rows: page,
            position,
            follow,
        } = match result {
            Ok(r) => r,
            Err(e) => {
                self.error = Some(e);
                return;
            }
        };
        self.error = None;
        let full = page.len() as i64 >= PAGE;
        match req.fetch {
            Fetch::Top | Fetch::At(_) => {
                // A jump keeps following from where it was; a new top starts afresh.
                if follow.is_some() || req.fetch == Fetch::Top {
                    self.follow = follow;
                }
                self.rows = page;
                self.window_start = position.unwrap_or(0);
                self.selected = 0;
                self.has_older = full;
            }
            Fetch::Bottom => {
                self.rows = page;
                self.window_start = (self.total - self.rows.len() as i64).max(0);
                self.selected = self.rows.len().saturating_sub(1);
                self.has_older = false;
            }
            Fetch::Older(_) => {
                self.has_older = full;
                self.rows.extend(page);
                if self.rows.len() > WINDOW {
                    let drop = self.rows.len() - WINDOW;
                    self.rows.drain(..drop);
                    self.window_start += drop as i64;
                    self.selected = self.selected.saturating_sub(drop);
                }
            }
            Fetch::Newer(_) => {
                let n = page.len();
                let at_top = self.window_start == 0;
                let mut rows = page;
                let following_top = at_top && self.selected == 0;
                rows.extend(std::mem::take(&mut self.rows));
                self.rows = rows;
                // At the very top the view follows the newest; elsewhere it keeps its row.
                if !following_top {
                    self.selected += n;
                }
                if at_top {
                    self.total += n as i64;
                } else {
                    self.window_start = (self.window_start - n as i64).max(0);
                }
                self.keep_window();
            }
            Fetch::Since(_) => {
                if follow.is_some() {
                    self.follow = follow;
                }
                self.merge_new(page);
            }
        }
        if let Some(id) = self.pending_select.take()
            && let Some(i) = self.rows.iter().position(|p| p.id == id)
        {
            self.selected = i;
        }
    }

    /// Products committed since the last look, placed by id (a lower id than the top's can
    /// arrive late). One already shown is not shown twice.
    fn merge_new(&mut self, page: Vec<Product>) {
        let following_top = self.window_start == 0 && self.selected == 0;
        for p in page {
            if self.rows.iter().any(|r| r.id == p.id) {
                continue;
            }
            let at = self
                .rows
                .iter()
                .position(|r| r.id < p.id)
                .unwrap_or(self.rows.len());
            // Older than the window's last row, with more below it: its place is outside, and
            // it may be one the count already had (seen before following began): count again.
            if at == self.rows.len() && self.has_older {
                self.recount = true;
                continue;
            }
            self.total += 1;
            self.rows.insert(at, p);
            // The selected row moved down one: keep it selected (at the very top, the newest).
            if !following_top && at <= self.selected && self.selected + 1 < self.rows.len() {
                self.selected += 1;
            }
        }
        self.keep_window();
    }

    fn keep_window(&mut self) {
        if self.rows.len() > WINDOW {
            self.rows.truncate(WINDOW);
            self.has_older = true;
            self.selected = self.selected.min(WINDOW - 1);
        }
    }

    pub fn on_count(&mut self, filter: Option<String>, total: i64) {
        if filter == self.filter_value() {
            self.total = total.max(self.window_start + self.rows.len() as i64);
        }
    }

    /// The version a row shows, when the product is in the window.
    pub fn version_of(&self, id: i64) -> Option<i64> {
        self.rows
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.revision.version)
    }

    /// A changed product replaces its row in place (when it is in the window).
    pub fn replace(&mut self, p: Product) {
        if let Some(row) = self.rows.iter_mut().find(|r| r.id == p.id) {
            *row = p;
        }
    }

    /// A deleted product leaves the table; the selection stays on the same row or the next.
    pub fn remove(&mut self, id: i64) {
        let Some(i) = self.rows.iter().position(|r| r.id == id) else {
            return;
        };
        self.rows.remove(i);
        self.total = (self.total - 1).max(0);
        if i < self.selected {
            self.selected -= 1;
        }
        self.selected = self.selected.min(self.rows.len().saturating_sub(1));
    }

    /// Updates a row's publish state when the broker acknowledges its event.
    pub fn on_published(&mut self, product_id: i64, partition: i32, offset: i64) {
        if let Some(p) = self.rows.iter_mut().find(|p| p.id == product_id) {
            p.publish = PublishState::Published { partition, offset };
        }
    }
}
