//! The UI's state and its reactions: keys and background results go in, state changes and
//! effects (I/O for the runner to start) come out. Nothing here waits on anything.

use std::time::Instant;

use chrono_tz::Tz;
use crossterm::event::{KeyCode, KeyEvent};

use super::changes::{change_key, change_verb, form_effects, on_change_action};
pub use super::events::{Action, Effect, Overlay, Pane};
use super::form::FormOutcome;
use super::login::LoginPane;
use super::session::{Main, link_to_message, link_to_product, may, on_main_action, switch};
use super::table::Fetch;
use super::tail::TailAction;
use super::text::{ctrl, plain};
use crate::domain::Role;
use crate::service::Status;
use crate::service::{TailMessage, TailStart};

pub enum Screen {
    Login(Box<LoginPane>),
    Main(Box<Main>),
}

pub enum Startup {
    Starting,
    Ready {
        database: String,
        bootstrap: String,
        embedded: bool,
    },
    Failed(String),
}

pub struct App {
    pub screen: Screen,
    /// The API user while its default password is in effect; shown on the login screen.
    first_run: Option<String>,
    pub startup: Startup,
    pub overlay: Option<Overlay>,
    pub status: Option<Status>,
    pub tz: Tz,
    pub default_currency: String,
    pub tail_last: usize,
    pub tail_buffer: usize,
    pub quit: bool,
    /// Why the configuration refused the start (printed after the TUI ends, exit 2).
    pub refused: Option<String>,
    /// The help window's first line shown (j/k scroll it on short terminals).
    pub help_scroll: usize,
    /// Text for the terminal's clipboard (OSC 52), written by the event loop.
    pub clipboard: Option<String>,
    /// Set when the screen must be drawn again.
    pub dirty: bool,
}

impl App {
    pub fn new(tz: Tz, default_currency: &str, tail_last: usize, tail_buffer: usize) -> App {
        App {
            screen: Screen::Login(Box::default()),
            first_run: None,
            startup: Startup::Starting,
            overlay: None,
            status: None,
            tz,
            default_currency: default_currency.to_string(),
            tail_last,
            tail_buffer,
            quit: false,
            refused: None,
            help_scroll: 0,
            clipboard: None,
            dirty: true,
        }
    }

    /// Tells the login screen that USERNAME_API still has the default password.
    pub fn set_first_run(&mut self, user: Option<String>) {
        self.first_run = user;
        if let Screen::Login(l) = &mut self.screen {
            l.first_run = self.first_run.clone();
        }
    }

    fn login_pane(&self) -> LoginPane {
        let mut l = LoginPane::default();
        l.first_run = self.first_run.clone();
        l
    }

    pub(super) fn log_out(&mut self) -> Vec<Effect> {
        self.screen = Screen::Login(Box::new(self.login_pane()));
        vec![Effect::EndSession]
    }

    pub fn main(&self) -> Option<&Main> {
        match &self.screen {
            Screen::Main(m) => Some(m),
            Screen::Login(_) => None,
        }
    }

    pub fn main_mut(&mut self) -> Option<&mut Main> {
        match &mut self.screen {
            Screen::Main(m) => Some(m),
            Screen::Login(_) => None,
        }
    }

