//! The use cases. Each flow is called by the edge and uses the services, the ports and the
//! domain below it; no flow imports another (what they share is in `services`).

pub mod assign;
pub mod availability;
pub mod connect;
pub mod home;
pub mod inbox_to_slack;
pub mod slack_to_inbox;
pub mod timers;
