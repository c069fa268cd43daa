//! The comment's text: the hidden marker that finds it again, the step summary made unable to
//! notify anyone, a footer (run link, commit, time) and the cut that keeps it under GitHub's
//! 65,536-character limit.
//!
//! Neutralising: GitHub turns `@name`, `#123`, `owner/repo#123`, `GH-123` and URLs into mentions
//! and cross-references *after* Markdown is rendered, in every text node outside code, so the
//! backslash escapes of [`crate::report::markdown::inline`] do not stop them; GitLab does the
//! same with `!123`, `~label`, `%milestone`, `&123` and `$123` too, and runs a note's lines that
//! start with `/` as quick actions. A WORD JOINER (U+2060) is inserted right after the `@`, `#`,
//! `GH-`, `:`, `!`, `~`, `%`, `&` or `$` (and before a line's leading `/`) instead: it is
//! invisible, keeps the text readable and copyable, is no line-break opportunity (unlike
//! U+200B) and has no emoji-joining meaning (unlike U+200D), and the forges' patterns need a
//! letter, digit or quote there. Backticks would show the renderer's backslash escapes and
//! change how the text looks. Fenced code blocks are left alone (nothing is linked or run
//! inside them); everything else, inline code included, is neutralised, because a wrong guess
//! about where a code span ends must never leave a mention live, and the joiner is invisible
//! in code too.

use std::fmt::Write as _;
use std::time::SystemTime;

/// GitHub refuses comment bodies longer than this many characters.
pub const GITHUB_COMMENT_LIMIT: usize = 65_536;
/// What a comment may use, in [`github_len`] units: well under the limit, because GitHub does
/// not document how it counts (code points, UTF-16 units, CRLF line ends).
pub const COMMENT_BUDGET: usize = 60_000;
/// A good `max_bytes` for rendering the summary that goes into a comment: the renderer then
/// drops whole cases (with its own pointer to the JSON report) before this module has to cut.
pub const SUMMARY_MAX_BYTES: usize = 50_000;
/// Longest comment key kept.
const KEY_CHARS: usize = 100;
const WORD_JOINER: char = '\u{2060}';

/// The size of `text` as GitHub might count it, erring high: UTF-16 code units (never fewer
/// than code points), with every newline counted twice (as if stored as CRLF).
pub fn github_len(text: &str) -> usize {
    text.encode_utf16().count() + text.matches('\n').count()
}

/// The comment key as the footer shows it, unable to end the HTML comment or carry markup
/// (the marker holds the exact key instead, see [`exact_key`]): ASCII letters,
/// digits and `_ . / : + = -` are kept (no `--`), runs of anything else become one `_`, at most
/// 100 characters; `default` when nothing is left.
pub fn sanitize_key(raw: &str) -> String {
    let mut key = String::new();
    for c in raw.trim().chars().take(KEY_CHARS) {
        let keep = c.is_ascii_alphanumeric() || "_./:+=-".contains(c);
        let c = if keep { c } else { '_' };
        let repeated = key.ends_with(c) && (c == '-' || c == '_');
        if !repeated {
            key.push(c);
        }
    }
    let key = key.trim_matches(['_', '-']);
    if key.is_empty() {
        "default".to_owned()
    } else {
        key.to_owned()
    }
}

/// The first line of every comment for `key` (the exact key, see [`exact_key`]); comments are
/// found by it.
pub fn marker(key: &str) -> String {
    format!("<!-- kapso-gate:{} -->", exact_key(key))
}

/// Encoded keys longer than this are shortened to a prefix and a digest of the whole key.
const MARKER_KEY_MAX: usize = 200;
/// How much of a long encoded key is kept before its digest.
const MARKER_KEY_PREFIX: usize = 150;

/// The whole key, percent-encoded, so that two different keys never share a marker ("CI
/// (linux)" and "CI [linux]", or keys equal in their first 100 characters, stay apart). ASCII
/// letters, digits and `_ . / : + = -` stay as they are (so common keys read as before); every
/// other byte, `%` included, becomes `%XX`, and so does a `-` right after a `-`, so the marker
/// never holds `--` (nor `>`) and cannot end its HTML comment. Decoding gives the key back.
/// An encoding longer than 200 characters keeps its first 150 and appends `~` and a 64-bit
/// FNV-1a digest of the whole key: `~` is always encoded otherwise, so such a marker cannot
/// equal a short key's. The digest is not cryptographic: the key is chosen by the workflow's
/// author, and who wrote a comment, not its marker, decides whether the gate may edit it.
pub fn exact_key(key: &str) -> String {
    let mut out = String::new();
    let mut previous = None;
    for byte in key.bytes() {
        let plain =
            byte.is_ascii_alphanumeric() || b"_./:+=".contains(&byte) || (byte == b'-' && previous != Some(b'-'));
        if plain {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
        previous = Some(byte);
    }
    if out.len() <= MARKER_KEY_MAX {
        return out;
    }
    let mut cut = MARKER_KEY_PREFIX;
    // Never inside a `%XX`.
    while out[..cut].ends_with('%') || out[..cut - 1].ends_with('%') {
        cut -= 1;
    }
    format!("{}~{:016x}", &out[..cut], fnv1a64(key.as_bytes()))
}

/// FNV-1a, 64 bits: stable across versions and platforms (unlike std's hasher).
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// What the footer says about the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Footer {
    /// The workflow run, `https://github.com/o/r/actions/runs/1`.
    pub run_url: Option<String>,
    /// The commit judged and, when known, its page.
    pub commit: Option<(String, Option<String>)>,
    pub at: SystemTime,
    /// The exact comment key (the marker encodes it; the footer shows [`sanitize_key`] of it).
    pub key: String,
}

