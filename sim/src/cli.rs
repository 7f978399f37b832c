//! The `kafka-sim` command line: list, run, sweep and bench. Exit codes follow DESIGN.md
//! section 8: 0 pass, 1 safety violation, 2 bad input, 3 liveness violation, 4 crash.

use crate::bench;
use crate::history::HistoryMeta;
use crate::matrix_report;
use crate::outcome::OutcomeClass;
use crate::registry;
use crate::report;
use crate::runner::{self, RunOptions};
use crate::scenario::Scenario;
use crate::seeds::SeedCase;
use crate::sweep;
use clap::{Parser, Subcommand};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

/// Bad input: usage, unreadable or invalid file.
pub const EXIT_BAD_INPUT: i32 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "kafka-sim",
    version,
    about = "Deterministic simulation of a Kafka-style cluster under faults",
    long_about = "Runs brokers, producers and consumers on a seeded simulated network, clock and disk, \
                  injects faults, and checks what Kafka promises (per-partition order, no duplicates \
                  with idempotence, durability of acknowledged writes). A run is fully determined by \
                  its scenario and seed.\n\n\
                  Exit codes: 0 every promised property held; 1 safety violation; 2 bad input; \
                  3 liveness violation; 4 panic or deadlock inside the simulation."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List the built-in scenarios: today's protocol, then the historical bug catalog.
    List,
    /// Run one scenario with one seed and report what the checkers found.
    Run {
        /// A built-in scenario name (see `list`) or a scenario TOML file.
        scenario: String,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Write the history (JSON Lines, Jepsen's shape) to this file.
        #[arg(long)]
        history: Option<PathBuf>,
        /// Write the compact trace (one line per event) to this file.
        #[arg(long)]
        trace: Option<PathBuf>,
        /// Write a self-contained HTML page: a space-time diagram of the run, its faults,
        /// per-partition offsets and the anomalies.
        #[arg(long)]
        html: Option<PathBuf>,
        /// Write Chrome trace-event JSON that ui.perfetto.dev opens.
        #[arg(long)]
        perfetto: Option<PathBuf>,
        /// Also print every fault event and every anomaly, with the chain that explains it.
        #[arg(long)]
        verbose: bool,
        /// Print the report as JSON on stdout: the summary and every anomaly in full.
        #[arg(long)]
        json: bool,
    },
    /// Run a scenario over a range of seeds, in parallel, and summarize; then judge what
    /// the scenario expects of its sweep (its `[expect]` table): an unmet expectation exits
    /// 1, one the range is too short for is reported as not judged.
    Sweep {
        /// A built-in scenario name, `all` for every built-in of today's protocol,
        /// `catalog` for the historical bug catalog (whose violations are expected: it
        /// exits 0 when each bug it can judge shows), or a scenario TOML file.
        scenario: String,
        /// Seeds as `A..B` (B excluded), e.g. `0..100`.
        #[arg(long, default_value = "0..100")]
        seeds: String,
        /// Run only shard K of N (`K/N`, 1-based): every N-th seed starting with the K-th.
        /// The N shards together run each seed once, e.g. a CI matrix or a Kubernetes
        /// indexed Job with `--shard $((JOB_COMPLETION_INDEX + 1))/N`.
        #[arg(long)]
        shard: Option<String>,
        /// Parallel simulations (default: the number of cores).
        #[arg(long, value_parser = at_least_one())]
        jobs: Option<usize>,
        /// Print the results as JSON on stdout instead of a table.
        #[arg(long)]
        json: bool,
        /// Write a seed file for every failing seed not recorded yet, into DIR (which must
        /// exist, unless --create-dirs); each file written is named on stderr.
        #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = "seeds")]
        save_failures: Option<PathBuf>,
        /// Create the --save-failures directory if it is missing.
        #[arg(long, requires = "save_failures")]
        create_dirs: bool,
        /// Also print the model's rare paths (a divergence answer, an unclean election, a
        /// Raft leader resigning...): in how many seeds each was reached, its first seed,
        /// and those no seed reached. `--json` always carries them.
        #[arg(long)]
        coverage: bool,
    },
    /// Merge the `sweep --json` output of a sweep's shards (`--shard K/N`, one file or
    /// more, every shard once) into the summary, expectations and exit code of the
    /// unsharded sweep.
    Merge {
        /// Files holding `sweep --json` output.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print the merged sweep as JSON, as an unsharded `sweep --json` would.
        #[arg(long)]
        json: bool,
        /// Also print the rare paths the shards' seeds reached, as `sweep --coverage`.
        #[arg(long)]
        coverage: bool,
    },
    /// Shrink a failing seed: remove faults and simplify the rest while the run still fails
    /// the same way; print the minimal scenario as TOML (replay it with `run FILE --seed N`).
    Shrink {
        /// A built-in scenario name or a scenario TOML file.
        scenario: String,
        #[arg(long)]
        seed: u64,
        /// Also write the minimal scenario to this file.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Shrink to the smallest plan that still shows this anomaly kind, allowed or not
        /// (e.g. lost-write on an acks=1 seed that passes), instead of the same failure.
        #[arg(long, value_name = "KIND")]
        anomaly: Option<String>,
    },
    /// Print a scenario (a built-in, a matrix cell `matrix/<configuration>/<faults>`, or a
    /// TOML file) as TOML naming only what differs from the defaults: a file to start from,
    /// which `run FILE` runs exactly as the original.
    Show {
        /// A built-in scenario name, a matrix cell or a scenario TOML file.
        scenario: String,
    },
    /// Tell the life of one record in a run: its partition, the leader's append, the
    /// acknowledgement, each consumer's read, the faults that struck its broker, and the
    /// anomalies it is part of.
    Explain {
        /// A built-in scenario name or a scenario TOML file.
        scenario: String,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// The record's value, as the history and trace name it (v17 or 17).
        #[arg(long)]
        record: String,
    },
    /// Run the history checkers on a JSON Lines history that need not come from a
    /// simulation (see README, "The history"), with the promises given as flags, a
    /// `[promises]` table (--promises FILE) or the history's own meta line; flags win over
    /// the table, the table over the meta line, and Kafka's defaults fill the rest. Judges
    /// only what a history shows (no replica or controller invariants, no retention, no
    /// excuses from power losses or unclean elections). Exits 0 when no promised property
    /// broke, 1 on a violation, 2 on bad input.
    Check {
        /// The history, one JSON object per line.
        history: PathBuf,
        /// A TOML file with a `[promises]` table (acks, enable_idempotence, retries,
        /// max_in_flight_requests_per_connection, flush_messages,
        /// unclean_leader_election_enable, at_most_once_groups).
        #[arg(long, value_name = "FILE")]
        promises: Option<PathBuf>,
        /// `acks` of the producers: 0, 1 or all.
        #[arg(long)]
        acks: Option<String>,
        /// `enable.idempotence`: true or false (default: on unless acks, retries or
        /// in-flight rule it out, as Kafka's producer resolves it).
        #[arg(long, value_name = "BOOL")]
        idempotence: Option<bool>,
        /// `retries` (0 turns retries off).
        #[arg(long)]
        retries: Option<u64>,
        /// `max.in.flight.requests.per.connection`.
        #[arg(long, value_name = "N")]
        max_in_flight: Option<u64>,
        /// `flush.messages` (1: every append fsynced; otherwise async flush).
        #[arg(long, value_name = "N")]
        flush_messages: Option<u64>,
        /// `unclean.leader.election.enable`: true or false.
        #[arg(long, value_name = "BOOL")]
        unclean_election: Option<bool>,
        /// A consumer group that commits before it processes (at-most-once); repeat for
        /// several.
        #[arg(long, value_name = "GROUP")]
        at_most_once_group: Vec<String>,
        /// When the faults healed (ms, the history's clock), for each reader's lag then.
        #[arg(long)]
        heal_ms: Option<u64>,
        /// Print the verdicts as JSON.
        #[arg(long)]
        json: bool,
        /// Also print the allowed anomalies one by one.
        #[arg(long)]
        verbose: bool,
    },
    /// Replay recorded cases (seed files, see seeds/) and check their expected outcome.
    /// Exits 0 when every case holds, 1 when one does not.
    Replay {
        /// Seed files or folders of them.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// The guarantee matrix: configurations (acks, min.insync.replicas, unclean election,
    /// idempotence, flush, historical protocols) against fault classes (network, crashes,
    /// power loss, pauses and clock jumps, all), N seeds a cell. Each cell lists the
    /// anomalies seen, each as allowed by that configuration or a violation of it, with a
    /// seed that replays it: `run matrix/<configuration>/<faults> --seed N`. Exits 0 once
    /// the matrix is printed (violations in the historical rows are the point), 4 if a
    /// simulation panicked.
    Matrix {
        /// Seeds per cell (0..N). The matrix has 60 cells.
        #[arg(long, default_value_t = 20)]
        seeds: u64,
        /// Print a Markdown table (as in README.md) instead of text.
        #[arg(long, conflicts_with = "json")]
        markdown: bool,
        /// Print JSON: every cell with its run counts, anomalies and replay commands.
        #[arg(long)]
        json: bool,
        /// Parallel simulations (default: the number of cores).
        #[arg(long, value_parser = at_least_one())]
        jobs: Option<usize>,
    },
    /// Measure seeds/s, simulated seconds per wall second and messages/s for the standard
    /// scenario, against madsim's bare ping-pong rate on this machine; then the scaling
    /// bench (standard doubled), the app-failover scenario's wall time per seed with its
    /// replay and what it lost and duplicated, `sweep all` on every core, and a 50-broker,
    /// 1,000-partition cluster's simulated minute with its peak memory.
    Bench {
        /// Seeds of the standard, doubled and app-failover scenarios, and of each built-in
        /// in the `sweep all` figure.
        #[arg(long, default_value_t = 20)]
        seeds: u64,
    },
}

/// `--jobs`: a pool of no threads would run nothing.
fn at_least_one() -> impl clap::builder::TypedValueParser<Value = usize> {
    |text: &str| match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1: a pool of no threads runs nothing".to_string()),
        Ok(jobs) => Ok(jobs),
        Err(_) => Err(format!("`{text}` is not a number of threads")),
    }
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            if !error.use_stderr() {
                let _ = error.print();
                return 0;
            }
            // Bad usage is bad input: one line, like every other (the usage text that
            // clap adds is one `--help` away).
            let text = error.render().to_string();
            let message: Vec<&str> = text
                .lines()
                .map(str::trim)
                .take_while(|l| !l.is_empty() && !l.starts_with("Usage:"))
                .collect();
            let message = message.join(" ");
            return bad_input(format!(
                "{} (see --help)",
                message.trim_start_matches("error: ")
            ));
        }
    };
    match cli.command {
        Command::List => {
            for scenario in registry::current() {
                println!("{:<34} {}", scenario.name, scenario.description);
            }
            println!(
                "\nthe historical bug catalog (`sweep catalog`; their violations are the point):"
            );
            for scenario in registry::historical() {
                println!("{:<34} {}", scenario.name, scenario.description);
            }
            println!(
                "\nand the guarantee matrix's cells, matrix/<configuration>/<faults> (see `matrix --help`)"
            );
            0
        }
        Command::Run {
            scenario,
            seed,
            history,
            trace,
            html,
            perfetto,
            verbose,
            json,
        } => run(
            &scenario,
            seed,
            Outputs {
                history,
                trace,
                html,
                perfetto,
            },
            RunFormat { verbose, json },
        ),
        Command::Sweep {
            scenario,
            seeds,
            shard,
            jobs,
            json,
            save_failures,
            create_dirs,
            coverage,
        } => {
            if let Some(dir) = &save_failures {
                if let Err(error) = crate::seeds::prepare_save_dir(dir, create_dirs) {
                    return bad_input(error);
                }
            }
            sweep::main(
                &scenario,
                sweep::SweepOptions {
                    seeds,
                    shard,
                    jobs,
                    json,
                    save_failures,
                    coverage,
                },
            )
        }
        Command::Check {
            history,
            promises,
            acks,
            idempotence,
            retries,
            max_in_flight,
            flush_messages,
            unclean_election,
            at_most_once_group,
            heal_ms,
            json,
            verbose,
        } => crate::check::main(crate::check::CheckOptions {
            history,
            promises,
            flags: crate::check::PromiseSettings {
                acks,
                enable_idempotence: idempotence,
                retries,
                max_in_flight_requests_per_connection: max_in_flight,
                flush_messages,
                unclean_leader_election_enable: unclean_election,
                at_most_once_groups: (!at_most_once_group.is_empty()).then_some(at_most_once_group),
            },
            heal_ms,
            json,
            verbose,
        }),
        Command::Replay { files } => replay(&files),
        Command::Merge {
            files,
            json,
            coverage,
        } => crate::merge::main(&files, json, coverage),
        Command::Shrink {
            scenario,
            seed,
            out,
            anomaly,
        } => shrink(&scenario, seed, out, anomaly.as_deref()),
        Command::Explain {
            scenario,
            seed,
            record,
        } => explain(&scenario, seed, &record),
        Command::Show { scenario } => show(&scenario),
        Command::Matrix {
            seeds,
            markdown,
            json,
            jobs,
        } => {
            sweep::use_jobs(jobs);
            let format = if json {
                matrix_report::Format::Json
            } else if markdown {
                matrix_report::Format::Markdown
            } else {
                matrix_report::Format::Text
            };
            matrix_report::main(seeds, format)
        }
        Command::Bench { seeds } => bench::main(seeds),
    }
}

