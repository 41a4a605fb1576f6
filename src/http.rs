//! One way to run an HTTP service in the background: a small tokio runtime on its own thread,
//! an axum app, optional background work beside it, and a graceful stop (requests in flight
//! finish). Used by the MLflow tracking endpoint and by `automl serve`.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use crate::error::{Error, Result};

/// Work that runs beside the server until it stops.
pub type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A running service; stops when dropped.
pub struct Service {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Service {
    /// Listen on `addr` (port 0: any free port) and serve `app` on `threads` worker threads of a
    /// runtime named `name`; `task` runs beside it.
    pub fn start(
        addr: SocketAddr,
        threads: usize,
        name: &str,
        app: axum::Router,
        task: Option<Task>,
    ) -> Result<Service> {
        let failed = |e: std::io::Error| Error::Config(format!("cannot start the {name} server: {e}"));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name(name)
            .enable_io()
            .enable_time()
            .build()
            .map_err(failed)?;
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(addr))
            .map_err(|e| Error::Config(format!("cannot listen on {addr}: {e}")))?;
        let bound = listener
            .local_addr()
            .map_err(|e| Error::Config(format!("cannot listen on {addr}: {e}")))?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                rt.block_on(async move {
                    let beside = task.map(tokio::spawn);
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async move {
                            let _ = stopped.await;
                        })
                        .await;
                    if let Some(b) = beside {
                        b.abort();
                    }
                });
                rt.shutdown_timeout(Duration::from_secs(5));
            })
            .map_err(failed)?;
        Ok(Service {
            addr: bound,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Block until the service stops (see [`Service::stopper`]).
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// A handle that stops the service from another thread (Ctrl-C).
    pub fn stopper(&mut self) -> impl FnOnce() + Send + 'static {
        let s = self.stop.take();
        move || {
            if let Some(s) = s {
                let _ = s.send(());
            }
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
