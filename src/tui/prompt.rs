//! A one-line question in a window: the seek target (`s`), a file to import (`i`), the file
//! an export writes (`x`). Enter answers, Esc cancels; a refused answer keeps the window open
//! with the reason under the text.

use crossterm::event::{KeyCode, KeyEvent};

use super::text::{ctrl, plain};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// Where the tail reads from.
    Seek,
    /// A CSV or JSON Lines file of products to import.
    ImportPath,
    /// The file the products in view are exported to.
    ExportProducts,
    /// The file the kept (filtered) topic messages are saved to, as JSON Lines.
    SaveMessages,
}

impl Ask {
    pub fn title(self) -> &'static str {
        match self {
            Ask::Seek => " Seek the topic ",
            Ask::ImportPath => " Import products ",
            Ask::ExportProducts => " Export the products in view ",
            Ask::SaveMessages => " Save the kept messages ",
        }
    }

    pub fn help(self) -> &'static str {
        match self {
            Ask::Seek => "-15m or 2h (ago), an RFC 3339 instant, or PARTITION:OFFSET",
            Ask::ImportPath => "a .csv or .jsonl file; rejected rows go to NAME.rejects.EXT",
            Ask::ExportProducts => "a .csv or .jsonl file (by its extension); never overwritten",
            Ask::SaveMessages => "a .jsonl file, one message a line; never overwritten",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub ask: Ask,
    pub text: String,
    /// Why the last answer was refused.
    pub error: Option<String>,
}

pub enum PromptKey {
    Typing,
    Cancel,
    Answer(String),
}

impl Prompt {
    pub fn new(ask: Ask, text: impl Into<String>) -> Prompt {
        Prompt {
            ask,
            text: text.into(),
            error: None,
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) -> PromptKey {
        match key.code {
            KeyCode::Esc => return PromptKey::Cancel,
            KeyCode::Enter => return PromptKey::Answer(self.text.trim().to_string()),
            KeyCode::Backspace => {
                self.text.pop();
            }
            _ if ctrl(&key, 'u') => self.text.clear(),
            _ => {
                if let Some(c) = plain(&key) {
                    self.text.push(c);
                }
            }
        }
        self.error = None;
        PromptKey::Typing
    }
}
