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
async fn the_readmes_setup_keeps_the_server_away_from_the_owners_rights() {
    // README: a superuser makes the owner, the working login and clinicdesk_writer; the owner runs
    // the migrations; the server works as clinicdesk_app.
    let pg = TempPostgres::start();
    for sql in [
        "CREATE ROLE clinicdesk LOGIN",
        "CREATE ROLE clinicdesk_app LOGIN",
        "CREATE ROLE clinicdesk_writer NOLOGIN",
        "GRANT clinicdesk_writer TO clinicdesk_app",
        "CREATE DATABASE clinicdesk OWNER clinicdesk",
    ] {
        pg.psql("postgres", sql);
    }
    let url = |user: &str| format!("host={} port=5432 user={user} dbname=clinicdesk", pg.socket_dir().display());
    let mut owner = db::connect(&url("clinicdesk"), false).await.unwrap();
    schema::migrate(&mut owner).await.expect("the owner, no superuser, sets up the schema");
    let pool = db::pool(&url("clinicdesk_app"), 2).unwrap();
    let client = pool.get().await.unwrap();
    let role: String = client.query_one("SELECT current_user::text", &[]).await.unwrap().get(0);
    assert_eq!(role, "clinicdesk_writer", "pooled connections work as the restricted role");
    client.execute("INSERT INTO audit_log (actor_label, action) VALUES ('it', 'settings.update')", &[]).await.unwrap();
    // Even stepping out of the role leaves only the login's own rights, which are none.
    client.batch_execute("RESET ROLE").await.unwrap();
    for statement in [
        "DELETE FROM audit_log",
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update",
        "SET ROLE clinicdesk",
        "GRANT pg_execute_server_program TO clinicdesk_app",
    ] {
        assert!(client.batch_execute(statement).await.is_err(), "{statement} must be refused");
    }
    assert_eq!(pg.psql("clinicdesk", "SELECT count(*) FROM audit_log"), "1");
}
