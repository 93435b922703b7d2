//! The server's migrations: every upgrade path ends at the fresh schema, a second run changes
//! nothing, a newer database is refused, and the audit log cannot be rewritten.

mod support;

use clinicdesk_server::testing::TempPostgres;
use clinicdesk_server::{db, schema};

#[tokio::test]
async fn every_upgrade_path_equals_a_fresh_schema() {
    let pg = TempPostgres::start();
    let fresh_url = pg.create_database("fresh");
    let mut fresh = db::connect(&fresh_url, false).await.unwrap();
    assert_eq!(schema::migrate(&mut fresh).await.unwrap(), (1..=schema::latest()).collect::<Vec<_>>());
    assert!(schema::migrate(&mut fresh).await.unwrap().is_empty(), "a second run applies nothing");
    let expected = pg.schema_dump("fresh");
    assert!(expected.contains("appointments_doctor_free"), "the dump shows the schema");
    // Stop at each released version, then upgrade the rest of the way.
    for stop in 0..schema::latest() {
        let name = format!("from_{stop}");
        let url = pg.create_database(&name);
        let mut client = db::connect(&url, false).await.unwrap();
        schema::migrate_to(&mut client, stop).await.unwrap();
        schema::migrate(&mut client).await.unwrap();
        assert_eq!(pg.schema_dump(&name), expected, "upgrading from schema {stop}");
    }
}

#[tokio::test]
async fn a_database_from_a_newer_server_is_refused_not_damaged() {
    let pg = TempPostgres::start();
    let url = pg.create_database("clinic");
    let mut client = db::connect(&url, false).await.unwrap();
    schema::migrate(&mut client).await.unwrap();
    pg.psql(
        "clinic",
        &format!("INSERT INTO schema_migrations (version, name) VALUES ({}, 'future')", schema::latest() + 1),
    );
    let refused = schema::migrate(&mut client).await.unwrap_err();
    assert!(refused.to_string().contains("newer ClinicDesk server"), "{refused}");
}

#[tokio::test]
async fn the_audit_log_is_append_only_in_the_database() {
    let c = support::clinic().await;
    let client = c.pool.get().await.unwrap();
    client
        .execute("INSERT INTO audit_log (actor_label, action) VALUES ('test', 'settings.update')", &[])
        .await
        .expect("the server appends");
    // The server's working role holds no UPDATE, DELETE or TRUNCATE on it.
    for statement in ["UPDATE audit_log SET action = 'nothing'", "DELETE FROM audit_log", "TRUNCATE audit_log"] {
        let refused = client.execute(statement, &[]).await.unwrap_err();
        assert_eq!(refused.code().unwrap().code(), "42501", "{statement}: insufficient_privilege");
    }
    // Even the table's owner (the login role that ran the migrations) is stopped by the trigger.
    let owner = db::connect(&c.url, false).await.unwrap();
    for statement in ["UPDATE audit_log SET action = 'nothing'", "DELETE FROM audit_log", "TRUNCATE audit_log"] {
        let refused = owner.execute(statement, &[]).await.unwrap_err();
        assert!(refused.as_db_error().unwrap().message().contains("append-only"), "{statement}: {refused:?}");
    }
    assert_eq!(c.pg.psql("clinic", "SELECT count(*) FROM audit_log WHERE action = 'settings.update'"), "1");
}

#[tokio::test]
async fn the_readmes_setup_works_without_a_superuser() {
    // README: `createuser --createrole clinicdesk` and `createdb -O clinicdesk clinicdesk`.
    let pg = TempPostgres::start();
    pg.psql("postgres", "CREATE ROLE clinicdesk LOGIN CREATEROLE");
    pg.psql("postgres", "CREATE DATABASE clinicdesk OWNER clinicdesk");
    let url = format!("host={} port=5432 user=clinicdesk dbname=clinicdesk", pg.socket_dir().display());
    let mut owner = db::connect(&url, false).await.unwrap();
    schema::migrate(&mut owner).await.expect("the clinic's own role can set up its schema");
    let pool = db::pool(&url, 2).unwrap();
    let client = pool.get().await.unwrap();
    let role: String = client.query_one("SELECT current_user::text", &[]).await.unwrap().get(0);
    assert_eq!(role, "clinicdesk_writer", "pooled connections work as the restricted role");
    client.execute("INSERT INTO audit_log (actor_label, action) VALUES ('it', 'settings.update')", &[]).await.unwrap();
    assert!(client.execute("DELETE FROM audit_log", &[]).await.is_err());
}
