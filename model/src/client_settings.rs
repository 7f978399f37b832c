//! How Kafka's clients resolve their settings at construction: the defaults they switch
//! off or adjust when an explicit setting conflicts (KIP-679, KIP-91), and the settings
//! they refuse (`ConfigException`, `IllegalArgumentException`), for the settings the model
//! has.

use crate::config::{Acks, ConsumerConfig, ProducerConfig};
use crate::member::MemberConfig;

/// The most requests an idempotent producer may have in flight on a connection: the broker
/// remembers five batches per producer (`MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION_FOR_IDEMPOTENCE`).
pub const MAX_IN_FLIGHT_FOR_IDEMPOTENCE: u32 = 5;

/// `delivery.timeout.ms`'s default (2 minutes), before KIP-91's adjustment.
pub const DEFAULT_DELIVERY_TIMEOUT_MS: u64 = 120_000;

/// One setting and its value, as a scenario's TOML spells them (`acks = "1"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    pub field: &'static str,
    pub value: String,
}

impl Setting {
    fn new(field: &'static str, value: impl ToString) -> Setting {
        Setting {
            field,
            value: value.to_string(),
        }
    }

    fn quoted(field: &'static str, value: &str) -> Setting {
        Setting::new(field, format!("\"{value}\""))
    }

    fn describe(&self, table: &str) -> String {
        format!("`{table}.{} = {}`", self.field, self.value)
    }
}

/// A setting the client refuses to start with, alone (a bound) or because of others.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigRefusal {
    pub setting: Setting,
    /// The settings it conflicts with; empty for a bound on the setting alone.
    pub conflicts_with: Vec<Setting>,
    /// Which client refuses it, how, and the source of the rule.
    pub rule: &'static str,
}

impl ConfigRefusal {
    /// One line naming every setting involved, each prefixed by `table` (`producer`).
    pub fn describe(&self, table: &str) -> String {
        let others: Vec<String> = self
            .conflicts_with
            .iter()
            .map(|s| s.describe(table))
            .collect();
        let setting = self.setting.describe(table);
        if others.is_empty() {
            format!("{setting}: {}", self.rule)
        } else {
            format!(
                "{setting} conflicts with {}: {}",
                others.join(" and "),
                self.rule
            )
        }
    }
}

/// A setting left at its default that the client changed because explicit settings
/// conflict with the default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefaultOverride {
    /// The setting with the value the client runs with.
    pub setting: Setting,
    /// The explicit settings that made the client change it.
    pub because: Vec<Setting>,
    /// The rule's source.
    pub source: &'static str,
}

impl DefaultOverride {
    /// One line, each field prefixed by `table` (`producer`).
    pub fn describe(&self, table: &str) -> String {
        let because: Vec<String> = self.because.iter().map(|s| s.describe(table)).collect();
        format!(
            "`{table}.{}` is not set, so Kafka's producer runs with {} because of {} ({}); \
             set it explicitly to silence this",
            self.setting.field,
            self.setting.describe(table),
            because.join(" and "),
            self.source
        )
    }
}

/// The producer's settings as the client runs them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedProducer {
    pub idempotence: bool,
    pub delivery_timeout_ms: u64,
    /// The defaults the client changed, one entry per setting.
    pub overrides: Vec<DefaultOverride>,
}

const IDEMPOTENCE_RULE: &str = "Kafka's producer refuses this (ConfigException: the idempotent \
                                producer needs acks=all, retries > 0 and at most 5 requests in \
                                flight, KIP-679)";
const DELIVERY_TIMEOUT_RULE: &str = "Kafka's producer refuses this (ConfigException: \
                                     delivery.timeout.ms must be at least linger.ms + \
                                     request.timeout.ms, KIP-91)";
const TRANSACTIONAL_RULE: &str = "Kafka's producer refuses this (ConfigException: cannot set \
                                  a transactional.id without also enabling idempotence)";
/// Kafka's `transaction.timeout.ms` default: one minute.
const DEFAULT_TRANSACTION_TIMEOUT_MS: u64 = 60_000;
const MAX_IN_FLIGHT_RULE: &str = "Kafka's producer refuses this (ConfigException: \
                                  max.in.flight.requests.per.connection must be at least 1)";

