//! The edge: routes and the Lambda glue, request signatures, parsing of what Slack and
//! HubSpot send, and the queue worker that hands each job to its flow.

pub mod inbound;
pub mod lambda;
pub mod routes;
pub mod verify;
pub mod worker;
