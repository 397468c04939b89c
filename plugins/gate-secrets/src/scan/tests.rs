//! Tests of the whole scan: every kind of secret found at its file and
//! new-file line, placeholders and removed lines left alone, ignored paths,
//! redaction, and the verdict.
//!
//! Test keys are put together at run time (`key("ghp_", …)`) so that this
//! source holds no string a secret scanner (this one, or a code host's push
//! protection) would take for a real key.

use super::*;

/// Random-looking characters to cut key bodies from.
const RANDOM: &str = "Xq7vB2mN9kLp4RtY8wZc3FhJ6dSa1GeU0iOo5TnKbVx2Lq9Pz4Wm7Rc1Ht6Yj3Nd8Gf5Ks0AbCe2Dg4Fh6Jk8Lm0Np2Qr4St6Uv8Wx0Yz1Ba3Dc5Fe7Hg9";
const UPPER: &str = "Q7VB2MN9KLP4RTY8";

fn key(prefix: &str, body_len: usize) -> String {
    format!("{prefix}{}", &RANDOM[..body_len])
}

/// A diff adding a new file `path` with `lines`.
fn new_file(path: &str, lines: &[&str]) -> String {
    let mut diff = format!(
        "diff --git a/{path} b/{path}\nnew file mode 100644\nindex 0000000..1111111\n--- /dev/null\n+++ b/{path}\n\
         @@ -0,0 +1,{} @@\n",
        lines.len()
    );
    for line in lines {
        diff.push_str(&format!("+{line}\n"));
    }
    diff
}

fn scan_all(diff: &str) -> Report {
    scan(diff, &Settings::default())
}

fn found(diff: &str) -> Vec<(String, u32, Kind)> {
    scan_all(diff).detections.into_iter().map(|d| (d.file, d.line, d.kind)).collect()
}

#[test]
fn every_provider_shape_is_found_at_its_new_file_line() {
    let secrets = [
        (key("sk-", 48), Kind::OpenAi),
        (key("sk-proj-", 64), Kind::OpenAi),
        (key("sk-ant-api03-", 60), Kind::Anthropic),
        (format!("AIza{}-_", &RANDOM[..33]), Kind::Google),
        (format!("AKIA{UPPER}"), Kind::AwsAccessKeyId),
        (format!("ASIA{UPPER}"), Kind::AwsAccessKeyId),
        (key("ghp_", 36), Kind::GitHub),
        (key("gho_", 36), Kind::GitHub),
        (key("ghs_", 36), Kind::GitHub),
        (format!("github_pat_11ABCDEFG0_{}", &RANDOM[..59]), Kind::GitHub),
        (format!("xoxb-2471950386-{}", &RANDOM[..24]), Kind::Slack),
        (format!("xoxp-2471950386-{}", &RANDOM[..24]), Kind::Slack),
        (key("sk_live_", 24), Kind::Stripe),
    ];
    // A modified file: the secret lines sit after context, so their line
    // numbers are not their positions in the diff.
    let mut diff = String::from("diff --git a/app/conf.py b/app/conf.py\n--- a/app/conf.py\n+++ b/app/conf.py\n");
    diff.push_str(&format!("@@ -10,2 +10,{} @@\n import os\n", secrets.len() + 2));
    for (secret, _) in &secrets {
        diff.push_str(&format!("+    call(\"{secret}\")\n"));
    }
    diff.push_str("-old = 1\n+new = 2\n");
    let expected: Vec<(String, u32, Kind)> =
        secrets.iter().zip(11..).map(|((_, kind), line)| ("app/conf.py".to_owned(), line, *kind)).collect();
    assert_eq!(found(&diff), expected);
}

#[test]
fn private_key_blocks_are_found() {
    let pem = new_file(
        "deploy/server.pem",
        &["-----BEGIN RSA PRIVATE KEY-----", &RANDOM[..64], &RANDOM[8..72], "-----END RSA PRIVATE KEY-----"],
    );
    assert_eq!(found(&pem), [("deploy/server.pem".to_owned(), 1, Kind::PrivateKey)]);
    let json = new_file(
        "sa.json",
        &[
            "{",
            &format!(
                "  \"private_key\": \"-----BEGIN PRIVATE KEY-----\\n{}\\n-----END PRIVATE KEY-----\\n\"",
                &RANDOM[..64]
            ),
            "}",
        ],
    );
    assert_eq!(found(&json), [("sa.json".to_owned(), 2, Kind::PrivateKey)], "the block, not also the assignment");
    let encrypted = new_file("k.pem", &["-----BEGIN ENCRYPTED PRIVATE KEY-----", "Proc-Type: 4,ENCRYPTED"]);
    assert_eq!(found(&encrypted).len(), 1);
    let openssh = new_file("id", &["-----BEGIN OPENSSH PRIVATE KEY-----", &RANDOM[..70]]);
    assert_eq!(found(&openssh), [("id".to_owned(), 1, Kind::PrivateKey)]);
}

