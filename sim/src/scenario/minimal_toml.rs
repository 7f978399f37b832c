//! The minimal TOML form of a scenario: only what differs from the defaults a scenario file
//! is read over, so that what `show` and `shrink` write reads like a hand-written file and
//! parses back into the same scenario.

use super::{GroupSpec, Scenario, TransactionsSpec};
use toml::{Table, Value};

/// The scenario as TOML naming only the fields that differ from [`Scenario::default`] (and,
/// inside lists of topics, groups and fault events, from what an omitted field reads as).
/// `Scenario::from_toml` of the text gives `scenario` back.
pub fn to_minimal_toml(scenario: &Scenario) -> String {
    let full = table_of(scenario);
    let defaults = table_of(&Scenario::defaults_for(scenario.network.transport));
    let mut minimal = difference(&full, &defaults);
    // The transport decides the defaults the rest is read over, so it is always written.
    if scenario.network.connections() {
        let network = minimal
            .entry("network")
            .or_insert_with(|| Value::Table(Table::new()));
        if let Value::Table(network) = network {
            network.insert("transport".into(), Value::String("connections".into()));
        }
    }
    // The name is what a reader looks for first, even when it is the default one.
    minimal.insert("name".into(), Value::String(scenario.name.clone()));
    minimize_elements(&mut minimal, "topics", &topic_defaults());
    minimize_elements(&mut minimal, "groups", &table_of(&GroupSpec::default()));
    // The defaults leave `[transactions]` out whole (it is skipped when default), so a
    // written one is compared with its own defaults field by field.
    if let Some(Value::Table(transactions)) = minimal.get_mut("transactions") {
        *transactions = difference(transactions, &table_of(&TransactionsSpec::default()));
    }
    if let Some(Value::Table(faults)) = minimal.get_mut("faults") {
        minimize_elements(faults, "events", &fault_event_defaults());
        if let Some(Value::Table(nemesis)) = faults.get_mut("nemesis") {
            *nemesis = difference(nemesis, &nemesis_defaults());
        }
    }
    render(&minimal)
}

fn table_of(value: &impl serde::Serialize) -> Table {
    match Value::try_from(value).expect("a scenario always serializes") {
        Value::Table(table) => table,
        other => unreachable!("a struct serializes as a table, not {other}"),
    }
}

