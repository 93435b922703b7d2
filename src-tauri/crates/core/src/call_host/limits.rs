//! Bounds on the loopback server's connections. Any local process can connect to 127.0.0.1, so
//! without bounds a program of another account on the same computer (a shared reception PC) could
//! hold connections open without sending a request and starve the doctor's call page.
//!
//! Invariants: at most `max_connections` connections are served at once (the next waits in the
//! kernel's backlog until one closes), and a connection on which nothing arrives for `idle` is
//! closed, so held connections free their place. A browser opens at most six per host and reuses
//! them; an idle keep-alive connection closed by us is simply reopened by the browser.

use axum::serve::Listener;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// How many connections the call page server serves at once, and how long one may stay silent.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub idle: Duration,
}

impl Default for ConnectionLimits {
    /// 32 connections (a few browser windows' worth) and 30 s of silence (the page reports its
    /// state every few seconds while a call runs, so a live page never gets near it).
    fn default() -> Self {
        ConnectionLimits { max_connections: 32, idle: Duration::from_secs(30) }
    }
}

pub(super) struct BoundedListener {
    inner: TcpListener,
    permits: Arc<Semaphore>,
    idle: Duration,
}

impl BoundedListener {
    pub(super) fn new(inner: TcpListener, limits: ConnectionLimits) -> Self {
        BoundedListener { inner, permits: Arc::new(Semaphore::new(limits.max_connections.max(1))), idle: limits.idle }
    }
}

impl Listener for BoundedListener {
    type Io = BoundedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // A place first, then the connection: beyond the cap, connections wait in the backlog.
        let permit = self.permits.clone().acquire_owned().await.expect("the semaphore is never closed");
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => return (BoundedStream::new(stream, permit, self.idle), addr),
                // Out of file descriptors and the like: pause rather than spin (as axum does).
                Err(err) => {
                    tracing::debug!(error = %err, "call page server: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// A served connection: holds its place until dropped, and fails a read that waits longer than
/// `idle` (hyper then closes the connection).
pub(super) struct BoundedStream {
    stream: TcpStream,
    _place: OwnedSemaphorePermit,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl BoundedStream {
    fn new(stream: TcpStream, place: OwnedSemaphorePermit, idle: Duration) -> Self {
        BoundedStream { stream, _place: place, idle, deadline: Box::pin(tokio::time::sleep(idle)) }
    }
}

impl AsyncRead for BoundedStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(result) => {
                let idle = this.idle;
                this.deadline.as_mut().reset(Instant::now() + idle);
                Poll::Ready(result)
            }
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "connection idle"))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for BoundedStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
