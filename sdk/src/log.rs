//! Writing to the host's log. Lines are tagged with the plugin's name.

use crate::LogLevel;
use crate::bindings::host;

/// Writes `message` at `level`.
pub fn write(level: LogLevel, message: &str) {
    host::log(level, message);
}

/// Writes a debug line.
pub fn debug(message: &str) {
    write(LogLevel::Debug, message);
}

/// Writes an info line.
pub fn info(message: &str) {
    write(LogLevel::Info, message);
}

/// Writes a warning.
pub fn warn(message: &str) {
    write(LogLevel::Warn, message);
}

/// Writes an error line.
pub fn error(message: &str) {
    write(LogLevel::Error, message);
}
