//! The planner: a pure function from requirements, the ledger and the machine's profile to a
//! boundary plan, or a refusal of the whole container (ARCHITECTURE §1 step 3, §2 law 1).
//!
//! For each requirement it looks at the candidate mechanisms in order; a candidate is usable when
//! the ledger has a row for (kind, mechanism), the profile dominates the row's floor and the row
//! is `proven`. Nothing is downgraded: a requirement with no usable candidate refuses the whole
//! container, naming the field, the requirement and each candidate's reason.

use super::floor::Floor;
use super::ledger::{Ledger, LedgerError, Proof, Row, Status};
use super::profile::Profile;
use super::requirement::{LaunchDatum, Requirement, Scope};
use serde::Serialize;
use std::fmt;

/// A mechanism the plan uses, with the ledger row that admitted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chosen {
    pub mechanism: String,
    pub status: Status,
    pub floor: Floor,
    pub proofs: Vec<Proof>,
}

/// An admitted requirement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Admitted {
    pub kind: String,
    pub field: String,
    pub detail: String,
    /// One mechanism, or one per applicable hierarchy for an `each` requirement.
    pub mechanisms: Vec<Chosen>,
}

/// The admitted plan: every requirement with its mechanisms, plus the launch data and the
/// ignored unknown properties (filled by [`super::admit`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BoundaryPlan {
    pub requirements: Vec<Admitted>,
    pub launch_data: Vec<LaunchDatum>,
    pub ignored: Vec<String>,
}

impl BoundaryPlan {
    /// Every mechanism the plan uses, sorted and once each: what the launcher may apply.
    pub fn mechanisms(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .requirements
            .iter()
            .flat_map(|r| r.mechanisms.iter().map(|m| m.mechanism.as_str()))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    pub fn uses(&self, mechanism: &str) -> bool {
        self.requirements
            .iter()
            .any(|r| r.mechanisms.iter().any(|m| m.mechanism == mechanism))
    }
}

/// One refused requirement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refused {
    pub field: String,
    pub kind: String,
    pub reason: String,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: requirement {}: {}",
            self.field, self.kind, self.reason
        )
    }
}

/// Why a container was refused. Displays every refused requirement, `; `-separated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{}", join_refused(.0))]
    Requirements(Vec<Refused>),
    /// The embedded ledger does not parse: nothing can be admitted.
    #[error("the embedded {0}")]
    Ledger(LedgerError),
}

impl Refusal {
    pub fn refused(&self) -> &[Refused] {
        match self {
            Refusal::Requirements(r) => r,
            Refusal::Ledger(_) => &[],
        }
    }
}

fn join_refused(r: &[Refused]) -> String {
    r.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// What the ledger and the profile say about one candidate mechanism.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub mechanism: String,
    /// `None`: the ledger has no row for (kind, mechanism).
    pub status: Option<Status>,
    pub floor: Option<Floor>,
    pub proofs: Vec<Proof>,
    /// Floor facts this machine does not meet.
    pub unmet: Vec<String>,
    /// The plan uses this mechanism.
    pub chosen: bool,
}

impl Candidate {
    fn of(req: &Requirement, mechanism: &str, ledger: &Ledger, profile: &Profile) -> Candidate {
        let row: Option<&Row> = ledger.row(&req.kind, mechanism);
        Candidate {
            mechanism: mechanism.to_string(),
            status: row.map(|r| r.status),
            floor: row.map(|r| r.floor.clone()),
            proofs: row.map(|r| r.proofs.clone()).unwrap_or_default(),
            unmet: row.map(|r| r.floor.unmet(profile)).unwrap_or_default(),
            chosen: false,
        }
    }

    /// The floor holds here (a candidate without a row never applies).
    fn applies(&self) -> bool {
        self.status.is_some() && self.unmet.is_empty()
    }

    fn usable(&self) -> bool {
        self.applies() && self.status == Some(Status::Proven)
    }

    /// Why this candidate cannot be used, phrased to follow its mechanism name.
    fn why_not(&self, ledger_note: Option<&str>) -> String {
        let m = &self.mechanism;
        match self.status {
            None => format!("{m} has no ledger row"),
            Some(_) if !self.unmet.is_empty() => format!("{m} {}", self.unmet.join(" and ")),
            Some(s) => match ledger_note {
                Some(n) => format!("{m} is {s} ({n})"),
                None => format!("{m} is {s}"),
            },
        }
    }