/// The whole comment: marker, neutralised summary (cut to fit, with a pointer to the full
/// reports when cut) and footer. `run_url` and commit values must be validated by the caller.
pub fn compose(summary: &str, footer: &Footer) -> String {
    let head = format!("{}\n", marker(&footer.key));
    let foot = footer_line(footer);
    let notice = cut_notice(footer.run_url.as_deref());
    let fixed = github_len(&head) + github_len(&foot) + github_len(&notice) + 8;
    let (summary, was_cut) = fit(&neutralise(summary), COMMENT_BUDGET.saturating_sub(fixed));
    let mut out = head;
    out.push_str(&summary);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    if was_cut {
        out.push('\n');
        out.push_str(&notice);
    }
    out.push('\n');
    out.push_str(&foot);
    out
}

fn cut_notice(run_url: Option<&str>) -> String {
    let run = match run_url {
        Some(url) => format!("the [workflow run]({url})"),
        None => "the workflow run".to_owned(),
    };
    format!(
        "*Cut to stay under the comment size limit: see the full summary in {run}, or the JSON report (`--json`) if the job keeps it as an artifact.*\n"
    )
}

fn footer_line(footer: &Footer) -> String {
    let mut line = String::from("<sub>kapso-gate");
    if let Some(url) = &footer.run_url {
        let _ = write!(line, " · [workflow run]({url})");
    }
    match &footer.commit {
        Some((sha, Some(url))) => {
            let _ = write!(line, " · commit [`{}`]({url})", short_sha(sha));
        }
        Some((sha, None)) => {
            let _ = write!(line, " · commit `{}`", short_sha(sha));
        }
        None => {}
    }
    let at = humantime::format_rfc3339_seconds(footer.at).to_string();
    let _ = writeln!(
        line,
        " · {} · key `{}`</sub>",
        at.replace('T', " ").replace('Z', " UTC"),
        sanitize_key(&footer.key)
    );
    line
}

fn short_sha(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// A fenced code block's opening: its character and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fence {
    ch: char,
    len: usize,
}

impl Fence {
    /// CommonMark: up to three spaces, three or more backticks or tildes, and for backticks an
    /// info string without backticks.
    fn opening(line: &str) -> Option<Fence> {
        let rest = strip_indent(line)?;
        let ch = rest.chars().next().filter(|c| *c == '`' || *c == '~')?;
        let len = rest.chars().take_while(|c| *c == ch).count();
        let info = &rest[len..];
        (len >= 3 && !(ch == '`' && info.contains('`'))).then_some(Fence { ch, len })
    }

    /// A closing fence: same character, at least as long, nothing but spaces after it.
    fn closed_by(self, line: &str) -> bool {
        let Some(rest) = strip_indent(line) else {
            return false;
        };
        let len = rest.chars().take_while(|c| *c == self.ch).count();
        len >= self.len && rest[len..].trim_matches([' ', '\t', '\r', '\n']).is_empty()
    }

    fn closing_line(self) -> String {
        let mut line: String = std::iter::repeat_n(self.ch, self.len).collect();
        line.push('\n');
        line
    }
}

/// The line without up to three leading spaces; `None` when indented further (code, not a fence).
fn strip_indent(line: &str) -> Option<&str> {
    let spaces = line.len() - line.trim_start_matches(' ').len();
    (spaces <= 3).then(|| &line[spaces..])
}

/// Where a line leaves the block structure this module tracks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Blocks {
    fence: Option<Fence>,
    /// `<details>` blocks opened and not yet closed.
    details: usize,
}

impl Blocks {
    fn after(self, line: &str) -> Blocks {
        match self.fence {
            Some(fence) if fence.closed_by(line) => Blocks { fence: None, ..self },
            Some(_) => self,
            None => match Fence::opening(line) {
                Some(fence) => Blocks {
                    fence: Some(fence),
                    ..self
                },
                None if line.starts_with("<details>") => Blocks {
                    details: self.details + 1,
                    ..self
                },
                None if line.trim_end().starts_with("</details>") => Blocks {
                    details: self.details.saturating_sub(1),
                    ..self
                },
                None => self,
            },
        }
    }

