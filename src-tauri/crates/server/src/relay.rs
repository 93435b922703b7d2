//! A TCP relay between desks and the clinic server for tests and benchmarks: it can cut the
//! network (close every connection and refuse new ones), heal it, or let a request through and
//! lose the answer (the server acts, the desk never hears back) — the failures a desk must survive.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

#[derive(Default)]
struct State {
    cut: AtomicBool,
    lose_answers: AtomicUsize,
    connections: Mutex<Vec<AbortHandle>>,
}

pub struct Relay {
    address: SocketAddr,
    state: Arc<State>,
    accept: AbortHandle,
}

impl Relay {
    /// Starts relaying a loopback port to `target`.
    pub async fn start(target: SocketAddr) -> std::io::Result<Relay> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let state = Arc::new(State::default());
        let accept = tokio::spawn({
            let state = state.clone();
            async move {
                while let Ok((desk, _)) = listener.accept().await {
                    if state.cut.load(Ordering::SeqCst) {
                        drop(desk); // the cable is out: the desk sees the connection close at once
                        continue;
                    }
                    let task = tokio::spawn(relay(desk, target, state.clone()));
                    state.connections.lock().unwrap().push(task.abort_handle());
                }
            }
        })
        .abort_handle();
        Ok(Relay { address, state, accept })
    }

    /// Where desks connect instead of the server.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Cuts the network: open connections close, new ones are refused, until `heal`.
    pub fn cut(&self) {
        self.state.cut.store(true, Ordering::SeqCst);
        for connection in self.state.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    pub fn heal(&self) {
        self.state.cut.store(false, Ordering::SeqCst);
    }

    /// The next `n` answers are lost: the request reaches the server, the reply never reaches the desk.
    pub fn lose_next_answers(&self, n: usize) {
        self.state.lose_answers.store(n, Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

async fn relay(desk: TcpStream, target: SocketAddr, state: Arc<State>) {
    let Ok(server) = TcpStream::connect(target).await else { return };
    let (mut desk_in, mut desk_out) = desk.into_split();
    let (mut server_in, mut server_out) = server.into_split();
    let upstream = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut desk_in, &mut server_out).await;
        let _ = server_out.shutdown().await;
    });
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = match server_in.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let lose = state.lose_answers.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
        if lose {
            break; // the server answered; the desk gets a closed connection instead
        }
        if desk_out.write_all(&buffer[..read]).await.is_err() {
            break;
        }
    }
    upstream.abort();
}
