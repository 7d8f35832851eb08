//! The terminal UI. One `select!` over terminal events, background results, the tail channel
//! and a one-second tick; panes turn keys into effects that the runner starts as tasks, so
//! nothing in the loop waits on I/O. Redraws happen only when something changed, and at most
//! ~30 times a second while the tail floods in.

mod app;
mod audit;
mod changes;
mod clipboard;
mod details;
mod events;
mod form;
mod help;
mod import;
mod jobs;
mod login;
mod message;
mod overlays;
mod paste;
mod pipeline;
mod prompt;
mod runner;
mod session;
mod table;
mod tail;
mod text;
mod time_mode;
mod tools;
mod ui;

use std::time::{Duration, Instant};

use crossterm::event::{
    DisableBracketedPaste, EnableBracketedPaste, Event, EventStream, KeyEventKind,
};
use futures::StreamExt;
use tokio::sync::mpsc;

use app::App;
use ui::draw;

use crate::service::Settings;
use runner::Runner;

/// Messages taken from the tail channel per loop turn: keys get their turn in between.
const TAIL_BATCH: usize = 2000;
const FRAME: Duration = Duration::from_millis(33);

/// Runs the terminal UI until the user quits; the terminal is restored on every way out.
/// Runs the TUI until the user quits; `Some(reason)` when the configuration refused the
/// service's start (the caller prints it once the terminal is restored).
pub async fn run(settings: Settings) -> std::io::Result<Option<String>> {
    let started = Instant::now();
    // Raw mode, alternate screen, and a panic hook that restores the terminal first.
    let mut terminal = ratatui::init();
    // Bracketed paste: a paste arrives as one text event, never as keys. Turned off again on
    // every way out, panics included (this hook runs before ratatui's, which restores).
    let _ = crossterm::execute!(std::io::stdout(), EnableBracketedPaste);
    let restore = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = crossterm::execute!(std::io::stdout(), DisableBracketedPaste);
        restore(info);
    }));
    let result = event_loop(&mut terminal, settings, started).await;
    let _ = crossterm::execute!(std::io::stdout(), DisableBracketedPaste);
    ratatui::restore();
    result
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    settings: Settings,
    started: Instant,
) -> std::io::Result<Option<String>> {
    let (tx, mut actions) = mpsc::unbounded_channel();
    let mut app = App::new(
        settings.timezone,
        &settings.default_currency,
        settings.tail_last,
        settings.tail_buffer,
    );
    let mut runner = Runner::start(settings, tx);
    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    terminal.draw(|f| draw(f, &mut app))?;
    app.dirty = false;
    tracing::info!(
        ms = started.elapsed().as_secs_f64() * 1000.0,
        "login screen drawn"
    );
    let mut last_draw = Instant::now();
    let mut draw_due: Option<Instant> = None;
    'events: loop {
        let paused = app.tail_paused();
        // Keys redraw at once; everything else (tail floods above all) at most once a frame.
        let mut urgent = false;
        let effects = tokio::select! {
            biased;
            ev = events.next() => {
                // Everything the terminal has sent is handled before the next redraw, however
                // large the burst (bounded, so a flood cannot starve the screen for long).
                let mut effects = Vec::new();
                let mut next = ev;
                for _ in 0..DRAIN {
                    match next {
                        Some(Ok(ev)) => {
                            urgent = true;
                            effects.extend(on_event(&mut app, ev));
                        }
                        Some(Err(e)) => return Err(e),
                        None => break 'events,
                    }
                    // Polled with this task's own waker (never a no-op one: the stream would
                    // hand that to its waiting thread and the next key would wake nobody).
                    match futures::poll!(events.next()) {
                        std::task::Poll::Ready(more) if !app.quit => next = more,
                        _ => break,
                    }
                }
                effects
            },
            Some(action) = actions.recv() => app.on_action(action),
            _ = tick.tick() => app.on_tick(Instant::now()),
            _ = sleep_until(draw_due) => Vec::new(),
            batch = runner.next_tail_batch(TAIL_BATCH), if !paused => app.on_tail(batch),
        };
        for effect in effects {
            runner.execute(effect);
        }
        if let Some(text) = app.clipboard.take() {
            use std::io::Write;
            let out = terminal.backend_mut();
            out.write_all(clipboard::osc52(&text).as_bytes())?;
            out.flush()?;
        }
        if app.quit {
            break;
        }
        if !app.dirty {
            draw_due = None;
        } else if urgent || last_draw.elapsed() >= FRAME {
            terminal.draw(|f| draw(f, &mut app))?;
            app.dirty = false;
            last_draw = Instant::now();
            draw_due = None;
        } else if draw_due.is_none() {
            draw_due = Some(last_draw + FRAME);
        }
    }
    runner.end_session();
    if let Some(svc) = runner.service() {
        // Bounded: a stuck broker or database must not keep the terminal hostage.
        let _ = tokio::time::timeout(Duration::from_secs(5), svc.shutdown()).await;
    }
    Ok(app.refused.take())
}

/// Terminal events handled at most between two redraws.
const DRAIN: usize = 100_000;

fn on_event(app: &mut App, ev: Event) -> Vec<app::Effect> {
    match ev {
        Event::Key(k) if k.kind != KeyEventKind::Release => app.on_key(k),
        Event::Paste(text) => {
            app.on_paste(&text);
            Vec::new()
        }
        Event::Resize(_, _) => {
            app.dirty = true;
            Vec::new()
        }
        _ => Vec::new(),
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
