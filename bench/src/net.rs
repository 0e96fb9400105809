//! Opening non-blocking connections, spread over loopback source addresses.
//!
//! One source address gives a destination at most one ephemeral port range (about 28,000
//! ports) and TIME_WAIT holds ports for a minute, so big or fast runs take their source
//! addresses in turn from 127.0.0.2 on.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, Socket, Type};

/// Source addresses to take in turn, or none to let the kernel choose.
pub struct Sources {
    addrs: Vec<Ipv4Addr>,
    next: usize,
}

impl Sources {
    /// `count` addresses from 127.0.0.2 on when `target` is a loopback address, else none.
    pub fn new(target: IpAddr, count: u8) -> Sources {
        let addrs = match target {
            IpAddr::V4(ip) if ip.is_loopback() => (0..count)
                .map(|i| Ipv4Addr::new(127, 0, 0, 2 + i))
                .collect(),
            _ => Vec::new(),
        };
        Sources { addrs, next: 0 }
    }

    fn take(&mut self) -> Option<Ipv4Addr> {
        let ip = *self.addrs.get(self.next % self.addrs.len().max(1))?;
        self.next += 1;
        Some(ip)
    }

    /// Starts a connection to `target` from the next source address, without Nagle's delay.
    pub fn connect(&mut self, target: SocketAddr) -> io::Result<mio::net::TcpStream> {
        let socket = Socket::new(
            Domain::for_address(target),
            Type::STREAM,
            Some(Protocol::TCP),
        )?;
        socket.set_nonblocking(true)?;
        if let Some(ip) = self.take() {
            bind_address_no_port(&socket)?;
            socket.bind(&SocketAddr::new(ip.into(), 0).into())?;
        }
        match socket.connect(&target.into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => return Err(e),
        }
        let stream = mio::net::TcpStream::from_std(socket.into());
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

/// Lets the kernel pick the port at connect time, knowing the destination, so a bound
/// source address still has the whole port range for each destination (IP_BIND_ADDRESS_NO_PORT).
fn bind_address_no_port(socket: &Socket) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: a valid socket descriptor and a pointer to a c_int of the given size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
