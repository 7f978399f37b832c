//! The random nemesis a scenario asks for (`[faults.nemesis]`) and the swarm's draw of a
//! seed's fault plan from it: which kinds are on and how often they strike, then the events,
//! with the controllers a disk loss may strike.

use super::{trigger, Fault, FaultKind, TimedFault};
use crate::seed::{self, Stream};
use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// The random nemesis of a scenario: which kinds it may use and how often faults strike.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NemesisSpec {
    pub kinds: Vec<FaultKind>,
    /// Mean time between faults, before the swarm scales it per seed.
    #[serde(default = "default_interval")]
    pub mean_interval_ms: u64,
    /// Swarm testing: each seed turns each listed kind on with probability 1/2 (at least
    /// one stays on) and scales the rate by 0.5x..2x. Off: every listed kind, every seed.
    #[serde(default = "yes")]
    pub swarm: bool,
    /// The share (0..=100 %) of drawn faults that strike on an event instead of at their
    /// time: right after the fault's node appends, truncates, becomes leader or follower,
    /// commits, or sends or receives a produce or replica fetch, the 1st to 3rd time once
    /// armed at the drawn time (drawn from their own stream: the faults stay the same).
    #[serde(default)]
    pub triggered_percent: u32,
}

fn default_interval() -> u64 {
    3_000
}

fn yes() -> bool {
    true
}

/// Which controllers the nemesis may replace the disk of. A voter on a new disk never
/// votes again, so at most `max_nodes` distinct ones (a minority of the voters) lose
/// theirs in a run, `scripted` (those the scenario's own events replace) included.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiskLossTargets {
    pub controllers: Vec<String>,
    pub max_nodes: usize,
    pub scripted: BTreeSet<String>,
}

impl DiskLossTargets {
    /// The controllers one more disk loss may strike, given those struck already.
    fn eligible(&self, struck: &BTreeSet<String>) -> Vec<String> {
        if struck.len() < self.max_nodes {
            self.controllers.clone()
        } else {
            struck.iter().cloned().collect()
        }
    }
}

/// How many distinct controllers of a quorum of `voters` may lose their disk in a run: a
/// voter on a new disk never votes again (voter changes are not modelled), and a majority
/// of them could never elect a leader.
pub fn max_disk_losses(voters: u32) -> usize {
    (voters as usize).saturating_sub(1) / 2
}

/// Why a scenario's disk losses cannot run (the field and the reason), if they cannot:
/// `scripted` names the controllers its events replace the disk of, and `drawn` says
/// whether its nemesis may draw more.
pub fn disk_loss_problem(
    voters: u32,
    scripted: &BTreeSet<String>,
    drawn: bool,
) -> Option<(&'static str, String)> {
    let max = max_disk_losses(voters);
    let too_small = format!(
        "disk loss needs a controller quorum of 3 or more voters (a minority of them may lose \
         their disk), got controller.voters = {voters}"
    );
    if max == 0 && !scripted.is_empty() {
        return Some(("faults.events", too_small));
    }
    if scripted.len() > max {
        let names: Vec<&str> = scripted.iter().map(String::as_str).collect();
        let reason = format!(
            "{} controllers lose their disk ({}), but a quorum of {voters} voters keeps a \
             majority on their original disks only if at most {max} do",
            scripted.len(),
            names.join(", ")
        );
        return Some(("faults.events", reason));
    }
    (max == 0 && drawn).then_some(("faults.nemesis.kinds", too_small))
}

/// What the swarm drew for one seed: printed at the start of a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SwarmDraw {
    pub kinds: Vec<FaultKind>,
    pub mean_interval_ms: u64,
}

impl fmt::Display for SwarmDraw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kinds: Vec<String> = self
            .kinds
            .iter()
            .map(|k| {
                serde_json::to_value(k)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default()
            })
            .collect();
        write!(
            f,
            "swarm: kinds=[{}] mean_interval_ms={}",
            kinds.join(","),
            self.mean_interval_ms
        )
    }
}