/// Prints one line for bad input and returns exit code 2.
pub fn bad_input(message: impl std::fmt::Display) -> i32 {
    eprintln!("error: {message}");
    EXIT_BAD_INPUT
}

/// Tells, on stderr, each default Kafka's clients switch off for this scenario (once per
/// scenario, never per seed): the run's promises follow the switched-off value.
pub fn note_default_overrides(scenario: &Scenario) {
    for line in scenario.default_overrides() {
        eprintln!("note: {line}");
    }
}

/// The files `kafka-sim run` may write.
pub struct Outputs {
    pub history: Option<PathBuf>,
    pub trace: Option<PathBuf>,
    pub html: Option<PathBuf>,
    pub perfetto: Option<PathBuf>,
}

/// Creates the file now, so that a bad path is bad input found before the run.
fn create(path: &Option<PathBuf>) -> Result<Option<(PathBuf, BufWriter<File>)>, String> {
    match path {
        None => Ok(None),
        Some(path) => File::create(path)
            .map(|file| Some((path.clone(), BufWriter::new(file))))
            .map_err(|error| format!("{}: cannot write: {error}", path.display())),
    }
}

/// How `kafka-sim run` prints its report.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunFormat {
    pub verbose: bool,
    pub json: bool,
}

fn run(scenario_arg: &str, seed: u64, outputs: Outputs, format: RunFormat) -> i32 {
    let scenario = match registry::resolve(scenario_arg) {
        Ok(scenario) => scenario,
        Err(error) => return bad_input(error),
    };
    note_default_overrides(&scenario);
    let files = (|| {
        Ok::<_, String>([
            create(&outputs.history)?,
            create(&outputs.trace)?,
            create(&outputs.html)?,
            create(&outputs.perfetto)?,
        ])
    })();
    let [history, trace, html, perfetto] = match files {
        Ok(files) => files,
        Err(error) => return bad_input(error),
    };
    // Every event is kept: the summary's partition and group figures read them.
    let options = RunOptions {
        keep_trace: true,
        ..RunOptions::default()
    };
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now(); // determinism-ok: wall time for the report only, never inside a simulation
    let outcome = runner::run(&scenario, seed, options);
    let wall_s = started.elapsed().as_secs_f64();
    // Each file is named on stderr once written, so that a user (or a script) knows what
    // the run left behind without reading the command line again.
    let write = |file: Option<(PathBuf, BufWriter<File>)>,
                 what: &str,
                 body: &dyn Fn(&mut BufWriter<File>) -> std::io::Result<()>| {
        if let Some((path, mut writer)) = file {
            match body(&mut writer).and_then(|_| writer.flush()) {
                Ok(()) => eprintln!("wrote {} ({what})", path.display()),
                Err(error) => eprintln!("error: writing {}: {error}", path.display()),
            }
        }
    };
    write(history, "history, JSON Lines", &|w| {
        outcome
            .history
            .write_jsonl(&history_meta(&scenario, &outcome), w)
    });
    write(trace, "trace", &|w| {
        outcome
            .trace
            .iter()
            .try_for_each(|line| writeln!(w, "{line}"))
    });
    write(html, "HTML timeline", &|w| {
        w.write_all(crate::timeline::html(&outcome, &scenario).as_bytes())
    });
    write(perfetto, "Perfetto trace, for ui.perfetto.dev", &|w| {
        serde_json::to_writer(&mut *w, &crate::perfetto::perfetto(&outcome))
            .map_err(std::io::Error::other)
    });
    let summary = crate::summary::RunSummary::of_run(&outcome, &scenario);
    if format.json {
        let json = report::run_json(&outcome, scenario_arg, &summary);
        println!(
            "{}",
            serde_json::to_string_pretty(&json).expect("a report serializes")
        );
    } else {
        let detail = if format.verbose {
            report::Detail::Verbose
        } else {
            report::Detail::Summary
        };
        print!(
            "{}",
            report::run_report(&outcome, scenario_arg, &summary, detail)
        );
        println!(
            "wall time {wall_s:.3}s for {:.1} simulated hours",
            outcome.stats.simulated_ms as f64 / 3_600_000.0
        );
    }
    if outcome.class != OutcomeClass::Pass {
        eprintln!(
            "seed {} failed ({}): {}",
            seed,
            outcome.class.as_str(),
            outcome.replay_command(scenario_arg)
        );
    }
    outcome.class.exit_code()
}

