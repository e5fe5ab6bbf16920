//! Which fault each connection gets: one for all, a schedule, a random mix, or a schedule
//! then another plan.

use std::collections::VecDeque;
use std::time::Duration;

use crate::Rng;

/// A direction of traffic through the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client to server (requests).
    Upstream,
    /// Server to client (responses).
    Downstream,
}

/// What the proxy does to one TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward faithfully in both directions.
    Pass,
    /// After `after` bytes in `dir`, close both sides cleanly (FIN).
    Cut {
        /// The direction whose bytes are counted.
        dir: Direction,
        /// How many bytes pass before the cut.
        after: usize,
    },
    /// After `after` bytes in `dir`, abort both sides with a reset (RST, `SO_LINGER` 0).
    Reset {
        /// The direction whose bytes are counted.
        dir: Direction,
        /// How many bytes pass before the reset.
        after: usize,
    },
    /// After `after` bytes in `dir`, stop forwarding in both directions for `for_`, then close
    /// both sides cleanly.
    Stall {
        /// The direction whose bytes are counted.
        dir: Direction,
        /// How many bytes pass before the stall.
        after: usize,
        /// How long the connection hangs before it is closed.
        for_: Duration,
    },
    /// Forward requests fully, but only `after` bytes of the responses (counted over the whole
    /// connection), then close both sides cleanly.
    Truncate {
        /// How many response bytes pass.
        after: usize,
    },
    /// Accept the connection and close it at once, without contacting the target.
    Refuse,
}

impl Fault {
    /// The direction and offset at which this fault fires, if it fires on traffic.
    pub(super) fn trigger(&self) -> Option<(Direction, usize)> {
        match *self {
            Fault::Pass | Fault::Refuse => None,
            Fault::Cut { dir, after } | Fault::Reset { dir, after } => Some((dir, after)),
            Fault::Stall { dir, after, .. } => Some((dir, after)),
            Fault::Truncate { after } => Some((Direction::Downstream, after)),
        }
    }
}

/// Which fault each new connection gets.
#[derive(Debug, Clone)]
pub struct FaultPlan {
    kind: PlanKind,
}

#[derive(Debug, Clone)]
enum PlanKind {
    Pass,
    Always(Fault),
    Random {
        rng: Rng,
        fault_rate: f64,
        max_offset: usize,
        stall: Duration,
    },
    Schedule(VecDeque<Fault>),
    /// The listed faults, then the plan.
    Then(VecDeque<Fault>, Box<FaultPlan>),
}

impl FaultPlan {
    /// Never fault: every connection gets [`Fault::Pass`].
    pub fn pass() -> FaultPlan {
        FaultPlan {
            kind: PlanKind::Pass,
        }
    }

    /// Every connection gets `f`.
    pub fn always(f: Fault) -> FaultPlan {
        FaultPlan {
            kind: PlanKind::Always(f),
        }
    }

    /// Each new connection is faulted with probability `fault_rate`: the fault kind (cut, reset,
    /// stall, truncate, refuse) and direction are chosen uniformly, the byte offset uniformly in
    /// `0..max_offset` (0 if `max_offset` is 0), and stalls last `stall`. The same seed gives the
    /// same sequence of faults (SplitMix64, see [`crate::Rng`]).
    pub fn random(seed: u64, fault_rate: f64, max_offset: usize, stall: Duration) -> FaultPlan {
        FaultPlan {
            kind: PlanKind::Random {
                rng: Rng::new(seed),
                fault_rate,
                max_offset,
                stall,
            },
        }
    }

    /// Connection `i` gets `faults[i]`; connections after the end of the list get
    /// [`Fault::Pass`].
    pub fn schedule(faults: Vec<Fault>) -> FaultPlan {
        FaultPlan {
            kind: PlanKind::Schedule(faults.into()),
        }
    }

    /// Connection `i` gets `faults[i]`; connections after the end of the list follow `rest`.
    pub fn schedule_then(faults: Vec<Fault>, rest: FaultPlan) -> FaultPlan {
        FaultPlan {
            kind: PlanKind::Then(faults.into(), Box::new(rest)),
        }
    }

    /// The faults the next `n` connections would get under this plan, without consuming them.
    pub fn preview(&self, n: usize) -> Vec<Fault> {
        let mut plan = self.clone();
        (0..n).map(|_| plan.next_fault()).collect()
    }

    /// The fault for the next connection.
    pub(super) fn next_fault(&mut self) -> Fault {
        match &mut self.kind {
            PlanKind::Pass => Fault::Pass,
            PlanKind::Always(f) => *f,
            PlanKind::Schedule(faults) => faults.pop_front().unwrap_or(Fault::Pass),
            PlanKind::Then(faults, rest) => match faults.pop_front() {
                Some(f) => f,
                None => rest.next_fault(),
            },
            PlanKind::Random {
                rng,
                fault_rate,
                max_offset,
                stall,
            } => {
                // 53 random bits as a uniform number in [0, 1).
                let roll = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                if roll >= *fault_rate {
                    return Fault::Pass;
                }
                let kind = rng.below(5);
                let dir = if rng.below(2) == 0 {
                    Direction::Upstream
                } else {
                    Direction::Downstream
                };
                let after = rng.below(*max_offset as u64) as usize;
                match kind {
                    0 => Fault::Cut { dir, after },
                    1 => Fault::Reset { dir, after },
                    2 => Fault::Stall {
                        dir,
                        after,
                        for_: *stall,
                    },
                    3 => Fault::Truncate { after },
                    _ => Fault::Refuse,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_then_another_plan() {
        let then = Fault::Truncate { after: 3 };
        let plan = FaultPlan::schedule_then(vec![Fault::Refuse], FaultPlan::always(then));
        assert_eq!(plan.preview(3), vec![Fault::Refuse, then, then]);
    }
}