    fn chosen(&self) -> Chosen {
        Chosen {
            mechanism: self.mechanism.clone(),
            status: self.status.unwrap_or(Status::FailClosed),
            floor: self.floor.clone().unwrap_or_default(),
            proofs: self.proofs.clone(),
        }
    }
}

/// The planner's verdict on one requirement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub requirement: Requirement,
    pub candidates: Vec<Candidate>,
    /// `None`: admitted with the `chosen` candidates.
    pub refusal: Option<String>,
}

impl Decision {
    pub fn admitted(&self) -> bool {
        self.refusal.is_none()
    }
}

/// Judge every requirement; never stops at the first refusal, so `bvisor plan` shows them all.
pub fn evaluate(reqs: &[Requirement], ledger: &Ledger, profile: &Profile) -> Vec<Decision> {
    reqs.iter().map(|r| decide(r, ledger, profile)).collect()
}

fn decide(req: &Requirement, ledger: &Ledger, profile: &Profile) -> Decision {
    let mut candidates: Vec<Candidate> = req
        .mechanisms
        .iter()
        .map(|m| Candidate::of(req, m, ledger, profile))
        .collect();
    let note = |c: &Candidate| {
        ledger
            .row(&req.kind, &c.mechanism)
            .and_then(|r| r.note.as_deref())
    };
    let reasons = |cs: &[Candidate]| -> String {
        cs.iter()
            .map(|c| c.why_not(note(c)))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let refusal = if let Some(why) = &req.unenforceable {
        Some(format!("no mechanism can enforce it: {why}"))
    } else if candidates.is_empty() {
        Some("no mechanism can enforce it".to_string())
    } else {
        match req.scope {
            Scope::Any => match candidates.iter().position(Candidate::usable) {
                Some(i) => {
                    candidates[i].chosen = true;
                    None
                }
                None => Some(format!(
                    "no proven mechanism on this machine: {}",
                    reasons(&candidates)
                )),
            },
            Scope::Each => {
                let missing_row: Vec<Candidate> = candidates
                    .iter()
                    .filter(|c| c.status.is_none())
                    .cloned()
                    .collect();
                let unproven: Vec<Candidate> = candidates
                    .iter()
                    .filter(|c| c.applies() && !c.usable())
                    .cloned()
                    .collect();
                if !missing_row.is_empty() {
                    Some(format!(
                        "every mechanism it may use needs a ledger row: {}",
                        reasons(&missing_row)
                    ))
                } else if !unproven.is_empty() {
                    Some(format!(
                        "a mechanism that applies on this machine is not proven: {}",
                        reasons(&unproven)
                    ))
                } else if !candidates.iter().any(Candidate::applies) {
                    Some(format!(
                        "no mechanism applies on this machine: {}",
                        reasons(&candidates)
                    ))
                } else {
                    for c in candidates.iter_mut().filter(|c| c.applies()) {
                        c.chosen = true;
                    }
                    None
                }
            }
        }
    };
    Decision {
        requirement: req.clone(),
        candidates,
        refusal,
    }
}

/// Admit every requirement with a proven mechanism this profile supports, or refuse the whole
/// container. Pure: the caller probes the profile and loads the ledger.
pub fn plan(
    reqs: &[Requirement],
    ledger: &Ledger,
    profile: &Profile,
) -> Result<BoundaryPlan, Refusal> {
    let decisions = evaluate(reqs, ledger, profile);
    let refused: Vec<Refused> = decisions
        .iter()
        .filter_map(|d| {
            d.refusal.as_ref().map(|reason| Refused {
                field: d.requirement.field.clone(),
                kind: d.requirement.kind.clone(),
                reason: reason.clone(),
            })
        })
        .collect();
    if !refused.is_empty() {
        return Err(Refusal::Requirements(refused));
    }
    Ok(BoundaryPlan {
        requirements: decisions
            .into_iter()
            .map(|d| Admitted {
                kind: d.requirement.kind,
                field: d.requirement.field,
                detail: d.requirement.detail,
                mechanisms: d
                    .candidates
                    .iter()
                    .filter(|c| c.chosen)
                    .map(Candidate::chosen)
                    .collect(),
            })
            .collect(),
        ..BoundaryPlan::default()
    })
}

#[cfg(test)]
mod tests;
