//! The task and step state machines: the seed's 11 task states, our 8 step
//! states, and the one table of legal transitions for each. Every state change
//! in the engine, the store and the review CLI goes through [`TaskState::check`]
//! or [`StepState::check`]; an illegal transition is an error, never applied.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a task is in the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskState {
    /// Read from a tasks file, not started.
    New,
    /// The planner is writing a plan.
    Planning,
    /// The plan reviewer is judging the plan.
    PlanReview,
    /// The plan was approved (by the reviewer or a person).
    PlanApproved,
    /// The reviewer rejected the plan; it will be re-planned or escalated.
    PlanRejected,
    /// Steps are being implemented.
    Implementing,
    /// A step's code is being reviewed.
    CodeReview,
    /// The whole change is being checked by the quality gates.
    QualityGate,
    /// Stopped until a person approves or rejects it.
    AwaitingHuman,
    /// Finished: every step approved and the gates passed.
    Done,
    /// Finished without success.
    Failed,
}

/// Where a plan step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StepState {
    /// Planned, not started.
    Pending,
    /// The implementer is working on it.
    Implementing,
    /// Its code is being reviewed.
    CodeReview,
    /// The code reviewer (or a person) accepted it.
    Approved,
    /// The code reviewer rejected it; it is retried or escalated.
    Rejected,
    /// Going back to the implementer with the review's feedback.
    Retrying,
    /// Approved and recorded as part of the task's change.
    Completed,
    /// Given up on (a person rejected it, or the implementer failed for good).
    Failed,
}

/// An attempt to move between two states that the table does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("illegal {machine} transition {from} -> {to}")]
pub struct IllegalTransition {
    /// `task` or `step`.
    pub machine: &'static str,
    /// The state it was in.
    pub from: String,
    /// The state it was asked to enter.
    pub to: String,
}

/// A state name that is not one of the states.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {machine} state `{name}`; expected one of {expected}")]
pub struct UnknownState {
    /// `task` or `step`.
    pub machine: &'static str,
    /// The name given.
    pub name: String,
    /// The valid names.
    pub expected: String,
}

impl TaskState {
    /// Every task state, in pipeline order.
    pub const ALL: [Self; 11] = [
        Self::New,
        Self::Planning,
        Self::PlanReview,
        Self::PlanApproved,
        Self::PlanRejected,
        Self::Implementing,
        Self::CodeReview,
        Self::QualityGate,
        Self::AwaitingHuman,
        Self::Done,
        Self::Failed,
    ];

    /// The states a task may enter from this one: the whole task table.
    pub fn successors(self) -> &'static [Self] {
        use TaskState::*;
        match self {
            New => &[Planning, Failed],
            // A malformed plan is re-asked within PLANNING; a fatal error or
            // spent budget stops the task.
            Planning => &[PlanReview, AwaitingHuman, Failed],
            PlanReview => &[PlanApproved, PlanRejected, AwaitingHuman, Failed],
            // Re-plan with the concerns, or escalate after too many rounds;
            // a person may approve the rejected plan or fail the task.
            PlanRejected => &[Planning, PlanApproved, AwaitingHuman, Failed],
            PlanApproved => &[Implementing, AwaitingHuman, Failed],
            // To review a step, or to the gates once every step is approved.
            Implementing => &[CodeReview, QualityGate, AwaitingHuman, Failed],
            // Approved: next step (IMPLEMENTING); rejected: retry (IMPLEMENTING)
            // or escalate.
            CodeReview => &[Implementing, AwaitingHuman, Failed],
            // Failed gates go back to the implementer with the findings.
            QualityGate => &[Done, Implementing, AwaitingHuman, Failed],
            // A person's approval resumes the stage that escalated (a spent
            // budget may stop any stage that calls an LLM).
            AwaitingHuman => &[Planning, PlanReview, PlanApproved, Implementing, CodeReview, QualityGate, Failed],
            Done | Failed => &[],
        }
    }

    /// `Ok` if `self -> to` is in the table.
    pub fn check(self, to: Self) -> Result<(), IllegalTransition> {
        if self.successors().contains(&to) {
            Ok(())
        } else {
            Err(IllegalTransition { machine: "task", from: self.to_string(), to: to.to_string() })
        }
    }

    /// `Ok` if a person may retry a task in this state into `to`: out of
    /// FAILED or AWAITING_HUMAN, back to any state the pipeline works in
    /// (see `task_retry`). Not part of the table: only a retry moves so.
    pub fn check_retry(self, to: Self) -> Result<(), IllegalTransition> {
        let stopped = matches!(self, Self::Failed | Self::AwaitingHuman);
        let working = !to.is_terminal() && to != Self::AwaitingHuman;
        if stopped && working {
            Ok(())
        } else {
            Err(IllegalTransition { machine: "task retry", from: self.to_string(), to: to.to_string() })
        }
    }

    /// DONE or FAILED: nothing more will happen to the task.
    pub fn is_terminal(self) -> bool {
        self.successors().is_empty()
    }

    /// Work the engine can pick up (neither finished nor waiting for a person).
    pub fn is_active(self) -> bool {
        !self.is_terminal() && self != Self::AwaitingHuman && self != Self::New
    }

    /// The name as stored and shown (`PLAN_REVIEW`).
    pub fn as_str(self) -> &'static str {
        use TaskState::*;
        match self {
            New => "NEW",
            Planning => "PLANNING",
            PlanReview => "PLAN_REVIEW",
            PlanApproved => "PLAN_APPROVED",
            PlanRejected => "PLAN_REJECTED",
            Implementing => "IMPLEMENTING",
            CodeReview => "CODE_REVIEW",
            QualityGate => "QUALITY_GATE",
            AwaitingHuman => "AWAITING_HUMAN",
            Done => "DONE",
            Failed => "FAILED",
        }
    }
}

