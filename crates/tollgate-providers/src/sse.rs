//! Server-sent events as OpenAI streams them: `data: <json>` lines and a final `[DONE]`.

use serde::Serialize;

/// One `data:` event.
pub fn event(payload: &impl Serialize) -> String {
    match serde_json::to_string(payload) {
        Ok(json) => format!("data: {json}\n\n"),
        Err(_) => String::new(),
    }
}

/// The end of an OpenAI stream.
pub const DONE: &str = "data: [DONE]\n\n";

#[cfg(test)]
mod tests {
    #[test]
    fn events_are_data_lines_with_a_blank_line() {
        assert_eq!(
            super::event(&serde_json::json!({"a": 1})),
            "data: {\"a\":1}\n\n"
        );
    }
}