/// The keys of `full` whose values differ from `defaults`, tables compared key by key (a
/// scenario file's tables are laid over the defaults key by key; anything else replaces).
fn difference(full: &Table, defaults: &Table) -> Table {
    let mut out = Table::new();
    for (key, value) in full {
        match (value, defaults.get(key)) {
            (value, Some(default)) if value == default => {}
            (Value::Table(inner), Some(Value::Table(default))) => {
                let inner = difference(inner, default);
                if !inner.is_empty() {
                    out.insert(key.clone(), Value::Table(inner));
                }
            }
            (value, _) => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    out
}

/// Drops, in each table of the list `table[key]`, the fields equal to what the field reads
/// as when omitted: a list replaces the default list whole, so its elements are read alone.
fn minimize_elements(table: &mut Table, key: &str, element_defaults: &Table) {
    if let Some(Value::Array(elements)) = table.get_mut(key) {
        for element in elements.iter_mut() {
            if let Value::Table(fields) = element {
                *fields = difference(fields, element_defaults);
            }
        }
    }
}

/// `TopicConfig`'s serde default.
fn topic_defaults() -> Table {
    Table::from_iter([("replication_factor".to_string(), Value::Integer(1))])
}

/// `Fault::Delay`'s serde default; other fault fields are required.
fn fault_event_defaults() -> Table {
    Table::from_iter([("jitter_ms".to_string(), Value::Integer(0))])
}

/// `NemesisSpec`'s serde defaults.
fn nemesis_defaults() -> Table {
    Table::from_iter([
        ("mean_interval_ms".to_string(), Value::Integer(3_000)),
        ("swarm".to_string(), Value::Boolean(true)),
        ("triggered_percent".to_string(), Value::Integer(0)),
    ])
}

/// `Scenario`'s fields in declaration order (a serialized table is sorted by key), then a
/// fault event's time and kind: what a reader looks for first. Other keys follow sorted.
const FIELD_ORDER: [&str; 19] = [
    "name",
    "description",
    "brokers",
    "topics",
    "producers",
    "consumers",
    "groups",
    "offsets_topic_partitions",
    "broker",
    "controller",
    "producer",
    "consumer",
    "workload",
    "faults",
    "fault_phase_ms",
    "liveness_ms",
    "expect",
    "at_ms",
    "kind",
];

/// The table as TOML in [`FIELD_ORDER`]: plain values, then each table or list of tables
/// under its header (none for a table of tables only).
fn render(table: &Table) -> String {
    let mut text = String::new();
    render_into(&mut text, "", table);
    text.trim_start().to_string()
}

fn render_into(text: &mut String, path: &str, table: &Table) {
    let mut keys: Vec<&String> = table.keys().collect();
    keys.sort_by_key(|key| {
        let rank = FIELD_ORDER.iter().position(|o| o == key);
        (rank.unwrap_or(usize::MAX), key.as_str())
    });
    let is_nested = |value: &Value| match value {
        Value::Table(_) => true,
        Value::Array(elements) => !elements.is_empty() && elements.iter().all(Value::is_table),
        _ => false,
    };
    for key in keys.iter().filter(|key| !is_nested(&table[key.as_str()])) {
        let line = Table::from_iter([(key.to_string(), table[key.as_str()].clone())]);
        text.push_str(&toml::to_string(&line).expect("a value always serializes"));
    }
    for key in keys.iter().filter(|key| is_nested(&table[key.as_str()])) {
        let path = format!("{path}{}", toml_key(key));
        match &table[key.as_str()] {
            Value::Table(inner) => {
                if inner.values().any(|v| !is_nested(v)) {
                    text.push_str(&format!("\n[{path}]\n"));
                }
                render_into(text, &format!("{path}."), inner);
            }
            Value::Array(elements) => {
                for element in elements.iter().filter_map(Value::as_table) {
                    text.push_str(&format!("\n[[{path}]]\n"));
                    render_into(text, &format!("{path}."), element);
                }
            }
            _ => unreachable!("only tables and lists of tables are nested"),
        }
    }
}

/// A key as a header names it: bare when TOML allows, quoted otherwise.
fn toml_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare {
        key.to_string()
    } else {
        Value::String(key.to_string()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::{Fault, TimedFault};

    #[test]
    fn the_field_order_names_every_field() {
        let mut scenario = Scenario::default();
        scenario.expect = crate::scenario::SweepExpectations::passing();
        for key in table_of(&scenario).keys() {
            assert!(FIELD_ORDER.contains(&key.as_str()), "{key}");
        }
    }

    #[test]
    fn the_default_scenario_is_its_name_alone() {
        assert_eq!(to_minimal_toml(&Scenario::default()), "name = \"custom\"\n");
    }

    #[test]
    fn a_changed_field_is_all_that_is_written_and_reads_back() {
        let mut scenario = Scenario {
            name: "x".into(),
            brokers: 5,
            ..Scenario::default()
        };
        scenario.producer.linger_ms = 7;
        scenario.groups.push(GroupSpec {
            members: 3,
            ..GroupSpec::default()
        });
        scenario.faults.events.push(TimedFault {
            on: None,
            at_ms: 10,
            fault: Fault::Delay {
                from: vec!["b1".into()],
                to: vec!["b2".into()],
                delay_ms: 5,
                jitter_ms: 0,
                duration_ms: 100,
            },
        });
        let text = to_minimal_toml(&scenario);
        assert_eq!(
            text,
            "name = \"x\"\nbrokers = 5\n\n[[groups]]\nmembers = 3\n\n[producer]\nlinger_ms = 7\n\n\
             [[faults.events]]\nat_ms = 10\nkind = \"delay\"\ndelay_ms = 5\nduration_ms = 100\n\
             from = [\"b1\"]\nto = [\"b2\"]\n"
        );
        assert_eq!(Scenario::from_toml(&text, "x.toml").unwrap(), scenario);
    }

    #[test]
    fn a_value_equal_to_its_default_in_a_list_element_is_dropped_only_there() {
        // A topic list replaces the default one whole: its name and partitions stay even
        // when they equal the default topic's.
        let scenario = Scenario {
            name: "x".into(),
            topics: vec![
                Scenario::default().topics[0].clone(),
                kafka_model::config::TopicConfig {
                    name: "other".into(),
                    partitions: 2,
                    replication_factor: 3,
                },
            ],
            ..Scenario::default()
        };
        let text = to_minimal_toml(&scenario);
        assert!(
            text.contains("[[topics]]\nname = \"tasks\"\npartitions = 3\n\n[[topics]]"),
            "{text}"
        );
        assert!(text.contains("replication_factor = 3"), "{text}");
        assert!(!text.contains("replication_factor = 1"), "{text}");
        assert_eq!(Scenario::from_toml(&text, "x.toml").unwrap(), scenario);
    }
}