impl ProducerConfig {
    /// The settings that rule idempotence out, in the order Kafka's
    /// `ProducerConfig.postProcessAndValidateIdempotenceConfigs` checks them.
    fn idempotence_conflicts(&self) -> Vec<Setting> {
        let mut conflicts = Vec::new();
        if self.retries == 0 {
            conflicts.push(Setting::new("retries", 0));
        }
        if self.acks != Acks::All {
            conflicts.push(Setting::quoted("acks", self.acks.as_str()));
        }
        if self.max_in_flight_requests_per_connection > MAX_IN_FLIGHT_FOR_IDEMPOTENCE {
            conflicts.push(Setting::new(
                "max_in_flight_requests_per_connection",
                self.max_in_flight_requests_per_connection,
            ));
        }
        conflicts
    }

    /// `enable.idempotence` as the producer runs it: the explicit value, else on unless
    /// another setting rules it out (KIP-679). An explicit `true` with a conflict stays
    /// true here; `resolve` refuses it.
    pub fn idempotence_enabled(&self) -> bool {
        self.idempotence
            .unwrap_or_else(|| self.idempotence_conflicts().is_empty())
    }

    /// `transaction.timeout.ms` as the producer runs it.
    pub fn effective_transaction_timeout_ms(&self) -> u64 {
        self.transaction_timeout_ms
            .unwrap_or(DEFAULT_TRANSACTION_TIMEOUT_MS)
    }

    /// The linger and request timeout a delivery timeout must cover (KIP-91).
    fn delivery_floor_ms(&self) -> u64 {
        self.linger_ms.saturating_add(self.request_timeout_ms)
    }

    /// `delivery.timeout.ms` as the producer runs it: the explicit value, else the default
    /// raised to linger + request timeout (`KafkaProducer.configureDeliveryTimeout`).
    pub fn effective_delivery_timeout_ms(&self) -> u64 {
        self.delivery_timeout_ms
            .unwrap_or_else(|| DEFAULT_DELIVERY_TIMEOUT_MS.max(self.delivery_floor_ms()))
    }

    /// What Kafka's producer runs with, or why it refuses to start.
    pub fn resolve(&self) -> Result<ResolvedProducer, ConfigRefusal> {
        if self.max_in_flight_requests_per_connection == 0 {
            return Err(ConfigRefusal {
                setting: Setting::new("max_in_flight_requests_per_connection", 0),
                conflicts_with: Vec::new(),
                rule: MAX_IN_FLIGHT_RULE,
            });
        }
        let mut overrides = Vec::new();
        let conflicts = self.idempotence_conflicts();
        match self.idempotence {
            Some(true) if !conflicts.is_empty() => {
                return Err(ConfigRefusal {
                    setting: Setting::new("idempotence", true),
                    conflicts_with: conflicts,
                    rule: IDEMPOTENCE_RULE,
                })
            }
            None if !conflicts.is_empty() => overrides.push(DefaultOverride {
                setting: Setting::new("idempotence", false),
                because: conflicts,
                source: "KIP-679",
            }),
            _ => {}
        }
        if let Some(id) = self.transactional_id.as_ref() {
            if !self.idempotence_enabled() {
                let mut conflicts_with = self.idempotence_conflicts();
                if self.idempotence == Some(false) {
                    conflicts_with.insert(0, Setting::new("idempotence", false));
                }
                return Err(ConfigRefusal {
                    setting: Setting::quoted("transactional_id", id),
                    conflicts_with,
                    rule: TRANSACTIONAL_RULE,
                });
            }
        }
        let floor_ms = self.delivery_floor_ms();
        let linger_and_request = || {
            vec![
                Setting::new("linger_ms", self.linger_ms),
                Setting::new("request_timeout_ms", self.request_timeout_ms),
            ]
        };
        match self.delivery_timeout_ms {
            Some(explicit_ms) if explicit_ms < floor_ms => {
                return Err(ConfigRefusal {
                    setting: Setting::new("delivery_timeout_ms", explicit_ms),
                    conflicts_with: linger_and_request(),
                    rule: DELIVERY_TIMEOUT_RULE,
                })
            }
            None if DEFAULT_DELIVERY_TIMEOUT_MS < floor_ms => overrides.push(DefaultOverride {
                setting: Setting::new("delivery_timeout_ms", floor_ms),
                because: linger_and_request(),
                source: "KIP-91",
            }),
            _ => {}
        }
        Ok(ResolvedProducer {
            idempotence: self.idempotence_enabled(),
            delivery_timeout_ms: self.effective_delivery_timeout_ms(),
            overrides,
        })
    }
}

