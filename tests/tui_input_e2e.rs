//! The real binary in tmux, tried as a demanding keyboard user would: bracketed pastes on
//! every pane (a word pasted on the products pane must not delete a product), a 5,000-character
//! paste read whole, logging out with a draft, and terminals too small to serve.

mod common;

use common::tmux::Tmux;

#[test]
fn pastes_drafts_and_small_terminals() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();
    let tmux = Tmux::start_tui("input", &data, "", 100, 30);
    tmux.wait_for("First run: log in as vert / vert");
    tmux.text("vert");
    tmux.keys(&["Tab"]);
    tmux.text("vert");
    tmux.keys(&["Enter"]);
    tmux.wait_for("user vert");

    // One product, then the word `study` pasted on the products pane: as keys, `d` would
    // open the delete box and `y` confirm it.
    tmux.text("Mesa");
    tmux.keys(&["Tab", "Tab"]);
    tmux.text("Casa");
    tmux.keys(&["Tab"]);
    tmux.text("10");
    tmux.keys(&["Tab", "Tab"]);
    tmux.text("1");
    tmux.keys(&["C-s"]);
    tmux.wait_for("Saved #1");
    tmux.keys(&["Escape", "2"]);
    tmux.wait_for("row 1 of 1");
    tmux.paste("study");
    let s = tmux.wait_for("Paste ignored");
    assert!(!s.contains("Delete?") && !s.contains("Deleted"), "{s}");
    tmux.keys(&["3"]);
    tmux.wait_for("Topic");
    tmux.paste("bn");
    tmux.wait_for("Paste ignored");

    // The form: a pane digit does not enter a field; Enter does. A long paste lands whole.
    tmux.keys(&["1", "Enter"]);
    tmux.paste(&"x".repeat(5_000));
    tmux.wait_for("(got 5000)");
    tmux.keys(&["C-r"]);
    tmux.paste("Line1\nLine2\tTabbed");
    let s = tmux.wait_for("Line1 Line2 Tabbed");
    assert!(
        !s.contains("Category:    Line2"),
        "nothing spread to other fields:\n{s}"
    );

    // Logging out with a draft asks first.
    tmux.keys(&["C-o"]);
    tmux.wait_for("Log out and lose them?");
    tmux.keys(&["n"]);
    tmux.wait_for("Line1 Line2 Tabbed");

    // Too small: one clear line; back to size, the screen is whole again.
    tmux.resize(40, 12);
    tmux.wait_for("Terminal too small: 40x12, need 60x16");
    tmux.resize(20, 8);
    tmux.wait_for("Terminal too small:");
    tmux.resize(60, 16);
    let s = tmux.wait_for("Quantity");
    assert!(s.contains("Name:"), "every field at 60x16:\n{s}");
    tmux.resize(100, 30);
    tmux.keys(&["C-o"]);
    tmux.wait_for("Log out and lose them?");
    tmux.keys(&["y"]);
    tmux.wait_for("dataflow · log in");
    tmux.keys(&["C-c"]);
    tmux.wait_for("EXITED 0");
}
