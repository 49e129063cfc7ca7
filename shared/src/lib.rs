//! The library behind every Lambda of the HubSpot Conversations Inbox <-> Slack bundle.
//!
//! Layers, top to bottom; a module imports only from the layers below it, and the flows never
//! import each other (`tests/layers.rs` fails when either comes back):
//!
//! - `edge`: what meets the outside: routes, the Lambda glue, signatures, request parsing, and
//!   the queue's entry point that hands each job to its flow.
//! - `flows`: one module per use case: inbox to Slack, Slack to inbox, availability, connect,
//!   the Home tab.
//! - `services`: what several flows share: how a platform failure is classified and told,
//!   delivery health, who an agent is, the install's life cycle, HubSpot tokens.
//! - `app`, `config`: the settings and the `App` every flow is given (its ports, built once).
//! - ports and adapters: `inbox` (the `Inbox` port, its HubSpot adapter and an in-memory one),
//!   `chat` (the Slack client, Slack text, Block Kit), `store` (single table: DynamoDB,
//!   embedded), `queue` (SQS, in-process).
//! - `domain`: installs, conversations, messages, agents as plain types.
//! - `support`: secrets, crypto, clock, HTTP request/response types, metrics, logging.

pub mod app;
pub mod chat;
pub mod config;
pub mod domain;
pub mod edge;
pub mod flows;
pub mod inbox;
pub mod queue;
pub mod services;
pub mod store;
pub mod support;
