//! Retrying a task that stopped — FAILED, or AWAITING_HUMAN — at a person's
//! request (`orch retry`): the point its walk goes back to, and what is set
//! aside. Nothing is deleted: the transitions after the point and (for a
//! retry from a stage) the journal entries made after it are marked as
//! superseded by the retry, which is itself a transition in the history,
//! naming who retried and why.
//!
//! - From **where it stopped** (the default), the walk goes back to just
//!   before the stop: the failure (and, for a task a person rejected, the
//!   escalation before it), or the escalation the task waits at. Every
//!   journaled call is reused; the call that failed and what follows are
//!   made anew. A stop because rounds or a budget ran out gets one more
//!   allowance of them, so the stage that stopped can go on.
//! - From **planning**, **implementing** or **the quality gate**, the walk
//!   goes back to the task's first entry into that stage: the journal
//!   entries made from there on are set aside, so the plan, the steps
//!   (their commits too: the branch goes back with them) or the gate
//!   results are made anew; what came before is reused.
//!
//! A retry's comment reaches every prompt built after the point.

use crate::state::TaskState;
use crate::store::{Moved, Transition};

/// How a retry's transition message starts.
const RETRIED_FROM: &str = "retried from ";

/// What a retry's message says when it grants one more allowance of rounds.
const ALLOWANCE: &str = ", with one more allowance of rounds";

/// How the failure message starts when the gate rounds ran out.
pub const GATE_EXHAUSTED: &str = "the quality gate failed";

/// Where a retry goes back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryFrom {
    /// Just before the task stopped.
    Stop,
    /// The task's first planning.
    Planning,
    /// The task's first implementing (the plan is kept).
    Implementing,
    /// The task's first quality gate (the steps are kept).
    Gate,
}

impl RetryFrom {
    /// The point as the history names it.
    fn name(self) -> &'static str {
        match self {
            Self::Stop => "where it stopped",
            Self::Planning => "planning",
            Self::Implementing => "implementing",
            Self::Gate => "the quality gate",
        }
    }

    /// The state a retry from this stage goes back to.
    fn stage(self) -> Option<TaskState> {
        match self {
            Self::Stop => None,
            Self::Planning => Some(TaskState::Planning),
            Self::Implementing => Some(TaskState::Implementing),
            Self::Gate => Some(TaskState::QualityGate),
        }
    }
}

/// A person's request to retry a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryRequest {
    /// Where to go back to.
    pub from: RetryFrom,
    /// Why, for the history and the next prompts.
    pub comment: Option<String>,
    /// Who asked.
    pub who: String,
}

/// What a retry does to a task's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPlan {
    /// Transitions with a greater seq are set aside.
    pub cut: u64,
    /// Journal entries made at or after this seq are set aside (none for a
    /// retry from where it stopped).
    pub journal_from: Option<u64>,
    /// The state the task goes back to.
    pub to: TaskState,
    /// The retry transition's message.
    pub message: String,
}

/// Plans retrying task `task`, now in `state`, whose history not yet set
/// aside is `live`; why it cannot be retried otherwise.
pub fn plan(task: &str, state: TaskState, live: &[Transition], request: &RetryRequest) -> Result<RetryPlan, String> {
    match state {
        TaskState::Failed | TaskState::AwaitingHuman => {}
        TaskState::Done => return Err(format!("task `{task}` is DONE: there is nothing to retry")),
        other => {
            return Err(format!(
                "task `{task}` is {other}: only FAILED or AWAITING_HUMAN tasks can be retried (it has not stopped)"
            ));
        }
    }
    let (kept, journal_from, allowance) = match request.from.stage() {
        None => {
            let (kept, allowance) = before_the_stop(live);
            (kept, None, allowance)
        }
        Some(stage) => {
            let entry = live
                .iter()
                .position(|t| matches!(t.moved, Moved::Task { to, .. } if to == stage))
                .ok_or_else(|| format!("task `{task}` never reached {stage}; retry it from an earlier stage"))?;
            (entry + 1, Some(live[entry].seq), false)
        }
    };
    let cut = kept.checked_sub(1).map_or(0, |i| live[i].seq);
    let to = live[..kept]
        .iter()
        .rev()
        .find_map(|t| match t.moved {
            Moved::Task { to, .. } => Some(to),
            Moved::Step { .. } => None,
        })
        .unwrap_or(TaskState::New);
    let allowance = if allowance { ALLOWANCE } else { "" };
    let message = format!("{RETRIED_FROM}{} by {}{allowance}", request.from.name(), request.who);
    Ok(RetryPlan { cut, journal_from, to, message })
}

/// How many transitions of `live` come before the stop, and whether the
/// stop was rounds or a budget running out (an escalation, or the gate
/// failing too often).
fn before_the_stop(live: &[Transition]) -> (usize, bool) {
    let mut kept = live.len();
    let mut ran_out = false;
    while let Some(t) = kept.checked_sub(1).map(|i| &live[i]) {
        match &t.moved {
            Moved::Step { to: crate::state::StepState::Failed, .. } => {}
            Moved::Task { to: TaskState::Failed, .. } => ran_out |= t.message.starts_with(GATE_EXHAUSTED),
            _ => break,
        }
        kept -= 1;
    }
    if let Some(t) = kept.checked_sub(1).map(|i| &live[i])
        && matches!(t.moved, Moved::Task { to: TaskState::AwaitingHuman, .. })
    {
        kept -= 1;
        ran_out = true;
    }
    (kept, ran_out)
}

