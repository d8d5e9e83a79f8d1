//! Socket buffer sizes (SO_SNDBUF / SO_RCVBUF). Setting one also turns off the kernel's
//! autotuning for that direction, which is how tests make a peer slow enough to fill a
//! writer's buffers whatever the machine's sysctl limits are.

use std::io;
use std::os::fd::RawFd;

/// Sets `option` (`libc::SO_SNDBUF` or `libc::SO_RCVBUF`) of socket `fd` to `bytes`.
pub fn set_socket_buffer(fd: RawFd, option: libc::c_int, bytes: libc::c_int) -> io::Result<()> {
    // SAFETY: setsockopt reads a c_int of the size passed; a bad fd is an error return.
    let result = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            option,
            (&bytes as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
