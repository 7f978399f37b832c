//! What a history from elsewhere was promised, in Kafka's own setting names: a `[promises]`
//! table in a TOML file, command-line flags over it, and what is left out takes Kafka's
//! default (the producer's as its Java client resolves it, KIP-679).

use crate::checkers::Promises;
use serde::Deserialize;

/// The settings the history checkers judge by. Every field may be left out.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromiseSettings {
    /// `acks`: "0", "1" or "all" (default "all").
    pub acks: Option<String>,
    /// `enable.idempotence` (default: on unless acks, retries or in-flight rule it out).
    pub enable_idempotence: Option<bool>,
    /// `retries` (default 2147483647).
    pub retries: Option<u64>,
    /// `max.in.flight.requests.per.connection` (default 5).
    pub max_in_flight_requests_per_connection: Option<u64>,
    /// `flush.messages` (default: unset, asynchronous flush).
    pub flush_messages: Option<u64>,
    /// `unclean.leader.election.enable` (default false).
    pub unclean_leader_election_enable: Option<bool>,
    /// Consumer groups that commit before they process (at-most-once); every other group
    /// is judged at-least-once.
    pub at_most_once_groups: Option<Vec<String>>,
}

/// A file holding a `[promises]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PromisesFile {
    promises: PromiseSettings,
}

impl PromiseSettings {
    /// Reads the `[promises]` table of a TOML file. Errors name the file and the field.
    pub fn from_toml(text: &str, file: &str) -> Result<PromiseSettings, String> {
        toml::from_str::<PromisesFile>(text)
            .map(|f| f.promises)
            .map_err(|e| format!("{file}: {}", e.message()))
    }

    /// `over`'s settings where given, else these.
    pub fn overridden_by(self, over: PromiseSettings) -> PromiseSettings {
        PromiseSettings {
            acks: over.acks.or(self.acks),
            enable_idempotence: over.enable_idempotence.or(self.enable_idempotence),
            retries: over.retries.or(self.retries),
            max_in_flight_requests_per_connection: over
                .max_in_flight_requests_per_connection
                .or(self.max_in_flight_requests_per_connection),
            flush_messages: over.flush_messages.or(self.flush_messages),
            unclean_leader_election_enable: over
                .unclean_leader_election_enable
                .or(self.unclean_leader_election_enable),
            at_most_once_groups: over.at_most_once_groups.or(self.at_most_once_groups),
        }
    }

    /// The promises, with Kafka's defaults for what is left out. An impossible
    /// combination (idempotence asked for with acks other than all, no retries or more
    /// than 5 in flight: Kafka's producer refuses to start) is an error naming it.
    pub fn resolve(&self) -> Result<Promises, String> {
        let acks = self.acks.clone().unwrap_or_else(|| "all".to_string());
        if !["0", "1", "all"].contains(&acks.as_str()) {
            return Err(format!("acks `{acks}`: expected 0, 1 or all"));
        }
        let retries = self.retries.unwrap_or(u64::from(i32::MAX as u32));
        let in_flight = self.max_in_flight_requests_per_connection.unwrap_or(5);
        if in_flight == 0 {
            return Err("max_in_flight_requests_per_connection: must be at least 1".into());
        }
        let conflict = if acks != "all" {
            Some(format!("acks={acks}"))
        } else if retries == 0 {
            Some("retries=0".to_string())
        } else if in_flight > 5 {
            Some(format!("max_in_flight_requests_per_connection={in_flight}"))
        } else {
            None
        };
        let idempotence = match (self.enable_idempotence, &conflict) {
            (Some(true), Some(conflict)) => {
                return Err(format!(
                    "enable_idempotence = true with {conflict}: Kafka's producer refuses to start (KIP-679)"
                ))
            }
            (Some(on), _) => on,
            (None, conflict) => conflict.is_none(),
        };
        Ok(Promises {
            idempotence,
            retries: retries > 0,
            max_in_flight_above_one: in_flight > 1,
            acks,
            async_flush: self.flush_messages != Some(1),
            unclean_election: self.unclean_leader_election_enable.unwrap_or(false),
            at_most_once_groups: self.at_most_once_groups.clone().unwrap_or_default(),
        })
    }
}

/// One line telling the promises judged by.
pub fn describe(promises: &Promises) -> String {
    let on = |b: bool| if b { "on" } else { "off" };
    let mut text = format!(
        "acks={}, idempotence {}, retries {}, {} in flight, {} flush, unclean election {}",
        promises.acks,
        on(promises.idempotence),
        on(promises.retries),
        if promises.max_in_flight_above_one {
            "several"
        } else {
            "one"
        },
        if promises.async_flush {
            "async"
        } else {
            "per-append"
        },
        on(promises.unclean_election)
    );
    if !promises.at_most_once_groups.is_empty() {
        text.push_str(&format!(
            ", at-most-once groups {}",
            promises.at_most_once_groups.join(", ")
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_kafkas_and_conflicts_switch_idempotence_off() {
        let kafka = PromiseSettings::default().resolve().unwrap();
        assert!(kafka.idempotence && kafka.retries && kafka.async_flush);
        assert_eq!(kafka.acks, "all");
        let acks1 = PromiseSettings {
            acks: Some("1".into()),
            ..Default::default()
        };
        assert!(!acks1.resolve().unwrap().idempotence);
        let refused = PromiseSettings {
            enable_idempotence: Some(true),
            ..acks1
        };
        assert!(refused.resolve().unwrap_err().contains("KIP-679"));
        let bad = PromiseSettings {
            acks: Some("2".into()),
            ..Default::default()
        };
        assert!(bad.resolve().is_err());
    }

    #[test]
    fn the_table_refuses_unknown_settings() {
        let err = PromiseSettings::from_toml("[promises]\nack = \"1\"", "p.toml").unwrap_err();
        assert!(err.starts_with("p.toml: unknown field `ack`"), "{err}");
        let flags = PromiseSettings {
            acks: Some("0".into()),
            ..Default::default()
        };
        let file = PromiseSettings::from_toml("[promises]\nacks = \"1\"\nflush_messages = 1", "p")
            .unwrap();
        let merged = file.overridden_by(flags);
        assert_eq!(merged.acks.as_deref(), Some("0"));
        assert_eq!(merged.flush_messages, Some(1));
    }
}
