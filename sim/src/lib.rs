//! kafka-sim
