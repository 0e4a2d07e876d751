//! Upstream adapters. The wire types of the OpenAI and Anthropic APIs, translation between
//! them, SSE, token counts, the streamed answer's meter, and the built-in mock provider that
//! answers deterministically (the default in the demo and the upstream of tests and
//! benchmarks).

pub mod anthropic;
pub mod breaker;
pub mod dispatch;
pub mod embeddings;
pub mod http;
pub mod mock;
pub mod openai;
pub mod retry;
pub mod sse;
pub mod stream;
pub mod tokens;
pub mod translate;
pub mod upstream;
