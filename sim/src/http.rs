//! Just enough HTTP/1.1 for the simulator: reading requests (origin- or absolute-form target,
//! `Content-Length` bodies, keep-alive) from a stream, and writing responses, including the
//! deliberately broken ones (half a body, then close).

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 16 * 1024 * 1024;

/// A parsed request.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub method: String,
    /// The request target exactly as sent (origin-, absolute- or authority-form).
    pub target: String,
    /// Path and query, without scheme and authority even when the target was absolute-form.
    pub path: String,
    /// Lowercased names, trimmed values, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The client asked to close (or spoke HTTP/1.0 without keep-alive).
    pub close: bool,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Why a request could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    Io(io::Error),
    /// Malformed or unsupported; answer with this status and close.
    Bad(u16),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// Reads one request. `buf` holds bytes already received (kept across keep-alive requests).
/// Returns `Ok(None)` on a clean end of stream between requests.
pub(crate) async fn read_request<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> Result<Option<Request>, ReadError> {
    let head_end = loop {
        if let Some(pos) = find(buf, b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > MAX_HEAD {
            return Err(ReadError::Bad(431));
        }
        if stream.read_buf(buf).await? == 0 {
            if buf.iter().all(u8::is_ascii_whitespace) {
                return Ok(None);
            }
            return Err(ReadError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| ReadError::Bad(400))?;
    let head = head.trim_start_matches(['\r', '\n']);
    let mut lines = head.split("\r\n");
    let request_line = lines.next().ok_or(ReadError::Bad(400))?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Bad(400));
    };
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':').ok_or(ReadError::Bad(400))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let mut request = Request {
        method: method.to_owned(),
        target: target.to_owned(),
        path: origin_form(target),
        headers,
        body: Vec::new(),
        close: false,
    };
    let connection = request.header("connection").unwrap_or("").to_ascii_lowercase();
    request.close = if version == "HTTP/1.0" {
        !connection.contains("keep-alive")
    } else {
        connection.contains("close")
    };
    if request
        .header("transfer-encoding")
        .is_some_and(|te| !te.eq_ignore_ascii_case("identity"))
    {
        return Err(ReadError::Bad(411));
    }
    let length = match request.header("content-length") {
        Some(v) => v.parse::<usize>().map_err(|_| ReadError::Bad(400))?,
        None => 0,
    };
    if length > MAX_BODY {
        return Err(ReadError::Bad(413));
    }
    let body_start = head_end + 4;
    while buf.len() < body_start + length {
        if stream.read_buf(buf).await? == 0 {
            return Err(ReadError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
    }
    request.body = buf[body_start..body_start + length].to_vec();
    buf.drain(..body_start + length);
    Ok(Some(request))
}

/// `http://host:port/p?q` => `/p?q`; origin-form targets are returned unchanged.
pub(crate) fn origin_form(target: &str) -> String {
    let rest = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"));
    match rest {
        Some(rest) => match rest.find(['/', '?']) {
            Some(i) if rest[i..].starts_with('/') => rest[i..].to_owned(),
            Some(i) => format!("/{}", &rest[i..]),
            None => "/".to_owned(),
        },
        None => target.to_owned(),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Decodes `%XX` escapes (invalid escapes are kept literally; invalid UTF-8 is replaced).
pub(crate) fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A response to send.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub status: u16,
    /// Content-Type, Content-Length and Connection are added when writing.
    pub headers: Vec<(String, String)>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            content_type: Some("application/json; charset=utf-8".to_owned()),
            body: unquote_raw_numbers(&value.to_string()).into_bytes(),
        }
    }

    /// The head, with `Content-Length: content_length`.
    fn head(&self, content_length: usize, close: bool) -> Vec<u8> {
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        if let Some(ct) = &self.content_type {
            head.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        head.push_str(&format!("Content-Length: {content_length}\r\n"));
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if close {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        head.into_bytes()
    }
}

/// Writes the whole response.
pub(crate) async fn write_response<S: AsyncWrite + Unpin>(
    stream: &mut S,
    response: &Response,
    close: bool,
) -> io::Result<()> {
    let mut bytes = response.head(response.body.len(), close);
    bytes.extend_from_slice(&response.body);
    stream.write_all(&bytes).await?;
    stream.flush().await
}

/// Writes the head announcing the whole body, then only its first half.
pub(crate) async fn write_half_response<S: AsyncWrite + Unpin>(stream: &mut S, response: &Response) -> io::Result<()> {
    let mut bytes = response.head(response.body.len(), true);
    bytes.extend_from_slice(&response.body[..response.body.len() / 2]);
    stream.write_all(&bytes).await?;
    stream.flush().await?;
    stream.shutdown().await
}

/// The standard reason phrase for `status`.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// Marks a string that goes on the wire as the bare number text after it: a JSON number that
/// `serde_json::Value` cannot hold (`1e400`), as a server in another language may send.
pub(crate) const RAW_NUMBER: &str = "kapso-sim-raw-number:";

/// `json` with every marked string (`"kapso-sim-raw-number:1e400"`) replaced by its bare text.
pub(crate) fn unquote_raw_numbers(json: &str) -> String {
    let quoted = format!("\"{RAW_NUMBER}");
    let mut out = String::with_capacity(json.len());
    let mut rest = json;
    while let Some(start) = rest.find(&quoted) {
        out.push_str(&rest[..start]);
        let text = &rest[start + quoted.len()..];
        let end = text.find('"').unwrap_or(text.len());
        out.push_str(&text[..end]);
        rest = text.get(end + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_form_is_reduced_to_path() {
        assert_eq!(origin_form("http://127.0.0.1:80/api/v1/x?y=1"), "/api/v1/x?y=1");
        assert_eq!(origin_form("http://localhost:80"), "/");
        assert_eq!(origin_form("http://h?q"), "/?q");
        assert_eq!(origin_form("/api/v1"), "/api/v1");
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%2Fb"), "a/b");
        assert_eq!(percent_decode("caf%C3%A9"), "café");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[tokio::test]
    async fn reads_pipelined_requests() {
        let raw = b"POST http://h/api/v1/a HTTP/1.1\r\nContent-Length: 3\r\nX-Api-Key: k\r\n\r\nabcGET /b HTTP/1.1\r\nConnection: close\r\n\r\n";
        let mut stream = &raw[..];
        let mut buf = Vec::new();
        let first = read_request(&mut stream, &mut buf).await.unwrap().unwrap();
        assert_eq!(first.path, "/api/v1/a");
        assert_eq!(first.body, b"abc");
        assert_eq!(first.header("x-api-key"), Some("k"));
        assert!(!first.close);
        let second = read_request(&mut stream, &mut buf).await.unwrap().unwrap();
        assert_eq!(second.path, "/b");
        assert!(second.close);
        assert!(read_request(&mut stream, &mut buf).await.unwrap().is_none());
    }
}
