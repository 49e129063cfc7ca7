//! The parsers of outside input, compiled from `shared`'s own source files, so that fuzzing
//! them does not build the rest of `shared` (the AWS SDK, the Lambda runtime, the HTTP
//! clients). These modules use only serde, hmac/sha2, base64, hex and http: the code fuzzed is
//! the code shipped. With the `full` feature, the targets also reach `shared` itself.

#[path = "../../shared/src/domain/files.rs"]
mod files;
#[path = "../../shared/src/edge/inbound.rs"]
pub mod inbound;
#[path = "../../shared/src/chat/text.rs"]
pub mod slack_text;
#[path = "../../shared/src/edge/verify.rs"]
pub mod verify;
/// `inbound` names the file type by its place in `shared`.
pub mod domain {
    pub use crate::files::SlackFile;
}
