//! The library behind every Lambda of the HubSpot Conversations Inbox <-> Slack bundle:
//! request verification, parsing, the single-table store, the Slack and HubSpot clients,
//! the queue, and the flows. Functions in `functions/` and the local runner are thin
//! wrappers around `routes::handle` and `worker::AppRunner`.

pub mod app;
pub mod availability;
pub mod clock;
pub mod config;
pub mod connect;
pub mod crypto;
pub mod domain;
pub mod home;
pub mod http;
pub mod hubspot;
pub mod inbound;
pub mod lambda;
pub mod metrics;
pub mod notify;
pub mod queue;
pub mod records;
pub mod reply;
pub mod routes;
pub mod secret;
pub mod slack;
pub mod slack_text;
pub mod store;
pub mod telemetry;
pub mod tokens;
pub mod verify;
pub mod worker;
