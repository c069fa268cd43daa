use super::*;
use crate::policy::verdict::Status;
use crate::report::markdown;
use crate::report::test_fixtures::{case, report};
use proptest::prelude::*;
use std::time::{Duration, UNIX_EPOCH};

const WJ: &str = "\u{2060}";

fn footer() -> Footer {
    Footer {
        run_url: Some("https://github.com/acme/bot/actions/runs/42".into()),
        commit: Some((
            "0123456789abcdef0123456789abcdef01234567".into(),
            Some("https://github.com/acme/bot/commit/0123456789abcdef0123456789abcdef01234567".into()),
        )),
        at: UNIX_EPOCH + Duration::from_secs(1_790_000_000),
        key: "CI/gate".into(),
    }
}

/// The text outside fenced code blocks, as this module's own fence rules see it.
fn outside_code(markdown: &str) -> String {
    let mut out = String::new();
    let mut blocks = Blocks::default();
    for line in markdown.split_inclusive('\n') {
        let next = blocks.after(line);
        if blocks.fence.is_none() && next.fence.is_none() {
            out.push_str(line);
        }
        blocks = next;
    }
    out
}

/// What GitHub's reference filters would match in text (with Markdown escapes removed).
fn live_references(markdown: &str) -> Vec<String> {
    let text = outside_code(markdown).replace('\\', "");
    let chars: Vec<char> = text.chars().collect();
    let mut found = Vec::new();
    for (i, c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied().unwrap_or(' ');
        let live = match c {
            '/' => chars[..i].iter().rev().take_while(|c| **c != '\n').all(|c| *c == ' '),
            '!' | '&' | '$' => next.is_ascii_digit(),
            '~' | '%' => next.is_ascii_alphanumeric() || next == '"',
            '@' => next.is_ascii_alphanumeric(),
            '#' => next.is_ascii_digit() && !is_entity(&chars, i),
            '-' => {
                next.is_ascii_digit() && i >= 2 && chars[i - 2..i].iter().collect::<String>().eq_ignore_ascii_case("gh")
            }
            ':' => next == '/',
            _ => false,
        };
        if live {
            found.push(chars[i.saturating_sub(3)..(i + 4).min(chars.len())].iter().collect());
        }
    }
    found
}

/// `&#<digits>;` around the `#` at `i`.
fn is_entity(chars: &[char], i: usize) -> bool {
    let rest: String = chars[i + 1..].iter().collect();
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    i > 0 && chars[i - 1] == '&' && rest[digits..].starts_with(';')
}

#[test]
fn github_length_errs_high() {
    assert_eq!(github_len("abc"), 3);
    assert_eq!(github_len("é"), 1);
    assert_eq!(github_len("🎉"), 2, "one code point, two UTF-16 units");
    assert_eq!(github_len("a\nb"), 4, "newlines count twice");
}

#[test]
fn keys_cannot_close_the_comment() {
    assert_eq!(sanitize_key("CI/gate"), "CI/gate");
    assert_eq!(sanitize_key("Eval gate/run-evals"), "Eval_gate/run-evals");
    assert_eq!(sanitize_key("x --> <script>@everyone #1"), "x_-_script_everyone_1");
    assert_eq!(sanitize_key("a--b---c"), "a-b-c");
    assert_eq!(sanitize_key("  "), "default");
    assert_eq!(sanitize_key("--"), "default");
    assert_eq!(sanitize_key(&"k".repeat(500)).len(), 100);
    for raw in ["-->", "--!>", "a-->b", "- - >", "\n-->\n", "a---b-", "-", "--"] {
        let m = marker(raw);
        assert_eq!(
            m.matches("--").count(),
            2,
            "{m}: only the marker's own `<!--` and `-->`"
        );
        assert!(m.starts_with("<!-- kapso-gate:") && m.ends_with(" -->"));
    }
}

#[test]
fn markers_carry_the_exact_key() {
    assert_eq!(marker("CI/gate"), "<!-- kapso-gate:CI/gate -->");
    assert_eq!(marker("run-evals"), "<!-- kapso-gate:run-evals -->");
    assert_eq!(marker("CI (linux)"), "<!-- kapso-gate:CI%20%28linux%29 -->");
    assert_eq!(marker("CI [linux]"), "<!-- kapso-gate:CI%20%5Blinux%5D -->");
    assert_eq!(marker("a--b%"), "<!-- kapso-gate:a-%2Db%25 -->");
    assert_eq!(marker("é"), "<!-- kapso-gate:%C3%A9 -->");
    let long = "k".repeat(300);
    let (a, b) = (exact_key(&format!("{long}a")), exact_key(&format!("{long}b")));
    assert_ne!(a, b, "keys equal for 300 characters still differ");
    assert!(a.len() <= 150 + 17 && a.contains('~'), "{a}");
    let escaped = exact_key(&"%".repeat(100));
    assert!(
        escaped.split('~').next().is_some_and(|p| p.len() % 3 == 0),
        "never cut inside %XX: {escaped}"
    );
    assert_eq!(
        exact_key(&"x".repeat(200)),
        "x".repeat(200),
        "200 characters are kept whole"
    );
}

