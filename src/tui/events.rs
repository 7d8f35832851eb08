//! What flows through the event loop: effects the app asks the runner for, actions that
//! come back from background work, and the windows drawn over the panes.

use std::path::PathBuf;

use super::form::ChangeError;
use super::import::ImportUpdate;
use super::pipeline::PipelineView;
use super::prompt::Prompt;
use super::table::{Loaded, TableRequest};
use crate::domain::Role;
use crate::domain::{Product, ProductDraft};
use crate::service::{ExportFormat, Principal, PublishedAck, Status, TailMessage, TailStart};

/// The panes of the main screen, in the order of their keys (1-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Form,
    Table,
    Tail,
    Pipeline,
}

impl Pane {
    pub const ALL: [Pane; 4] = [Pane::Form, Pane::Table, Pane::Tail, Pane::Pipeline];

    fn index(self) -> usize {
        Pane::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }

    pub fn step(self, forward: bool) -> Pane {
        let i = self.index() as i64 + if forward { 1 } else { -1 };
        Pane::ALL[i.rem_euclid(Pane::ALL.len() as i64) as usize]
    }
}

/// I/O the runner starts on the app's behalf; results come back as `Action`s.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Login {
        username: String,
        password: String,
    },
    Register(ProductDraft),
    /// Save `draft` over product `id` read at version `expected`.
    Update {
        id: i64,
        expected: Option<i64>,
        draft: ProductDraft,
    },
    Delete {
        id: i64,
        expected: i64,
    },
    /// Read a product again, for the form (after a stale save).
    LoadForEdit(i64),
    /// Read a product again, for its table row (someone changed it).
    ReloadRow(i64),
    LoadProducts(TableRequest),
    CountProducts(Option<String>),
    RefreshStatus,
    /// Read the pipeline (outbox, topic, groups) for its pane.
    ReadPipeline,
    StartTail(TailStart),
    /// Read the topic again from here (`s`), one partition or all.
    Seek {
        start: TailStart,
        partition: Option<i32>,
    },
    Import {
        path: PathBuf,
        rejects: PathBuf,
        by: Option<String>,
    },
    /// The products matching the table's filter, to a new file.
    ExportProducts {
        path: PathBuf,
        format: ExportFormat,
        filter: Option<String>,
    },
    /// These messages (oldest first) as JSON Lines, to a new file.
    SaveMessages {
        path: PathBuf,
        messages: Vec<TailMessage>,
    },
    /// Read the newest audit entries (admins only) for their window.
    LoadAudit,
    /// Stop the tail and everything tied to the session.
    EndSession,
}

/// Results of background work, and start-up news.
#[derive(Debug, Clone)]
pub enum Action {
    Ready {
        database: String,
        bootstrap: String,
        embedded: bool,
        /// The API user while its stored password is the public default.
        first_run: Option<String>,
    },
    StartFailed(String),
    /// The configuration refuses the start: the TUI ends, and the reason is printed.
    StartRefused(String),
    LoggedIn(Principal),
    /// The login no longer holds (password changed, user disabled): back to the login.
    SessionEnded(String),
    /// An admin gave the logged-in user another role.
    RoleChanged(Role),
    LoginFailed(String),
    Registered(Result<Product, String>),
    Updated(Result<Product, ChangeError>),
    Deleted {
        id: i64,
        result: Result<Product, ChangeError>,
    },
    ForEdit(Result<Option<Product>, String>),
    Row {
        id: i64,
        result: Result<Option<Product>, String>,
    },
    Page {
        request: TableRequest,
        result: Result<Loaded, String>,
    },
    Count {
        filter: Option<String>,
        result: Result<i64, String>,
    },
    Status(Status),
    Pipeline(Box<PipelineView>),
    Published(PublishedAck),
    Import(ImportUpdate),
    /// How many partitions the topic has, once the tail has read it.
    TopicPartitions(i32),
    /// The tail's reader ended on an error (a partition that does not exist, say).
    TailStopped(String),
    /// An export or a save: what was written where, or why not.
    Wrote(Result<String, String>),
    /// The audit entries asked for, newest first, or why not.
    Audit(Result<Vec<crate::domain::AuditRecord>, String>),
}

pub enum Overlay {
    Help,
    ConfirmQuit,
    /// Log out and lose the unsaved input? (y)
    ConfirmLogout,
    /// Delete this product? (y)
    ConfirmDelete(Box<Product>),
    Product(Box<Product>),
    Message(Box<TailMessage>),
    Prompt(Prompt),
    /// The import's progress and report (`Main::import`).
    Import,
    /// The audit trail (`Main::audit`), for admins.
    Audit,
}