fn shrink(scenario_arg: &str, seed: u64, out: Option<PathBuf>, anomaly: Option<&str>) -> i32 {
    let scenario = match registry::resolve(scenario_arg) {
        Ok(scenario) => scenario,
        Err(error) => return bad_input(error),
    };
    let kind = match anomaly.map(parse_kind).transpose() {
        Ok(kind) => kind,
        Err(error) => return bad_input(error),
    };
    let report =
        match crate::shrink::shrink_to(&scenario, seed, kind, |line| eprintln!("shrink: {line}")) {
            Ok(report) => report,
            Err(error) => return bad_input(error),
        };
    let toml = report.minimal.to_minimal_toml();
    if let Some(path) = &out {
        if let Err(error) = std::fs::write(path, &toml) {
            return bad_input(format!("{}: cannot write: {error}", path.display()));
        }
    }
    println!("# {}", report.minimal.description);
    println!(
        "# {} runs; replay with: cargo run --release -- run FILE --seed {seed}",
        report.runs
    );
    print!("{toml}");
    eprintln!(
        "shrink: {} -> {} fault events, {}{}",
        report.original_fault_events,
        report.minimal_fault_events,
        report.outcome.class.as_str(),
        out.map(|p| format!("; written to {}", p.display()))
            .unwrap_or_default()
    );
    0
}