#[test]
fn neutralises_mentions_and_references() {
    assert_eq!(
        neutralise("hi @everyone and @acme/team"),
        format!("hi @{WJ}everyone and @{WJ}acme/team")
    );
    assert_eq!(
        neutralise("see #1, acme/bot#12"),
        format!("see #{WJ}1, acme/bot#{WJ}12")
    );
    assert_eq!(neutralise("GH-123 gh\\-9"), format!("GH-{WJ}123 gh\\-{WJ}9"));
    assert_eq!(neutralise("\\@admin \\#7"), format!("\\@{WJ}admin \\#{WJ}7"));
    assert_eq!(neutralise("https\\://e.vil/x"), format!("https\\:{WJ}//e.vil/x"));
    assert_eq!(
        neutralise("!12 ~bug ~\"p 1\" %v1 &3 $4 50% & ~ !"),
        format!("!{WJ}12 ~{WJ}bug ~{WJ}\"p 1\" %{WJ}v1 &{WJ}3 ${WJ}4 50% & ~ !"),
        "GitLab's references"
    );
    assert_eq!(
        neutralise("/merge\n  /close now\na/b\n"),
        format!("{WJ}/merge\n  {WJ}/close now\na/b\n")
    );
    assert_eq!(
        neutralise("it&#39;s #x @ 1 a-1 &amp;"),
        "it&#39;s #x @ 1 a-1 &amp;",
        "nothing to neutralise"
    );
    assert_eq!(
        neutralise("&#1 &#12"),
        format!("&#{WJ}1 &#{WJ}12"),
        "no entity without its `;`"
    );
    let fenced = "before @a\n````text\n@everyone #1 ``` x\n```\n````\nafter #2\n";
    assert_eq!(
        neutralise(fenced),
        format!("before @{WJ}a\n````text\n@everyone #1 ``` x\n```\n````\nafter #{WJ}2\n"),
        "fenced code is left as it is; a shorter fence inside does not close it"
    );
    assert_eq!(
        neutralise("~~~\n```\n~~~\n@x\n"),
        format!("~~~\n```\n~~~\n@{WJ}x\n"),
        "a backtick line inside a tilde fence opens nothing"
    );
    assert_eq!(
        neutralise("    ```\n@x\n"),
        format!("    ```\n@{WJ}x\n"),
        "indented four: not a fence"
    );
    assert_eq!(
        neutralise("```a`b\n@x\n"),
        format!("```a`b\n@{WJ}x\n"),
        "backtick in the info string: not a fence"
    );
}

fn hostile_report() -> crate::report::Report {
    let mut bad = case("c1", Status::Failed);
    bad.name = Some("@everyone #1 GH-2 acme/bot#3".into());
    bad.reason = Some("ping @octocat about #1".into());
    bad.feedback = Some("@everyone look at #1\n```\n</details>\n@everyone #1 outside?\n````\n".into());
    report(vec![bad, case("c2", Status::Passed)])
}

#[test]
fn hostile_feedback_stays_inert() {
    let summary = markdown::render(&hostile_report(), SUMMARY_MAX_BYTES);
    assert!(
        !live_references(&summary).is_empty(),
        "the renderer alone leaves them live"
    );
    let comment = compose(&summary, &footer());
    let (untrusted, own_footer) = comment.rsplit_once("\n<sub>kapso-gate · ").expect("the footer");
    assert!(
        own_footer.contains("(https://github.com/acme/bot/actions/runs/42)"),
        "the footer's links stay live"
    );
    assert_eq!(live_references(untrusted), Vec::<String>::new(), "{comment}");
    // The feedback stays in its block, unchanged: its fences are shorter than the block's.
    let opening = "\n`````text\n";
    let start = comment.find(opening).expect("a fenced block") + opening.len();
    let end = start + comment[start..].find("\n`````\n").expect("its closing fence");
    assert_eq!(
        &comment[start..end],
        "@everyone look at #1\n```\n</details>\n@everyone #1 outside?\n````"
    );
    assert_eq!(
        comment.matches("</details>").count(),
        2,
        "one real close, one inert in the code block"
    );
    assert_eq!(Blocks::default(), end_state(&comment), "every block is closed");
}

