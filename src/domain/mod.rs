//! Types and rules of the product domain. Parsing happens here, at the edge: once a value is a
//! `NewProduct` it is valid, and nothing downstream checks it again.

mod amount;
mod audit;
mod body;
mod change;
mod message;
mod position;
mod product;
mod role;
mod seek;
mod trace;
mod user;
mod verify;

pub use amount::Amount;
pub use audit::{AuditAction, AuditEntry, AuditRecord, Origin};
pub use body::product_from_json;
pub use change::{EventKind, HEADER_EVENT, HEADER_EVENT_ID, HEADER_VERSION, Revision};
pub use message::{ProductMessage, SCHEMA, matches_schema};
pub use position::Position;
pub use product::{
    Currency, FieldError, NewProduct, Product, ProductDraft, PublishState, ValidationErrors,
};
pub use role::{PASSWORD, PASSWORD_MAX, PASSWORD_MIN, Role, password_problem};
pub use seek::{Seek, parse_seek, parse_since};
pub use trace::{HEADER_TRACEPARENT, TraceParent, trace_id_of};
pub use user::{USERNAME, USERNAME_MAX, username_problem};
pub use verify::{
    DETAIL, Finding, PartitionCounts, RecordedEvent, SeenRecord, Step, VerifyReport, step,
};
