//! Requests from one API's shape to the other's: an OpenAI chat request for an Anthropic model,
//! and an Anthropic Messages request for an OpenAI-compatible model. Fields with a meaning on
//! both sides are carried over; fields the target cannot honour change the answer's meaning
//! (several choices, audio, strict output schemas) and are refused rather than dropped.

use serde_json::{json, Map, Value};

use super::TranslateError;
use crate::anthropic::MessagesRequest;
use crate::openai::{ChatRequest, Message};

/// The Anthropic Messages body for `req`, calling `model`.
pub fn chat_to_messages(
    req: &ChatRequest,
    model: &str,
    default_max_tokens: u32,
) -> Result<Value, TranslateError> {
    let mut system = Vec::new();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for (i, m) in req.messages.iter().enumerate() {
        let (role, blocks) = match m.role.as_str() {
            "system" | "developer" => {
                let text = m.text();
                if !text.is_empty() {
                    system.push(text);
                }
                continue;
            }
            "user" => ("user", user_blocks(m, i)?),
            "assistant" => ("assistant", assistant_blocks(m)),
            "tool" | "function" => ("user", vec![tool_result_block(m)]),
            other => {
                return Err(TranslateError::Invalid(format!(
                    "messages[{i}].role `{other}` is not a chat role"
                )))
            }
        };
        if blocks.is_empty() {
            continue;
        }
        // Anthropic wants turns to alternate: consecutive turns of one role become one.
        match turns.last_mut() {
            Some((last, content)) if *last == role => content.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    let messages: Vec<Value> = turns
        .into_iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect();
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert(
        "max_tokens".into(),
        json!(req.output_limit().unwrap_or(default_max_tokens)),
    );
    body.insert("messages".into(), Value::Array(messages));
    if !system.is_empty() {
        body.insert("system".into(), json!(system.join("\n\n")));
    }
    if req.is_stream() {
        body.insert("stream".into(), json!(true));
    }
    for (field, value) in &req.extra {
        match field.as_str() {
            "temperature" => {
                // OpenAI's range is 0-2, Anthropic's 0-1.
                let t = value.as_f64().unwrap_or(1.0).clamp(0.0, 1.0);
                body.insert("temperature".into(), json!(t));
            }
            "top_p" => {
                body.insert("top_p".into(), value.clone());
            }
            "stop" => {
                let stops = match value {
                    Value::String(s) => vec![json!(s)],
                    Value::Array(a) => a.clone(),
                    _ => Vec::new(),
                };
                if !stops.is_empty() {
                    body.insert("stop_sequences".into(), Value::Array(stops));
                }
            }
            "tools" => {
                body.insert("tools".into(), anthropic_tools(value)?);
            }
            "user" => {
                body.insert("metadata".into(), json!({"user_id": value}));
            }
            "n" if value.as_u64().unwrap_or(1) > 1 => {
                return Err(TranslateError::Unsupported(
                    "`n` above 1 (several choices)".into(),
                ))
            }
            "response_format"
                if value.get("type").and_then(Value::as_str).unwrap_or("text") != "text" =>
            {
                return Err(TranslateError::Unsupported(
                    "`response_format` (JSON mode or schema)".into(),
                ))
            }
            "audio" | "modalities" if !value.is_null() => {
                return Err(TranslateError::Unsupported("audio output".into()))
            }
            // tool_choice and parallel_tool_calls are read below; the rest (penalties, seed,
            // logprobs, service tier, ...) tune sampling or bookkeeping that Anthropic lacks.
            _ => {}
        }
    }
    if let Some(choice) = anthropic_tool_choice(&req.extra) {
        body.insert("tool_choice".into(), choice);
    }
    Ok(Value::Object(body))
}

fn user_blocks(m: &Message, i: usize) -> Result<Vec<Value>, TranslateError> {
    match &m.content {
        Some(Value::String(s)) => Ok(text_block(s).into_iter().collect()),
        Some(Value::Array(parts)) => {
            let mut blocks = Vec::with_capacity(parts.len());
            for (j, part) in parts.iter().enumerate() {
                match part.get("type").and_then(Value::as_str) {
                    Some("text") => blocks.extend(text_block(
                        part.get("text").and_then(Value::as_str).unwrap_or_default(),
                    )),
                    Some("image_url") => blocks.push(image_block(part, i, j)?),
                    Some(other) => {
                        return Err(TranslateError::Unsupported(format!(
                            "content parts of type `{other}` (messages[{i}].content[{j}])"
                        )))
                    }
                    None => {
                        return Err(TranslateError::Invalid(format!(
                            "messages[{i}].content[{j}] has no `type`"
                        )))
                    }
                }
            }
            Ok(blocks)
        }
        _ => Ok(Vec::new()),
    }
}

fn text_block(text: &str) -> Option<Value> {
    // Anthropic refuses empty text blocks.
    (!text.is_empty()).then(|| json!({"type": "text", "text": text}))
}

fn image_block(part: &Value, i: usize, j: usize) -> Result<Value, TranslateError> {
    let url = part
        .pointer("/image_url/url")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            TranslateError::Invalid(format!(
                "messages[{i}].content[{j}].image_url.url is missing"
            ))
        })?;
    if let Some(rest) = url.strip_prefix("data:") {
        let (media_type, data) = rest.split_once(";base64,").ok_or_else(|| {
            TranslateError::Invalid(format!(
                "messages[{i}].content[{j}]: a data URL must be base64 (data:image/png;base64,...)"
            ))
        })?;
        return Ok(
            json!({"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}),
        );
    }
    Ok(json!({"type": "image", "source": {"type": "url", "url": url}}))
}

fn assistant_blocks(m: &Message) -> Vec<Value> {
    let mut blocks: Vec<Value> = text_block(&m.text()).into_iter().collect();
    if let Some(Value::Array(calls)) = m.extra.get("tool_calls") {
        for call in calls {
            let arguments = call
                .pointer("/function/arguments")
                .and_then(Value::as_str)
                .unwrap_or("{}");
            blocks.push(json!({
                "type": "tool_use",
                "id": call.get("id").cloned().unwrap_or(Value::Null),
                "name": call.pointer("/function/name").cloned().unwrap_or(Value::Null),
                "input": parse_arguments(arguments),
            }));
        }
    }
    blocks
}

/// Tool arguments as JSON: what the model wrote when it is an object, else an empty object
/// (Anthropic's `input` must be one).
pub(crate) fn parse_arguments(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({}),
    }
}

fn tool_result_block(m: &Message) -> Value {
    let id = m
        .extra
        .get("tool_call_id")
        .or_else(|| m.extra.get("name"))
        .cloned()
        .unwrap_or(Value::Null);
    json!({"type": "tool_result", "tool_use_id": id, "content": m.text()})
}

fn anthropic_tools(tools: &Value) -> Result<Value, TranslateError> {
    let Value::Array(tools) = tools else {
        return Err(TranslateError::Invalid("`tools` must be an array".into()));
    };
    tools
        .iter()
        .map(|t| {
            let f = t.get("function").ok_or_else(|| {
                TranslateError::Unsupported("tools that are not functions".into())
            })?;
            let mut tool = Map::new();
            tool.insert("name".into(), f.get("name").cloned().unwrap_or(Value::Null));
            if let Some(d) = f.get("description") {
                tool.insert("description".into(), d.clone());
            }
            tool.insert(
                "input_schema".into(),
                f.get("parameters")
                    .cloned()
                    .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
            );
            Ok(Value::Object(tool))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

fn anthropic_tool_choice(extra: &Map<String, Value>) -> Option<Value> {
    let serial = extra.get("parallel_tool_calls").and_then(Value::as_bool) == Some(false);
    let mut choice = match extra.get("tool_choice") {
        Some(Value::String(s)) if s == "none" => json!({"type": "none"}),
        Some(Value::String(s)) if s == "required" => json!({"type": "any"}),
        Some(o @ Value::Object(_)) => match o.pointer("/function/name") {
            Some(name) => json!({"type": "tool", "name": name}),
            None => json!({"type": "auto"}),
        },
        Some(_) => json!({"type": "auto"}),
        None if serial && extra.contains_key("tools") => json!({"type": "auto"}),
        None => return None,
    };
    if serial && choice["type"] != "none" {
        choice["disable_parallel_tool_use"] = json!(true);
    }
    Some(choice)
}

/// The OpenAI chat body for an Anthropic `req`, calling `model`; `stream_usage` asks the
/// server for the usage chunk of a stream.
pub fn messages_to_chat(
    req: &MessagesRequest,
    model: &str,
    stream_usage: bool,
) -> Result<Value, TranslateError> {
    let mut messages = Vec::with_capacity(req.messages.len() + 1);
    if let Some(system) = &req.system {
        let text = crate::openai::content_text(Some(system));
        if !text.is_empty() {
            messages.push(json!({"role": "system", "content": text}));
        }
    }
    for (i, m) in req.messages.iter().enumerate() {
        match m.role.as_str() {
            "user" => messages.extend(openai_user_messages(m, i)?),
            "assistant" => messages.push(openai_assistant_message(m)),
            other => {
                return Err(TranslateError::Invalid(format!(
                    "messages[{i}].role must be `user` or `assistant`, not `{other}`"
                )))
            }
        }
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert("messages".into(), Value::Array(messages));
    body.insert("max_tokens".into(), json!(req.max_tokens));
    if req.is_stream() {
        body.insert("stream".into(), json!(true));
        if stream_usage {
            body.insert("stream_options".into(), json!({"include_usage": true}));
        }
    }
    for (field, value) in &req.extra {
        match field.as_str() {
            "temperature" | "top_p" => {
                body.insert(field.clone(), value.clone());
            }
            "stop_sequences" => {
                body.insert("stop".into(), value.clone());
            }
            "metadata" => {
                if let Some(user) = value.get("user_id") {
                    body.insert("user".into(), user.clone());
                }
            }
            "tools" => {
                body.insert("tools".into(), openai_tools(value)?);
            }
            "tool_choice" => {
                let (choice, serial) = openai_tool_choice(value);
                body.insert("tool_choice".into(), choice);
                if serial {
                    body.insert("parallel_tool_calls".into(), json!(false));
                }
            }
            // Sampling and reasoning knobs without an OpenAI equivalent.
            _ => {}
        }
    }
    Ok(Value::Object(body))
}

fn openai_user_messages(m: &Message, i: usize) -> Result<Vec<Value>, TranslateError> {
    let blocks = match &m.content {
        Some(Value::Array(blocks)) => blocks,
        Some(Value::String(s)) => return Ok(vec![json!({"role": "user", "content": s})]),
        _ => return Ok(Vec::new()),
    };
    // Tool results become `tool` messages, first: they must follow the assistant's calls.
    let mut out = Vec::new();
    let mut parts = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => parts.push(
                json!({"type": "text", "text": block.get("text").cloned().unwrap_or(json!(""))}),
            ),
            Some("image") => parts.push(openai_image(block, i, j)?),
            Some("tool_result") => out.push(json!({
                "role": "tool",
                "tool_call_id": block.get("tool_use_id").cloned().unwrap_or(Value::Null),
                "content": crate::openai::content_text(block.get("content")),
            })),
            Some(other) => {
                return Err(TranslateError::Unsupported(format!(
                    "content blocks of type `{other}` (messages[{i}].content[{j}])"
                )))
            }
            None => {
                return Err(TranslateError::Invalid(format!(
                    "messages[{i}].content[{j}] has no `type`"
                )))
            }
        }
    }
    if !parts.is_empty() {
        out.push(json!({"role": "user", "content": parts}));
    }
    Ok(out)
}

fn openai_image(block: &Value, i: usize, j: usize) -> Result<Value, TranslateError> {
    let source = block.get("source").unwrap_or(&Value::Null);
    let url = match source.get("type").and_then(Value::as_str) {
        Some("base64") => format!(
            "data:{};base64,{}",
            source
                .get("media_type")
                .and_then(Value::as_str)
                .unwrap_or("image/png"),
            source
                .get("data")
                .and_then(Value::as_str)
                .unwrap_or_default()
        ),
        Some("url") => source
            .get("url")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        _ => {
            return Err(TranslateError::Unsupported(format!(
                "image sources other than base64 and url (messages[{i}].content[{j}])"
            )))
        }
    };
    Ok(json!({"type": "image_url", "image_url": {"url": url}}))
}

fn openai_assistant_message(m: &Message) -> Value {
    let blocks = match &m.content {
        Some(Value::Array(blocks)) => blocks.as_slice(),
        Some(Value::String(s)) => return json!({"role": "assistant", "content": s}),
        _ => &[],
    };
    let text: Vec<&str> = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    let calls: Vec<Value> = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("tool_use"))
        .map(|b| {
            json!({
                "id": b.get("id").cloned().unwrap_or(Value::Null),
                "type": "function",
                "function": {
                    "name": b.get("name").cloned().unwrap_or(Value::Null),
                    "arguments": b.get("input").map_or_else(|| "{}".to_string(), Value::to_string),
                }
            })
        })
        .collect();
    let mut msg = json!({"role": "assistant", "content": if text.is_empty() { Value::Null } else { json!(text.concat()) }});
    if !calls.is_empty() {
        msg["tool_calls"] = Value::Array(calls);
    }
    msg
}

fn openai_tools(tools: &Value) -> Result<Value, TranslateError> {
    let Value::Array(tools) = tools else {
        return Err(TranslateError::Invalid("`tools` must be an array".into()));
    };
    tools
        .iter()
        .map(|t| {
            if t.get("input_schema").is_none() {
                return Err(TranslateError::Unsupported(format!(
                    "server tools such as `{}`",
                    t.get("type").and_then(Value::as_str).unwrap_or("unknown")
                )));
            }
            let mut function = Map::new();
            function.insert("name".into(), t.get("name").cloned().unwrap_or(Value::Null));
            if let Some(d) = t.get("description") {
                function.insert("description".into(), d.clone());
            }
            function.insert("parameters".into(), t["input_schema"].clone());
            Ok(json!({"type": "function", "function": function}))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

/// OpenAI's `tool_choice` for Anthropic's, and whether calls must come one at a time.
fn openai_tool_choice(choice: &Value) -> (Value, bool) {
    let serial = choice
        .get("disable_parallel_tool_use")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mapped = match choice.get("type").and_then(Value::as_str) {
        Some("any") => json!("required"),
        Some("none") => json!("none"),
        Some("tool") => {
            json!({"type": "function", "function": {"name": choice.get("name").cloned().unwrap_or(Value::Null)}})
        }
        _ => json!("auto"),
    };
    (mapped, serial)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(v: Value) -> ChatRequest {
        serde_json::from_value(v).unwrap()
    }

    fn messages(v: Value) -> MessagesRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn openai_conversation_becomes_alternating_anthropic_turns() {
        let req = chat(json!({
            "model": "m", "temperature": 1.7, "stop": "END", "user": "u-1", "max_tokens": 50,
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "developer", "content": "and kind"},
                {"role": "user", "content": "weather in Paris?"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
                {"role": "user", "content": [{"type": "text", "text": "and"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}
            ],
            "tools": [{"type": "function", "function": {"name": "weather", "description": "forecast", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
            "tool_choice": "required", "parallel_tool_calls": false
        }));
        let body = chat_to_messages(&req, "claude-x", 4096).unwrap();
        assert_eq!(body["model"], "claude-x");
        assert_eq!(body["system"], "be brief\n\nand kind");
        assert_eq!(body["max_tokens"], 50);
        assert_eq!(body["temperature"], 1.0);
        assert_eq!(body["stop_sequences"], json!(["END"]));
        assert_eq!(body["metadata"]["user_id"], "u-1");
        let turns = body["messages"].as_array().unwrap();
        let roles: Vec<&str> = turns.iter().map(|t| t["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["user", "assistant", "user"]);
        assert_eq!(turns[1]["content"][0]["type"], "tool_use");
        assert_eq!(turns[1]["content"][0]["input"]["city"], "Paris");
        // The tool result and the next user turn merge into one user turn.
        assert_eq!(turns[2]["content"][0]["type"], "tool_result");
        assert_eq!(turns[2]["content"][0]["tool_use_id"], "call_1");
        assert_eq!(turns[2]["content"][2]["source"]["media_type"], "image/png");
        assert_eq!(
            body["tools"][0]["input_schema"]["properties"]["city"]["type"],
            "string"
        );
        assert_eq!(
            body["tool_choice"],
            json!({"type": "any", "disable_parallel_tool_use": true})
        );
    }

    #[test]
    fn anthropic_needs_an_output_limit_and_refuses_what_it_cannot_do() {
        let req = chat(json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}));
        assert_eq!(
            chat_to_messages(&req, "c", 1234).unwrap()["max_tokens"],
            1234
        );
        let req =
            chat(json!({"model": "m", "n": 3, "messages": [{"role": "user", "content": "hi"}]}));
        assert!(matches!(
            chat_to_messages(&req, "c", 1),
            Err(TranslateError::Unsupported(_))
        ));
        let req = chat(
            json!({"model": "m", "response_format": {"type": "json_schema"}, "messages": [{"role": "user", "content": "hi"}]}),
        );
        assert!(matches!(
            chat_to_messages(&req, "c", 1),
            Err(TranslateError::Unsupported(_))
        ));
        let req = chat(
            json!({"model": "m", "response_format": {"type": "text"}, "seed": 4, "messages": [{"role": "user", "content": "hi"}]}),
        );
        assert!(chat_to_messages(&req, "c", 1).is_ok());
    }

    #[test]
    fn anthropic_conversation_becomes_openai_messages() {
        let req = messages(json!({
            "model": "m", "max_tokens": 20, "system": [{"type": "text", "text": "be brief"}],
            "stop_sequences": ["X"], "metadata": {"user_id": "u"}, "stream": true,
            "tools": [{"name": "weather", "description": "d", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "tool", "name": "weather"},
            "messages": [
                {"role": "user", "content": "weather?"},
                {"role": "assistant", "content": [{"type": "text", "text": "checking"}, {"type": "tool_use", "id": "tu_1", "name": "weather", "input": {"city": "Oslo"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu_1", "content": [{"type": "text", "text": "rain"}]}, {"type": "text", "text": "thanks"}]}
            ]
        }));
        let body = messages_to_chat(&req, "gpt-x", true).unwrap();
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert_eq!(body["stop"], json!(["X"]));
        assert_eq!(body["user"], "u");
        let m = body["messages"].as_array().unwrap();
        let roles: Vec<&str> = m.iter().map(|t| t["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["system", "user", "assistant", "tool", "user"]);
        assert_eq!(m[2]["content"], "checking");
        assert_eq!(
            m[2]["tool_calls"][0]["function"]["arguments"],
            "{\"city\":\"Oslo\"}"
        );
        assert_eq!(m[3]["tool_call_id"], "tu_1");
        assert_eq!(m[3]["content"], "rain");
        assert_eq!(body["tools"][0]["function"]["parameters"]["type"], "object");
        assert_eq!(body["tool_choice"]["function"]["name"], "weather");
    }

    #[test]
    fn server_tools_are_refused() {
        let req = messages(
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "web_search_20250305", "name": "web_search"}]}),
        );
        assert!(matches!(
            messages_to_chat(&req, "g", false),
            Err(TranslateError::Unsupported(_))
        ));
    }
}
