//! Bad scenario files are refused with one line naming the file, the field and the reason,
//! never a panic: each bad input issue 18 found, next to the nearest input that is fine;
//! then a fuzz test over 10,000 mutated built-in scenario files.

use kafka_sim::registry;
use kafka_sim::runner::{run, RunOptions};
use kafka_sim::scenario::{to_minimal_toml, Scenario, ScenarioError};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

const FILE: &str = "bad.toml";

/// The error `text` is refused with, as one line; panics if it is accepted.
fn refusal(text: &str) -> String {
    match Scenario::from_toml(text, FILE) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(error) => error.to_string(),
    }
}

fn assert_refused(text: &str, field: &str, reason: &str) {
    let error = refusal(text);
    assert!(!error.contains('\n'), "one line: {error}");
    assert!(
        error.starts_with(&format!("{FILE}: ")),
        "names the file: {error}"
    );
    assert!(
        error.contains(&format!("`{field}`")),
        "names `{field}`: {error}"
    );
    assert!(error.contains(reason), "says `{reason}`: {error}");
}

fn assert_accepted(text: &str) {
    if let Err(error) = Scenario::from_toml(text, FILE) {
        panic!("refused: {error}\n{text}");
    }
}

/// A scripted fault event of the default cluster (b1..b3, one controller, producer-1,
/// consumer-1) at 1 s.
fn event(fields: &str) -> String {
    format!("[[faults.events]]\nat_ms = 1000\n{fields}\n")
}

#[test]
fn records_past_what_values_and_memory_allow_are_refused() {
    // 10^11 records aborted the process on a failed allocation.
    assert_refused(
        "[workload]\nrecords = 100000000000\n",
        "workload.records",
        "at most 1000000 per producer",
    );
    // Producer 1's values start at 1,000,001: a million records each is the most.
    assert_accepted("producers = 2\n[workload]\nrecords = 1000000\n");
    assert_refused(
        "[workload]\nrecords = 1000001\n",
        "workload.records",
        "values are producer * 1000000",
    );
    assert_refused(
        "producers = 3\n[workload]\nrecords = 1000000\n",
        "workload.records",
        "at most 2000000 records in a run",
    );
    // TOML's 1e11 is a float, refused as the wrong type on its line.
    assert_refused(
        "[workload]\nrecords = 1e11\n",
        "workload.records",
        "expected u64",
    );
}

#[test]
fn settings_kafkas_clients_refuse_are_refused() {
    assert_refused(
        "[consumer]\nmax_poll_records = 0\n",
        "consumer.max_poll_records = 0",
        "max.poll.records must be at least 1",
    );
    assert_accepted("[consumer]\nmax_poll_records = 1\n");
}

#[test]
fn a_partition_must_have_two_disjoint_sides() {
    let partition = |groups: &str| {
        event(&format!(
            "kind = \"partition\"\nduration_ms = 500\ngroups = {groups}"
        ))
    };
    assert_refused(
        &partition("[[\"b1\", \"b2\"], [\"b2\", \"b3\"]]"),
        "faults.events[0].groups",
        "`b2` is in two groups",
    );
    assert_refused(
        &partition("[[\"b1\", \"b2\"]]"),
        "faults.events[0].groups",
        "at least two non-empty groups",
    );
    assert_refused(
        &partition("[[\"b1\"], []]"),
        "faults.events[0].groups",
        "at least two non-empty groups",
    );
    // `controller` is the whole quorum: with controller-1 on the other side, it overlaps.
    assert_refused(
        &format!(
            "[controller]\nvoters = 3\n{}",
            partition("[[\"controller\"], [\"controller-1\", \"b1\"]]")
        ),
        "faults.events[0].groups",
        "`controller-1` is in two groups",
    );
    assert_accepted(&partition("[[\"b1\"], [\"b2\", \"b3\", \"controller\"]]"));
}

