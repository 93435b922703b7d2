//! The doctor's call page on a loopback port, for webviews without WebRTC (WebKitGTK today): the
//! app opens `http://127.0.0.1:PORT/call.html#code=…` in the system browser; the page trades the
//! one-time code for the doctor's ticket (token, room) and reports the call's state back.
//!
//! Invariants:
//! - Bound to 127.0.0.1 only; a request whose `Host` is not exactly `127.0.0.1:PORT` is refused (a
//!   web page elsewhere cannot reach it by DNS rebinding), and so is a POST from another origin.
//! - A code is random (192 bits), kept only as its SHA-256, works once, and dies after two minutes
//!   unexchanged; issuing a new one for the same appointment revokes the old. It travels in the URL
//!   fragment, which browsers never send to a server, and is never logged.
//! - Only `call.html` and `assets/*` are served, each with `no-store`, `no-referrer`, `nosniff`, and
//!   the page with a strict Content Security Policy.
//! - The page's reports are accepted only with the report key handed out with the ticket.
//! - Connections are bounded in number and closed after a silence (`limits.rs`), so another local
//!   program cannot starve the page by holding connections open.

mod limits;
mod server;
mod tickets;

pub use limits::ConnectionLimits;
pub use tickets::{CallHostPhase, CallReport, CallTicket, CODE_LIFETIME_SECONDS};

use crate::error::{CoreError, Result};
use chrono::{DateTime, Utc};
use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use tickets::Tickets;
use tokio::sync::{broadcast, oneshot};

/// One file of the built call page.
pub struct PageAsset {
    pub bytes: Cow<'static, [u8]>,
    pub mime: String,
}

/// Finds a file of the built UI by its path ("call.html", "assets/call-1a2b.js").
pub type PageAssets = Arc<dyn Fn(&str) -> Option<PageAsset> + Send + Sync>;

/// The clock the codes expire by (tests move it).
pub type HostClock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// A running call host. Cloning shares it; `shutdown` (or dropping the last clone) stops it.
#[derive(Clone)]
pub struct CallHost {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    port: u16,
    tickets: Mutex<Tickets>,
    reports: broadcast::Sender<CallReport>,
    assets: PageAssets,
    clock: HostClock,
    stop: Mutex<Option<oneshot::Sender<()>>>,
}

impl CallHost {
    pub async fn start(assets: PageAssets) -> Result<CallHost> {
        Self::start_with_clock(assets, Arc::new(Utc::now)).await
    }

    pub async fn start_with_clock(assets: PageAssets, clock: HostClock) -> Result<CallHost> {
        Self::start_with(assets, clock, ConnectionLimits::default()).await
    }

    pub async fn start_with(assets: PageAssets, clock: HostClock, limits: ConnectionLimits) -> Result<CallHost> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.map_err(|e| {
            CoreError::Unavailable(format!("The call page could not be served on this computer ({e})."))
        })?;
        let port = listener.local_addr().map_err(|e| CoreError::Unavailable(e.to_string()))?.port();
        let listener = limits::BoundedListener::new(listener, limits);
        let (stop, stopped) = oneshot::channel();
        let inner = Arc::new(Inner {
            port,
            tickets: Mutex::new(Tickets::default()),
            reports: broadcast::channel(64).0,
            assets,
            clock,
            stop: Mutex::new(Some(stop)),
        });
        let router = server::router(inner.clone());
        tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(err) = serve.await {
                tracing::warn!(error = %err, "the call page server stopped");
            }
        });
        tracing::info!(port, "call page served on loopback");
        Ok(CallHost { inner })
    }

    pub fn port(&self) -> u16 {
        self.inner.port
    }

    /// Registers `ticket` and returns the link to open; an earlier link for the same appointment
    /// stops working.
    pub fn issue(&self, ticket: CallTicket) -> String {
        let now = (self.inner.clock)();
        let code = self.inner.tickets.lock().expect("tickets lock").issue(ticket, now);
        format!("http://127.0.0.1:{}/call.html#code={code}", self.inner.port)
    }

    /// The call pages' reports (opened, joining, connected, reconnecting, disconnected).
    pub fn subscribe(&self) -> broadcast::Receiver<CallReport> {
        self.inner.reports.subscribe()
    }

    /// The consultation ended (or its doctor signed out): its links and report keys stop working.
    pub fn revoke(&self, appointment: uuid::Uuid) {
        self.inner.tickets.lock().expect("tickets lock").revoke(appointment);
    }

    /// Every link and report key stops working (the doctor signed out).
    pub fn revoke_all(&self) {
        self.inner.tickets.lock().expect("tickets lock").revoke_all();
    }

    pub fn shutdown(&self) {
        if let Some(stop) = self.inner.stop.lock().expect("stop lock").take() {
            let _ = stop.send(());
        }
    }
}