impl StepState {
    /// Every step state.
    pub const ALL: [Self; 8] = [
        Self::Pending,
        Self::Implementing,
        Self::CodeReview,
        Self::Approved,
        Self::Rejected,
        Self::Retrying,
        Self::Completed,
        Self::Failed,
    ];

    /// The states a step may enter from this one: the whole step table.
    pub fn successors(self) -> &'static [Self] {
        use StepState::*;
        match self {
            Pending => &[Implementing],
            Implementing => &[CodeReview, Failed],
            CodeReview => &[Approved, Rejected, Failed],
            Approved => &[Completed],
            // Retried with the feedback, accepted by a person, or given up.
            Rejected => &[Retrying, Approved, Failed],
            Retrying => &[Implementing],
            Completed | Failed => &[],
        }
    }

    /// `Ok` if `self -> to` is in the table.
    pub fn check(self, to: Self) -> Result<(), IllegalTransition> {
        if self.successors().contains(&to) {
            Ok(())
        } else {
            Err(IllegalTransition { machine: "step", from: self.to_string(), to: to.to_string() })
        }
    }

    /// The name as stored and shown.
    pub fn as_str(self) -> &'static str {
        use StepState::*;
        match self {
            Pending => "PENDING",
            Implementing => "IMPLEMENTING",
            CodeReview => "CODE_REVIEW",
            Approved => "APPROVED",
            Rejected => "REJECTED",
            Retrying => "RETRYING",
            Completed => "COMPLETED",
            Failed => "FAILED",
        }
    }
}

macro_rules! names {
    ($ty:ty, $machine:literal) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = UnknownState;

            /// Accepts `PLAN_REVIEW`, `plan_review` and `plan-review`.
            fn from_str(name: &str) -> Result<Self, UnknownState> {
                let wanted = name.trim().replace('-', "_").to_ascii_uppercase();
                Self::ALL.into_iter().find(|s| s.as_str() == wanted).ok_or_else(|| UnknownState {
                    machine: $machine,
                    name: name.to_owned(),
                    expected: Self::ALL.map(Self::as_str).join(", "),
                })
            }
        }
    };
}

names!(TaskState, "task");
names!(StepState, "step");

#[cfg(test)]
mod tests {
    use super::*;