#[test]
fn two_topics_of_one_name_are_refused() {
    let topics = |second: &str| {
        format!(
            "[[topics]]\nname = \"tasks\"\npartitions = 1\n[[topics]]\nname = \"{second}\"\npartitions = 2\n"
        )
    };
    assert_refused(&topics("tasks"), "topics[1].name", "`tasks` is used twice");
    assert_accepted(&topics("other"));
}

#[test]
fn clocks_the_harness_cannot_represent_are_refused() {
    let jump = |by_ms: i64| {
        event(&format!(
            "kind = \"clock-jump\"\nnode = \"b1\"\nby_ms = {by_ms}"
        ))
    };
    assert_refused(
        &jump(i64::MIN),
        "faults.events[0].by_ms",
        "within ±864000000 ms",
    );
    assert_refused(
        &jump(864_000_001),
        "faults.events[0].by_ms",
        "within ±864000000 ms",
    );
    assert_refused(&jump(0), "faults.events[0].by_ms", "non-zero");
    assert_accepted(&jump(-864_000_000));
    let drift = |ppm: i64| {
        event(&format!(
            "kind = \"clock-drift\"\nnode = \"b1\"\nppm = {ppm}"
        ))
    };
    assert_refused(
        &drift(100_000_000_000),
        "faults.events[0].ppm",
        "twice as fast",
    );
    assert_refused(
        &drift(-1_000_000),
        "faults.events[0].ppm",
        "a stopped clock",
    );
    assert_accepted(&drift(1_000_000));
    assert_accepted(&drift(-999_999));
    assert_refused(
        "[faults]\nclock_skew_ms = 86400001\n",
        "faults.clock_skew_ms",
        "(a day)",
    );
    assert_accepted("[faults]\nclock_skew_ms = 86400000\n");
}

#[test]
fn faults_that_do_nothing_or_outlast_any_run_are_refused() {
    assert_refused(
        &event("kind = \"pause\"\nnode = \"b1\"\nduration_ms = 0"),
        "faults.events[0].duration_ms",
        "a fault of 0 ms does nothing",
    );
    assert_refused(
        &event("kind = \"crash\"\nnode = \"b1\"\nrestart_after_ms = 3000000000000"),
        "faults.events[0].restart_after_ms",
        "longer than a run",
    );
    assert_refused(
        &event("kind = \"loss\"\nfrom = []\nto = [\"b1\"]\nrate = 0.5\nduration_ms = 100"),
        "faults.events[0].from",
        "names no node",
    );
    assert_refused(
        &event("kind = \"delay\"\nfrom = [\"b1\"]\nto = [\"b2\"]\ndelay_ms = 0\nduration_ms = 100"),
        "faults.events[0].delay_ms",
        "does nothing",
    );
    assert_accepted(&event(
        "kind = \"crash\"\nnode = \"b1\"\nrestart_after_ms = 0",
    ));
}

#[test]
fn a_run_too_long_blames_the_field_that_is_too_long() {
    assert_refused(
        "liveness_ms = 1000000000000\n",
        "liveness_ms",
        "at most 30 simulated days",
    );
    assert_refused(
        "fault_phase_ms = 1000000000000\n",
        "fault_phase_ms",
        "at most 30 simulated days",
    );
    // Each fits, their sum does not: the liveness phase is what runs past the end.
    assert_refused(
        "fault_phase_ms = 2000000000\nliveness_ms = 2000000000\n",
        "liveness_ms",
        "fault_phase_ms + liveness_ms = 4000000000 ms",
    );
    assert_refused(
        "liveness_ms = 18446744073709551615\n",
        "liveness_ms",
        "number too large",
    );
}

#[test]
fn the_node_list_of_an_unknown_node_names_each_node_once() {
    let error = refusal(&event(
        "kind = \"crash\"\nnode = \"b9\"\nrestart_after_ms = 5",
    ));
    assert!(
        error.contains("unknown node `b9` (nodes: b1, b2, b3, controller, producer-1, consumer-1;"),
        "{error}"
    );
}

