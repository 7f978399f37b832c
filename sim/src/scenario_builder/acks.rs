//! What [`ScenarioBuilder::acks`](super::ScenarioBuilder::acks) accepts: the model's
//! [`Acks`], or the producer's `acks` setting as Kafka spells it (`0`, `1`, `-1`, `"all"`).

use kafka_model::config::Acks;

/// An acknowledgement level, as the model names it or as Kafka's `acks` setting spells it.
///
/// There is no `Acks::One`: the model's variants say what the producer waits for,
/// `Acks::None` (acks=0, nothing), `Acks::Leader` (acks=1, the leader's append) and
/// `Acks::All` (acks=all, the in-sync replicas). Write `1` or `"1"` to use Kafka's spelling:
///
/// ```
/// use kafka_model::config::Acks;
/// use kafka_sim::scenario_builder::IntoAcks;
///
/// assert_eq!(1.into_acks(), Ok(Acks::Leader));
/// assert_eq!("all".into_acks(), Ok(Acks::All));
/// assert_eq!((-1).into_acks(), Ok(Acks::All));
/// assert!(2.into_acks().is_err());
/// ```
pub trait IntoAcks {
    /// The level, or why the value is not one Kafka's producer accepts.
    fn into_acks(self) -> Result<Acks, String>;
}

impl IntoAcks for Acks {
    fn into_acks(self) -> Result<Acks, String> {
        Ok(self)
    }
}

/// `acks=0`, `acks=1`, or `acks=-1` (Kafka's other spelling of all).
impl IntoAcks for i32 {
    fn into_acks(self) -> Result<Acks, String> {
        match self {
            0 => Ok(Acks::None),
            1 => Ok(Acks::Leader),
            -1 => Ok(Acks::All),
            other => Err(refusal(&other.to_string())),
        }
    }
}

/// `"0"`, `"1"`, `"all"` or `"-1"`, as in a producer's properties.
impl IntoAcks for &str {
    fn into_acks(self) -> Result<Acks, String> {
        match self.trim() {
            "0" => Ok(Acks::None),
            "1" => Ok(Acks::Leader),
            "all" | "-1" => Ok(Acks::All),
            other => Err(refusal(&format!("\"{other}\""))),
        }
    }
}

/// Kafka's own message for a value outside `ConfigDef`'s list.
fn refusal(value: &str) -> String {
    format!(
        "acks = {value}: Kafka's producer refuses it (ConfigException: String must be one of: \
         all, -1, 0, 1)"
    )
}