    /// True while the tail is paused: the runner then leaves its channel alone.
    pub fn tail_paused(&self) -> bool {
        self.main().is_some_and(|m| m.tail.paused)
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        self.dirty = true;
        if ctrl(&key, 'c') {
            let unsaved = self.main().is_some_and(|m| m.form.has_unsaved_input());
            if unsaved && !matches!(self.overlay, Some(Overlay::ConfirmQuit)) {
                self.overlay = Some(Overlay::ConfirmQuit);
            } else {
                self.quit = true;
            }
            return Vec::new();
        }
        // Ctrl+S and Ctrl+O work over windows that only show something: the window closes
        // and the key does what it does everywhere. Windows that ask (a prompt, a question,
        // the import's report) keep their keys.
        if (ctrl(&key, 's') || ctrl(&key, 'o'))
            && matches!(
                self.overlay,
                Some(Overlay::Help | Overlay::Product(_) | Overlay::Message(_) | Overlay::Audit)
            )
        {
            self.overlay = None;
        }
        if let Some(overlay) = self.overlay.take() {
            return self.on_overlay_key(overlay, key);
        }
        if key.code == KeyCode::F(1) {
            self.help_scroll = 0;
            self.overlay = Some(Overlay::Help);
            return Vec::new();
        }
        let main = match &mut self.screen {
            Screen::Login(login) => {
                return match login.on_key(key) {
                    Some((username, password)) => vec![Effect::Login { username, password }],
                    None => Vec::new(),
                };
            }
            Screen::Main(m) => m,
        };
        if ctrl(&key, 'o') {
            // Logging out loses what is typed, as quitting does: ask first.
            if main.form.has_unsaved_input() {
                self.overlay = Some(Overlay::ConfirmLogout);
                return Vec::new();
            }
            return self.log_out();
        }
        if ctrl(&key, 's') {
            if !may(main, Role::Editor, "Saving products") {
                return Vec::new();
            }
            main.pane = Pane::Form;
            return form_effects(main.form.submit());
        }
        // Alt+digit also switches panes: terminals send Esc then a digit typed quickly as Alt+digit.
        if let (KeyCode::Char(c @ '1'..='4'), true) = (
            key.code,
            key.modifiers.contains(crossterm::event::KeyModifiers::ALT),
        ) {
            return switch_by_digit(main, c);
        }
        if main.pane == Pane::Form && main.form.editing {
            return match main.form.on_key(key) {
                FormOutcome::LeaveNext => switch(main, main.pane.step(true)),
                FormOutcome::LeavePrev => switch(main, main.pane.step(false)),
                other => form_effects(other),
            };
        }
        if main.pane == Pane::Tail && main.tail.filter_editing {
            main.tail.on_key(key);
            return Vec::new();
        }
        if main.pane == Pane::Table && main.table.filter_editing {
            return main
                .table
                .on_key(key)
                .map(Effect::LoadProducts)
                .into_iter()
                .collect();
        }
        // Navigation keys, common to every pane when no text is being edited.
        match (key.code, plain(&key)) {
            (KeyCode::Tab, _) => return switch(main, main.pane.step(true)),
            (KeyCode::BackTab, _) => return switch(main, main.pane.step(false)),
            (_, Some(c @ '1'..='4')) => return switch_by_digit(main, c),
            (_, Some('?')) => {
                self.help_scroll = 0;
                self.overlay = Some(Overlay::Help);
                return Vec::new();
            }
            _ => {}
        }
        if plain(&key) == Some('i')
            && main.pane == Pane::Table
            && !may(main, Role::Editor, "Importing products")
        {
            return Vec::new();
        }
        if let Some(c @ ('i' | 'x' | 'y' | 's')) = plain(&key)
            && main.pane != Pane::Form
            && let Some(effects) = self.on_tool_key(c)
        {
            return effects;
        }
        let Screen::Main(main) = &mut self.screen else {
            return Vec::new();
        };
        match main.pane {
            // Outside a field, Enter enters it and any other printable key starts typing
            // there (that key included); digits were taken above as pane keys.
            Pane::Form => {
                let enter = matches!(key.code, KeyCode::Enter);
                if (enter || plain(&key).is_some())
                    && may(main, Role::Editor, "Registering products")
                {
                    main.form.editing = true;
                    if !enter {
                        return form_effects(main.form.on_key(key));
                    }
                }
                Vec::new()
            }
            Pane::Table => match (key.code, plain(&key)) {
                (_, Some(c @ ('e' | 'c' | 'd'))) => {
                    let p = main.table.selected_product().cloned();
                    if let Some(p) = p
                        && may(main, Role::Editor, change_verb(c))
                    {
                        self.overlay = change_key(main, c, p);
                    }
                    Vec::new()
                }
                (KeyCode::Enter, _) => {
                    if let Some(p) = main.table.selected_product() {
                        self.overlay = Some(Overlay::Product(Box::new(p.clone())));
                    }
                    Vec::new()
                }
                (_, Some('m')) => {
                    link_to_message(main);
                    Vec::new()
                }
                _ => main
                    .table
                    .on_key(key)
                    .map(Effect::LoadProducts)
                    .into_iter()
                    .collect(),
            },
            Pane::Pipeline if plain(&key) == Some('a') => self.open_audit(),
            Pane::Pipeline => Vec::new(),
            Pane::Tail => match (main.tail.on_key(key), plain(&key)) {
                (TailAction::Open, _) => {
                    if let Some(m) = main.tail.selected_message() {
                        self.overlay = Some(Overlay::Message(Box::new(m.clone())));
                    }
                    Vec::new()
                }
                (TailAction::SeekBeginning, _) => {
                    main.tail.clear();
                    main.tail.origin = "from the beginning".into();
                    vec![Effect::StartTail(TailStart::Beginning)]
                }
                (TailAction::SeekNewest, _) => {
                    main.tail.clear();
                    main.tail.origin = "newest first".into();
                    vec![Effect::StartTail(TailStart::Last(self.tail_last))]
                }
                (TailAction::None, Some('o')) => link_to_product(main),
                _ => Vec::new(),
            },
        }
    }

