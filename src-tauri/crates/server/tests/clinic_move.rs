//! A one-desk clinic's parts arriving at the server (`POST /v1/migrate`, migration.rs), checked
//! against a real PostgreSQL: a part sent twice lands once; rows the server would never have
//! accepted (an unknown role, a password hash that is not argon2id, a number that is not one) are
//! refused whole with a sentence naming the row; after the last part, nothing more is written.

use chrono::{Duration, Utc};
use clinicdesk_core::auth::{hash_password, Role};
use clinicdesk_core::sync::wire::{MigratedPatient, MigratedUser, MigrationBatch};
use clinicdesk_server::staff::signed_in_for_tests;
use clinicdesk_server::testing::{self, TempPostgres};
use clinicdesk_server::{db, directory, migration};
use uuid::Uuid;

fn user(email: &str, role: &str, password_hash: String) -> MigratedUser {
    MigratedUser {
        id: Uuid::new_v4(),
        email: email.into(),
        full_name: "Moved Person".into(),
        role: role.into(),
        password_hash,
        active: true,
        created_at: Utc::now() - Duration::days(400),
    }
}

fn patient(name: &str, phone: &str) -> MigratedPatient {
    MigratedPatient {
        id: Uuid::new_v4(),
        full_name: name.into(),
        phone: phone.into(),
        date_of_birth: None,
        sms_consent: true,
        opted_out_at: None,
        created_at: Utc::now() - Duration::days(300),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_land_once_are_checked_whole_and_stop_after_the_last() {
    let pg = TempPostgres::start();
    let (url, owner) = testing::empty_london_clinic(&pg).await;
    let admin = directory::add_user(&owner, "admin@clinic.example", "Ada Admin", Role::Admin, "admin password 1")
        .await
        .unwrap();
    let admin = signed_in_for_tests(admin, Role::Admin, "admin@clinic.example");
    let pool = db::pool(&url, 4).unwrap();
    let source = Uuid::new_v4();
    let part = |users: Vec<MigratedUser>, patients: Vec<MigratedPatient>| MigrationBatch {
        source,
        users,
        patients,
        ..Default::default()
    };
    // A role as an older desk may have spelled it: stored in the server's own spelling.
    let doctor = user("okafor@clinic.example", " Doctor", hash_password("doctor password 1").unwrap());
    let olivia = patient("Olivia Smith", "+447400123456");

    // Sent twice (an answer lost on the way back): the rows land once.
    let first = migration::receive(&pool, &admin, &part(vec![doctor.clone()], vec![olivia.clone()])).await.unwrap();
    assert_eq!(first["patients"], 1, "{first}");
    let db = pool.get().await.unwrap();
    assert!(migration::under_way(&**db).await.unwrap(), "no reminders of the server's own until the move ends");
    let again = migration::receive(&pool, &admin, &part(vec![doctor.clone()], vec![olivia.clone()])).await.unwrap();
    assert_eq!(again["patients"], 0, "{again}");
    assert_eq!(pg.psql("clinic", "SELECT count(*) FROM patients"), "1");
    assert_eq!(pg.psql("clinic", "SELECT role FROM users WHERE email = 'okafor@clinic.example'"), "doctor");

    // Rows no desk could have made are refused whole, naming the row; nothing of the part lands.
    let refusals = [
        (
            part(vec![user("plain@clinic.example", "doctor", "hunter2".into())], vec![]),
            "plain@clinic.example's password",
        ),
        (
            part(vec![user("boss@clinic.example", "superuser", hash_password("x password 12").unwrap())], vec![]),
            "superuser",
        ),
        (part(vec![], vec![patient("Noah Jones", "+4474001")]), "is not a valid phone number"),
        (part(vec![], vec![patient("Noah Jones", "07400 123457")]), "is not stored the way ClinicDesk stores numbers"),
        (part(vec![], vec![patient("   ", "+447400123457")]), "Patient "),
    ];
    for (bad, said) in refusals {
        let err = migration::receive(&pool, &admin, &bad).await.unwrap_err();
        assert!(err.to_string().contains(said), "{said:?} in {err}");
    }
    assert_eq!(pg.psql("clinic", "SELECT count(*) FROM patients"), "1");
    assert_eq!(pg.psql("clinic", "SELECT count(*) FROM users"), "2", "the administrator and the doctor");

    // The last part: from then on the clinic is here, and no part is taken, not even a repeat.
    let last = MigrationBatch { source, finished: true, ..Default::default() };
    migration::receive(&pool, &admin, &last).await.unwrap();
    assert!(!migration::under_way(&**db).await.unwrap());
    // (Answered, not refused, so a move whose last answer was lost can be run again to mark its
    // old folder moved.)
    let late =
        migration::receive(&pool, &admin, &part(vec![], vec![patient("Late Comer", "+447400123458")])).await.unwrap();
    assert_eq!(late["already_finished"], true, "{late}");
    assert_eq!(late["patients"], 0, "{late}");
    assert_eq!(pg.psql("clinic", "SELECT count(*) FROM patients"), "1");
}
