//! The engine's clock: tokio's (virtual under the simulator and in
//! paused-time tests), read as [`Time`] since an origin. The state machine
//! never reads a clock; everything that hands it a `now`, or measures
//! silence for a timeout, reads this one.

use bgupload_fsm::Time;
use std::time::Duration;
use tokio::time::Instant;

/// Milliseconds since the moment it was made.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: Instant,
}

impl Clock {
    /// A clock whose origin is now.
    pub fn start() -> Clock {
        Clock {
            origin: Instant::now(),
        }
    }

    /// The time since the origin.
    pub fn now(&self) -> Time {
        Time::from_duration(self.origin.elapsed())
    }

    /// The instant `time` names, for timers.
    pub fn instant(&self, time: Time) -> Instant {
        self.origin + Duration::from_millis(time.as_millis())
    }
}
