//! Upstream adapters. Pure where it can be: wire types of the OpenAI chat API, SSE encoding,
//! token estimates and the built-in mock provider that answers deterministically (the default
//! in the demo and the upstream of tests and benchmarks).

pub mod anthropic;
pub mod embeddings;
pub mod mock;
pub mod openai;
pub mod sse;
pub mod tokens;
