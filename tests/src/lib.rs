//! Helpers shared by the integration tests.
pub mod harness;
pub mod inproc;
pub mod limits;
pub mod stores;