#[test]
fn node_aliases_that_name_no_possible_node_are_refused() {
    let crash = |node: &str| {
        event(&format!(
            "kind = \"crash\"\nnode = \"{node}\"\nrestart_after_ms = 5"
        ))
    };
    let field = "faults.events[0]";
    assert_refused(
        &crash("leader tasks-0"),
        field,
        "is not a node alias: write `leader of",
    );
    assert_refused(&crash("leader of tasks"), field, "is not a node alias");
    assert_refused(&crash("active controllers"), field, "is not a node alias");
    assert_refused(
        &crash("leader of jobs-0"),
        field,
        "no topic `jobs` (topics: tasks)",
    );
    assert_refused(
        &crash("leader of tasks-3"),
        field,
        "topic `tasks` has partitions 0..=2",
    );
    // The default topic has one replica: a partition has a leader and no follower.
    assert_refused(&crash("follower of tasks-0"), field, "replication factor 1");
    assert_refused(
        &crash("active controller"),
        field,
        "no quorum to lead with controller.voters = 1",
    );
    let rf3 = "[[topics]]\nname = \"tasks\"\npartitions = 3\nreplication_factor = 3\n";
    assert_accepted(&format!("{rf3}{}", crash("follower of tasks-2")));
    assert_accepted(&format!("{rf3}{}", crash("leader of tasks-0")));
    let quorum = "[controller]\nvoters = 3\n";
    assert_accepted(&format!("{quorum}{}", crash("active controller")));
    // Disk loss is for controllers: a partition's leader is a broker.
    let disk_loss = |node: &str| {
        event(&format!(
            "kind = \"disk-loss\"\nnode = \"{node}\"\nrestart_after_ms = 5"
        ))
    };
    assert_refused(
        &format!("{quorum}{}", disk_loss("leader of tasks-0")),
        field,
        "disk loss is modelled for the controllers of a quorum only",
    );
    assert_accepted(&format!("{quorum}{}", disk_loss("active controller")));
    // Two disk losses of the active controller may strike two of three controllers.
    assert_refused(
        &format!(
            "{quorum}{}{}",
            disk_loss("active controller"),
            disk_loss("active controller")
        ),
        "faults.events",
        "keeps a majority on their original disks only if at most 1 do",
    );
    assert_refused(
        &format!(
            "{quorum}{}[faults.nemesis]\nkinds = [\"disk-loss\"]\n",
            disk_loss("active controller")
        ),
        field,
        "cannot go with a nemesis that draws disk losses",
    );
    // Storage faults strike a broker's log segments: a broker or a partition's replica.
    let storage = |kind: &str, node: &str| {
        event(&format!(
            "kind = \"{kind}\"\nnode = \"{node}\"\nrestart_after_ms = 5"
        ))
    };
    for kind in ["disk-corrupt", "misdirected-write", "fsync-fail"] {
        for node in ["controller", "producer-1"] {
            assert_refused(
                &storage(kind, node),
                field,
                "storage faults strike a broker's log segments",
            );
        }
        assert_refused(
            &format!("{quorum}{}", storage(kind, "active controller")),
            field,
            "storage faults strike a broker's log segments",
        );
        assert_accepted(&storage(kind, "b2"));
        assert_accepted(&format!("{rf3}{}", storage(kind, "follower of tasks-1")));
        assert_accepted(&format!(
            "[faults.nemesis]\nkinds = [\"crash\", \"{kind}\"]\n"
        ));
    }
    // In a network fault too, and a clock fault.
    assert_refused(
        &event(
            "kind = \"partition\"\ngroups = [[\"leader of tasks-7\"], [\"b1\"]]\nduration_ms = 5",
        ),
        field,
        "has partitions 0..=2",
    );
    assert_accepted(&event(
        "kind = \"partition\"\ngroups = [[\"leader of tasks-0\"], [\"b1\", \"b2\", \"b3\"]]\nduration_ms = 5",
    ));
    assert_refused(
        &event("kind = \"clock-jump\"\nnode = \"follower of tasks-0\"\nby_ms = 5"),
        field,
        "replication factor 1",
    );
}

