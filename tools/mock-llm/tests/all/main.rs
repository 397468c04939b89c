//! Integration tests of the mock server over real sockets: one binary, one
//! module per concern.

mod faults;
mod keep_alive;
mod log;
mod support;
mod vendors;