    /// The legal task transitions, written out once more by hand so a change
    /// to the table has to be made twice on purpose.
    const LEGAL_TASK: &[(&str, &str)] = &[
        ("NEW", "PLANNING"),
        ("NEW", "FAILED"),
        ("PLANNING", "PLAN_REVIEW"),
        ("PLANNING", "AWAITING_HUMAN"),
        ("PLANNING", "FAILED"),
        ("PLAN_REVIEW", "PLAN_APPROVED"),
        ("PLAN_REVIEW", "PLAN_REJECTED"),
        ("PLAN_REVIEW", "AWAITING_HUMAN"),
        ("PLAN_REVIEW", "FAILED"),
        ("PLAN_REJECTED", "PLANNING"),
        ("PLAN_REJECTED", "PLAN_APPROVED"),
        ("PLAN_REJECTED", "AWAITING_HUMAN"),
        ("PLAN_REJECTED", "FAILED"),
        ("PLAN_APPROVED", "IMPLEMENTING"),
        ("PLAN_APPROVED", "AWAITING_HUMAN"),
        ("PLAN_APPROVED", "FAILED"),
        ("IMPLEMENTING", "CODE_REVIEW"),
        ("IMPLEMENTING", "QUALITY_GATE"),
        ("IMPLEMENTING", "AWAITING_HUMAN"),
        ("IMPLEMENTING", "FAILED"),
        ("CODE_REVIEW", "IMPLEMENTING"),
        ("CODE_REVIEW", "AWAITING_HUMAN"),
        ("CODE_REVIEW", "FAILED"),
        ("QUALITY_GATE", "DONE"),
        ("QUALITY_GATE", "IMPLEMENTING"),
        ("QUALITY_GATE", "AWAITING_HUMAN"),
        ("QUALITY_GATE", "FAILED"),
        ("AWAITING_HUMAN", "PLANNING"),
        ("AWAITING_HUMAN", "PLAN_REVIEW"),
        ("AWAITING_HUMAN", "PLAN_APPROVED"),
        ("AWAITING_HUMAN", "IMPLEMENTING"),
        ("AWAITING_HUMAN", "CODE_REVIEW"),
        ("AWAITING_HUMAN", "QUALITY_GATE"),
        ("AWAITING_HUMAN", "FAILED"),
    ];

    const LEGAL_STEP: &[(&str, &str)] = &[
        ("PENDING", "IMPLEMENTING"),
        ("IMPLEMENTING", "CODE_REVIEW"),
        ("IMPLEMENTING", "FAILED"),
        ("CODE_REVIEW", "APPROVED"),
        ("CODE_REVIEW", "REJECTED"),
        ("CODE_REVIEW", "FAILED"),
        ("APPROVED", "COMPLETED"),
        ("REJECTED", "RETRYING"),
        ("REJECTED", "APPROVED"),
        ("REJECTED", "FAILED"),
        ("RETRYING", "IMPLEMENTING"),
    ];

    #[test]
    fn every_task_pair_is_legal_exactly_when_listed() {
        for from in TaskState::ALL {
            for to in TaskState::ALL {
                let listed = LEGAL_TASK.contains(&(from.as_str(), to.as_str()));
                assert_eq!(from.check(to).is_ok(), listed, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn every_step_pair_is_legal_exactly_when_listed() {
        for from in StepState::ALL {
            for to in StepState::ALL {
                let listed = LEGAL_STEP.contains(&(from.as_str(), to.as_str()));
                assert_eq!(from.check(to).is_ok(), listed, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn illegal_transitions_name_both_states() {
        let err = TaskState::New.check(TaskState::Done).unwrap_err();
        assert_eq!(err.to_string(), "illegal task transition NEW -> DONE");
        assert!(TaskState::Done.check(TaskState::Planning).is_err(), "DONE is final");
        assert!(TaskState::Failed.check(TaskState::New).is_err(), "FAILED is final");
        assert!(TaskState::PlanReview.check(TaskState::Implementing).is_err(), "no skipping approval");
        assert!(TaskState::CodeReview.check(TaskState::Done).is_err(), "no skipping the gates");
        assert!(TaskState::AwaitingHuman.check(TaskState::Done).is_err(), "a person cannot skip the gates");
        let err = StepState::Pending.check(StepState::Completed).unwrap_err();
        assert_eq!(err.to_string(), "illegal step transition PENDING -> COMPLETED");
        assert!(StepState::Completed.check(StepState::Implementing).is_err());
    }

    #[test]
    fn names_round_trip_and_accept_lowercase() {
        for state in TaskState::ALL {
            assert_eq!(state.as_str().parse::<TaskState>().unwrap(), state);
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{state}\""));
        }
        for state in StepState::ALL {
            assert_eq!(state.as_str().to_lowercase().parse::<StepState>().unwrap(), state);
        }
        assert_eq!("plan-review".parse::<TaskState>().unwrap(), TaskState::PlanReview);
        let err = "finished".parse::<TaskState>().unwrap_err().to_string();
        assert!(err.contains("`finished`") && err.contains("AWAITING_HUMAN"), "{err}");
    }

    #[test]
    fn terminal_and_active() {
        assert!(TaskState::Done.is_terminal() && TaskState::Failed.is_terminal());
        assert!(!TaskState::AwaitingHuman.is_terminal() && !TaskState::AwaitingHuman.is_active());
        assert!(TaskState::CodeReview.is_active() && !TaskState::New.is_active());
    }
}