#[test]
fn a_setting_that_does_nothing_is_refused() {
    assert_refused(
        "[broker.group]\noffsets_topic_partitions = 10\n",
        "broker.group.offsets_topic_partitions",
        "set the top-level offsets_topic_partitions",
    );
    assert_refused(
        "[controller]\nelection_timeout_ms = 0\n",
        "controller.election_timeout_ms",
        "must be positive",
    );
}

#[test]
fn network_settings_are_checked() {
    assert_refused(
        "[network]\ntransport = \"tcp\"\n",
        "network.transport",
        "unknown variant `tcp`",
    );
    assert_refused(
        "[network]\ntransport = \"connections\"\nreset_after_ms = 86400001\n",
        "network.reset_after_ms",
        "more than a day",
    );
    assert_refused(
        "[network]\nreset_after_ms = 5000\n",
        "network.reset_after_ms",
        "only connections reset",
    );
    let reset = event("kind = \"connection-reset\"\nfrom = [\"producer-1\"]\nto = [\"b1\"]");
    assert_refused(&reset, "faults.events[0].kind", "only connections reset");
    assert_accepted(&format!("[network]\ntransport = \"connections\"\n{reset}"));
    assert_refused(
        "[faults.nemesis]\nkinds = [\"connection-reset\"]\n",
        "faults.nemesis.kinds",
        "only connections reset",
    );
    // Over connections the request timeouts default to Kafka's; one set is kept.
    let text = "[network]\ntransport = \"connections\"\n[producer]\nrequest_timeout_ms = 7000\n";
    let scenario = Scenario::from_toml(text, FILE).unwrap();
    assert_eq!(scenario.producer.request_timeout_ms, 7_000);
    assert_eq!(scenario.consumer.request_timeout_ms, 30_000);
    assert_eq!(scenario.broker.inter_broker_request_timeout_ms, 30_000);
    let back = Scenario::from_toml(&scenario.to_minimal_toml(), FILE).unwrap();
    assert_eq!(back, scenario);
}

#[test]
fn a_broken_unclean_shutdown_detection_needs_eligible_leader_replicas() {
    // Without ELR no election reads it: the broken variant would change nothing.
    assert_refused(
        "[controller]\nunclean_shutdown_detection = false\n",
        "controller.unclean_shutdown_detection",
        "set controller.eligible_leader_replicas = true too",
    );
    assert_accepted(
        "[controller]\neligible_leader_replicas = true\nunclean_shutdown_detection = false\n",
    );
    assert_accepted("[controller]\neligible_leader_replicas = true\n");
    let error = refusal("[controller]\neligible_leader_replicas = \"yes\"\n");
    assert!(
        error.starts_with(&format!("{FILE}: ")) && error.contains("eligible_leader_replicas"),
        "a value that is not a boolean names the field: {error}"
    );
    // The harness copies min.insync.replicas into the controller's settings; the table
    // does not take it.
    let error = refusal("[controller]\nmin_insync_replicas = 2\n");
    assert!(
        error.contains("unknown field `min_insync_replicas`"),
        "{error}"
    );
}

// ---- the fuzz test ----

/// What the fuzz test asks of one file's fate: no panic; a refusal is one line naming the
/// file (and, for an invalid value, its field); an accepted file validates again.
fn judge(
    text: &str,
    fate: std::thread::Result<Result<Scenario, ScenarioError>>,
) -> Result<(), String> {
    match fate {
        Err(_) => Err(format!("panicked on:\n{text}")),
        Ok(Err(error)) => {
            let line = error.to_string();
            if line.contains('\n') || !line.starts_with(&format!("{FILE}: ")) {
                return Err(format!("not one line naming the file: {line:?}\n{text}"));
            }
            if let ScenarioError::Invalid { field, reason, .. } = &error {
                if field.is_empty() || reason.is_empty() {
                    return Err(format!("names no field or reason: {line}\n{text}"));
                }
            }
            Ok(())
        }
        Ok(Ok(scenario)) => scenario
            .validate(FILE)
            .map_err(|error| format!("accepted, then refused: {error}\n{text}")),
    }
}

