//! Staff accounts on the clinic server follow the core's rules (`clinicdesk_core::users::store`),
//! as on a one-desk clinic: never without an active administrator, even when two changes race.

mod support;

use clinicdesk_core::auth::Role;
use clinicdesk_server::{directory, staff_accounts};
use support::{clinic, now};

const ONLY_ADMIN: &str = "This is the only active administrator. Make another person an administrator first.";

#[tokio::test]
async fn the_only_active_administrator_cannot_be_deactivated() {
    let c = clinic().await;
    let client = c.pool.get().await.unwrap();
    let refused = staff_accounts::deactivate(&**client, "ADMIN@clinic.example", now()).await.unwrap_err();
    assert_eq!(refused.to_string(), ONLY_ADMIN);
    assert_eq!(c.pg.psql("clinic", "SELECT active FROM users WHERE email = 'admin@clinic.example'"), "t");
    // With a second administrator, the first may go; then the second is the only one.
    directory::add_user(&**client, "bo@clinic.example", "Bo Admin", Role::Admin, "admin password 2").await.unwrap();
    staff_accounts::deactivate(&**client, "admin@clinic.example", now()).await.unwrap();
    let refused = staff_accounts::deactivate(&**client, "bo@clinic.example", now()).await.unwrap_err();
    assert_eq!(refused.to_string(), ONLY_ADMIN);
    // The trail says who changed what, in the desk's words.
    assert_eq!(
        c.pg.psql("clinic", "SELECT detail FROM audit_log WHERE action = 'user.update' ORDER BY seq"),
        "role admin->admin, active true->false"
    );
    let missing =
        staff_accounts::set_password(&**client, "nobody@clinic.example", "a new password 9", now()).await.unwrap_err();
    assert_eq!(missing.to_string(), "There is no staff account for nobody@clinic.example on this clinic server.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_administrators_deactivating_each_other_at_once_leave_one() {
    let c = clinic().await;
    directory::add_user(
        &**c.pool.get().await.unwrap(),
        "bo@clinic.example",
        "Bo Admin",
        Role::Admin,
        "admin password 2",
    )
    .await
    .unwrap();
    // The first deactivation is made and not yet committed when the second begins.
    let mut first = c.pool.get().await.unwrap();
    let first_tx = first.transaction().await.unwrap();
    staff_accounts::deactivate(&*first_tx, "admin@clinic.example", now()).await.unwrap();
    let pool = c.pool.clone();
    let second = tokio::spawn(async move {
        let mut client = pool.get().await.unwrap();
        let tx = client.transaction().await.unwrap();
        let done = staff_accounts::deactivate(&*tx, "bo@clinic.example", now()).await;
        if done.is_ok() {
            tx.commit().await.unwrap();
        }
        done
    });
    support::until_waiting_on_an_advisory_lock(&c.pool, &second, "the second deactivation").await;
    first_tx.commit().await.unwrap();
    let refused = second.await.unwrap().unwrap_err();
    assert_eq!(refused.to_string(), ONLY_ADMIN);
    assert_eq!(c.pg.psql("clinic", "SELECT count(*) FROM users WHERE role = 'admin' AND active"), "1");
}