impl NemesisSpec {
    /// Draws this seed's swarm options and its fault events in `[0, until_ms)`.
    /// `brokers` and `clients` name the nodes faults may strike; `disk_loss` the
    /// controllers a disk loss may.
    pub fn draw(
        &self,
        seed: u64,
        until_ms: u64,
        brokers: &[String],
        clients: &[String],
        disk_loss: &DiskLossTargets,
    ) -> (SwarmDraw, Vec<TimedFault>) {
        let mut swarm_rng = seed::stream(seed, Stream::Swarm);
        let mut kinds: Vec<FaultKind> = self.kinds.clone();
        kinds.sort();
        kinds.dedup();
        let mut interval = self.mean_interval_ms.max(1);
        if self.swarm && !kinds.is_empty() {
            let keep: Vec<FaultKind> = kinds
                .iter()
                .copied()
                .filter(|_| swarm_rng.gen_bool(0.5))
                .collect();
            kinds = if keep.is_empty() {
                vec![*kinds.choose(&mut swarm_rng).expect("non-empty")]
            } else {
                keep
            };
            interval = (interval as f64 * swarm_rng.gen_range(0.5..2.0)) as u64;
        }
        let draw = SwarmDraw {
            kinds: kinds.clone(),
            mean_interval_ms: interval,
        };
        let mut events = Vec::new();
        if kinds.is_empty() || brokers.is_empty() {
            return (draw, events);
        }
        let mut rng = seed::stream(seed, Stream::Faults);
        let mut trigger_rng = seed::stream(seed, Stream::Triggers);
        let all: Vec<String> = brokers.iter().chain(clients).cloned().collect();
        let mut disks_lost = disk_loss.scripted.clone();
        let mut at_ms = 0u64;
        loop {
            at_ms += rng.gen_range(interval / 2..=interval * 3 / 2).max(1);
            if at_ms >= until_ms {
                break;
            }
            let kind = *kinds.choose(&mut rng).expect("non-empty");
            let broker = brokers.choose(&mut rng).expect("non-empty").clone();
            let duration_ms = rng.gen_range(500..=interval.max(1_000) * 2);
            let fault = match kind {
                FaultKind::Crash => Fault::Crash {
                    node: broker,
                    restart_after_ms: duration_ms,
                },
                FaultKind::PowerLoss => Fault::PowerLoss {
                    node: broker,
                    restart_after_ms: duration_ms,
                },
                FaultKind::Pause => Fault::Pause {
                    node: broker,
                    duration_ms,
                },
                FaultKind::Partition => {
                    let mut shuffled = all.clone();
                    shuffled.shuffle(&mut rng);
                    let cut = rng.gen_range(1..shuffled.len().max(2));
                    let (a, b) = shuffled.split_at(cut.min(shuffled.len()));
                    Fault::Partition {
                        groups: vec![a.to_vec(), b.to_vec()],
                        duration_ms,
                    }
                }
                FaultKind::PartitionOneWay => {
                    let other = all.choose(&mut rng).expect("non-empty").clone();
                    Fault::PartitionOneWay {
                        from: vec![broker],
                        to: vec![other],
                        duration_ms,
                    }
                }
                FaultKind::Loss => Fault::Loss {
                    from: vec![broker],
                    to: all.clone(),
                    rate: rng.gen_range(0.05..0.5),
                    duration_ms,
                },
                FaultKind::Delay => Fault::Delay {
                    from: vec![broker],
                    to: all.clone(),
                    delay_ms: rng.gen_range(10..500),
                    jitter_ms: rng.gen_range(0..200),
                    duration_ms,
                },
                FaultKind::Clog => Fault::Clog {
                    node: broker,
                    duration_ms,
                },
                FaultKind::ClockJump => Fault::ClockJump {
                    node: broker,
                    by_ms: rng.gen_range(-60_000..60_000),
                },
                FaultKind::ClockDrift => Fault::ClockDrift {
                    node: broker,
                    ppm: rng.gen_range(-200_000..200_000),
                },
                FaultKind::DiskCorrupt => Fault::DiskCorrupt {
                    node: broker,
                    restart_after_ms: duration_ms,
                },
                FaultKind::MisdirectedWrite => Fault::MisdirectedWrite {
                    node: broker,
                    restart_after_ms: duration_ms,
                },
                FaultKind::FsyncFail => Fault::FsyncFail {
                    node: broker,
                    restart_after_ms: duration_ms,
                },
                FaultKind::ConnectionReset => Fault::ConnectionReset {
                    from: vec![broker],
                    to: all.clone(),
                },
                FaultKind::DiskLoss => {
                    let Some(node) = disk_loss.eligible(&disks_lost).choose(&mut rng).cloned()
                    else {
                        continue;
                    };
                    disks_lost.insert(node.clone());
                    Fault::DiskLoss {
                        node,
                        restart_after_ms: duration_ms,
                    }
                }
            };
            let on = (self.triggered_percent > 0)
                .then(|| trigger::draw(&mut trigger_rng, &fault, self.triggered_percent))
                .flatten();
            events.push(TimedFault { on, at_ms, fault });
        }
        (draw, events)
    }
}
