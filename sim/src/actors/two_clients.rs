//! A node that runs a consumer and a producer side by side (an exactly-once pipeline
//! member, a service replica): the producer numbers its requests from its own range, so
//! that each answer goes back to the client that asked.

use kafka_model::protocol::Message;

/// Where the producer's correlation ids start: far above any the consumer reaches. A
/// pipeline's n-th producer instance starts at n times this, so that a late answer to a
/// fenced instance is not taken for a new one's.
pub const PRODUCER_REQUESTS_FROM: u64 = 1 << 40;

/// Whether an answer is the producer's (else the consumer's).
pub fn answers_producer(message: &Message) -> bool {
    match message {
        Message::MetadataResponse { correlation_id, .. }
        | Message::FindCoordinatorResponse { correlation_id, .. }
        | Message::GroupResponse { correlation_id, .. } => {
            *correlation_id >= PRODUCER_REQUESTS_FROM
        }
        Message::ListOffsetsResponse { .. } | Message::FetchResponse { .. } => false,
        _ => true,
    }
}
