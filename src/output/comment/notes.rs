//! Which comment is the gate's: the one rule both backends follow. A note is the gate's when its
//! first line is the marker of this key **and** its author is the identity the token acts as.
//! Anyone can type the marker; only the token's own identity can have written the note, so a
//! person's (or another bot's) copy is never edited: the gate posts its own beside it.
//!
//! The identity is asked for only when a marked note turns up, so a first run costs no extra
//! request.

use super::{CommentFailure, Posted};

/// Who wrote a note, or whom a token acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Author {
    /// The forge's numeric user ID, when known.
    pub id: Option<u64>,
    /// The GitHub login or GitLab username.
    pub login: String,
}

/// A user as both forges' APIs describe one (GitHub's `login`, GitLab's `username`): the
/// identity a token acts as (`GET /user`) and the author of a comment or note.
#[derive(serde::Deserialize)]
pub(super) struct User {
    #[serde(default, alias = "username")]
    login: String,
    #[serde(default)]
    id: Option<u64>,
}

impl User {
    /// `None` without a login: nothing can be said of who it is.
    pub(super) fn author(self) -> Option<Author> {
        (!self.login.is_empty()).then_some(Author {
            id: self.id,
            login: self.login,
        })
    }
}

/// What both forges answer to a created comment or note: its ID.
#[derive(serde::Deserialize)]
pub(super) struct Created {
    pub(super) id: u64,
}

impl Author {
    /// Same numeric ID when both are known, else the same login (logins are case-insensitive
    /// on both forges).
    fn is(&self, other: &Author) -> bool {
        match (self.id, other.id) {
            (Some(a), Some(b)) => a == b,
            _ => self.login.eq_ignore_ascii_case(&other.login),
        }
    }
}

/// One note of a conversation, as listed.
#[derive(Debug, Clone)]
pub(crate) struct Note {
    pub id: u64,
    pub body: Option<String>,
    /// `None` when the answer does not say (never ours, then).
    pub author: Option<Author>,
}

/// A forge's notes on one conversation (a GitHub pull request, a GitLab merge request).
pub(crate) trait NoteApi {
    /// Page `page` (from 1), oldest notes first, and whether another page follows.
    async fn page(&self, page: usize) -> Result<(Vec<Note>, bool), CommentFailure>;
    /// Whom the token acts as.
    async fn me(&self) -> Result<Author, CommentFailure>;
    async fn create(&self, body: &str) -> Result<Posted, CommentFailure>;
    async fn update(&self, id: u64, body: &str) -> Result<Posted, CommentFailure>;
}

/// Pages read at most while looking for the marker (10,000 notes at 100 a page).
const MAX_PAGES: usize = 100;

/// Only a note that starts with the marker line carries it: one that quotes it elsewhere does not.
pub(crate) fn is_marked(body: &str, marker: &str) -> bool {
    body.strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['\n', '\r']))
}

/// The oldest note that carries `marker` and was written by the token's identity.
pub(crate) async fn find_ours(api: &impl NoteApi, marker: &str) -> Result<Option<u64>, CommentFailure> {
    let mut me: Option<Author> = None;
    for page in 1..=MAX_PAGES {
        let (notes, more) = api.page(page).await?;
        for note in notes
            .iter()
            .filter(|n| n.body.as_deref().is_some_and(|b| is_marked(b, marker)))
        {
            let Some(author) = &note.author else { continue };
            if me.is_none() {
                me = Some(api.me().await?);
            }
            if me.as_ref().is_some_and(|me| me.is(author)) {
                return Ok(Some(note.id));
            }
        }
        if notes.is_empty() || !more {
            break;
        }
    }
    Ok(None)
}

/// Created (`true`) or updated, and the comment.
pub(crate) async fn upsert(api: &impl NoteApi, marker: &str, text: &str) -> Result<(bool, Posted), CommentFailure> {
    match find_ours(api, marker).await? {
        Some(id) => match api.update(id, text).await {
            // Deleted since it was listed: post a new one.
            Err(CommentFailure::Status(404)) => api.create(text).await.map(|p| (true, p)),
            other => other.map(|p| (false, p)),
        },
        None => api.create(text).await.map(|p| (true, p)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_leading_marker_counts() {
        let marker = "<!-- kapso-gate:ci/gate -->";
        assert!(is_marked("<!-- kapso-gate:ci/gate -->\n### ✅", marker));
        assert!(is_marked("<!-- kapso-gate:ci/gate -->\r\nx", marker));
        assert!(!is_marked("quote: <!-- kapso-gate:ci/gate -->\n", marker));
        assert!(!is_marked("<!-- kapso-gate:ci/gate -->x", marker));
        assert!(!is_marked("<!-- kapso-gate:ci/gate2 -->\n", marker));
    }

    #[test]
    fn authors_match_by_id_then_login() {
        let named = |id, login: &str| Author {
            id,
            login: login.to_owned(),
        };
        assert!(named(Some(1), "a").is(&named(Some(1), "renamed")));
        assert!(!named(Some(1), "a").is(&named(Some(2), "a")), "an ID beats a login");
        assert!(named(None, "GitHub-Actions[bot]").is(&named(Some(9), "github-actions[bot]")));
        assert!(!named(None, "mallory").is(&named(None, "github-actions[bot]")));
    }
}
