//! Events out: one dedicated thread hands each event, as the reference
//! plugin's JSON text, to the host's callback, in order.
//!
//! The engine's driver never calls the host itself: it queues the event and
//! goes on, so a callback may call back into the engine (acknowledge the
//! event, start another upload, even `destroy` or `close`) without a
//! deadlock, and a slow callback does not stall uploads.
//!
//! Each `init` offers a listener under a new generation, and the driver's
//! sink tags every event with the generation it belongs to. The state
//! machine decides when the new callback takes over (its `Attach` effect
//! switches the sink); this layer only keeps every offered listener until
//! the engine answered that init: [`Delivery::confirm`] then releases the
//! older ones, [`Delivery::withdraw`] the refused one. An event whose
//! listener is gone is dropped (the state machine re-delivers unacknowledged
//! terminal events to the new callback itself). After [`Delivery::detach`]
//! returns, no callback is called again and each has been released (for
//! Android, its JNI global reference is deleted).
//!
//! The queue is bounded for what may be dropped: UPLOADING events beyond
//! [`MAX_QUEUED_EVENTS`] waiting are dropped (a later one supersedes them),
//! so a callback that stops returning cannot grow memory without end.
//! Terminal events and refusals are always queued: their number is bounded
//! by the engine's limits (one per upload; unacknowledged events), and the
//! driver never waits on the callback, so a callback that calls back into
//! the engine cannot deadlock it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, ThreadId};

/// The host's event callback: called with one JSON object text per event,
/// on the delivery thread.
pub type EventCallback = Box<dyn Fn(&str) + Send + Sync>;

/// Name of the delivery thread (seen in debuggers and thread dumps).
pub const DELIVERY_THREAD_NAME: &str = "bgupload-events";
/// Events waiting for the callback beyond which UPLOADING events are
/// dropped.
pub const MAX_QUEUED_EVENTS: usize = 4_096;

/// One queued event: the generation of the listener it is meant for, and
/// its JSON text.
struct Item {
    generation: u64,
    json: String,
}

/// The listeners offered and not released, by generation, and the one the
/// host's last answered `init` installed.
#[derive(Default)]
struct Slot {
    last_generation: u64,
    current: Option<u64>,
    listeners: BTreeMap<u64, Arc<EventCallback>>,
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
    queued: Arc<AtomicUsize>,
}

/// Whether an event may be dropped when the queue is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Droppable {
    /// UPLOADING: a later one supersedes it.
    Progress,
    /// Terminal events and refusals: always queued.
    Never,
}

impl EventQueue {
    /// Queues `json` for the listener of `generation`; a progress event is
    /// dropped when [`MAX_QUEUED_EVENTS`] are waiting.
    pub fn push(&self, generation: u64, json: String, droppable: Droppable) {
        let waiting = self.queued.load(Ordering::Relaxed);
        if droppable == Droppable::Progress && waiting >= MAX_QUEUED_EVENTS {
            return;
        }
        self.queued.fetch_add(1, Ordering::Relaxed);
        // The thread only stops once every queue is dropped.
        if self.sender.send(Item { generation, json }).is_err() {
            self.queued.fetch_sub(1, Ordering::Relaxed);
        }
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
        let queued = Arc::new(AtomicUsize::new(0));
        let thread_shared = shared.clone();
        let thread_queued = queued.clone();
        let handle = thread::Builder::new()
            .name(DELIVERY_THREAD_NAME.to_owned())
            .spawn(move || deliver(&thread_shared, &receiver, &thread_queued))?;
        Ok(Delivery {
            shared,
            queue: EventQueue { sender, queued },
            thread: handle.thread().id(),
        })
    }

    /// A queue for the driver's sink.
    pub fn queue(&self) -> EventQueue {
        self.queue.clone()
    }

    /// Offers `listener` for an `init`, beside the ones there are; returns
    /// its generation, to tag the events meant for it.
    pub fn offer(&self, listener: EventCallback) -> u64 {
        let mut slot = lock(&self.shared.slot);
        slot.last_generation += 1;
        let generation = slot.last_generation;
        slot.listeners.insert(generation, Arc::new(listener));
        generation
    }

    /// The engine accepted the init of `generation`: it is the current
    /// listener, and every older one is released (a call in progress has
    /// returned, unless this runs inside the callback).
    pub fn confirm(&self, generation: u64) {
        let released = {
            let mut slot = lock(&self.shared.slot);
            slot.current = Some(generation);
            let kept = slot.listeners.split_off(&generation);
            std::mem::replace(&mut slot.listeners, kept)
        };
        self.wait_for_call_in_progress();
        drop(released);
    }

    /// The engine refused (or never answered) the init of `generation`:
    /// its listener is released; the earlier one stays.
    pub fn withdraw(&self, generation: u64) {
        let released = lock(&self.shared.slot).listeners.remove(&generation);
        self.wait_for_call_in_progress();
        drop(released);
    }

    /// The generation of the listener the last accepted init installed.
    pub fn current(&self) -> Option<u64> {
        lock(&self.shared.slot).current
    }

