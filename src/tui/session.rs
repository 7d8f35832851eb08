//! The logged-in session: the three panes, the links between them, and how background
//! results change them.

use super::events::{Action, Effect, Pane};
use super::form::{FormPane, Outcome};
use super::import::ImportView;
use super::pipeline::PipelinePane;
use super::table::{Fetch, TablePane};
use super::tail::TailPane;
use crate::domain::Role;
use crate::service::Principal;

pub struct Main {
    pub user: String,
    /// What the user may do; keys beyond it say so instead of failing later.
    pub role: Role,
    pub pane: Pane,
    pub form: FormPane,
    pub table: TablePane,
    pub tail: TailPane,
    pub pipeline: PipelinePane,
    /// A one-line notice under the panes (link results, errors of background work).
    pub notice: Option<String>,
    /// The import started with `i`, running or finished.
    pub import: Option<ImportView>,
    /// The audit trail's window (`a` on the pipeline pane, admins only).
    pub audit: super::audit::AuditView,
}

impl Main {
    /// A session just logged in. A viewer starts at the table: the form is not theirs to fill.
    pub fn new(who: Principal, currency: &str, tail_buffer: usize) -> Main {
        let editor = who.role.allows(Role::Editor);
        let mut form = FormPane::new(currency);
        form.editing = editor;
        Main {
            user: who.username,
            role: who.role,
            pane: if editor { Pane::Form } else { Pane::Table },
            form,
            table: TablePane::default(),
            tail: TailPane::new(tail_buffer),
            pipeline: PipelinePane::default(),
            notice: None,
            import: None,
            audit: Default::default(),
        }
    }
}

pub fn switch(main: &mut Main, pane: Pane) -> Vec<Effect> {
    main.pane = pane;
    main.form.editing = pane == Pane::Form && may(main, Role::Editor, "Registering products");
    // The pipeline is read only while its pane is shown: at once, then with every tick.
    if pane == Pane::Pipeline {
        vec![Effect::ReadPipeline]
    } else {
        Vec::new()
    }
}

/// True when the user's role allows `needed`; otherwise the notice says what is needed.
pub fn may(main: &mut Main, needed: Role, what: &str) -> bool {
    if main.role.allows(needed) {
        return true;
    }
    main.notice = Some(main.role.refusal(needed, what));
    false
}

/// From the selected product to its message in the tail, by key.
pub fn link_to_message(main: &mut Main) {
    let Some(id) = main.table.selected_product().map(|p| p.id) else {
        return;
    };
    if main.tail.select_key(&id.to_string()) {
        main.pane = Pane::Tail;
        main.notice = None;
    } else {
        main.notice = Some(format!(
            "Product #{id} has no message in the tail buffer: press 3 then b to read the topic from the beginning"
        ));
    }
}

/// From the selected message to its product row, by key.
pub fn link_to_product(main: &mut Main) -> Vec<Effect> {
    let Some((key, tombstone)) = main
        .tail
        .selected_message()
        .and_then(|m| m.key.clone().map(|k| (k, m.payload.is_none())))
    else {
        return Vec::new();
    };
    match key.parse::<i64>() {
        // A tombstone's product is gone from the table: say so instead of an empty jump.
        Ok(id) if tombstone => {
            main.notice = Some(format!(
                "Product #{id} was deleted: this message is its tombstone"
            ));
            Vec::new()
        }
        Ok(id) => {
            main.pane = Pane::Table;
            main.form.editing = false;
            main.notice = None;
            main.table
                .select_product(id)
                .map(Effect::LoadProducts)
                .into_iter()
                .collect()
        }
        Err(_) => {
            main.notice = Some(format!(
                "Key '{}' is not a product id",
                super::text::printable(&key)
            ));
            Vec::new()
        }
    }
}

pub fn on_main_action(main: &mut Main, action: Action) -> Vec<Effect> {
    match action {
        Action::Registered(Ok(p)) => {
            main.form.saved(p.id, p.publish);
            main.table
                .refresh()
                .map(Effect::LoadProducts)
                .into_iter()
                .collect()
        }
        Action::Registered(Err(e)) => {
            main.form.failed(e);
            Vec::new()
        }
        Action::Page { request, result } => {
            let top = request.fetch == Fetch::Top;
            let filter = request.filter.clone();
            main.table.on_page(request, result);
            if top || std::mem::take(&mut main.table.recount) {
                vec![Effect::CountProducts(filter)]
            } else {
                Vec::new()
            }
        }
        Action::Count {
            filter,
            result: Ok(n),
        } => {
            main.table.on_count(filter, n);
            Vec::new()
        }
        Action::Count { result: Err(e), .. } => {
            main.table.error = Some(e);
            Vec::new()
        }
        Action::Published(ack) => {
            main.table
                .on_published(ack.product_id, ack.partition, ack.offset);
            if let Some(Outcome::Saved { id, publish } | Outcome::Updated { id, publish, .. }) =
                &mut main.form.outcome
                && *id == ack.product_id
            {
                *publish = crate::domain::PublishState::Published {
                    partition: ack.partition,
                    offset: ack.offset,
                };
            }
            Vec::new()
        }
        Action::Import(update) => {
            let finished = update.done.is_some();
            if let Some(view) = main.import.as_mut() {
                view.update(update);
                main.notice = Some(view.notice());
            }
            // The imported rows are in the table now: load it again from the top (and count).
            if finished {
                vec![Effect::LoadProducts(main.table.request(Fetch::Top))]
            } else {
                Vec::new()
            }
        }
        Action::Pipeline(view) => {
            main.pipeline.view = Some(view);
            Vec::new()
        }
        Action::TopicPartitions(n) => {
            main.tail.partitions = Some(n);
            Vec::new()
        }
        Action::TailStopped(why) => {
            main.notice = Some(format!(
                "The tail stopped: {why} (n reads the newest again)"
            ));
            main.tail.origin = "stopped (n reads the newest)".into();
            Vec::new()
        }
        Action::RoleChanged(role) => {
            main.role = role;
            main.notice = Some(format!(
                "An admin made you {} {role}",
                if role == Role::Viewer { "a" } else { "an" }
            ));
            if !role.allows(Role::Editor) {
                main.form.editing = false;
            }
            Vec::new()
        }
        Action::Audit(r) => {
            main.audit.loaded(r);
            Vec::new()
        }
        Action::Wrote(r) => {
            main.notice = Some(match r {
                Ok(what) => what,
                Err(e) => format!("Not written: {e}"),
            });
            Vec::new()
        }
        _ => Vec::new(),
    }
}
