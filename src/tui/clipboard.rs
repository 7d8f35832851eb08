//! Copying with OSC 52: the terminal itself sets the clipboard, so it works over SSH. Inside
//! tmux it needs `set -g set-clipboard on` (tmux then keeps a buffer and passes it on).

use base64::Engine;

/// The escape sequence that puts `text` on the system clipboard.
pub fn osc52(text: &str) -> String {
    let data = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    format!("\x1b]52;c;{data}\x07")
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_the_text_in_base64() {
        assert_eq!(super::osc52("ção"), "\x1b]52;c;w6fDo28=\x07");
    }
}
