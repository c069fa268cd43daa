//! Writing JUnit XML: entity escaping (no CDATA, so `]]>` is plain text), characters XML 1.0
//! forbids shown as a visible `\u{..}` escape, and the few element shapes the report uses. It
//! knows XML, nothing about cases or statuses.

use std::fmt::Write as _;

/// Seconds with millisecond precision, as JUnit readers expect.
pub fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Escapes element text.
pub fn text(raw: &str) -> String {
    escape(raw, false)
}

/// Escapes an attribute value; newlines and tabs become character references so that
/// attribute-value normalisation keeps them.
pub fn attr(raw: &str) -> String {
    escape(raw, true)
}

fn escape(raw: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\r' if attribute => out.push_str("&#13;"),
            '\t' if attribute => out.push_str("&#9;"),
            // Text would normalise `\r\n` to `\n` anyway; a reference keeps a lone `\r`.
            '\r' => out.push_str("&#13;"),
            '\n' | '\t' => out.push(c),
            c if forbidden_in_xml(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// Characters outside XML 1.0's `Char` production (surrogates cannot occur in a `str`).
fn forbidden_in_xml(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

/// `<name attr="value" ...>` (or `/>` when `empty`), indented.
pub fn open(out: &mut String, indent: usize, name: &str, attributes: &[(&str, &str)], empty: bool) {
    let _ = write!(out, "{:indent$}<{name}", "");
    for (key, value) in attributes {
        let _ = write!(out, " {key}=\"{}\"", attr(value));
    }
    out.push_str(if empty { "/>\n" } else { ">\n" });
}

/// `<name attr="value" ...>text</name>`, indented.
pub fn element(out: &mut String, indent: usize, name: &str, attributes: &[(&str, &str)], body: &str) {
    let _ = write!(out, "{:indent$}<{name}", "");
    for (key, value) in attributes {
        let _ = write!(out, " {key}=\"{}\"", attr(value));
    }
    let _ = writeln!(out, ">{}</{name}>", text(body));
}

/// `</name>`, indented.
pub fn close(out: &mut String, indent: usize, name: &str) {
    let _ = writeln!(out, "{:indent$}</{name}>", "");
}
