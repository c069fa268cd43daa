//! What can go wrong with one HTTP request to Kapso, in words a user can act on.

use std::time::Duration;

/// One request's failure. Messages never contain the API key: it is only ever in a header value
/// that is marked sensitive, and no header is ever formatted here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The connection could not be made, so the request never left.
    #[error("could not connect to Kapso: {0}")]
    Connect(String),
    /// The server's TLS certificate was refused: retrying cannot help.
    #[error("TLS certificate refused ({0}); if a proxy inspects TLS, trust its CA with SSL_CERT_FILE")]
    Tls(String),
    /// No complete response within `--request-timeout`.
    #[error("no response within the request timeout")]
    Timeout,
    /// The connection broke after the request may have been sent.
    #[error("network error: {0}")]
    Network(String),
    /// Kapso answered with an error status.
    #[error("HTTP {status}{}", reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default())]
    Status {
        status: u16,
        reason: Option<String>,
        retry_after: Option<Duration>,
    },
    /// A redirect, which the gate never follows: the API key must not reach another URL.
    #[error("HTTP {status} redirect{} not followed, so the API key stays with --base-url", location.as_ref().map(|l| format!(" to {l}")).unwrap_or_default())]
    Redirect { status: u16, location: Option<String> },
    /// A success status with a body the gate cannot use.
    #[error("unreadable response: {0}")]
    Body(String),
    /// The response body exceeded the size limit.
    #[error("response larger than {limit} bytes; refusing to read it")]
    TooLarge { limit: usize },
}

impl RequestError {
    /// The HTTP status, when Kapso answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            RequestError::Status { status, .. } | RequestError::Redirect { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The wait Kapso asked for with `Retry-After`.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            RequestError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}