/// Whether transition `t` is a retry.
pub fn is_retry(t: &Transition) -> bool {
    matches!(t.moved, Moved::Task { from: TaskState::Failed | TaskState::AwaitingHuman, .. })
        && t.message.starts_with(RETRIED_FROM)
}

/// Whether retry `t` gives the stage that stopped one more allowance of
/// rounds (or of budget).
pub fn grants_allowance(t: &Transition) -> bool {
    t.message.contains(ALLOWANCE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::StepState;

    fn task(seq: u64, from: TaskState, to: TaskState, message: &str) -> Transition {
        Transition {
            seq,
            moved: Moved::Task { from, to },
            actor: "engine".into(),
            message: message.into(),
            comment: None,
            at_ms: 0,
            superseded_by: None,
        }
    }

    fn step(seq: u64, from: StepState, to: StepState) -> Transition {
        Transition {
            moved: Moved::Step { step: "s1".into(), from, to },
            ..task(seq, TaskState::New, TaskState::New, "")
        }
    }

    fn request(from: RetryFrom) -> RetryRequest {
        RetryRequest { from, comment: None, who: "ana".into() }
    }

    use StepState as S;
    use TaskState as T;

    /// A task that failed in code review of s1 (its router broke).
    fn failed_in_review() -> Vec<Transition> {
        vec![
            task(1, T::New, T::Planning, ""),
            task(2, T::Planning, T::PlanReview, ""),
            task(3, T::PlanReview, T::PlanApproved, ""),
            task(4, T::PlanApproved, T::Implementing, ""),
            step(5, S::Pending, S::Implementing),
            task(6, T::Implementing, T::CodeReview, ""),
            step(7, S::Implementing, S::CodeReview),
            step(8, S::CodeReview, S::Failed),
            task(9, T::CodeReview, T::Failed, "routing code_reviewer failed"),
        ]
    }

    #[test]
    fn from_where_it_stopped_goes_back_before_the_failure_and_keeps_the_journal() {
        let plan = plan("t", T::Failed, &failed_in_review(), &request(RetryFrom::Stop)).unwrap();
        assert_eq!((plan.cut, plan.journal_from, plan.to), (7, None, T::CodeReview));
        assert_eq!(plan.message, "retried from where it stopped by ana");
        let retry = Transition {
            moved: Moved::Task { from: T::Failed, to: plan.to },
            ..task(10, T::New, T::New, &plan.message)
        };
        assert!(is_retry(&retry) && !grants_allowance(&retry));
        assert!(!is_retry(&task(10, T::AwaitingHuman, T::Planning, "approved by a person; continues at PLANNING")));
    }

    #[test]
    fn a_stop_because_something_ran_out_grants_one_more_allowance() {
        let mut escalated = failed_in_review();
        escalated.truncate(7);
        escalated.push(step(8, S::CodeReview, S::Rejected));
        escalated.push(task(9, T::CodeReview, T::AwaitingHuman, "needs a person: step s1 was rejected 2 times"));
        let waiting = plan("t", T::AwaitingHuman, &escalated, &request(RetryFrom::Stop)).unwrap();
        assert_eq!((waiting.cut, waiting.to), (8, T::CodeReview));
        assert!(waiting.message.contains(ALLOWANCE));
        // Rejected by a person: the rejection and the escalation both go.
        escalated.push(Transition { actor: "human".into(), ..task(10, T::AwaitingHuman, T::Failed, "Rejected") });
        escalated.push(step(11, S::Rejected, S::Failed));
        let rejected = plan("t", T::Failed, &escalated, &request(RetryFrom::Stop)).unwrap();
        assert_eq!((rejected.cut, rejected.to), (8, T::CodeReview));
        assert!(rejected.message.contains(ALLOWANCE));
        let gate = vec![
            task(1, T::Implementing, T::QualityGate, ""),
            task(2, T::QualityGate, T::Failed, &format!("{GATE_EXHAUSTED} 2 times: tests: 1 failed")),
        ];
        let gate = plan("t", T::Failed, &gate, &request(RetryFrom::Stop)).unwrap();
        assert_eq!((gate.cut, gate.to), (1, T::QualityGate));
        assert!(gate.message.contains(ALLOWANCE));
    }

    #[test]
    fn from_a_stage_goes_back_to_its_first_entry_and_sets_its_journal_aside() {
        let history = failed_in_review();
        let planning = plan("t", T::Failed, &history, &request(RetryFrom::Planning)).unwrap();
        assert_eq!((planning.cut, planning.journal_from, planning.to), (1, Some(1), T::Planning));
        let implementing = plan("t", T::Failed, &history, &request(RetryFrom::Implementing)).unwrap();
        assert_eq!((implementing.cut, implementing.journal_from, implementing.to), (4, Some(4), T::Implementing));
        assert_eq!(implementing.message, "retried from implementing by ana");
        let never = plan("t", T::Failed, &history, &request(RetryFrom::Gate)).unwrap_err();
        assert_eq!(never, "task `t` never reached QUALITY_GATE; retry it from an earlier stage");
    }

    #[test]
    fn only_stopped_tasks_are_retried() {
        let done = plan("t", T::Done, &[], &request(RetryFrom::Stop)).unwrap_err();
        assert_eq!(done, "task `t` is DONE: there is nothing to retry");
        assert!(plan("t", T::Implementing, &[], &request(RetryFrom::Stop)).unwrap_err().contains("has not stopped"));
    }
}
