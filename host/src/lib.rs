//! orch: a durable pipeline for LLM coding tasks whose strategies — model
//! routers, LLM providers, quality gates — are sandboxed WebAssembly plugins.

pub mod cli;
pub mod config;
pub mod confine;
pub mod cost;
pub mod engine;
pub mod journal;
pub mod limits;
pub mod regular_file;
pub mod replay;
pub mod retry;
pub mod runlog;
pub mod sandbox;
pub mod state;
pub mod store;
pub mod task_retry;
pub mod tasks;
pub mod untrusted;
pub mod workspace;