#[test]
fn the_fuzz_oracle_fails_on_a_panic_and_on_a_two_line_error() {
    let panicked: std::thread::Result<Result<Scenario, ScenarioError>> =
        catch_unwind(|| panic!("a deliberate panic"));
    assert!(judge("x", panicked).unwrap_err().contains("panicked"));
    let two_lines = ScenarioError::Malformed {
        file: FILE.into(),
        reason: "first\nsecond".into(),
    };
    assert!(judge("x", Ok(Err(two_lines))).is_err());
    let elsewhere = ScenarioError::Malformed {
        file: "other.toml".into(),
        reason: "why".into(),
    };
    assert!(judge("x", Ok(Err(elsewhere))).is_err());
    let accepted_but_invalid = Scenario {
        brokers: 0,
        ..Scenario::default()
    };
    assert!(judge("x", Ok(Ok(accepted_but_invalid))).is_err());
    assert!(judge("x", Ok(Ok(Scenario::default()))).is_ok());
}

/// The files to mutate: every built-in in its minimal form and, for more lines to break,
/// the full form of a few.
fn corpus() -> &'static [String] {
    static FILES: OnceLock<Vec<String>> = OnceLock::new();
    FILES.get_or_init(|| {
        let builtins = registry::all();
        let mut files: Vec<String> = builtins.iter().map(to_minimal_toml).collect();
        files.extend(builtins.iter().step_by(7).map(Scenario::to_toml));
        // The examples spell the opt-in settings no built-in uses (storage faults,
        // answer_produce, eligible leader replicas, triggers drawn by the swarm).
        let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        let mut paths: Vec<_> = std::fs::read_dir(&examples)
            .expect("examples/ is readable")
            .map(|entry| entry.expect("an examples/ entry").path())
            .filter(|path| path.extension().is_some_and(|e| e == "toml"))
            .collect();
        paths.sort();
        files.extend(
            paths
                .iter()
                .map(|p| std::fs::read_to_string(p).expect("an example")),
        );
        files
    })
}

/// Values a mutation writes in place of a number or a whole value.
const EXTREMES: &[&str] = &[
    "0",
    "-1",
    "1",
    "2",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    "1e11",
    "1e300",
    "-0.0",
    "nan",
    "inf",
    "100000000000",
    "999999",
    "1000001",
];
const WRONG_TYPES: &[&str] = &[
    "\"text\"",
    "true",
    "[1, 2]",
    "{ a = 1 }",
    "1.5",
    "[]",
    "\"all\"",
    "[[1]]",
    "1979-05-27",
];
const STRAY_LINES: &[&str] = &[
    "[[faults.events]]",
    "[broker]",
    "[[topics]]",
    "[[groups]]",
    "[expect]",
    "x = 1",
    "kind = \"crash\"",
    "node = \"b1\"",
    "node = \"leader of tasks-0\"",
    "node = \"follower of tasks-9\"",
    "node = \"active controller\"",
    "at_ms = 0",
    "name = \"tasks\"",
    "[faults.nemesis]",
    "kinds = [\"crash\", \"disk-loss\"]",
    "voters = 9",
    "=",
    "[",
    "\"",
];

