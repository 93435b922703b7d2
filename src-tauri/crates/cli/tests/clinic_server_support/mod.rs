//! What the CLI's clinic-server tests share (clinic_server.rs, cli_on_desk.rs): the CLI on a data
//! folder as the administrator, and an empty clinic server on a temporary PostgreSQL.
#![allow(dead_code)] // each test file uses part of it

use assert_cmd::Command;
use clinicdesk_server::testing::{self, TempPostgres};
use serde_json::Value;

pub const ADMIN: &str = "admin@clinic.example";
pub const PASSWORD: &str = "admin password 1";

pub fn clinicdesk(dir: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("clinicdesk").unwrap();
    cmd.arg("--data-dir").arg(dir).args(args).env("CLINICDESK_PASSWORD", PASSWORD);
    cmd
}

pub fn json(dir: &std::path::Path, args: &[&str]) -> Value {
    let mut full = vec!["--json", "--as", ADMIN];
    full.extend_from_slice(args);
    let out = clinicdesk(dir, &full).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// An empty London clinic server: its cluster, connection string and the owner's connection.
pub async fn empty_server() -> (TempPostgres, String, tokio_postgres::Client) {
    let pg = TempPostgres::start();
    let (url, owner) = testing::empty_london_clinic(&pg).await;
    (pg, url, owner)
}
