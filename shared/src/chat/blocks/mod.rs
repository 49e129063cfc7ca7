//! Block Kit, built apart from the calls that send it: the notification card, the Home tab.

pub mod card;
pub mod home;
pub mod limits;
pub mod messages;
#[cfg(test)]
mod payloads;