fn end_state(markdown: &str) -> Blocks {
    markdown.split_inclusive('\n').fold(Blocks::default(), Blocks::after)
}

#[test]
fn composes_marker_summary_and_footer() {
    let summary = markdown::render(&report(vec![case("c1", Status::Passed)]), SUMMARY_MAX_BYTES);
    let comment = compose(&summary, &footer());
    assert!(
        comment.starts_with("<!-- kapso-gate:CI/gate -->\n### ✅ kapso-gate passed"),
        "{comment}"
    );
    assert!(comment.ends_with(
        "\n<sub>kapso-gate · [workflow run](https://github.com/acme/bot/actions/runs/42) · commit [`0123456789ab`](https://github.com/acme/bot/commit/0123456789abcdef0123456789abcdef01234567) · 2026-09-21 14:13:20 UTC · key `CI/gate`</sub>\n"
    ), "{comment}");
    assert!(!comment.contains("*Cut to stay under"));
    let bare = Footer {
        run_url: None,
        commit: None,
        ..footer()
    };
    assert!(compose("x\n", &bare).ends_with("\n<sub>kapso-gate · 2026-09-21 14:13:20 UTC · key `CI/gate`</sub>\n"));
}

#[test]
fn a_huge_summary_is_cut_with_closed_blocks_and_a_pointer() {
    let cases: Vec<_> = (0..30)
        .map(|i| {
            let mut c = case(&format!("c{i}"), Status::Failed);
            c.feedback = Some(format!("{}\n```\n{}", "é🎉 ".repeat(3_000), "z".repeat(20_000)));
            c
        })
        .collect();
    let summary = markdown::render(&report(cases), markdown::GITHUB_SUMMARY_BUDGET);
    assert!(
        summary.chars().count() > GITHUB_COMMENT_LIMIT,
        "the test needs a summary over the limit"
    );
    let comment = compose(&summary, &footer());
    assert!(github_len(&comment) <= COMMENT_BUDGET, "{}", github_len(&comment));
    assert!(comment.chars().count() < GITHUB_COMMENT_LIMIT);
    assert!(comment.contains(
        "\n*Cut to stay under the comment size limit: see the full summary in the [workflow run](https://github.com/acme/bot/actions/runs/42), or the JSON report (`--json`) if the job keeps it as an artifact.*\n"
    ));
    assert_eq!(end_state(&comment), Blocks::default(), "fences and details are closed");
    assert!(comment.starts_with("<!-- kapso-gate:CI/gate -->\n"));
    assert!(comment.ends_with("</sub>\n"));
}

#[test]
fn a_cut_inside_a_long_code_line_closes_the_fence() {
    let markdown = format!(
        "intro\n<details><summary>s</summary>\n\n````text\n{}\n````\n\n</details>\n",
        "y".repeat(5_000)
    );
    let (cut, was_cut) = fit(&markdown, 1_000);
    assert!(was_cut);
    assert!(github_len(&cut) <= 1_000, "{}", github_len(&cut));
    assert!(cut.starts_with("intro\n<details><summary>s</summary>\n\n````text\nyyy"));
    assert!(cut.ends_with("y…\n````\n\n</details>\n"), "{cut}");
    assert_eq!(fit("short\n", 1_000), ("short\n".to_owned(), false));
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_cut_fits_and_closes_its_blocks(
        lines in prop::collection::vec(
            prop_oneof![
                Just("```".to_owned()),
                Just("````text".to_owned()),
                Just("~~~".to_owned()),
                Just("<details><summary>x</summary>".to_owned()),
                Just("</details>".to_owned()),
                "[a-z0-9@#!~%&$/🎉é `-]{0,300}",
            ],
            0..80,
        ),
        budget in 200usize..3_000,
    ) {
        let markdown = lines.join("\n");
        let (cut, was_cut) = fit(&markdown, budget);
        prop_assert!(github_len(&cut) <= budget, "{} > {budget}", github_len(&cut));
        if was_cut {
            prop_assert_eq!(end_state(&cut).fence, None);
        } else {
            prop_assert_eq!(&cut, &markdown);
        }
        prop_assert!(live_references(&neutralise(&markdown)).is_empty());
    }
}
