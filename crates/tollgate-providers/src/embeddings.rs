//! `POST /v1/embeddings`: the request, the response, and the mock provider's vectors.

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::openai::Usage;
use crate::tokens;

/// A `POST /v1/embeddings` body.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct EmbeddingRequest {
    /// The model.
    pub model: String,
    /// A string, a list of strings, a list of token ids, or a list of those.
    pub input: Value,
    /// `float` (default) or `base64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_format: Option<String>,
    /// Shorter vectors, if the model allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    /// Everything else (`user`, ...), passed through.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

/// Why the input cannot be embedded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// Not one of the four accepted shapes.
    #[error(
        "`input` must be a string, an array of strings, an array of token ids or an array of those"
    )]
    Shape,
    /// Nothing to embed.
    #[error("`input` is empty: send at least one non-empty string")]
    Empty,
}

impl EmbeddingRequest {
    /// The inputs as texts (token ids are embedded by their decimal text).
    pub fn texts(&self) -> Result<Vec<String>, InputError> {
        let tokens_text = |v: &Vec<Value>| -> Option<String> {
            v.iter()
                .map(|t| t.as_u64().map(|n| n.to_string()))
                .collect::<Option<Vec<_>>>()
                .map(|ids| ids.join(" "))
        };
        let texts = match &self.input {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) if items.iter().all(Value::is_string) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect(),
            Value::Array(items) if items.iter().all(Value::is_u64) => {
                vec![tokens_text(items).ok_or(InputError::Shape)?]
            }
            Value::Array(items) => items
                .iter()
                .map(|i| i.as_array().and_then(tokens_text).ok_or(InputError::Shape))
                .collect::<Result<_, _>>()?,
            _ => return Err(InputError::Shape),
        };
        if texts.is_empty() || texts.iter().any(String::is_empty) {
            return Err(InputError::Empty);
        }
        Ok(texts)
    }

    /// Whether vectors are wanted as base64 of little-endian f32.
    pub fn base64(&self) -> bool {
        self.encoding_format.as_deref() == Some("base64")
    }
}

/// The response.
#[derive(Clone, Debug, Serialize)]
pub struct EmbeddingResponse {
    /// Always `list`.
    pub object: &'static str,
    /// One per input, in order.
    pub data: Vec<Embedding>,
    /// The model.
    pub model: String,
    /// Token counts (`prompt_tokens` and `total_tokens`).
    pub usage: EmbeddingUsage,
}

/// One vector.
#[derive(Clone, Debug, Serialize)]
pub struct Embedding {
    /// Always `embedding`.
    pub object: &'static str,
    /// Position of its input.
    pub index: usize,
    /// Floats, or a base64 string of little-endian f32.
    pub embedding: Value,
}

/// Token counts of an embedding call.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct EmbeddingUsage {
    /// Input tokens.
    pub prompt_tokens: u32,
    /// The same.
    pub total_tokens: u32,
}

/// The mock's unit vector for `text`: deterministic, so equal texts embed equally.
pub fn mock_vector(text: &str, dimensions: usize) -> Vec<f32> {
    // FNV-1a seeds an xorshift generator: stable across platforms and releases.
    let mut state = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x1000_0000_01b3)
    }) | 1;
    let mut v: Vec<f32> = (0..dimensions)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// The mock's answer to `request` for a model of `dimensions`.
pub fn mock_response(
    request: &EmbeddingRequest,
    texts: &[String],
    model: &str,
    dimensions: usize,
) -> (EmbeddingResponse, Usage) {
    let data = texts
        .iter()
        .enumerate()
        .map(|(index, text)| {
            let vector = mock_vector(text, dimensions);
            let embedding = if request.base64() {
                let bytes: Vec<u8> = vector.iter().flat_map(|f| f.to_le_bytes()).collect();
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                Value::from(vector)
            };
            Embedding {
                object: "embedding",
                index,
                embedding,
            }
        })
        .collect();
    let prompt: u32 = texts.iter().map(|t| tokens::estimate(t)).sum();
    (
        EmbeddingResponse {
            object: "list",
            data,
            model: model.to_string(),
            usage: EmbeddingUsage {
                prompt_tokens: prompt,
                total_tokens: prompt,
            },
        },
        Usage::new(prompt, 0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(v: Value) -> EmbeddingRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn accepts_the_four_input_shapes() {
        assert_eq!(
            request(json!({"model": "m", "input": "a"}))
                .texts()
                .unwrap(),
            vec!["a"]
        );
        assert_eq!(
            request(json!({"model": "m", "input": ["a", "b"]}))
                .texts()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            request(json!({"model": "m", "input": [1, 2]}))
                .texts()
                .unwrap(),
            vec!["1 2"]
        );
        assert_eq!(
            request(json!({"model": "m", "input": [[1], [2, 3]]}))
                .texts()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            request(json!({"model": "m", "input": 5})).texts(),
            Err(InputError::Shape)
        );
        assert_eq!(
            request(json!({"model": "m", "input": []})).texts(),
            Err(InputError::Empty)
        );
        assert_eq!(
            request(json!({"model": "m", "input": [""]})).texts(),
            Err(InputError::Empty)
        );
    }

    #[test]
    fn vectors_are_unit_length_and_deterministic() {
        let a = mock_vector("hello", 64);
        assert_eq!(a, mock_vector("hello", 64));
        assert_ne!(a, mock_vector("hello!", 64));
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
    }

    #[test]
    fn base64_is_little_endian_f32() {
        let req = request(json!({"model": "m", "input": "x", "encoding_format": "base64"}));
        let (resp, _) = mock_response(&req, &["x".to_string()], "m", 4);
        let b64 = resp.data[0].embedding.as_str().unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let floats: Vec<f32> = bytes
            .chunks(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(floats, mock_vector("x", 4));
    }
}
