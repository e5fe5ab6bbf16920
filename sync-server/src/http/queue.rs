//! A queue with a thread of its own: the thread owns a resource (the database, the token
//! reader) and runs the requests' work on it one after another, in the order they asked.
//!
//! Requests used to queue on a fair async mutex for the database and then each take a thread
//! of tokio's blocking pool, and every request's token check took one too. Under a burst (S5's
//! first wave: 200 devices at once) the pool grew to about 35 threads, woken in turn: the
//! work ran on threads whose caches and allocator heaps were cold, and token checks crowded
//! on their connection's lock. One thread per resource, fed by a channel, keeps the order and
//! runs every job warm.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::thread::{JoinHandle, ThreadId};

use crate::error::AppError;

/// One request's work on the resource `R`.
type Job<R> = Box<dyn FnOnce(&R) + Send>;

/// The thread that owns a resource `R`, and the way to give it work.
#[derive(Debug)]
pub(super) struct Queue<R> {
    jobs: Option<mpsc::Sender<Job<R>>>,
    thread: Option<JoinHandle<()>>,
    id: ThreadId,
}

impl<R: Send + 'static> Queue<R> {
    /// Starts the thread `name`, owning `resource`.
    pub(super) fn start(name: &str, resource: R) -> Result<Queue<R>, AppError> {
        let (jobs, queued) = mpsc::channel::<Job<R>>();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                for job in queued {
                    // A job that panics has told its request so (its answer channel is
                    // dropped); the queue goes on with the next.
                    let _ = catch_unwind(AssertUnwindSafe(|| job(&resource)));
                }
            })
            .map_err(|e| AppError::Internal(format!("cannot start the thread {name}: {e}")))?;
        Ok(Queue {
            id: thread.thread().id(),
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Queues `f` now, behind the work queued before it, to run on the queue's thread; the
    /// future gives its result. Dropping the future before `f`'s turn comes (the client hung
    /// up, its time ran out) takes `f` out of the work: it is not run.
    pub(super) fn run<T, F>(&self, f: F) -> impl Future<Output = Result<T, AppError>> + use<R, T, F>
    where
        T: Send + 'static,
        F: FnOnce(&R) -> Result<T, AppError> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job<R> = Box::new(move |resource| {
            if !answer.is_closed() {
                let _ = answer.send(f(resource));
            }
        });
        let queued = self
            .jobs
            .as_ref()
            .is_some_and(|jobs| jobs.send(job).is_ok());
        async move {
            if !queued {
                return Err(AppError::Internal(
                    "the thread for this work has stopped".into(),
                ));
            }
            answered
                .await
                .map_err(|_| AppError::Internal("the work failed".into()))?
        }
    }
}

impl<R> Drop for Queue<R> {
    /// Lets the thread finish the work queued and drop its resource, and waits for it, so
    /// that the database is closed when the relay's state is gone. The last state may be
    /// dropped by a job on the thread itself; that thread cannot wait for itself, and ends on
    /// its own when the job returns.
    fn drop(&mut self) {
        drop(self.jobs.take());
        if std::thread::current().id() != self.id {
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::db::Db;

    fn queue() -> (tempfile::TempDir, Queue<Db>) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("relay.sqlite3")).unwrap();
        (dir, Queue::start("tidemark-db", db).unwrap())
    }

    /// Jobs run one after another, on one thread, in the order they were queued, and a job
    /// that panics fails its own request only.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn jobs_run_in_order_on_one_thread_and_a_panic_fails_only_its_own() {
        let (_dir, queue) = queue();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let waiting: Vec<_> = (0..50u32)
            .map(|i| {
                let seen = Arc::clone(&seen);
                queue.run(move |db| {
                    if i == 20 {
                        panic!("job {i} fails");
                    }
                    db.add_unit(&format!("Đồn Biên phòng số {i}"), None)?;
                    seen.lock().unwrap().push((i, std::thread::current().id()));
                    Ok(i)
                })
            })
            .collect();
        for (i, answer) in futures_join(waiting).await.into_iter().enumerate() {
            match answer {
                Ok(n) => assert_eq!(n as usize, i),
                Err(e) => {
                    assert_eq!(i, 20);
                    assert!(e.to_string().contains("the work failed"), "{e}");
                }
            }
        }
        let seen = seen.lock().unwrap().clone();
        let order: Vec<u32> = seen.iter().map(|(i, _)| *i).collect();
        let expected: Vec<u32> = (0..50).filter(|i| *i != 20).collect();
        assert_eq!(order, expected);
        assert!(seen.iter().all(|(_, t)| *t == queue.id));
        assert_ne!(queue.id, std::thread::current().id());
    }

    /// Work whose request stopped waiting before its turn is not done; the work after it is.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_no_longer_waited_for_is_not_done() {
        let (_dir, queue) = queue();
        let (release, held) = std::sync::mpsc::channel::<()>();
        let first = queue.run(move |_| {
            held.recv().unwrap();
            Ok(())
        });
        let dropped = queue.run(|db| db.add_unit("Đồn bỏ dở", None));
        let last = queue.run(|db| db.add_unit("Đồn còn lại", None));
        drop(dropped);
        release.send(()).unwrap();
        first.await.unwrap();
        last.await.unwrap();
        // Only the work that was waited for was done: the first unit can be added now, the
        // second exists already.
        queue
            .run(|db| db.add_unit("Đồn bỏ dở", None))
            .await
            .unwrap();
        let again = queue.run(|db| db.add_unit("Đồn còn lại", None)).await;
        assert!(matches!(again, Err(AppError::Conflict { .. })), "{again:?}");
    }

    /// Awaits every future, in order.
    async fn futures_join<F: Future>(all: Vec<F>) -> Vec<F::Output> {
        let mut out = Vec::new();
        for f in all {
            out.push(f.await);
        }
        out
    }
}
