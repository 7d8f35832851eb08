//! dataflow: register products from the keyboard or over HTTP; store them in SQL and publish
//! them to Kafka through a transactional outbox.
//!
//! Layers: `domain` -> `store` and `kafka` -> `service` -> front ends `tui` and `http`.

pub mod app;
pub mod bench;
pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod kafka;
pub mod service;
pub mod stages;
pub mod store;
pub mod telemetry;
pub mod tui;
