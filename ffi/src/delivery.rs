//! Events out: one dedicated thread hands each event, as the reference
//! plugin's JSON text, to the host's callback, in order.
//!
//! The engine's driver never calls the host itself: it queues the event and
//! goes on, so a callback may call back into the engine (acknowledge the
//! event, start another upload, even `destroy` or `close`) without a
//! deadlock, and a slow callback does not stall uploads.
//!
//! Each `init` installs a new listener under a new generation; an event
//! queued for an older generation is dropped (the state machine re-delivers
//! unacknowledged terminal events to the new callback itself). After
//! [`Delivery::detach`] returns, the callback is not called again and has
//! been released (for Android, its JNI global reference is deleted).

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, ThreadId};

/// The host's event callback: called with one JSON object text per event,
/// on the delivery thread.
pub type EventCallback = Box<dyn Fn(&str) + Send + Sync>;

/// Name of the delivery thread (seen in debuggers and thread dumps).
pub const DELIVERY_THREAD_NAME: &str = "bgupload-events";

/// One queued event: the generation of the listener it is meant for, and
/// its JSON text.
struct Item {
    generation: u64,
    json: String,
}

#[derive(Default)]
struct Slot {
    generation: u64,
    listener: Option<Arc<EventCallback>>,
}

struct Shared {
    slot: Mutex<Slot>,
    /// Held by the delivery thread while it calls the callback, so that
    /// `detach` can wait for a call in progress to return.
    in_call: Mutex<()>,
}

/// The delivery thread and the current listener. Dropping every
/// [`EventQueue`] and the `Delivery` ends the thread.
pub struct Delivery {
    shared: Arc<Shared>,
    queue: EventQueue,
    thread: ThreadId,
}

/// Where events are queued; cheap to clone, one per sink.
#[derive(Clone)]
pub struct EventQueue {
    sender: Sender<Item>,
}

impl EventQueue {
    /// Queues `json` for the listener of `generation`.
    pub fn push(&self, generation: u64, json: String) {
        // The thread only stops once every queue is dropped.
        let _ = self.sender.send(Item { generation, json });
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in a callback is caught; the data stays consistent.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Delivery {
    /// Starts the delivery thread with no listener.
    pub fn start() -> std::io::Result<Delivery> {
        let shared = Arc::new(Shared {
            slot: Mutex::new(Slot::default()),
            in_call: Mutex::new(()),
        });
        let (sender, receiver) = mpsc::channel();
        let thread_shared = shared.clone();
        let handle = thread::Builder::new()
            .name(DELIVERY_THREAD_NAME.to_owned())
            .spawn(move || deliver(&thread_shared, &receiver))?;
        Ok(Delivery {
            shared,
            queue: EventQueue { sender },
            thread: handle.thread().id(),
        })
    }

    /// A queue for the driver's sink.
    pub fn queue(&self) -> EventQueue {
        self.queue.clone()
    }

    /// Installs `listener` in place of any earlier one; returns its
    /// generation, to tag the events meant for it.
    pub fn attach(&self, listener: EventCallback) -> u64 {
        let (generation, previous) = {
            let mut slot = lock(&self.shared.slot);
            slot.generation += 1;
            (slot.generation, slot.listener.replace(Arc::new(listener)))
        };
        self.wait_for_call_in_progress();
        drop(previous);
        generation
    }

    /// The generation of the listener now attached, if any.
    pub fn current(&self) -> Option<u64> {
        let slot = lock(&self.shared.slot);
        slot.listener.as_ref().map(|_| slot.generation)
    }

    /// Removes the listener: no call starts after this returns, and a call
    /// in progress has returned (unless this runs inside the callback).
    pub fn detach(&self) {
        let previous = {
            let mut slot = lock(&self.shared.slot);
            slot.generation += 1;
            slot.listener.take()
        };
        self.wait_for_call_in_progress();
        drop(previous);
    }

    /// Queues `json` for the listener attached now; dropped when there is
    /// none.
    pub fn push_to_current(&self, json: String) {
        if let Some(generation) = self.current() {
            self.queue.push(generation, json);
        }
    }

    fn wait_for_call_in_progress(&self) {
        // From inside the callback (it called init, destroy or close), the
        // call in progress is our caller: waiting would deadlock.
        if thread::current().id() != self.thread {
            drop(lock(&self.shared.in_call));
        }
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        self.detach();
    }
}

fn deliver(shared: &Shared, receiver: &Receiver<Item>) {
    while let Ok(item) = receiver.recv() {
        let _in_call = lock(&shared.in_call);
        let listener = {
            let slot = lock(&shared.slot);
            if slot.generation != item.generation {
                continue;
            }
            slot.listener.clone()
        };
        if let Some(listener) = listener {
            // A panicking callback loses this one event, not the thread.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                listener(&item.json);
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const WAIT: Duration = Duration::from_secs(10);

    fn collector() -> (EventCallback, mpsc::Receiver<String>) {
        let (sender, receiver) = mpsc::channel();
        let sender = Mutex::new(sender);
        let callback: EventCallback = Box::new(move |json: &str| {
            let _ = lock(&sender).send(json.to_owned());
        });
        (callback, receiver)
    }

    #[test]
    fn events_reach_the_listener_of_their_generation_only() {
        let delivery = Delivery::start().unwrap();
        delivery.push_to_current("dropped: no listener".to_owned());
        let (first, first_events) = collector();
        let old = delivery.attach(first);
        delivery.queue().push(old, "a".to_owned());
        assert_eq!(first_events.recv_timeout(WAIT).unwrap(), "a");
        let (second, second_events) = collector();
        let new = delivery.attach(second);
        delivery.queue().push(old, "stale".to_owned());
        delivery.queue().push(new, "b".to_owned());
        assert_eq!(second_events.recv_timeout(WAIT).unwrap(), "b");
        assert!(first_events.try_recv().is_err());
        delivery.detach();
        delivery.queue().push(new, "after detach".to_owned());
        delivery.push_to_current("after detach".to_owned());
        std::thread::sleep(Duration::from_millis(50));
        assert!(second_events.try_recv().is_err());
    }

    #[test]
    fn a_panicking_callback_does_not_stop_delivery() {
        let delivery = Delivery::start().unwrap();
        let (sender, receiver) = mpsc::channel();
        let sender = Mutex::new(sender);
        let generation = delivery.attach(Box::new(move |json: &str| {
            assert!(json != "boom", "callback panics on purpose");
            let _ = lock(&sender).send(json.to_owned());
        }));
        delivery.queue().push(generation, "boom".to_owned());
        delivery.queue().push(generation, "after".to_owned());
        assert_eq!(receiver.recv_timeout(WAIT).unwrap(), "after");
    }
}
