//! Retrying stopped tasks: from where they stopped (reusing every journaled
//! call), and from a stage (making that stage's calls anew).

use std::collections::HashSet;

use super::*;
use crate::store::Moved;
use crate::task_retry::{RetryFrom, RetryRequest};

fn retry(from: RetryFrom, comment: Option<&str>) -> RetryRequest {
    RetryRequest { from, comment: comment.map(str::to_owned), who: "ana".into() }
}

/// Each completion request the fake served, as (role, messages), once per serving.
fn served(fake: &Fake) -> Vec<(String, Vec<String>)> {
    let requests = fake.requests.lock().unwrap();
    requests.iter().map(|(role, _, r)| (role.clone(), r.messages.iter().map(|m| m.content.clone()).collect())).collect()
}

fn assert_no_request_repeated(fake: &Fake) {
    let all = served(fake);
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(distinct.len(), all.len(), "a request was sent twice: {all:?}");
}

#[tokio::test]
async fn a_task_whose_router_broke_is_retried_where_it_stopped_and_no_journaled_call_is_made_again() {
    let reference = Harness::new(&[spec("a", &[])]);
    let whole = Arc::new(Fake::new(happy));
    reference.run(&whole, &["a"], 1).await;

    let h = Harness::new(&[spec("a", &[])]);
    let fake = Arc::new(Fake::new(happy));
    fake.broken_router.store(true, Ordering::SeqCst);
    let report = h.run(&fake, &["a"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::Failed, "{report:?}");
    assert!(report.tasks[0].note.as_deref().unwrap().contains("routing code_reviewer failed"), "{report:?}");
    // Runs and resumes keep it FAILED until a person retries it.
    assert_eq!(h.run(&fake, &["a"], 1).await.tasks[0].state, TaskState::Failed);
    let before = fake.calls();

    fake.broken_router.store(false, Ordering::SeqCst);
    let state = h.store.retry("a", &retry(RetryFrom::Stop, Some("the router is fixed"))).unwrap();
    assert_eq!(state, TaskState::CodeReview, "back to just before the failure");
    assert_eq!(h.store.task("a").unwrap().last_error, None);
    let report = h.run(&fake, &["a"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::Done, "{report:?}");
    assert_eq!(fake.calls(), whole.calls(), "every call was made once: {before} before the retry");
    assert_no_request_repeated(&fake);
    let reviews = fake.prompts("code reviewer");
    assert!(reviews[0].contains("the router is fixed"), "the comment reaches the next prompt: {}", reviews[0]);
    assert!(!fake.prompts("implementer")[0].contains("the router is fixed"), "but not the prompts before it");

    let history = h.store.history("a").unwrap();
    let aside: Vec<_> = history.iter().filter(|t| t.superseded_by.is_some()).collect();
    assert_eq!(aside.len(), 2, "the failure of the step and of the task are set aside: {history:#?}");
    let retried = history.iter().find(|t| crate::task_retry::is_retry(t)).expect("the retry is in the history");
    assert_eq!((retried.actor.as_str(), retried.comment.as_deref()), ("human", Some("the router is fixed")));
    assert!(retried.message.starts_with("retried from where it stopped by ana"), "{}", retried.message);
    assert!(aside.iter().all(|t| t.superseded_by == Some(retried.seq)));
    let seqs: Vec<u64> = history.iter().map(|t| t.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "one unbroken history");

    let done = h.store.retry("a", &retry(RetryFrom::Stop, None)).unwrap_err();
    assert_eq!(done.to_string(), "cannot retry task `a`: task `a` is DONE: there is nothing to retry");
    assert!(done.is_usage());
}

#[tokio::test]
async fn a_task_that_ran_out_of_review_rounds_gets_one_more_allowance_when_retried() {
    let h = Harness::new(&[spec("a", &[])]);
    // The reviewer rejects until the person's hint reaches the implementer.
    let fake = Arc::new(Fake::new(|role, req, n| match role {
        "code reviewer" if !req.messages[1].content.contains("use the cache") => {
            Ok(r#"{"verdict": "needs_changes", "concerns": ["too slow"]}"#.into())
        }
        _ => happy(role, req, n),
    }));
    let report = h.run(&fake, &["a"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::AwaitingHuman, "{report:?}");
    assert_eq!((fake.prompts("implementer").len(), fake.calls()), (3, 8));

    let state = h.store.retry("a", &retry(RetryFrom::Stop, Some("use the cache"))).unwrap();
    assert_eq!(state, TaskState::CodeReview);
    let report = h.run(&fake, &["a"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::Done, "{report:?}");
    let implementer = fake.prompts("implementer");
    assert_eq!(implementer.len(), 5, "round 4 of s1 (the allowance), then s2");
    assert!(implementer[3].contains("use the cache") && implementer[3].contains("too slow"), "{}", implementer[3]);
    assert_eq!(fake.calls(), 8 + 5, "round 4 of s1 and its review, s2 and its review, the gate: nothing twice");
    let step = &h.store.steps("a").unwrap()[0];
    assert_eq!((step.state, step.attempts), (StepState::Completed, 4));
}

#[tokio::test]
async fn a_rejected_task_can_be_retried_too() {
    let h = Harness::new(&[spec("a", &[])]);
    let fake = Arc::new(Fake::new(|role, req, n| match role {
        "plan reviewer" if !req.messages[1].content.contains("smaller steps") => {
            Ok(r#"{"verdict": "rejected", "concerns": ["too big"]}"#.into())
        }
        _ => happy(role, req, n),
    }));
    assert_eq!(h.run(&fake, &["a"], 1).await.tasks[0].state, TaskState::AwaitingHuman);
    h.store.decide("a", HumanDecision::Reject { comment: None }).unwrap();
    assert_eq!(h.run(&fake, &["a"], 1).await.tasks[0].state, TaskState::Failed);

    let state = h.store.retry("a", &retry(RetryFrom::Stop, Some("smaller steps"))).unwrap();
    assert_eq!(state, TaskState::PlanRejected, "back to just before the escalation");
    let report = h.run(&fake, &["a"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::Done, "{report:?}");
    assert_eq!(fake.prompts("planner").len(), 4, "three rejected plans, then the allowance: a fourth round");
    assert_eq!(fake.calls(), 6 + 7, "the fourth round, both steps with their reviews, the gate: nothing twice");
}

/// The gate fails until `fixed` is set, and the task has a single gate round.
fn gate_until(fixed: Arc<std::sync::atomic::AtomicBool>) -> Gate {
    Box::new(move |_, _| {
        let passed = fixed.load(Ordering::SeqCst);
        CheckResult { passed, summary: if passed { "ok" } else { "misconfigured" }.into(), findings: vec![] }
    })
}

/// A task in a worktree that FAILED at its gate, its fake, and the flag that fixes the gate.
async fn failed_at_the_gate() -> (Harness, std::path::PathBuf, Arc<Fake>, Arc<std::sync::atomic::AtomicBool>) {
    let mut h = Harness::new(&[spec("a", &[])]);
    h.settings.pipeline.max_gate_rounds = 1;
    let root = in_repo(&mut h).await;
    let fixed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let fake = Arc::new(Fake { gate: gate_until(Arc::clone(&fixed)), ..Fake::new(editing) });
    let report = h.run(&fake, &["a"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::Failed, "{report:?}");
    assert_eq!(git_out(&root, &["rev-list", "--count", "main..orch/a"]), "2", "s1 and s2 are committed");
    (h, root, fake, fixed)
}

#[tokio::test]
async fn from_the_gate_the_gates_run_again_on_the_same_steps() {
    let (h, root, fake, fixed) = failed_at_the_gate().await;
    let (calls, head) = (fake.calls(), git_out(&root, &["rev-parse", "orch/a"]));
    fixed.store(true, Ordering::SeqCst);
    let state = h.store.retry("a", &retry(RetryFrom::Gate, None)).unwrap();
    assert_eq!(state, TaskState::QualityGate);
    let report = h.run(&fake, &["a"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::Done, "{report:?}");
    assert_eq!(fake.calls(), calls + 1, "only the gate ran again");
    assert_eq!(git_out(&root, &["rev-parse", "orch/a"]), head, "the steps' commits stay");
    let checks: Vec<_> = h.store.journal("a").unwrap().into_iter().filter(|e| e.kind == "check").collect();
    assert_eq!(checks.len(), 2, "the first result is kept, set aside");
    assert!(checks[0].superseded_by.is_some() && checks[1].superseded_by.is_none());
    assert_eq!(checks[0].key, checks[1].key, "the same gate on the same tree");
}

#[tokio::test]
async fn from_implementing_every_step_is_made_anew_on_a_branch_back_at_its_start() {
    let (h, root, fake, fixed) = failed_at_the_gate().await;
    let old_head = git_out(&root, &["rev-parse", "orch/a"]);
    fixed.store(true, Ordering::SeqCst);
    h.store.retry("a", &retry(RetryFrom::Implementing, Some("start the steps over"))).unwrap();
    let steps = h.store.steps("a").unwrap();
    assert!(steps.iter().all(|s| s.state == StepState::Pending), "{steps:?}");
    let report = h.run(&fake, &["a"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::Done, "{report:?}");
    assert_eq!(fake.prompts("planner").len(), 1, "the plan is kept");
    assert_eq!(fake.prompts("implementer").len(), 4, "both steps implemented twice");
    assert!(fake.prompts("implementer")[2].contains("start the steps over"));
    assert_eq!(git_out(&root, &["rev-list", "--count", "main..orch/a"]), "2", "one commit per step, anew");
    let kept = git_out(&root, &["for-each-ref", "--format=%(objectname)", "refs/orch/set-aside/a"]);
    assert_eq!(kept, old_head, "the set-aside commits stay reachable");
    assert_eq!(git_out(&root, &["show", "orch/a:app.py"]), "def handle(request):\n    return modern(request)");
}

#[tokio::test]
async fn from_planning_the_task_is_planned_anew() {
    let (h, root, fake, fixed) = failed_at_the_gate().await;
    fixed.store(true, Ordering::SeqCst);
    assert_eq!(h.store.retry("a", &retry(RetryFrom::Planning, None)).unwrap(), TaskState::Planning);
    let report = h.run(&fake, &["a"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::Done, "{report:?}");
    assert_eq!(fake.prompts("planner").len(), 2);
    assert_eq!(fake.prompts("plan reviewer").len(), 2);
    assert_eq!(git_out(&root, &["rev-list", "--count", "main..orch/a"]), "2");
    let history = h.store.history("a").unwrap();
    let live: Vec<_> = history.iter().filter(|t| t.superseded_by.is_none()).collect();
    assert!(matches!(live[0].moved, Moved::Task { to: TaskState::Planning, .. }));
    assert!(crate::task_retry::is_retry(live[1]), "the retry follows the first move into planning: {live:#?}");
}

#[tokio::test]
async fn a_gate_that_failed_too_often_gets_one_more_round_and_retries_of_everything_failed_work() {
    let (h, _root, fake, fixed) = failed_at_the_gate().await;
    let never = h.store.retry("a", &retry(RetryFrom::Stop, None));
    assert_eq!(never.unwrap(), TaskState::QualityGate);
    fixed.store(true, Ordering::SeqCst);
    let report = h.run(&fake, &["a"], 1).await;
    assert_eq!(report.tasks[0].state, TaskState::Done, "{report:?}");
    let steps: Vec<String> = h.store.steps("a").unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(steps, ["s1", "s2", "fix-1"], "the gate's findings went back to the implementer once more");
}