fn show(scenario_arg: &str) -> i32 {
    match registry::resolve(scenario_arg) {
        Ok(scenario) => {
            print!("{}", scenario.to_minimal_toml());
            0
        }
        Err(error) => bad_input(error),
    }
}

/// An anomaly kind as the reports spell it.
fn parse_kind(text: &str) -> Result<crate::checkers::AnomalyKind, String> {
    use crate::checkers::AnomalyKind;
    AnomalyKind::ALL
        .into_iter()
        .find(|k| k.as_str() == text)
        .ok_or_else(|| {
            let kinds: Vec<&str> = AnomalyKind::ALL.iter().map(|k| k.as_str()).collect();
            format!(
                "--anomaly `{text}`: unknown anomaly kind (one of {})",
                kinds.join(", ")
            )
        })
}

fn explain(scenario_arg: &str, seed: u64, record: &str) -> i32 {
    let scenario = match registry::resolve(scenario_arg) {
        Ok(scenario) => scenario,
        Err(error) => return bad_input(error),
    };
    let Ok(value) = record.trim_start_matches('v').parse::<u64>() else {
        return bad_input(format!(
            "--record `{record}`: expected a record value such as 17 or v17"
        ));
    };
    let options = RunOptions {
        keep_trace: true,
        ..RunOptions::default()
    };
    let outcome = runner::run(&scenario, seed, options);
    match crate::explain::explain(&scenario, &outcome, value) {
        Ok(story) => {
            print!("{story}");
            0
        }
        Err(error) => bad_input(format!("--record {record}: {error}")),
    }
}