    /// Removes every listener: no call starts after this returns, and a
    /// call in progress has returned (unless this runs inside the callback).
    pub fn detach(&self) {
        let released = {
            let mut slot = lock(&self.shared.slot);
            slot.current = None;
            std::mem::take(&mut slot.listeners)
        };
        self.wait_for_call_in_progress();
        drop(released);
    }

    /// Queues `json` for the listener attached now; dropped when there is
    /// none.
    pub fn push_to_current(&self, json: String) {
        if let Some(generation) = self.current() {
            self.queue.push(generation, json, Droppable::Never);
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

fn deliver(shared: &Shared, receiver: &Receiver<Item>, queued: &AtomicUsize) {
    while let Ok(item) = receiver.recv() {
        queued.fetch_sub(1, Ordering::Relaxed);
        let _in_call = lock(&shared.in_call);
        let listener = lock(&shared.slot).listeners.get(&item.generation).cloned();
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
        let old = delivery.offer(first);
        delivery.confirm(old);
        delivery.queue().push(old, "a".to_owned(), Droppable::Never);
        assert_eq!(first_events.recv_timeout(WAIT).unwrap(), "a");
        // Offered, not yet answered: both listeners get their own events.
        let (second, second_events) = collector();
        let new = delivery.offer(second);
        delivery
            .queue()
            .push(old, "still the old one's".to_owned(), Droppable::Never);
        assert_eq!(
            first_events.recv_timeout(WAIT).unwrap(),
            "still the old one's"
        );
        delivery.confirm(new);
        delivery
            .queue()
            .push(old, "stale".to_owned(), Droppable::Never);
        delivery.queue().push(new, "b".to_owned(), Droppable::Never);
        assert_eq!(second_events.recv_timeout(WAIT).unwrap(), "b");
        assert!(first_events.try_recv().is_err());
        // A refused init's listener goes; the current one stays.
        let (third, third_events) = collector();
        let refused = delivery.offer(third);
        delivery.withdraw(refused);
        delivery
            .queue()
            .push(refused, "never".to_owned(), Droppable::Never);
        delivery.push_to_current("c".to_owned());
        assert_eq!(second_events.recv_timeout(WAIT).unwrap(), "c");
        assert!(third_events.try_recv().is_err());
        delivery.detach();
        delivery
            .queue()
            .push(new, "after detach".to_owned(), Droppable::Never);
        delivery.push_to_current("after detach".to_owned());
        std::thread::sleep(Duration::from_millis(50));
        assert!(second_events.try_recv().is_err());
    }

    #[test]
    fn progress_beyond_the_bound_is_dropped_terminal_events_never() {
        let delivery = Delivery::start().unwrap();
        let (release, gate) = mpsc::channel::<()>();
        let gate = Mutex::new(gate);
        let (seen, seen_events) = mpsc::channel::<String>();
        let seen = Mutex::new(seen);
        let generation = delivery.offer(Box::new(move |json: &str| {
            if json == "stuck" {
                let _ = lock(&gate).recv_timeout(WAIT);
            }
            let _ = lock(&seen).send(json.to_owned());
        }));
        delivery.confirm(generation);
        let queue = delivery.queue();
        queue.push(generation, "stuck".to_owned(), Droppable::Never);
        // The callback is now stuck inside "stuck": nothing is waiting.
        let started = std::time::Instant::now();
        while queue.queued.load(Ordering::Relaxed) > 0 && started.elapsed() < WAIT {
            std::thread::sleep(Duration::from_millis(1));
        }
        for n in 0..MAX_QUEUED_EVENTS + 100 {
            queue.push(generation, format!("progress {n}"), Droppable::Progress);
        }
        for n in 0..3 {
            queue.push(generation, format!("terminal {n}"), Droppable::Never);
        }
        assert_eq!(queue.queued.load(Ordering::Relaxed), MAX_QUEUED_EVENTS + 3);
        release.send(()).unwrap();
        let delivered: Vec<String> = (0..MAX_QUEUED_EVENTS + 4)
            .map(|_| seen_events.recv_timeout(WAIT).unwrap())
            .collect();
        assert_eq!(delivered[0], "stuck");
        assert_eq!(
            delivered[MAX_QUEUED_EVENTS],
            format!("progress {}", MAX_QUEUED_EVENTS - 1)
        );
        assert_eq!(
            &delivered[MAX_QUEUED_EVENTS + 1..],
            ["terminal 0", "terminal 1", "terminal 2"]
        );
    }

    #[test]
    fn a_panicking_callback_does_not_stop_delivery() {
        let delivery = Delivery::start().unwrap();
        let (sender, receiver) = mpsc::channel();
        let sender = Mutex::new(sender);
        let generation = delivery.offer(Box::new(move |json: &str| {
            assert!(json != "boom", "callback panics on purpose");
            let _ = lock(&sender).send(json.to_owned());
        }));
        delivery.confirm(generation);
        delivery
            .queue()
            .push(generation, "boom".to_owned(), Droppable::Never);
        delivery
            .queue()
            .push(generation, "after".to_owned(), Droppable::Never);
        assert_eq!(receiver.recv_timeout(WAIT).unwrap(), "after");
    }
}