#[test]
fn a_private_key_header_without_key_data_is_not_a_key() {
    for lines in [
        vec!["if line.starts_with(\"-----BEGIN RSA PRIVATE KEY-----\") {"],
        vec!["-----BEGIN RSA PRIVATE KEY-----", "...", "-----END RSA PRIVATE KEY-----"],
        vec!["-----BEGIN RSA PRIVATE KEY-----"],
        vec!["\"private_key\": \"-----BEGIN PRIVATE KEY-----\\n...\\n-----END PRIVATE KEY-----\\n\""],
        vec!["-----BEGIN PUBLIC KEY-----", &RANDOM[..64]],
        vec!["-----BEGIN CERTIFICATE-----", &RANDOM[..64]],
    ] {
        assert!(found(&new_file("doc.md", &lines)).is_empty(), "{lines:?}");
    }
    // The data must be the very next line of the new file.
    let gap = "--- a/k\n+++ b/k\n@@ -1,1 +1,3 @@\n+-----BEGIN RSA PRIVATE KEY-----\n keep\n+".to_owned()
        + &RANDOM[..64]
        + "\n";
    assert!(found(&gap).is_empty());
}

#[test]
fn secret_named_assignments_are_found() {
    let value = &RANDOM[10..34];
    let diff =
        new_file(".env", &["# settings", "DEBUG=1", &format!("DB_PASSWORD={value}"), &format!("api_key: '{value}'")]);
    assert_eq!(found(&diff), [(".env".to_owned(), 3, Kind::Assigned), (".env".to_owned(), 4, Kind::Assigned)]);
}

#[test]
fn a_key_in_an_assignment_is_reported_once_by_its_shape() {
    let line = format!("OPENAI_API_KEY = \"{}\"", key("sk-proj-", 41));
    let report = scan_all(&new_file("billing.py", &[&line]));
    assert_eq!(report.detections.len(), 1, "{report:?}");
    assert_eq!(report.detections[0].kind, Kind::OpenAi);
    assert_eq!(report.detections[0].shown, "sk-proj-…(redacted, 49 chars)");
}

#[test]
fn secrets_in_one_line_are_listed_left_to_right() {
    let line = format!("password = \"{}\"; fallback = {}", &RANDOM[3..27], key("sk-", 48));
    let kinds: Vec<Kind> = scan_all(&new_file("a.py", &[&line])).detections.iter().map(|d| d.kind).collect();
    assert_eq!(kinds, [Kind::Assigned, Kind::OpenAi]);
}

#[test]
fn placeholders_are_not_secrets() {
    let lines = [
        "OPENAI_API_KEY=sk-your-api-key-here".to_owned(),
        format!("OPENAI_API_KEY=sk-{}", "x".repeat(48)),
        format!("key = \"sk-proj-{}\"", "X".repeat(40)),
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE".to_owned(),
        format!("token = ghp_{}", "0".repeat(36)),
        "api_key = \"<your-api-key>\"".to_owned(),
        "ANTHROPIC_API_KEY=${ANTHROPIC_API_KEY}".to_owned(),
        "password = os.environ[\"DB_PASSWORD\"]".to_owned(),
        "secret: \"****************\"".to_owned(),
        "token = \"your-token-goes-here-1234\"".to_owned(),
        "client_secret = \"{{ secrets.CLIENT_SECRET }}\"".to_owned(),
        "api_key = settings.OPENAI_API_KEY".to_owned(),
    ];
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let report = scan_all(&new_file("settings.py", &refs));
    assert!(report.detections.is_empty(), "{:#?}", report.detections);
}