fn replay(paths: &[PathBuf]) -> i32 {
    let mut cases = Vec::new();
    for path in paths {
        let loaded = if path.is_dir() {
            SeedCase::load_dir(path)
        } else {
            SeedCase::load(path).map(|case| vec![case])
        };
        match loaded {
            Ok(found) => cases.extend(found),
            Err(error) => return bad_input(error),
        }
    }
    let mut differing = 0;
    for case in &cases {
        let outcome = runner::run(&case.scenario, case.seed, RunOptions::default());
        let arg = case
            .scenario_name
            .clone()
            .unwrap_or_else(|| case.path.display().to_string());
        match case.expect.difference(&outcome) {
            None => println!(
                "holds    {} (seed {}, {})",
                case.path.display(),
                case.seed,
                outcome.class.as_str()
            ),
            Some(difference) => {
                differing += 1;
                println!("DIFFERS  {}: {difference}", case.path.display());
                println!("         note: {}", case.note.trim());
                println!("         REPRODUCE WITH: {}", outcome.replay_command(&arg));
            }
        }
    }
    println!(
        "{} cases, {} hold, {} differ",
        cases.len(),
        cases.len() - differing,
        differing
    );
    i32::from(differing > 0)
}

/// The history's first line.
/// The history's first line: the run's seed and configuration, how it ended and what the
/// checkers found (with each anomaly's verdict).
pub fn history_meta(scenario: &Scenario, outcome: &crate::outcome::Outcome) -> HistoryMeta {
    HistoryMeta {
        kind: "meta".into(),
        seed: outcome.seed,
        scenario: scenario.name.clone(),
        config: serde_json::to_value(scenario).unwrap_or(serde_json::Value::Null),
        outcome: Some(outcome.class.as_str().to_string()),
        anomalies: outcome.anomalies.clone(),
    }
}
