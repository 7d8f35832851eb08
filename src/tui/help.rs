//! What the keys do: the hint bar of each pane and the help window (F1, `?`).

use super::events::Pane;
use super::session::Main;

/// Key hints for the focused pane.
pub fn hints_for(main: &Main) -> &'static str {
    match main.pane {
        Pane::Form if main.form.editing => {
            match (main.form.focus == 1, main.form.is_editing_product()) {
                (true, _) => {
                    "Enter new line · Tab next · Shift-Tab prev · Ctrl+S save · ends trimmed · Esc leave · F1 help"
                }
                (false, true) => {
                    "Tab/Enter next · Shift-Tab prev · Ctrl+S save the change · ends trimmed · Esc cancel · F1 help"
                }
                (false, false) => {
                    "Tab/Enter next · Shift-Tab prev · Ctrl+S save · Ctrl+R reset · Ctrl+K keep · ends trimmed · Esc leave"
                }
            }
        }
        Pane::Form => {
            "Enter or any letter: type in the field · 1-4 panes (digits never become text here) · Ctrl+O log out · ? help"
        }
        Pane::Table if main.table.filter_editing => {
            "type to filter by name or category · Enter keep · Esc clear"
        }
        Pane::Table => {
            "/ filter · Enter details · e edit · c copy as new · d delete · i import · x export · y copy · ? more"
        }
        Pane::Tail if main.tail.filter_editing => {
            "text: key or value · field=value: a JSON field · p=N: partition N · Enter keep · Esc clear"
        }
        Pane::Pipeline => {
            "outbox, latency, topic and consumer groups, read every second · a audit trail (admins) · ? help"
        }
        Pane::Tail => {
            "/ filter · s seek · t time · Enter JSON · p pause · b/n oldest/newest · x save · y copy · ? more"
        }
    }
}

pub const HELP: &[(&str, &str)] = &[
    ("Everywhere", ""),
    ("Ctrl+C", "quit (asks first if the form has unsaved input)"),
    ("F1 or ?", "this help (? when not typing)"),
    ("Tab, Shift-Tab", "next/previous pane; in the form, field"),
    (
        "1 2 3 4, Alt+1-4",
        "form, products, topic, pipeline (digits when not typing)",
    ),
    ("Ctrl+S, Ctrl+O", "save the product, from any pane; log out"),
    (
        "Esc",
        "back out: close a window, leave a field, clear a filter",
    ),
    ("Form", ""),
    (
        "Enter",
        "next field (new line in description; saves on quantity)",
    ),
    ("Ctrl+R, Ctrl+K", "reset the form; keep values after saving"),
    (
        "Ctrl+B, Ctrl+L",
        "bring back a failed save; reload a changed product",
    ),
    ("Products", ""),
    (
        "j k ↑ ↓ PgUp PgDn",
        "move; g G newest/oldest; / filter by name or category",
    ),
    (
        "Enter m e c d",
        "details; its message; edit; copy as new; delete",
    ),
    ("i", "import a CSV or JSON Lines file of products"),
    ("x, y", "export the products in view; copy the row (OSC 52)"),
    ("Topic", ""),
    ("j k g G, Enter, o", "move; the whole message; its product"),
    (
        "p/Space, b, n",
        "pause and resume; read from the beginning; the newest",
    ),
    (
        "/, s",
        "filter (text, field=value, p=N); seek (-15m, P:OFFSET)",
    ),
    (
        "t, x, y",
        "time local/UTC/age; save kept messages (JSONL); copy",
    ),
    ("Pipeline", ""),
    ("a", "the audit trail: who did what, from where (admins)"),
];
