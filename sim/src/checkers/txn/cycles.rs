//! g0 and g1c: cycles among committed transactions, in Elle's way (Adya's dependency
//! graph), as Jepsen's Kafka workload builds it (jepsen.tests.kafka).
//!
//! Nodes are committed transactions. A ww edge T1 -> T2: in some partition T2's write is
//! the next committed transaction's write after T1's in offset order (adjacent committed
//! writes, different writers). A wr edge T1 -> T2: T2 polled a value T1 wrote. g0 is a
//! cycle of ww edges only (T1 before T2 in one partition, after it in another); g1c a
//! cycle with at least one wr edge. Found by Tarjan's strongly connected components, then
//! one cycle per component (a breadth-first path back), reported with its edges.
//!
//! Kafka does not order transactions of different transactional ids: their records
//! interleave in each partition (read_committed is no database isolation level, as its
//! maintainers answered "Jepsen: Bufstream 0.1.0"), so such cycles are allowed. One
//! transactional id's transactions run one at a time (a new epoch fences the old), so
//! each one's writes and reads all come after the previous one's: a cycle among them
//! alone is a violation.

use super::super::view::{name, Partition};
use super::super::{Anomaly, AnomalyKind, Verdict};
use super::index::{Outcome, TxnIndex, Writer};
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// A dependency: the partition it is on and the value that makes it (the later write, or
/// the value read).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Dependency<'a> {
    read: bool,
    partition: Partition<'a>,
    value: u64,
}

type Graph<'a> = DiGraph<usize, Dependency<'a>>;

/// The edges between committed transactions, as (from, to, dependency), deduplicated.
fn dependencies<'a>(index: &TxnIndex<'a>) -> BTreeSet<(usize, usize, Dependency<'a>)> {
    let committed = |writer: Writer| match writer {
        Writer::Txn(id) if index.txns[id].outcome == Outcome::Committed => Some(id),
        _ => None,
    };
    let mut edges = BTreeSet::new();
    let mut per_partition: BTreeMap<Partition<'_>, Vec<(u64, usize, u64)>> = BTreeMap::new();
    for write in &index.writes {
        if let Some(id) = committed(write.writer) {
            let log = per_partition.entry(write.partition).or_default();
            log.push((write.offset, id, write.value));
        }
    }
    for (partition, mut log) in per_partition {
        log.sort();
        for pair in log.windows(2) {
            let ((_, from, _), (_, to, value)) = (pair[0], pair[1]);
            if from != to {
                let read = false;
                edges.insert((
                    from,
                    to,
                    Dependency {
                        read,
                        partition,
                        value,
                    },
                ));
            }
        }
    }
    for read in &index.reads {
        let Some(reader) = read
            .txn
            .filter(|r| index.txns[*r].outcome == Outcome::Committed)
        else {
            continue;
        };
        let writer = index.writer_of.get(&read.value).and_then(|w| committed(*w));
        if let Some(writer) = writer.filter(|w| *w != reader) {
            let (partition, value) = (read.partition, read.value);
            let read = true;
            edges.insert((
                writer,
                reader,
                Dependency {
                    read,
                    partition,
                    value,
                },
            ));
        }
    }
    edges
}

fn graph<'a>(edges: &BTreeSet<(usize, usize, Dependency<'a>)>, with_reads: bool) -> Graph<'a> {
    let mut graph = Graph::default();
    let mut nodes: BTreeMap<usize, NodeIndex> = BTreeMap::new();
    for (from, to, dependency) in edges {
        if dependency.read && !with_reads {
            continue;
        }
        let from = *nodes.entry(*from).or_insert_with(|| graph.add_node(*from));
        let to = *nodes.entry(*to).or_insert_with(|| graph.add_node(*to));
        graph.add_edge(from, to, *dependency);
    }
    graph
}

/// The shortest path of one or more edges from `start` to `goal` (`start` itself: a
/// cycle) inside `component`, breadth first.
fn path(
    graph: &Graph<'_>,
    component: &BTreeSet<NodeIndex>,
    start: NodeIndex,
    goal: NodeIndex,
) -> Option<Vec<EdgeIndex>> {
    let mut came_by: BTreeMap<NodeIndex, EdgeIndex> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for edge in graph.edges(node) {
            let next = edge.target();
            if !component.contains(&next) || came_by.contains_key(&next) {
                continue;
            }
            came_by.insert(next, edge.id());
            if next == goal {
                // Back along the breadth-first tree, whose every branch starts at `start`.
                let mut edges = Vec::new();
                let mut at = goal;
                loop {
                    let edge = came_by[&at];
                    edges.push(edge);
                    at = graph.edge_endpoints(edge)?.0;
                    if at == start {
                        edges.reverse();
                        return Some(edges);
                    }
                }
            }
            queue.push_back(next);
        }
    }
    None
}

/// One cycle per strongly connected component: for g1c, through one of its wr edges.
fn cycles(graph: &Graph<'_>, through_read: bool) -> Vec<Vec<EdgeIndex>> {
    let mut found = Vec::new();
    for component in tarjan_scc(graph) {
        if component.len() < 2 {
            continue;
        }
        let members: BTreeSet<NodeIndex> = component.iter().copied().collect();
        let inside = graph.edge_indices().filter(|e| {
            let (from, to) = graph.edge_endpoints(*e).expect("an edge of the graph");
            members.contains(&from) && members.contains(&to)
        });
        let cycle = if through_read {
            let Some(read) = inside.into_iter().find(|e| graph[*e].read) else {
                continue;
            };
            let (from, to) = graph.edge_endpoints(read).expect("an edge of the graph");
            path(graph, &members, to, from).map(|back| [vec![read], back].concat())
        } else {
            let start = *members.iter().next().expect("two members");
            path(graph, &members, start, start)
        };
        found.extend(cycle);
    }
    found
}

