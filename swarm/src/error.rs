//! Printing an error with its causes.
//!
//! Errors of this crate follow the usual Rust rule: an error's `Display`
//! says what failed at its own level and never repeats its cause, which is
//! reachable through [`std::error::Error::source`]. To show the whole chain
//! on one line ("opening the data: zines/a.pdf: No such file or directory
//! (os error 2)"), print it with [`ErrorChain`] (or `anyhow`'s `{:#}`).

use std::error::Error;
use std::fmt;

/// Displays an error and each of its sources, separated by `": "`.
///
/// ```
/// use swarm::ErrorChain;
/// let e = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
/// assert_eq!(ErrorChain(&e).to_string(), "gone");
/// ```
#[derive(Clone, Copy)]
pub struct ErrorChain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cur = self.0.source();
        while let Some(e) = cur {
            write!(f, ": {e}")?;
            cur = e.source();
        }
        Ok(())
    }
}

impl fmt::Debug for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
