//! The chat side: the Slack Web API client, Slack's text format, and Block Kit.

pub mod slack;
pub mod text;