pub fn check(index: &TxnIndex<'_>) -> Vec<Anomaly> {
    let edges = dependencies(index);
    let mut anomalies = Vec::new();
    for (kind, with_reads) in [(AnomalyKind::G0, false), (AnomalyKind::G1c, true)] {
        let graph = graph(&edges, with_reads);
        for cycle in cycles(&graph, with_reads) {
            let txns: Vec<usize> = cycle
                .iter()
                .map(|e| graph[graph.edge_endpoints(*e).expect("an edge").0])
                .collect();
            let mut detail = index.txns[txns[0]].name();
            for edge in &cycle {
                let dependency = graph[*edge];
                let to = graph[graph.edge_endpoints(*edge).expect("an edge").1];
                let how = if dependency.read { "wr" } else { "ww" };
                let on = name(&dependency.partition);
                let value = dependency.value;
                detail.push_str(&format!(" -{how} {on} {value}-> {}", index.txns[to].name()));
            }
            let ids: BTreeSet<&str> = txns
                .iter()
                .map(|t| index.txns[*t].transactional_id)
                .collect();
            let verdict = if ids.len() == 1 {
                (
                    Verdict::Violation,
                    "one transactional id's transactions run one at a time: they cannot form a cycle",
                )
            } else {
                (
                    Verdict::Allowed,
                    "Kafka does not order transactions of different transactional ids",
                )
            };
            let at = txns
                .iter()
                .map(|t| index.txns[*t].index)
                .max()
                .unwrap_or_default();
            let values = cycle.iter().map(|e| graph[*e].value).collect();
            anomalies.push(Anomaly::new(kind, verdict, detail, values, at));
        }
    }
    anomalies
}

#[cfg(test)]
mod tests {
    use super::super::build::*;
    use super::*;
    use crate::history::{History, OpType};

    fn found(h: &History) -> Vec<Anomaly> {
        check(&TxnIndex::of(h))
    }

    /// T1 and T2 write partitions 0 and 1; T1 first on 0, T2 first on 1 when `crossed`.
    fn write_cycle(t2: &str, crossed: bool) -> History {
        let mut h = History::default();
        let (t1_on_1, t2_on_1) = if crossed { (1, 0) } else { (0, 1) };
        txn(
            &mut h,
            ("p1", "tx-1", 0),
            OpType::Ok,
            vec![send(1, 0, 0), send(2, 1, t1_on_1)],
        );
        txn(
            &mut h,
            ("p2", t2, 0),
            OpType::Ok,
            vec![send(3, 0, 1), send(4, 1, t2_on_1)],
        );
        h
    }

    #[test]
    fn a_ww_cycle_is_g0_allowed_across_transactional_ids() {
        let found = found(&write_cycle("tx-2", true));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].kind, found[0].verdict),
            (AnomalyKind::G0, Verdict::Allowed)
        );
        assert_eq!(
            found[0].detail,
            "tx-1 epoch 0 (index 1) -ww t/0 3-> tx-2 epoch 0 (index 3) -ww t/1 2-> tx-1 epoch 0 (index 1)"
        );
    }

    #[test]
    fn a_ww_cycle_within_one_transactional_id_is_a_violation() {
        let found = found(&write_cycle("tx-1", true));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].verdict, Verdict::Violation);
    }

    #[test]
    fn writes_in_one_order_everywhere_make_no_cycle() {
        assert_eq!(found(&write_cycle("tx-1", false)), vec![]);
    }

    /// T2 writes 2 at t/0 offset 0 and polls T1's 5 at t/1; T1 writes 1 after it at t/0.
    fn read_cycle(t2_reads_t1: bool, t1_committed: OpType) -> History {
        let mut h = History::default();
        let polled = if t2_reads_t1 {
            vec![poll(&[(1, 0, 5)], RC)]
        } else {
            vec![]
        };
        let t2 = [vec![send(2, 0, 0)], polled].concat();
        txn(&mut h, ("p2", "tx-2", 0), OpType::Ok, t2);
        txn(
            &mut h,
            ("p1", "tx-1", 0),
            t1_committed,
            vec![send(5, 1, 0), send(1, 0, 1)],
        );
        h
    }

    #[test]
    fn a_cycle_through_a_read_is_g1c() {
        let found = found(&read_cycle(true, OpType::Ok));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].kind, found[0].verdict),
            (AnomalyKind::G1c, Verdict::Allowed)
        );
        assert!(
            found[0].detail.contains("-wr t/1 5->"),
            "{}",
            found[0].detail
        );
        assert!(
            found[0].detail.contains("-ww t/0 1->"),
            "{}",
            found[0].detail
        );
    }

    #[test]
    fn no_read_or_an_unknown_writer_breaks_the_cycle() {
        assert_eq!(found(&read_cycle(false, OpType::Ok)), vec![]);
        assert_eq!(found(&read_cycle(true, OpType::Info)), vec![]);
    }
}
