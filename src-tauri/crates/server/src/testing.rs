//! A real PostgreSQL for tests and benchmarks: a throwaway cluster started from the installed
//! binaries in a temporary directory, listening on a unix socket only (no TCP port to collide with
//! anything), stopped and removed when dropped.
//!
//! `initdb` refuses to run as root, so when the tests run as root (CI, our machines) the cluster
//! belongs to the `postgres` user and every PostgreSQL program is started with that user's ids.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct TempPostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    owner: Option<(u32, u32)>,
}

impl TempPostgres {
    /// Starts a fresh cluster. Panics with a sentence saying what to install if PostgreSQL is missing.
    pub fn start() -> TempPostgres {
        let bin = find_bin_dir()
            .expect("PostgreSQL is not installed: install Debian's `postgresql` package (scripts/test.sh does this).");
        let dir = tempfile::Builder::new().prefix("clinicdesk-pg-").tempdir().expect("temporary directory");
        let owner = if is_root() { Some(postgres_ids()) } else { None };
        if let Some((uid, gid)) = owner {
            chown(dir.path(), uid, gid);
        }
        let pg = TempPostgres { dir, bin, owner };
        let data = pg.data_dir();
        pg.run(
            "initdb",
            &["-D", data.to_str().unwrap(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"],
        );
        let options = format!(
            // Sockets in our own directory only; durability off, since the cluster lives for one test.
            "-c listen_addresses='' -k {} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            pg.socket_dir().display()
        );
        let log = pg.dir.path().join("postgres.log");
        pg.run(
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-l", log.to_str().unwrap(), "-o", &options, "-w", "-t", "60", "start"],
        );
        pg
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The directory holding the server's socket (a libpq "host" when it starts with '/').
    pub fn socket_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// A connection string for `database` as the cluster's superuser.
    pub fn url(&self, database: &str) -> String {
        format!("host={} port=5432 user=postgres dbname={database}", self.socket_dir().display())
    }

    /// Creates an empty database and returns its connection string.
    pub fn create_database(&self, name: &str) -> String {
        assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit()), "plain name");
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(name)
    }

    /// Runs SQL through psql (for setup and for inspecting what the server wrote).
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let out = self
            .command("psql")
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(self.socket_dir())
            .args(["-U", "postgres", "-d", database, "-c", sql])
            .output()
            .expect("psql runs");
        assert!(out.status.success(), "psql failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A schema dump, for comparing databases (`pg_dump --schema-only`, no owners or privileges
    /// that differ by who ran it).
    pub fn schema_dump(&self, database: &str) -> String {
        let out = self
            .command("pg_dump")
            .args(["--schema-only", "--no-owner", "-h"])
            .arg(self.socket_dir())
            .args(["-U", "postgres", database])
            .output()
            .expect("pg_dump runs");
        assert!(out.status.success(), "pg_dump failed: {}", String::from_utf8_lossy(&out.stderr));
        // Comments and the random per-dump `\restrict` key (pg_dump 15.14 and later) differ every run.
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.starts_with("--") && !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin.join(program));
        if let Some((uid, gid)) = self.owner {
            command.uid(uid).gid(gid);
        }
        // Programs run as `postgres` cannot enter root's working directory.
        command.current_dir(self.dir.path()).env_remove("PGDATABASE").env_remove("PGHOST");
        command
    }

    fn run(&self, program: &str, args: &[&str]) {
        let out = self.command(program).args(args).stdin(Stdio::null()).output().expect("PostgreSQL program runs");
        if !out.status.success() {
            let log = std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default();
            panic!(
                "{program} failed: {}{}\n{log}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        let data = self.data_dir();
        let _ = self
            .command("pg_ctl")
            .args(["-D", data.to_str().unwrap_or_default(), "-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Newest installed major version's binaries (Debian: /usr/lib/postgresql/<major>/bin), or
/// CLINICDESK_PG_BIN.
fn find_bin_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("CLINICDESK_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut majors: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin): &(u32, PathBuf)| bin.join("initdb").exists())
        .collect();
    majors.sort();
    majors.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

fn postgres_ids() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id").args([flag, "postgres"]).output().expect("id runs");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("the postgres user exists (Debian's postgresql package creates it)")
    };
    (id("-u"), id("-g"))
}

fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown the temporary directory to postgres");
}

/// A database "clinic" in `pg` with the schema applied, for an empty London clinic (its name, the
/// Europe/London zone, country GB): its connection string and the owner's connection.
pub async fn empty_london_clinic(pg: &TempPostgres) -> (String, tokio_postgres::Client) {
    use crate::settings;
    let url = pg.create_database("clinic");
    let mut owner = crate::db::connect(&url, false).await.expect("connect to the test database");
    crate::schema::migrate(&mut owner).await.expect("apply the schema");
    settings::set(&owner, settings::CLINIC_NAME, "Riverside Clinic").await.expect("set the clinic's name");
    settings::set(&owner, settings::TIME_ZONE, "Europe/London").await.expect("set the time zone");
    settings::set(&owner, settings::COUNTRY, "GB").await.expect("set the country");
    (url, owner)
}

/// Waits for `check` to hold (for tests that watch another task), up to `limit`.
pub async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}
