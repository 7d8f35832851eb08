//! The real binary in tmux's pseudo-terminal: keys, text, pastes, sizes, and the screen.
#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server of the test's own, with one session `e2e`.
pub struct Tmux {
    pub socket: String,
}

impl Tmux {
    /// The TUI on the embedded defaults (whatever database or broker the test runner points
    /// at is unset), data in `data`, `env` added (`NAME=value ...`), in a `w`x`h` session;
    /// the shell says `EXITED <code>` when it ends.
    pub fn start_tui(name: &str, data: &str, env: &str, w: u16, h: u16) -> Tmux {
        let tmux = Tmux {
            socket: format!("dataflow-{name}-{}", std::process::id()),
        };
        let cmd = format!(
            "env -u DATABASE_URL -u DATABASE -u DATABASE_HOST -u DATABASE_USER -u DATABASE_PASSWORD \
             -u KAFKA_HOST DATAFLOW_DATA_DIR={data} {env} {} ; echo EXITED $? ; sleep 60",
            env!("CARGO_BIN_EXE_dataflow")
        );
        let (w, h) = (w.to_string(), h.to_string());
        tmux.run(&["new-session", "-d", "-s", "e2e", "-x", &w, "-y", &h, &cmd]);
        tmux
    }

    pub fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs (apt-get install tmux)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.run(&["send-keys", "-t", "e2e", k]);
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    pub fn text(&self, s: &str) {
        self.run(&["send-keys", "-t", "e2e", "-l", s]);
        std::thread::sleep(Duration::from_millis(60));
    }

    /// A bracketed paste, as a terminal sends one (`paste-buffer -p`).
    pub fn paste(&self, s: &str) {
        self.run(&["set-buffer", "--", s]);
        self.run(&["paste-buffer", "-p", "-t", "e2e"]);
        std::thread::sleep(Duration::from_millis(100));
    }

    pub fn resize(&self, w: u16, h: u16) {
        let (w, h) = (w.to_string(), h.to_string());
        self.run(&["resize-window", "-t", "e2e", "-x", &w, "-y", &h]);
    }

    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "e2e"])
    }

    pub fn wait_for(&self, want: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(want) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "waited for {want:?}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}
