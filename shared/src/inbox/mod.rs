//! The inbox side.

pub mod hubspot;
