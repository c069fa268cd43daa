//! Whether a pull request (GitHub) or a merge request (GitLab) comes from a fork: one rule per
//! forge, read by the pull-request comment's config and by the hint on a key missing from a
//! fork's run. What cannot be known counts as a fork, so nothing is trusted by default.

use serde::Deserialize;

/// A repository as a GitHub event names it (`pull_request.head.repo`, `.base.repo`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct GithubRepo {
    #[serde(default)]
    pub id: Option<u64>,
    #[serde(default)]
    pub full_name: Option<String>,
}

/// A GitHub pull request is from a fork unless its head and base are known to be one
/// repository: the same ID when both have one, else the same `owner/repo` (case-insensitive,
/// as on GitHub). A missing side (a deleted fork, a truncated payload) is a fork.
pub fn github(head: Option<&GithubRepo>, base: Option<&GithubRepo>) -> bool {
    let (Some(head), Some(base)) = (head, base) else {
        return true;
    };
    match (head.id, base.id) {
        (Some(h), Some(b)) => h != b,
        _ => !matches!(
            (head.full_name.as_deref(), base.full_name.as_deref()),
            (Some(h), Some(b)) if h.eq_ignore_ascii_case(b)
        ),
    }
}

/// [`github`] for an event payload's text; a payload that cannot be read is a fork.
pub fn github_event(json: &str) -> bool {
    #[derive(Deserialize)]
    struct Payload {
        pull_request: Option<PullRequest>,
    }
    #[derive(Deserialize)]
    struct PullRequest {
        head: Option<Side>,
        base: Option<Side>,
    }
    #[derive(Deserialize)]
    struct Side {
        repo: Option<GithubRepo>,
    }
    let Some(pr) = serde_json::from_str::<Payload>(json).ok().and_then(|p| p.pull_request) else {
        return true;
    };
    let repo = |side: &Option<Side>| side.as_ref().and_then(|s| s.repo.clone());
    github(repo(&pr.head).as_ref(), repo(&pr.base).as_ref())
}

/// A GitLab merge request is from a fork unless both project IDs are known and equal
/// (`CI_MERGE_REQUEST_PROJECT_ID`, `CI_MERGE_REQUEST_SOURCE_PROJECT_ID`): an unset source
/// project is not "the same project".
pub fn gitlab(project: Option<&str>, source_project: Option<&str>) -> bool {
    !matches!((known(project), known(source_project)), (Some(p), Some(s)) if p == s)
}

fn known(id: Option<&str>) -> Option<&str> {
    id.map(str::trim).filter(|id| !id.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(id: Option<u64>, name: Option<&str>) -> Option<GithubRepo> {
        Some(GithubRepo {
            id,
            full_name: name.map(str::to_owned),
        })
    }

    #[test]
    fn github_unknown_is_a_fork() {
        let acme = repo(Some(1), Some("acme/bot"));
        assert!(!github(acme.as_ref(), acme.as_ref()));
        assert!(
            github(repo(Some(2), Some("acme/bot")).as_ref(), acme.as_ref()),
            "the ID decides"
        );
        assert!(!github(repo(None, Some("Acme/Bot")).as_ref(), acme.as_ref()));
        assert!(github(repo(None, Some("mallory/bot")).as_ref(), acme.as_ref()));
        assert!(github(None, acme.as_ref()), "a deleted head repository");
        assert!(github(acme.as_ref(), None), "a missing base repository");
        assert!(
            github(repo(None, None).as_ref(), acme.as_ref()),
            "a repository without a name"
        );
    }

    #[test]
    fn github_events() {
        let same =
            r#"{"pull_request":{"head":{"repo":{"full_name":"acme/bot"}},"base":{"repo":{"full_name":"acme/bot"}}}}"#;
        assert!(!github_event(same));
        let no_base = r#"{"pull_request":{"head":{"repo":{"full_name":"acme/bot"}},"base":{}}}"#;
        assert!(github_event(no_base));
        assert!(github_event("not json"));
        assert!(github_event(r#"{"ref":"refs/heads/main"}"#));
    }

    #[test]
    fn gitlab_unknown_is_a_fork() {
        assert!(!gitlab(Some("345"), Some("345")));
        assert!(gitlab(Some("345"), Some("999")));
        assert!(gitlab(Some("345"), None), "an unset source project");
        assert!(gitlab(Some("345"), Some(" ")));
        assert!(gitlab(None, Some("345")));
    }
}
