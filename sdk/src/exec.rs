//! Running commands through the host. Only programs and arguments the
//! operator allowlisted run; anything else is [`PluginError::Denied`] and is
//! never spawned.

use crate::PluginError;
use crate::bindings::host;
use crate::bindings::types::Command as WireCommand;

pub use crate::bindings::types::CommandOutput as Output;

/// A command under construction.
#[derive(Debug, Clone)]
pub struct Command {
    inner: WireCommand,
}

impl Command {
    /// A command running `program` (a name on the host's PATH or an absolute path).
    pub fn new(program: impl Into<String>) -> Self {
        Self {
            inner: WireCommand {
                program: program.into(),
                args: Vec::new(),
                cwd: None,
                stdin: Vec::new(),
                timeout_ms: None,
            },
        }
    }

    /// Adds one argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.inner.args.push(arg.into());
        self
    }

    /// Adds several arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.inner.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Runs in `dir`, which must lie inside a granted path.
    pub fn cwd(mut self, dir: impl Into<String>) -> Self {
        self.inner.cwd = Some(dir.into());
        self
    }

    /// Feeds `input` to the process's standard input.
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.inner.stdin = input.into();
        self
    }

    /// Stops the process after `ms` milliseconds (the host caps it too).
    pub fn timeout_ms(mut self, ms: u32) -> Self {
        self.inner.timeout_ms = Some(ms);
        self
    }

    /// Runs the command and waits for it.
    pub fn run(self) -> Result<Output, PluginError> {
        host::exec(&self.inner)
    }
}

impl Output {
    /// True when the process exited with code 0.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }

    /// Standard output as text (invalid UTF-8 replaced).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Standard error as text (invalid UTF-8 replaced).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}
