//! Plumbing every layer may use: secrets, token encryption, the clock, the HTTP
//! request/response types, metrics and logging.

pub mod clock;
pub mod crypto;
pub mod http;
pub mod metrics;
pub mod secret;
pub mod telemetry;
pub mod ttl_cache;
