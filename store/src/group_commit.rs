//! SQLite's one writer, committing together the transactions that wait for it.
//!
//! With `synchronous = FULL` every commit waits for the disk, so one writer committing each
//! call's transaction on its own does a few thousand commits a second however small they are.
//! Here a thread owns the write connection: each [`Db::write`](crate::Db::write) is a job on its
//! queue, and the thread runs every job that is waiting — each in its own savepoint, so a job
//! that fails is rolled back alone — inside one transaction, commits once, and only then answers
//! them. A caller is answered only after the commit that holds its work is on disk, exactly as
//! with a transaction of its own; while one commit waits for the disk the next batch gathers.
//!
//! PostgreSQL does not use this: there each statement is a round trip, and one connection running
//! every write one statement after another does fewer a second than several connections do side
//! by side (docs/BENCHMARKS.md).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;

use diesel::Connection;

use super::{AnyConnection, Pool, StorageError};

/// Most jobs in one transaction: a bound on how long the last of them waits for the first.
const MAX_BATCH: usize = 256;

/// A job's work, run inside the batch's transaction (or told why there is no connection); it
/// answers with what tells its caller how the commit went.
type Job = Box<dyn FnOnce(Result<&mut AnyConnection, &str>) -> Answer + Send>;

/// Tells a job's caller its result once the batch's commit is known (`Err` with why it failed).
type Answer = Box<dyn FnOnce(Result<(), &str>) + Send>;

/// The queue of the writer thread.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Start the thread that writes through `pool` (of one connection). It ends when the last
    /// `Writer` is dropped.
    pub(crate) fn start(pool: Pool) -> std::io::Result<Writer> {
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new().name("renkei-db-writer".into()).spawn(move || run(&pool, &queue))?;
        Ok(Writer { jobs })
    }

    /// Run `f` in a savepoint of the next batch; its result once the batch is committed.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, StorageError> + Send + 'static,
        T: Send + 'static,
    {
        let (answer, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let outcome = match conn {
                Ok(conn) => conn.transaction(f),
                Err(why) => Err(StorageError::Setup(format!("no write connection: {why}"))),
            };
            Box::new(move |commit: Result<(), &str>| {
                let _ = answer.send(match commit {
                    Ok(()) => outcome,
                    // The job's own work failed first: that is its answer.
                    Err(_) if outcome.is_err() => outcome,
                    Err(why) => Err(StorageError::Setup(format!("commit: {why}"))),
                });
            })
        });
        self.jobs.send(job).map_err(|_| stopped())?;
        result.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StorageError {
    StorageError::Setup("the database writer stopped".into())
}

fn run(pool: &Pool, queue: &mpsc::Receiver<Job>) {
    while let Ok(job) = queue.recv() {
        let mut batch = vec![job];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut conn = match pool.get() {
            Ok(conn) => conn,
            Err(e) => {
                refuse(batch, &format!("no write connection: {e}"));
                continue;
            }
        };
        let mut answers = Vec::with_capacity(batch.len());
        let committed = conn.transaction(|conn| {
            for job in batch {
                // A job that panics leaves its savepoint open: the whole batch is rolled back,
                // and the others' callers hear that the commit failed.
                match catch_unwind(AssertUnwindSafe(|| job(Ok(conn)))) {
                    Ok(answer) => answers.push(answer),
                    Err(_) => return Err(diesel::result::Error::RollbackTransaction),
                }
            }
            Ok(())
        });
        let why = committed.err().map(|e| match e {
            diesel::result::Error::RollbackTransaction => "a write in the same batch failed".to_owned(),
            e => e.to_string(),
        });
        for answer in answers {
            answer(why.as_deref().map_or(Ok(()), Err));
        }
    }
}

/// Answer every job of `batch` with `why`, without running its work.
fn refuse(batch: Vec<Job>, why: &str) {
    for job in batch {
        job(Err(why))(Err(why));
    }
}
