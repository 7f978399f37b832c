//! The world's handle on madsim's clock, taken once per run: reading the simulated time on
//! every event then costs one lock of the clock, not a look-up of the running runtime and
//! two reference counts taken and dropped.

use madsim::time::TimeHandle;
use std::sync::OnceLock;

/// The running runtime's time handle, taken at the first reading (inside the runtime).
#[derive(Default)]
pub struct SimClock {
    handle: OnceLock<TimeHandle>,
}

impl SimClock {
    /// Global simulated time since the run began (what `World::now_ms` reads).
    pub fn now_ms(&self) -> u64 {
        self.handle
            .get_or_init(TimeHandle::current)
            .elapsed()
            .as_millis() as u64
    }
}

impl std::fmt::Debug for SimClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SimClock")
    }
}
