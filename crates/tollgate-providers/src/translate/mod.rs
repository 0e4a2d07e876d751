//! Between the OpenAI and Anthropic API shapes, so any model can be called through either
//! surface: requests, whole answers and streams, both directions. Pure functions over JSON.

pub mod request;
pub mod response;
pub mod stream;

/// Why a request cannot be put into the other API's shape.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TranslateError {
    /// The target API has no way to honour this.
    #[error("{0} cannot be sent to this model's provider; remove it or pick a model of another provider")]
    Unsupported(String),
    /// The request is malformed in a way the shape-checking parse let through.
    #[error("{0}")]
    Invalid(String),
}

#[cfg(test)]
mod tests {
    //! Round trips: OpenAI to Anthropic and back keeps everything both APIs can say.
    use proptest::prelude::*;
    use serde_json::{json, Value};

    use super::response::{completion_to_message, message_to_completion};
    use super::stream::{ChatToMessages, MessagesToChat};
    use crate::mock::{chunks, completion, MockAnswer, ToolCall};
    use crate::openai::Usage;
    use crate::stream::Outgoing;

    fn answers() -> impl Strategy<Value = MockAnswer> {
        (
            proptest::collection::vec("[a-zA-Z0-9éü,.!?]{1,8} ?", 0..12),
            proptest::option::of(("[a-z_]{1,10}", "[a-z]{0,10}")),
            0u32..5000,
            0u32..5000,
            prop_oneof![Just("stop"), Just("length")],
        )
            .prop_map(|(pieces, tool, prompt, completion, finish)| {
                let tool_call = tool.map(|(name, arg)| ToolCall {
                    id: "call_1".into(),
                    name,
                    arguments: json!({ "q": arg }).to_string(),
                });
                MockAnswer {
                    finish_reason: if tool_call.is_some() {
                        "tool_calls"
                    } else {
                        finish
                    },
                    pieces,
                    tool_call,
                    usage: Usage::new(prompt, completion),
                }
            })
    }

    /// Text, tool arguments, finish reason and usage of an OpenAI chunk stream.
    fn summary(chunks: &[Value]) -> (String, String, Option<String>, Option<Value>) {
        let text = chunks
            .iter()
            .filter_map(|c| {
                c.pointer("/choices/0/delta/content")
                    .and_then(Value::as_str)
            })
            .collect();
        let args = chunks
            .iter()
            .filter_map(|c| {
                c.pointer("/choices/0/delta/tool_calls/0/function/arguments")
                    .and_then(Value::as_str)
            })
            .collect();
        let finish = chunks
            .iter()
            .filter_map(|c| {
                c.pointer("/choices/0/finish_reason")
                    .and_then(Value::as_str)
            })
            .last()
            .map(str::to_string);
        let usage = chunks
            .iter()
            .filter_map(|c| c.get("usage"))
            .find(|u| u.is_object())
            .cloned();
        (text, args, finish, usage)
    }

    proptest! {
        #[test]
        fn whole_answers_survive_the_round_trip(answer in answers()) {
            let original = completion("chatcmpl-x", 9, "m", &answer);
            let back = message_to_completion(&completion_to_message(&original), 9);
            prop_assert_eq!(&back["choices"][0]["finish_reason"], &original["choices"][0]["finish_reason"]);
            prop_assert_eq!(&back["usage"], &original["usage"]);
            prop_assert_eq!(&back["id"], &original["id"]);
            prop_assert_eq!(&back["choices"][0]["message"]["tool_calls"], &original["choices"][0]["message"]["tool_calls"]);
            let text = |v: &Value| v["choices"][0]["message"]["content"].as_str().unwrap_or_default().to_string();
            prop_assert_eq!(text(&back), text(&original));
        }

        #[test]
        fn streams_survive_the_round_trip(answer in answers()) {
            let original = chunks("chatcmpl-x", 9, "m", &answer);
            let mut there = ChatToMessages::new();
            let mut events: Vec<Value> = original.iter().flat_map(|c| there.chunk(c)).collect();
            events.extend(there.finish());
            let mut back = MessagesToChat::new(9);
            let mut out: Vec<Outgoing> = events.iter().flat_map(|e| back.event(e)).collect();
            out.extend(back.finish());
            prop_assert_eq!(out.iter().filter(|o| **o == Outgoing::Done).count(), 1);
            let returned: Vec<Value> = out
                .into_iter()
                .filter_map(|o| match o { Outgoing::Json(v) => Some(v), Outgoing::Done => None })
                .collect();
            prop_assert_eq!(summary(&returned), summary(&original));
        }
    }
}
