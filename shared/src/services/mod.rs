//! What several flows share, below them: HubSpot tokens (refresh, retry on 401), the Slack
//! token under rotation, how a Slack
//! or HubSpot failure is classified and told to the admin, delivery health, who an agent is,
//! the install's life cycle, and the card as kept between syncs.

pub mod agents;
pub mod assignment;
pub mod card_state;
pub mod clicks;
pub mod failures;
pub mod health;
pub mod install;
pub mod links;
pub mod lookups;
pub mod slack_token;
pub mod tokens;
