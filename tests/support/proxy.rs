//! A TCP proxy for tests, loopback only (`#[path = "support/proxy.rs"] mod proxy;`): it sits
//! between a client and a server and, on command, cuts its connections (FIN both ways), stalls
//! them (stops forwarding without closing, one way or both: TCP's flow control then stops the
//! sender), adds one-way latency, or limits the bandwidth towards the client. Connections
//! made after a stall are not stalled, so a client that reconnects gets through.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One direction of one proxied connection.
struct Pipe {
    from: TcpStream,
    to: TcpStream,
    stalled: AtomicBool,
}

#[derive(Default)]
struct Settings {
    /// Added to every chunk, each way.
    delay: Duration,
    /// Bytes per second towards the client (0: unlimited).
    rate_down: u64,
}

/// Every direction of every connection so far, `true` for the one towards the client.
type Pipes = Arc<Mutex<Vec<(Arc<Pipe>, bool)>>>;

pub struct Proxy {
    pub port: u16,
    pipes: Pipes,
    settings: Arc<Mutex<Settings>>,
    /// Bytes forwarded towards the client, in all.
    pub down: Arc<AtomicU64>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards every connection to `target` there.
    pub fn start(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy bind");
        let port = listener.local_addr().expect("addr").port();
        let pipes: Pipes = Arc::default();
        let settings: Arc<Mutex<Settings>> = Arc::default();
        let down = Arc::new(AtomicU64::new(0));
        let (p, s, d) = (pipes.clone(), settings.clone(), down.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else { continue };
                let _ = (client.set_nodelay(true), server.set_nodelay(true));
                let up = Arc::new(Pipe {
                    from: client.try_clone().expect("clone"),
                    to: server.try_clone().expect("clone"),
                    stalled: AtomicBool::new(false),
                });
                let down_pipe = Arc::new(Pipe { from: server, to: client, stalled: AtomicBool::new(false) });
                p.lock().expect("pipes").extend([(up.clone(), false), (down_pipe.clone(), true)]);
                let s2 = s.clone();
                std::thread::spawn(move || pump(&up, &s2, None));
                let (s3, d3) = (s.clone(), d.clone());
                std::thread::spawn(move || pump(&down_pipe, &s3, Some(&d3)));
            }
        });
        Proxy { port, pipes, settings, down }
    }

    /// Closes every connection made so far (FIN both ways, to both ends).
    pub fn cut(&self) {
        for (p, _) in self.pipes.lock().expect("pipes").drain(..) {
            let _ = p.from.shutdown(Shutdown::Both);
            let _ = p.to.shutdown(Shutdown::Both);
        }
    }

    /// Stops forwarding on the connections made so far, towards the server (`up`) and / or
    /// towards the client (`down`), without closing anything.
    pub fn stall(&self, up: bool, down: bool) {
        for (p, is_down) in self.pipes.lock().expect("pipes").iter() {
            if (*is_down && down) || (!*is_down && up) {
                p.stalled.store(true, Ordering::SeqCst);
            }
        }
    }

    pub fn set_delay(&self, d: Duration) {
        self.settings.lock().expect("settings").delay = d;
    }

    /// Bytes per second towards the client (0: unlimited).
    pub fn set_rate_down(&self, bytes_per_sec: u64) {
        self.settings.lock().expect("settings").rate_down = bytes_per_sec;
    }
}

/// One direction: a reader stamps each chunk with the time it may go (now + the delay) and a
/// writer sends it then, paced to the rate; so latency adds to each chunk without slowing a
/// stream. A stalled pipe reads nothing more and writes nothing more.
fn pump(p: &Arc<Pipe>, settings: &Arc<Mutex<Settings>>, count: Option<&Arc<AtomicU64>>) {
    let (tx, rx) = std::sync::mpsc::channel::<(Instant, Vec<u8>)>();
    let writer = {
        let (p, settings, count) = (p.clone(), settings.clone(), count.cloned());
        std::thread::spawn(move || {
            let mut to = &p.to;
            for (due, bytes) in rx {
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                while p.stalled.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(5));
                }
                let started = Instant::now();
                if to.write_all(&bytes).is_err() {
                    let _ = p.from.shutdown(Shutdown::Both);
                    return;
                }
                if let Some(c) = &count {
                    c.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                    let rate = settings.lock().expect("settings").rate_down;
                    if rate > 0 {
                        let took = Duration::from_secs_f64(bytes.len() as f64 / rate as f64);
                        if let Some(rest) = took.checked_sub(started.elapsed()) {
                            std::thread::sleep(rest);
                        }
                    }
                }
            }
            let _ = to.shutdown(Shutdown::Write);
        })
    };
    let mut from = &p.from;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        // A stalled pipe reads nothing more: the sender's window closes, nothing is lost.
        while p.stalled.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let delay = settings.lock().expect("settings").delay;
        if tx.send((Instant::now() + delay, buf[..n].to_vec())).is_err() {
            break;
        }
    }
    drop(tx);
    let _ = writer.join();
}