    pub fn on_action(&mut self, action: Action) -> Vec<Effect> {
        self.dirty = true;
        match action {
            Action::Ready {
                database,
                bootstrap,
                embedded,
                first_run,
            } => {
                self.set_first_run(first_run);
                self.startup = Startup::Ready {
                    database,
                    bootstrap,
                    embedded,
                };
                Vec::new()
            }
            Action::StartRefused(why) => {
                self.refused = Some(why);
                self.quit = true;
                Vec::new()
            }
            Action::StartFailed(e) => {
                self.startup = Startup::Failed(e);
                if let Screen::Login(l) = &mut self.screen {
                    l.busy = false;
                }
                Vec::new()
            }
            Action::Status(s) => {
                self.status = Some(s);
                Vec::new()
            }
            Action::LoginFailed(msg) => {
                if let Screen::Login(l) = &mut self.screen {
                    l.failed(&msg);
                }
                Vec::new()
            }
            Action::SessionEnded(why) => {
                if matches!(self.screen, Screen::Main(_)) {
                    let mut login = self.login_pane();
                    login.failed(&why);
                    self.screen = Screen::Login(Box::new(login));
                    return vec![Effect::EndSession];
                }
                Vec::new()
            }
            Action::LoggedIn(who) => {
                let mut main = Main::new(who, &self.default_currency, self.tail_buffer);
                let first_page = main.table.request(Fetch::Top);
                self.screen = Screen::Main(Box::new(main));
                vec![
                    Effect::StartTail(TailStart::Last(self.tail_last)),
                    Effect::LoadProducts(first_page),
                    Effect::CountProducts(None),
                    Effect::RefreshStatus,
                ]
            }
            other => match &mut self.screen {
                Screen::Main(main) => match other {
                    Action::Updated(_)
                    | Action::Deleted { .. }
                    | Action::ForEdit(_)
                    | Action::Row { .. } => on_change_action(main, other),
                    _ => on_main_action(main, other),
                },
                Screen::Login(_) => Vec::new(),
            },
        }
    }

    /// New messages for the tail; changes of products in the table update their rows.
    pub fn on_tail(&mut self, batch: Vec<TailMessage>) -> Vec<Effect> {
        let Screen::Main(main) = &mut self.screen else {
            return Vec::new();
        };
        self.dirty = true;
        let effects = super::changes::on_tail_changes(main, &batch);
        main.tail.push(batch);
        effects
    }

    /// Once a second: rates, status, and new products for the table.
    pub fn on_tick(&mut self, now: Instant) -> Vec<Effect> {
        let Screen::Main(main) = &mut self.screen else {
            return Vec::new();
        };
        main.tail.tick(now);
        self.dirty = true;
        let mut effects = vec![Effect::RefreshStatus];
        if main.pane == Pane::Pipeline {
            effects.push(Effect::ReadPipeline);
        }
        if let Some(r) = main.table.refresh() {
            effects.push(Effect::LoadProducts(r));
        }
        effects
    }
}

/// A pane digit: the pane, and on the form no field entered yet, so a following digit still
/// switches panes instead of becoming text (README's rule: digits are text only in a field).
fn switch_by_digit(main: &mut Main, c: char) -> Vec<Effect> {
    let effects = switch(main, Pane::ALL[c as usize - '1' as usize]);
    main.form.editing = false;
    effects
}