#[test]
fn removed_and_context_lines_are_not_scanned() {
    let secret = key("sk-ant-api03-", 60);
    let diff = format!(
        "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1,3 +1,2 @@\n KEEP = \"{secret}\"\n-KEY = \"{secret}\"\n-x = 1\n+x = 2\n"
    );
    assert!(found(&diff).is_empty());
    let deleted =
        format!("diff --git a/k b/k\ndeleted file mode 100644\n--- a/k\n+++ /dev/null\n@@ -1 +0,0 @@\n-{secret}\n");
    let report = scan_all(&deleted);
    assert_eq!((report.detections.len(), report.files_scanned), (0, 1));
}

#[test]
fn ignored_paths_are_not_scanned() {
    let secret = key("ghp_", 36);
    let diff =
        new_file("tests/fixtures/tokens.txt", &[&secret]) + &new_file("src/app.py", &[&format!("t = \"{secret}\"")]);
    let settings = Settings { ignore_paths: vec!["tests/fixtures/*".into()] };
    let report = scan(&diff, &settings);
    assert_eq!(report.detections.iter().map(|d| d.file.as_str()).collect::<Vec<_>>(), ["src/app.py"]);
    assert_eq!((report.files_scanned, report.files_ignored), (1, 1));
    let all = Settings { ignore_paths: vec!["**".into()] };
    assert_eq!(scan(&diff, &all).summary(), "no secrets in 0 changed files (2 ignored)");
}

#[test]
fn findings_never_show_the_secret() {
    let secrets = [
        key("sk-ant-api03-", 90),
        key("sk-", 48),
        format!("AKIA{UPPER}"),
        key("ghp_", 36),
        key("sk_live_", 24),
        format!("password = \"{}\"", &RANDOM[5..37]),
    ];
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let result = scan_all(&new_file("leak.txt", &refs)).into_result();
    assert_eq!(result.findings.len(), secrets.len(), "{:#?}", result.findings);
    for (finding, secret) in result.findings.iter().zip(&secrets) {
        let tail = &secret[secret.len() - 10..];
        assert!(!finding.message.contains(tail), "{} shows {tail}", finding.message);
        assert!(finding.message.contains("(redacted, "), "{}", finding.message);
    }
    assert!(result.findings[0].message.contains("Anthropic API key: sk-ant-…(redacted, 103 chars)"));
    assert!(result.findings[2].message.contains("AWS access key id: AKIA…(redacted, 20 chars)"));
    assert!(result.findings[5].message.contains("hard-coded secret: password = …(redacted, 32 chars)"));
}

#[test]
fn the_verdict_fails_with_one_error_per_secret() {
    let diff = new_file("a.py", &[&key("sk-", 48), "ok = 1", &key("sk-", 50)]) + &new_file("b.py", &["ok = 2"]);
    let result = scan_all(&diff).into_result();
    assert!(!result.passed);
    assert_eq!(result.summary, "2 possible secrets in 1 file");
    let places: Vec<(Severity, Option<&str>, Option<u32>)> =
        result.findings.iter().map(|f| (f.severity, f.file.as_deref(), f.line)).collect();
    assert_eq!(places, [(Severity::Error, Some("a.py"), Some(1)), (Severity::Error, Some("a.py"), Some(3))]);
    let one = scan_all(&new_file("a.py", &[&key("sk-", 48)])).into_result();
    assert_eq!(one.summary, "1 possible secret in 1 file");
}

#[test]
fn a_clean_change_passes() {
    let diff = new_file("a.py", &["x = 1"]) + &new_file("b.py", &["y = 2"]) + &new_file("c.bin", &[]);
    let result = scan_all(&diff).into_result();
    assert!(result.passed && result.findings.is_empty());
    assert_eq!(result.summary, "no secrets in 3 changed files");
    assert_eq!(scan_all("").into_result().summary, "no secrets in 0 changed files");
}

#[test]
fn a_flood_of_secrets_is_capped() {
    let lines: Vec<String> = (0..MAX_LISTED + 5).map(|_| key("sk-", 48)).collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let result = scan_all(&new_file("dump.txt", &refs)).into_result();
    assert_eq!(result.findings.len(), MAX_LISTED + 1);
    assert_eq!(result.findings[MAX_LISTED].message, "5 more possible secrets not listed");
    assert_eq!(result.summary, format!("{} possible secrets in 1 file", MAX_LISTED + 5));
}
