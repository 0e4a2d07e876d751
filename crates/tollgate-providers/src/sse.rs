//! Server-sent events: the encoder for what Tollgate streams, and a lenient incremental decoder
//! for what upstreams send (events split anywhere across reads, `\r\n` or `\n` or `\r` line
//! ends, comments, multi-line data, a last event without its blank line).

use serde::Serialize;

/// Appends `payload` as JSON and the blank line that ends an event (a value that cannot be
/// serialized writes `null`, still a well-formed event).
pub fn write_json(out: &mut Vec<u8>, payload: &impl Serialize) {
    let start = out.len();
    if serde_json::to_writer(&mut *out, payload).is_err() {
        out.truncate(start);
        out.extend_from_slice(b"null");
    }
    out.extend_from_slice(b"\n\n");
}

/// The end of an OpenAI stream.
pub const DONE: &str = "data: [DONE]\n\n";

/// A decoded event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, when there was one.
    pub name: Option<String>,
    /// The `data:` lines joined by `\n`.
    pub data: String,
}

/// Turns bytes into events as they arrive. Feed it every read; call [`Decoder::finish`] when
/// the connection closes to get an event whose blank line never came.
#[derive(Debug, Default)]
pub struct Decoder {
    /// Bytes of the line being read (not yet ended).
    line: Vec<u8>,
    /// The last byte seen was `\r`: a `\n` right after it ends nothing new.
    after_cr: bool,
    name: Option<String>,
    data: String,
    has_data: bool,
}

impl Decoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// The events completed by `bytes`, in order.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        let mut rest = bytes;
        while let Some(pos) = rest.iter().position(|b| *b == b'\n' || *b == b'\r') {
            let (head, tail) = rest.split_at(pos);
            let newline = tail[0];
            rest = &tail[1..];
            if head.is_empty() && newline == b'\n' && self.after_cr && self.line.is_empty() {
                // The `\n` of a `\r\n` pair.
                self.after_cr = false;
                continue;
            }
            self.line.extend_from_slice(head);
            self.after_cr = newline == b'\r';
            let line = std::mem::take(&mut self.line);
            if let Some(event) = self.line_done(&line) {
                events.push(event);
            }
        }
        if !rest.is_empty() {
            self.after_cr = false;
            self.line.extend_from_slice(rest);
        }
        events
    }

    /// The event left open when the stream ended without its blank line, if any.
    pub fn finish(&mut self) -> Option<SseEvent> {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            if let Some(event) = self.line_done(&line) {
                return Some(event);
            }
        }
        self.dispatch()
    }

    fn line_done(&mut self, line: &[u8]) -> Option<SseEvent> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line[0] == b':' {
            return None;
        }
        let text = String::from_utf8_lossy(line);
        let (field, value) = match text.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (text.as_ref(), ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.name = Some(value.to_string()),
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let name = self.name.take();
        if !self.has_data {
            return None;
        }
        self.has_data = false;
        Some(SseEvent {
            name,
            data: std::mem::take(&mut self.data),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut d = Decoder::new();
        let mut out: Vec<SseEvent> = chunks.iter().flat_map(|c| d.feed(c)).collect();
        out.extend(d.finish());
        out
    }

    fn ev(name: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            name: name.map(str::to_string),
            data: data.to_string(),
        }
    }

    #[test]
    fn json_ends_its_event() {
        let mut out = b"data: ".to_vec();
        write_json(&mut out, &serde_json::json!({"a": 1}));
        assert_eq!(out, b"data: {\"a\":1}\n\n");
    }

    #[test]
    fn decodes_named_events_comments_and_every_line_end() {
        let text = b": keep-alive\r\nevent: message_start\r\ndata: {\"a\":1}\r\n\r\ndata: x\rdata: y\r\rdata: [DONE]\n\n";
        assert_eq!(
            decode_all(&[text]),
            vec![
                ev(Some("message_start"), "{\"a\":1}"),
                ev(None, "x\ny"),
                ev(None, "[DONE]")
            ]
        );
    }

    #[test]
    fn a_last_event_without_its_blank_line_is_kept() {
        assert_eq!(
            decode_all(&[b"data: {}\n\ndata: last"]),
            vec![ev(None, "{}"), ev(None, "last")]
        );
        assert_eq!(decode_all(&[b"data: end\n"]), vec![ev(None, "end")]);
        assert_eq!(decode_all(&[b"event: ping\n\n"]), vec![]);
        assert_eq!(
            decode_all(&[b"data:no-space\n\n"]),
            vec![ev(None, "no-space")]
        );
    }

    proptest! {
        /// However the bytes are split across reads, the same events come out.
        #[test]
        fn splitting_never_changes_the_events(
            payloads in proptest::collection::vec("[a-z{}:\" ]{0,12}", 1..6),
            crlf in any::<bool>(),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let nl = if crlf { "\r\n" } else { "\n" };
            let text: String = payloads
                .iter()
                .map(|p| format!("event: e{nl}data: {p}{nl}{nl}"))
                .collect();
            let bytes = text.as_bytes();
            let whole = decode_all(&[bytes]);
            let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
            points.sort_unstable();
            let mut pieces = Vec::new();
            let mut last = 0;
            for p in points {
                pieces.push(&bytes[last..p]);
                last = p;
            }
            pieces.push(&bytes[last..]);
            prop_assert_eq!(decode_all(&pieces), whole.clone());
            let expected: Vec<SseEvent> = payloads.iter().map(|p| ev(Some("e"), p)).collect();
            prop_assert_eq!(whole, expected);
        }
    }
}