impl ConsumerConfig {
    /// Why Kafka's consumer refuses to start with these settings, if it does.
    pub fn refusal(&self) -> Option<ConfigRefusal> {
        (self.max_poll_records == 0).then(|| ConfigRefusal {
            setting: Setting::new("max_poll_records", 0),
            conflicts_with: Vec::new(),
            rule: "Kafka's consumer refuses this (ConfigException: max.poll.records must be \
                   at least 1)",
        })
    }
}

impl MemberConfig {
    /// Why Kafka's consumer refuses to join a group with these settings, if it does.
    pub fn refusal(&self) -> Option<ConfigRefusal> {
        if self.heartbeat_interval_ms >= self.session_timeout_ms {
            return Some(ConfigRefusal {
                setting: Setting::new("heartbeat_interval_ms", self.heartbeat_interval_ms),
                conflicts_with: vec![Setting::new("session_timeout_ms", self.session_timeout_ms)],
                rule: "Kafka's consumer refuses this (IllegalArgumentException: the heartbeat \
                       interval must be below the session timeout, GroupRebalanceConfig)",
            });
        }
        if self.rebalance_timeout_ms == 0 {
            return Some(ConfigRefusal {
                setting: Setting::new("rebalance_timeout_ms", 0),
                conflicts_with: Vec::new(),
                rule: "Kafka's consumer refuses this (ConfigException: max.poll.interval.ms \
                       must be at least 1)",
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One change to the default producer.
    type Edit = fn(&mut ProducerConfig);

    fn producer(edit: impl FnOnce(&mut ProducerConfig)) -> ProducerConfig {
        let mut config = ProducerConfig::default();
        edit(&mut config);
        config
    }

    fn fields(settings: &[Setting]) -> Vec<&'static str> {
        settings.iter().map(|s| s.field).collect()
    }

    #[test]
    fn the_default_producer_is_idempotent_and_changes_nothing() {
        let resolved = ProducerConfig::default().resolve().unwrap();
        assert!(resolved.idempotence);
        assert_eq!(resolved.delivery_timeout_ms, DEFAULT_DELIVERY_TIMEOUT_MS);
        assert!(resolved.overrides.is_empty());
    }

    /// Each conflict, with idempotence unset: switched off, naming that conflict.
    #[test]
    fn each_conflict_switches_a_default_idempotence_off() {
        let cases: [(Edit, &str, &str); 4] = [
            (|c| c.acks = Acks::Leader, "acks", "\"1\""),
            (|c| c.acks = Acks::None, "acks", "\"0\""),
            (|c| c.retries = 0, "retries", "0"),
            (
                |c| c.max_in_flight_requests_per_connection = 6,
                "max_in_flight_requests_per_connection",
                "6",
            ),
        ];
        for (edit, field, value) in cases {
            let config = producer(edit);
            assert!(!config.idempotence_enabled(), "{field}");
            let resolved = config.resolve().unwrap();
            assert!(!resolved.idempotence, "{field}");
            let [switched] = &resolved.overrides[..] else {
                panic!(
                    "{field}: one override expected, got {:?}",
                    resolved.overrides
                );
            };
            assert_eq!(switched.setting, Setting::new("idempotence", false));
            assert_eq!(switched.because, vec![Setting::new(field, value)]);
            assert!(switched.describe("producer").contains("KIP-679"));
        }
    }

    /// Each conflict, with idempotence explicitly on: refused, naming both settings.
    #[test]
    fn each_conflict_refuses_an_explicit_idempotence() {
        let cases: [(Edit, &str); 3] = [
            (|c| c.acks = Acks::Leader, "`producer.acks = \"1\"`"),
            (|c| c.retries = 0, "`producer.retries = 0`"),
            (
                |c| c.max_in_flight_requests_per_connection = 6,
                "`producer.max_in_flight_requests_per_connection = 6`",
            ),
        ];
        for (edit, other) in cases {
            let config = producer(|c| {
                edit(c);
                c.idempotence = Some(true);
            });
            let refusal = config.resolve().unwrap_err();
            let line = refusal.describe("producer");
            assert!(
                line.starts_with(&format!(
                    "`producer.idempotence = true` conflicts with {other}"
                )),
                "{line}"
            );
            assert!(
                line.contains("ConfigException") && !line.contains('\n'),
                "{line}"
            );
        }
    }

    #[test]
    fn explicit_idempotence_without_conflicts_is_kept_either_way() {
        for on in [true, false] {
            let resolved = producer(|c| c.idempotence = Some(on)).resolve().unwrap();
            assert_eq!(resolved.idempotence, on);
            assert!(resolved.overrides.is_empty());
        }
    }

    /// Switched off, not refused: `false` is what the conflicting settings need.
    #[test]
    fn explicit_false_with_conflicts_runs_without_a_note() {
        let config = producer(|c| {
            c.acks = Acks::Leader;
            c.retries = 0;
            c.idempotence = Some(false);
        });
        let resolved = config.resolve().unwrap();
        assert!(!resolved.idempotence);
        assert!(resolved.overrides.is_empty());
    }

    #[test]
    fn several_conflicts_make_one_override_naming_them_all() {
        let config = producer(|c| {
            c.acks = Acks::None;
            c.retries = 0;
        });
        let resolved = config.resolve().unwrap();
        assert_eq!(resolved.overrides.len(), 1);
        assert_eq!(fields(&resolved.overrides[0].because), ["retries", "acks"]);
    }

    #[test]
    fn a_default_delivery_timeout_is_raised_to_linger_plus_request_timeout() {
        let config = producer(|c| {
            c.request_timeout_ms = 150_000;
            c.linger_ms = 10;
        });
        let resolved = config.resolve().unwrap();
        assert_eq!(resolved.delivery_timeout_ms, 150_010);
        assert_eq!(config.effective_delivery_timeout_ms(), 150_010);
        assert_eq!(
            resolved.overrides[0].setting,
            Setting::new("delivery_timeout_ms", 150_010)
        );
        assert!(resolved.overrides[0]
            .describe("producer")
            .contains("KIP-91"));
    }

    #[test]
    fn an_explicit_delivery_timeout_below_linger_plus_request_timeout_is_refused() {
        let config = producer(|c| {
            c.delivery_timeout_ms = Some(3_004);
            c.request_timeout_ms = 3_000;
            c.linger_ms = 5;
        });
        let refusal = config.resolve().unwrap_err();
        assert_eq!(refusal.setting.field, "delivery_timeout_ms");
        assert_eq!(
            fields(&refusal.conflicts_with),
            ["linger_ms", "request_timeout_ms"]
        );
        let enough = producer(|c| {
            c.delivery_timeout_ms = Some(3_005);
            c.request_timeout_ms = 3_000;
            c.linger_ms = 5;
        });
        assert_eq!(enough.resolve().unwrap().delivery_timeout_ms, 3_005);
    }

    #[test]
    fn no_requests_in_flight_is_refused() {
        let refusal = producer(|c| c.max_in_flight_requests_per_connection = 0)
            .resolve()
            .unwrap_err();
        assert_eq!(
            refusal.setting.field,
            "max_in_flight_requests_per_connection"
        );
        assert!(refusal.conflicts_with.is_empty());
    }

    #[test]
    fn a_consumer_polling_no_records_is_refused() {
        assert_eq!(ConsumerConfig::default().refusal(), None);
        let config = ConsumerConfig {
            max_poll_records: 0,
            ..ConsumerConfig::default()
        };
        let line = config.refusal().unwrap().describe("consumer");
        assert!(
            line.starts_with("`consumer.max_poll_records = 0`: Kafka's consumer refuses"),
            "{line}"
        );
    }

    #[test]
    fn a_heartbeat_not_below_the_session_timeout_is_refused() {
        assert_eq!(MemberConfig::default().refusal(), None);
        for heartbeat_interval_ms in [6_000, 7_000] {
            let config = MemberConfig {
                session_timeout_ms: 6_000,
                heartbeat_interval_ms,
                ..MemberConfig::default()
            };
            let line = config.refusal().unwrap().describe("groups[0]");
            assert!(
                line.starts_with(&format!(
                    "`groups[0].heartbeat_interval_ms = {heartbeat_interval_ms}` conflicts with \
                     `groups[0].session_timeout_ms = 6000`"
                )),
                "{line}"
            );
        }
        let below = MemberConfig {
            session_timeout_ms: 6_000,
            heartbeat_interval_ms: 5_999,
            ..MemberConfig::default()
        };
        assert_eq!(below.refusal(), None);
    }

    #[test]
    fn a_zero_poll_interval_is_refused() {
        let config = MemberConfig {
            rebalance_timeout_ms: 0,
            ..MemberConfig::default()
        };
        assert_eq!(
            config.refusal().unwrap().setting.field,
            "rebalance_timeout_ms"
        );
    }
}