    /// What closes every open block, fence first.
    fn closers(self) -> String {
        let mut out = String::new();
        if let Some(fence) = self.fence {
            out.push_str(&fence.closing_line());
        }
        for _ in 0..self.details {
            out.push_str("\n</details>\n");
        }
        out
    }
}

/// Inserts a word joiner wherever GitHub or GitLab could see a mention, a reference, a URL or
/// a quick action, outside fenced code blocks.
pub fn neutralise(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len() + 64);
    let mut blocks = Blocks::default();
    for line in markdown.split_inclusive('\n') {
        let next = blocks.after(line);
        let is_code = blocks.fence.is_some() && next.fence.is_some();
        let is_fence_line = blocks.fence != next.fence;
        if is_code || is_fence_line {
            out.push_str(line);
        } else {
            neutralise_line(line, &mut out);
        }
        blocks = next;
    }
    out
}

fn neutralise_line(line: &str, out: &mut String) {
    let chars: Vec<char> = line.chars().collect();
    let indent = chars.iter().take_while(|c| **c == ' ' || **c == '\t').count();
    for (i, &c) in chars.iter().enumerate() {
        if i == indent && c == '/' {
            // Not at the start of the line any more: GitLab runs no quick action.
            out.push(WORD_JOINER);
        }
        out.push(c);
        if needs_joiner(&chars, i) {
            out.push(WORD_JOINER);
        }
    }
}

/// Whether a word joiner must follow `chars[i]`. Markdown backslash escapes are looked
/// through, because GitHub matches the text after they are removed.
fn needs_joiner(chars: &[char], i: usize) -> bool {
    let next = literal_after(chars, i);
    let before = literals_before(chars, i, 3);
    match chars[i] {
        '@' => next.is_some_and(|n| n.is_ascii_alphanumeric()),
        '#' => next.is_some_and(|n| n.is_ascii_digit()) && !is_numeric_entity(chars, i),
        '-' => {
            next.is_some_and(|n| n.is_ascii_digit())
                && matches!(before.as_slice(), [.., g, h] if g.eq_ignore_ascii_case(&'g') && h.eq_ignore_ascii_case(&'h'))
        }
        ':' => next == Some('/'),
        '!' | '&' | '$' => next.is_some_and(|n| n.is_ascii_digit()),
        '~' | '%' => next.is_some_and(|n| n.is_ascii_alphanumeric() || n == '"'),
        _ => false,
    }
}

/// Whether the `#` at `i` is inside `&#39;` or the like: the renderer's own entity for a
/// character, which GitHub sees decoded, never as `#39`.
fn is_numeric_entity(chars: &[char], i: usize) -> bool {
    let digits = chars[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
    i > 0 && chars[i - 1] == '&' && chars.get(i + 1 + digits) == Some(&';')
}

/// The character GitHub will see after `chars[i]`: a backslash escape counts as the character
/// it escapes.
fn literal_after(chars: &[char], i: usize) -> Option<char> {
    match chars.get(i + 1) {
        Some('\\') => chars.get(i + 2).copied().filter(char::is_ascii_punctuation),
        other => other.copied(),
    }
}

/// Up to `n` characters before `chars[i]`, in order, with escaping backslashes dropped.
fn literals_before(chars: &[char], i: usize, n: usize) -> Vec<char> {
    let mut out: Vec<char> = chars[..i]
        .iter()
        .rev()
        .filter(|c| **c != '\\')
        .take(n)
        .copied()
        .collect();
    out.reverse();
    out
}

/// `markdown` cut at a line boundary (inside a code block, within a line) so that it and the
/// closers it then needs fit `budget`; open fences and `<details>` are closed. The flag says
/// whether anything was cut.
fn fit(markdown: &str, budget: usize) -> (String, bool) {
    if github_len(markdown) <= budget {
        return (markdown.to_owned(), false);
    }
    let mut out = String::new();
    let mut used = 0;
    let mut blocks = Blocks::default();
    for line in markdown.split_inclusive('\n') {
        let next = blocks.after(line);
        // A last line without a newline gets one below.
        let cost = github_len(line) + if line.ends_with('\n') { 0 } else { 2 };
        if used + cost + github_len(&next.closers()) <= budget {
            out.push_str(line);
            used += cost;
            blocks = next;
            continue;
        }
        let ellipsis = "…\n";
        let room = budget.checked_sub(used + github_len(&blocks.closers()) + github_len(ellipsis));
        if let Some(room) = room.filter(|r| *r > 0 && blocks.fence.is_some() && next.fence == blocks.fence) {
            out.push_str(prefix_within(line, room));
            out.push_str(ellipsis);
        }
        break;
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&blocks.closers());
    (out, true)
}

/// The longest prefix of `line` (without its newline) of at most `room` [`github_len`] units.
fn prefix_within(line: &str, room: usize) -> &str {
    let line = line.trim_end_matches('\n');
    let mut used = 0;
    for (i, c) in line.char_indices() {
        used += c.len_utf16();
        if used > room {
            return &line[..i];
        }
    }
    line
}

#[cfg(test)]
mod tests;
