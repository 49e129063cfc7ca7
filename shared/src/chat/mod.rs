//! The chat side: the Slack Web API client, Slack's text format, and Block Kit.

pub mod blocks;
pub mod slack;
pub mod text;