#[derive(Clone, Debug)]
enum Mutation {
    Delete(usize),
    Duplicate(usize),
    Swap(usize, usize),
    Number(usize, usize),
    WrongType(usize, usize),
    Insert(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = any::<usize>();
    prop_oneof![
        at.prop_map(Mutation::Delete),
        at.prop_map(Mutation::Duplicate),
        (at, at).prop_map(|(a, b)| Mutation::Swap(a, b)),
        (at, 0..EXTREMES.len()).prop_map(|(a, v)| Mutation::Number(a, v)),
        (at, 0..WRONG_TYPES.len()).prop_map(|(a, v)| Mutation::WrongType(a, v)),
        (at, 0..STRAY_LINES.len()).prop_map(|(a, v)| Mutation::Insert(a, v)),
        at.prop_map(Mutation::Truncate),
    ]
}

fn mutate(text: &str, mutation: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        lines.push(String::new());
    }
    let n = lines.len();
    let value_lines: Vec<usize> = (0..n).filter(|&i| lines[i].contains(" = ")).collect();
    let value_line = |at: usize| value_lines.get(at % value_lines.len().max(1)).copied();
    match *mutation {
        Mutation::Delete(at) => {
            lines.remove(at % n);
        }
        Mutation::Duplicate(at) => lines.insert(at % n, lines[at % n].clone()),
        Mutation::Swap(a, b) => lines.swap(a % n, b % n),
        Mutation::Number(at, value) => {
            // The first number on a value line; a line without one gets the value whole.
            if let Some(i) = value_line(at) {
                let line = &lines[i];
                let start = line.find(|c: char| c.is_ascii_digit());
                lines[i] = match start {
                    Some(s) => {
                        let end = line[s..]
                            .find(|c: char| !c.is_ascii_digit() && c != '_')
                            .map_or(line.len(), |e| s + e);
                        format!("{}{}{}", &line[..s], EXTREMES[value], &line[end..])
                    }
                    None => format!(
                        "{} = {}",
                        line.split(" = ").next().unwrap_or(""),
                        EXTREMES[value]
                    ),
                };
            }
        }
        Mutation::WrongType(at, value) => {
            if let Some(i) = value_line(at) {
                let key = lines[i].split(" = ").next().unwrap_or("").to_string();
                lines[i] = format!("{key} = {}", WRONG_TYPES[value]);
            }
        }
        Mutation::Insert(at, line) => lines.insert(at % (n + 1), STRAY_LINES[line].to_string()),
        Mutation::Truncate(at) => {
            let text = lines.join("\n");
            let mut cut = at % (text.len() + 1);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            return text[..cut].to_string();
        }
    }
    lines.join("\n") + "\n"
}

/// A bounded copy of an accepted file's scenario, cheap enough to run: few records, a short
/// fault phase and heal. `None` when the bounds make it invalid (an event past the phase).
fn tiny(scenario: &Scenario) -> Option<Scenario> {
    let mut tiny = scenario.clone();
    tiny.workload.records = tiny.workload.records.min(40);
    tiny.workload.interval_ms = tiny.workload.interval_ms.map(|ms| ms.min(200));
    tiny.fault_phase_ms = tiny.fault_phase_ms.min(5_000);
    tiny.liveness_ms = tiny.liveness_ms.min(30_000);
    tiny.faults.events.retain(|e| e.at_ms < tiny.fault_phase_ms);
    tiny.expect = Default::default();
    tiny.validate("tiny").is_ok().then_some(tiny)
}

fn fuzz_cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

proptest! {
    // A fixed seed: CI runs the same 10,000 files every time, and a failure replays.
    #![proptest_config(Config {
        cases: fuzz_cases(),
        rng_seed: RngSeed::Fixed(18),
        failure_persistence: None,
        ..Config::default()
    })]

    #[test]
    fn mutated_scenario_files_are_refused_in_one_line_or_run_without_panicking(
        file in 0..corpus().len(),
        mutations in proptest::collection::vec(mutation(), 1..4),
        run_sample in 0u32..40,
        seed in 0u64..1_000,
    ) {
        let mut text = corpus()[file].clone();
        for mutation in &mutations {
            text = mutate(&text, mutation);
        }
        let fate = catch_unwind(AssertUnwindSafe(|| Scenario::from_toml(&text, FILE)));
        let accepted = match &fate {
            Ok(Ok(scenario)) => Some(scenario.clone()),
            _ => None,
        };
        if let Err(problem) = judge(&text, fate) {
            prop_assert!(false, "{}", problem);
        }
        // One accepted file in 40 (about 20 of 10,000 cases) also runs, bounded: no crash.
        if let Some(tiny) = accepted.filter(|_| run_sample == 0).as_ref().and_then(tiny) {
            let outcome = run(&tiny, seed, RunOptions::default());
            prop_assert!(
                outcome.crash.is_none(),
                "{:?} on seed {seed}:\n{}",
                outcome.crash,
                to_minimal_toml(&tiny)
            );
        }
    }
}
