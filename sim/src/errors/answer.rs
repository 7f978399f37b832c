//! What a broker's answer says went wrong: each error it carries, per partition or for a
//! group, read off the response as it leaves the broker (the typed event
//! `EventKind::ErrorAnswered`).

use kafka_model::group::GroupResponse;
use kafka_model::ids::TopicPartition;
use kafka_model::protocol::Message;

/// What an error is about.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorSubject {
    Partition(TopicPartition),
    Group(String),
}

/// One error of one answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnsweredError {
    pub subject: ErrorSubject,
    /// Kafka's name for it (`NOT_ENOUGH_REPLICAS`).
    pub error: String,
}

/// The correlation id and the errors of a client-facing answer (produce, fetch, group),
/// if it carries any.
pub fn answered_errors(message: &Message) -> Option<(u64, Vec<AnsweredError>)> {
    let partition = |tp: &TopicPartition, error: &dyn ToString| AnsweredError {
        subject: ErrorSubject::Partition(tp.clone()),
        error: error.to_string(),
    };
    let (correlation_id, errors): (u64, Vec<AnsweredError>) = match message {
        Message::ProduceResponse {
            correlation_id,
            results,
        } => (
            *correlation_id,
            results
                .iter()
                .filter_map(|(tp, r)| r.as_ref().err().map(|e| partition(tp, e)))
                .collect(),
        ),
        Message::FetchResponse {
            correlation_id,
            results,
        } => (
            *correlation_id,
            results
                .iter()
                .filter_map(|(tp, r)| r.as_ref().err().map(|e| partition(tp, e)))
                .collect(),
        ),
        Message::GroupResponse {
            correlation_id,
            response,
        } => {
            let (group, error) = group_error(response)?;
            let error = AnsweredError {
                subject: ErrorSubject::Group(group),
                error,
            };
            (*correlation_id, vec![error])
        }
        _ => return None,
    };
    (!errors.is_empty()).then_some((correlation_id, errors))
}

/// A group answer's group and its first error (the one the member is told of).
fn group_error(response: &GroupResponse) -> Option<(String, String)> {
    let (group, error) = match response {
        GroupResponse::JoinGroup { group, result, .. } => (group, result.as_ref().err()?),
        GroupResponse::SyncGroup { group, result } => (group, result.as_ref().err()?),
        GroupResponse::Heartbeat { group, result }
        | GroupResponse::LeaveGroup { group, result } => (group, result.as_ref().err()?),
        GroupResponse::OffsetCommit { group, results }
        | GroupResponse::TxnOffsetCommit { group, results } => {
            (group, results.iter().find_map(|(_, r)| r.as_ref().err())?)
        }
        GroupResponse::OffsetFetch { group, result } => match result {
            Err(error) => (group, error),
            Ok(partitions) => (
                group,
                partitions.iter().find_map(|(_, r)| r.as_ref().err())?,
            ),
        },
    };
    Some((group.0.clone(), error.to_string()))
}
