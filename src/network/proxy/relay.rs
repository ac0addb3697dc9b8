//! Relaying bytes between a client and its server, one thread per direction, with no
//! timeout (a long download is not idle). On Linux the bytes go through a pipe with
//! `splice(2)` and never enter user space; elsewhere, or without descriptors to spare for
//! the pipe, through a 64 KiB buffer.
//!
//! At end of file in one direction, the other side's write half is shut down (so a
//! request body and its response both finish); an error in either direction ends both.
//! A `splice` into a socket the peer has reset raises SIGPIPE: boxpy, as every Rust
//! program, ignores it (the runtime's default), and gets EPIPE instead.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;

use super::Connection;

const PUMP_STACK: usize = 64 * 1024;
const BUFFER: usize = 64 * 1024;

/// How a relay ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// A tunnel: each direction ends on its own (half-close).
    Tunnel,
    /// A forwarded request: once the server has sent its whole response (and closed),
    /// the connection is over both ways.
    Response,
}

/// Sends `first` to the server, then relays both ways until both directions end.
pub(super) fn relay(connection: &Arc<Connection>, first: &[u8], mode: Mode) {
    let Some(server) = connection.server.get() else {
        return;
    };
    let mut writer = server;
    if writer.write_all(first).is_err() {
        connection.close();
        return;
    }
    let upstream = {
        let connection = Arc::clone(connection);
        std::thread::Builder::new()
            .name("boxpy-proxy-relay".to_owned())
            .stack_size(PUMP_STACK)
            .spawn(move || {
                if let Some(server) = connection.server.get() {
                    match pump(&connection.client, server) {
                        Ok(()) => {
                            let _ = server.shutdown(Shutdown::Write);
                        }
                        Err(_) => connection.close(),
                    }
                }
            })
    };
    let Ok(upstream) = upstream else {
        connection.close();
        return;
    };
    match pump(server, &connection.client) {
        Ok(()) if mode == Mode::Tunnel => {
            let _ = connection.client.shutdown(Shutdown::Write);
        }
        Ok(()) | Err(_) => connection.close(),
    }
    let _ = upstream.join();
}

/// Copies `from` to `to` until end of file.
fn pump(from: &TcpStream, to: &TcpStream) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Some(result) = splice_pump(from, to) {
        return result;
    }
    copy_pump(from, to)
}

fn copy_pump(mut from: &TcpStream, mut to: &TcpStream) -> io::Result<()> {
    let mut buffer = vec![0u8; BUFFER];
    loop {
        let read = match from.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        to.write_all(&buffer[..read])?;
    }
}

/// `None` when no pipe could be made (the caller copies instead).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn splice_pump(from: &TcpStream, to: &TcpStream) -> Option<io::Result<()>> {
    use nix::errno::Errno;
    use nix::fcntl::{splice, OFlag, SpliceFFlags};
    let (pipe_read, pipe_write) = nix::unistd::pipe2(OFlag::O_CLOEXEC).ok()?;
    // The pipe keeps its default size (64 KiB, 16 pages): every page of it counts against
    // the user's `fs.pipe-user-pages-soft` (16,384 pages), past which each new pipe of that
    // user anywhere on the host gets a single page. A 1 MiB pipe (256 pages) would reach
    // that after 32 tunnels, for no speed-up the benchmark could show.
    let flags = SpliceFFlags::SPLICE_F_MOVE;
    let result = (|| loop {
        let moved = match splice(from, None, &pipe_write, None, 1 << 20, flags) {
            Ok(0) => return Ok(()),
            Ok(moved) => moved,
            Err(Errno::EINTR) => continue,
            Err(error) => return Err(io::Error::from(error)),
        };
        let mut left = moved;
        while left > 0 {
            match splice(&pipe_read, None, to, None, left, flags) {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(written) => left -= written,
                Err(Errno::EINTR) => {}
                Err(error) => return Err(io::Error::from(error)),
            }
        }
    })();
    Some(result)
}
