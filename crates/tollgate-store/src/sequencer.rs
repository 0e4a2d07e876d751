//! The sequencer: concurrent changes to one tenant share a transaction (group commit).
//!
//! A change submitted with [`Store::sequenced`] joins its tenant's queue. One runner per tenant
//! (a task that exists only while the queue is not empty) takes everything queued, up to
//! [`MAX_BATCH`] changes, and runs them in one transaction: it takes the tenant log's lock
//! once, runs each change inside its own savepoint (a change that fails is rolled back alone
//! and its caller gets its error), appends every entry in one batch and commits once. While a
//! batch commits, the next one queues up, so under load the batches grow by themselves and at
//! low load a change runs at once: a change waits for at most the batch in flight and its own,
//! as long as fewer than [`MAX_BATCH`] are queued ahead of it; past [`MAX_QUEUED`] a tenant's
//! new changes are refused until the queue drains.
//!
//! Only tenant-scoped changes are sequenced: the transaction runs in the tenant's scope, so
//! row-level security holds for every change in it. System-scope changes (the operator's)
//! commit on their own with [`Store::begin_change`].

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use tokio::sync::oneshot;
use uuid::Uuid;

use crate::audit::{Appended, NewAuditEntry, SYSTEM_LOG};
use crate::{Change, Scope, Store, StoreError};

/// Changes run in one transaction at most.
pub const MAX_BATCH: usize = 128;
/// Changes queued for one tenant at most; past it [`Store::sequenced`] refuses new ones.
pub const MAX_QUEUED: usize = 4_096;

/// How long one change's work may run inside a batch (it holds the batch's transaction and
/// the log's lock); past it the batch is rolled back.
pub const WORK_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

tokio::task_local! {
    /// Set while a batch's change runs: the tenant whose batch it is.
    static IN_BATCH: Uuid;
}

/// What a sequenced change's work returns: its result and the entry that records it.
pub type ChangeFuture<'c, T> =
    Pin<Box<dyn Future<Output = Result<(T, NewAuditEntry), StoreError>> + Send + 'c>>;

/// A sequenced change as committed.
#[derive(Debug)]
pub struct Sequenced<T> {
    /// What the change's work returned.
    pub value: T,
    /// Its entries as appended, in the order recorded (the returned entry last).
    pub appended: Vec<Appended>,
    /// Changes committed in the same transaction, this one included.
    pub batch: usize,
}

type Value = Box<dyn Any + Send>;
type Outcome = Result<(Value, Vec<Appended>, usize), StoreError>;
type Work = Box<
    dyn for<'c> FnOnce(
            &'c mut Change,
        ) -> Pin<
            Box<dyn Future<Output = Result<(Value, NewAuditEntry), StoreError>> + Send + 'c>,
        > + Send,
>;

struct Job {
    work: Work,
    reply: oneshot::Sender<Outcome>,
}

#[derive(Default)]
struct Lane {
    queue: VecDeque<Job>,
    running: bool,
}

/// The queues, one per tenant with changes waiting or running.
#[derive(Default)]
pub(crate) struct Sequencer(Mutex<HashMap<Uuid, Lane>>);

impl std::fmt::Debug for Sequencer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sequencer")
    }
}

impl Sequencer {
    fn lanes(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Lane>> {
        // A panic never happens while the lock is held (only queue operations run under it).
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `job`; true when the lane has no runner and the caller must start one.
    fn push(&self, tenant: Uuid, job: Job) -> Result<bool, Job> {
        let mut lanes = self.lanes();
        let lane = lanes.entry(tenant).or_default();
        if lane.queue.len() >= MAX_QUEUED {
            return Err(job);
        }
        lane.queue.push_back(job);
        let start = !lane.running;
        lane.running = true;
        Ok(start)
    }

    /// The next batch; empty (and the lane gone) when nothing is queued, in the same critical
    /// section, so a change queued after it starts a new runner.
    fn take(&self, tenant: Uuid) -> Vec<Job> {
        let mut lanes = self.lanes();
        let Some(lane) = lanes.get_mut(&tenant) else {
            return Vec::new();
        };
        let n = lane.queue.len().min(MAX_BATCH);
        if n == 0 {
            lanes.remove(&tenant);
            return Vec::new();
        }
        lane.queue.drain(..n).collect()
    }
}

impl Store {
    /// Changes of `tenant` waiting for a batch (not counting the batch running).
    pub fn sequencer_queue(&self, tenant: Uuid) -> usize {
        self.sequencer
            .lanes()
            .get(&tenant)
            .map_or(0, |lane| lane.queue.len())
    }

    /// Runs `work` as a change in `tenant`'s scope, batched with the tenant's other changes
    /// waiting at the same time (see the module's documentation). `work` makes the change on
    /// the [`Change`] it is given and returns its result and the entry recording it, which
    /// goes to the tenant's log with any it recorded itself. It runs even if the caller stops
    /// waiting; its error, or the batch's, is returned, and nothing of it is committed then.
    pub async fn sequenced<T, F>(&self, tenant: Uuid, work: F) -> Result<Sequenced<T>, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Change) -> ChangeFuture<'c, T> + Send + 'static,
    {
        if tenant == SYSTEM_LOG {
            return Err(StoreError::Refused(
                "only tenants' changes are sequenced; the system log's commit on their own".into(),
            ));
        }
        if IN_BATCH.try_with(|_| ()).is_ok() {
            return Err(StoreError::Refused(
                "a sequenced change cannot queue another one (it would wait for itself); make \
                 both one change"
                    .into(),
            ));
        }
        let (reply, answer) = oneshot::channel();
        let work: Work = Box::new(move |change: &mut Change| {
            Box::pin(async move {
                let (value, entry) = work(change).await?;
                Ok((Box::new(value) as Value, entry))
            })
        });
        match self.sequencer.push(tenant, Job { work, reply }) {
            Ok(true) => {
                let store = self.clone();
                tokio::spawn(async move { store.run_lane(tenant).await });
            }
            Ok(false) => {}
            Err(_) => {
                return Err(StoreError::Busy(format!(
                    "{MAX_QUEUED} changes of tenant {tenant} are waiting to be committed; retry shortly"
                )))
            }
        }
        let (value, appended, batch) = answer.await.map_err(|_| StoreError::Batch {
            reason: "the batch it ran in stopped before committing".into(),
            unavailable: false,
        })??;
        let value = value.downcast::<T>().map_err(|_| {
            StoreError::Refused("the sequencer mixed up two changes' results".into())
        })?;
        Ok(Sequenced {
            value: *value,
            appended,
            batch,
        })
    }

    /// The runner of `tenant`'s lane: batches until the queue is empty.
    async fn run_lane(self, tenant: Uuid) {
        let mut guard = LaneGuard {
            store: self.clone(),
            tenant,
            finished: false,
        };
        loop {
            let jobs = self.sequencer.take(tenant);
            if jobs.is_empty() {
                guard.finished = true;
                return;
            }
            self.run_batch(tenant, jobs).await;
        }
    }

    async fn run_batch(&self, tenant: Uuid, jobs: Vec<Job>) {
        let change = match self.begin_batch(tenant).await {
            Ok(change) => change,
            Err(e) => return fail_all(jobs.into_iter().map(|j| j.reply), &e),
        };
        let mut batch = Batch {
            tenant,
            isolate: jobs.len() > 1,
            savepoint: false,
            pending: false,
            change,
            ran: Vec::with_capacity(jobs.len()),
        };
        let mut jobs = jobs.into_iter();
        while let Some(job) = jobs.next() {
            let stop = match batch.mark(true).await {
                Ok(()) => batch.run(job).await,
                Err(e) => Err((e, Some(job.reply))),
            };
            if let Err((e, reply)) = stop {
                let rest = reply.into_iter().chain(jobs.map(|j| j.reply));
                return fail_all(batch.ran.into_iter().map(|r| r.reply).chain(rest), &e);
            }
        }
        if let Err(e) = batch.mark(false).await {
            return fail_all(batch.ran.into_iter().map(|r| r.reply), &e);
        }
        batch.commit().await;
    }

    /// The batch's transaction, holding the tenant log's lock from the start (the order the
    /// usage writer takes it in, before any row a change updates).
    async fn begin_batch(&self, tenant: Uuid) -> Result<Change, StoreError> {
        let mut change = self.begin_change(Scope::Tenant(tenant)).await?;
        change.lock_log_first(tenant).await?;
        Ok(change)
    }
}

/// A change that ran and waits for the commit.
struct Ran {
    reply: oneshot::Sender<Outcome>,
    value: Value,
    /// Where its entries start in the batch's.
    start: usize,
}

/// One batch in its transaction.
struct Batch {
    tenant: Uuid,
    /// Whether changes run in savepoints (a batch of one does not need them).
    isolate: bool,
    savepoint: bool,
    /// Whether the change since the savepoint ran and is the last of `ran`.
    pending: bool,
    change: Change,
    ran: Vec<Ran>,
}

/// Why a batch stopped: the error, and the reply of the change it stopped at, if not yet
/// answered.
type Stop = (StoreError, Option<oneshot::Sender<Outcome>>);

impl Batch {
    /// Ends the previous change's savepoint and, if `next`, starts one for the next change.
    /// A previous change whose work hid a database error (PostgreSQL then refuses everything
    /// until the savepoint is rolled back) is rolled back and answered with that error here.
    async fn mark(&mut self, next: bool) -> Result<(), StoreError> {
        if !self.isolate || (!next && !self.savepoint) {
            return Ok(());
        }
        let mut tried_again = false;
        loop {
            let result = match (self.savepoint, next) {
                (false, _) => self.change.tx.savepoint(false).await,
                (true, true) => self.change.tx.savepoint(true).await,
                (true, false) => self.change.tx.release_savepoint().await,
            };
            let Err(e) = result else {
                self.savepoint = next;
                self.pending = false;
                return Ok(());
            };
            if !self.savepoint || !self.pending || tried_again {
                return Err(e);
            }
            self.change.tx.rollback_to_savepoint().await?;
            self.pending = false;
            if let Some(previous) = self.ran.pop() {
                self.change.entries.truncate(previous.start);
                let _ = previous.reply.send(Err(StoreError::Refused(format!(
                    "the change left its transaction failed ({e}) and was rolled back"
                ))));
            }
            tried_again = true;
        }
    }

    /// Runs one change; `Err` when the batch cannot go on.
    async fn run(&mut self, job: Job) -> Result<(), Stop> {
        let start = self.change.entries.len();
        let work = IN_BATCH.scope(self.tenant, (job.work)(&mut self.change));
        let outcome = match tokio::time::timeout(WORK_TIME_LIMIT, work).await {
            Ok(outcome) => outcome,
            Err(_) => {
                let _ = job.reply.send(Err(StoreError::Refused(format!(
                    "the change ran longer than {} s and was rolled back; a change makes its \
                     writes on the Change it is given, never through the Store",
                    WORK_TIME_LIMIT.as_secs()
                ))));
                let e = StoreError::Refused("a change in it ran too long".into());
                return Err((e, None));
            }
        };
        let outcome = outcome.and_then(|(value, entry)| {
            self.change.record(entry);
            let entries = self.change.entries.get(start..).unwrap_or_default();
            match entries.iter().find(|e| e.log() != self.tenant) {
                Some(e) => Err(StoreError::Refused(format!(
                    "a change of tenant {} recorded an entry in log {}; it can write its \
                     tenant's log only",
                    self.tenant,
                    e.log()
                ))),
                None => Ok(value),
            }
        });
        match outcome {
            Ok(value) => {
                self.ran.push(Ran {
                    reply: job.reply,
                    value,
                    start,
                });
                self.pending = true;
                Ok(())
            }
            Err(e) => {
                self.change.entries.truncate(start);
                let _ = job.reply.send(Err(e));
                if !self.isolate {
                    // The batch's only change: dropping the transaction rolls it back.
                    return Err((StoreError::Refused("its only change failed".into()), None));
                }
                self.change
                    .tx
                    .rollback_to_savepoint()
                    .await
                    .map_err(|e| (e, None))
            }
        }
    }

    /// Appends every entry, commits, and answers each change with its own.
    async fn commit(self) {
        let Batch {
            mut change, ran, ..
        } = self;
        if ran.is_empty() {
            return;
        }
        let appended = match change.append_recorded().await {
            Ok(appended) => appended,
            Err(e) => return fail_all(ran.into_iter().map(|r| r.reply), &e),
        };
        if let Err(e) = change.tx.commit().await {
            for r in ran {
                let _ = r.reply.send(Err(StoreError::CommitUnknown(e.to_string())));
            }
            return;
        }
        let size = ran.len();
        let ends: Vec<usize> = ran
            .iter()
            .skip(1)
            .map(|r| r.start)
            .chain([appended.len()])
            .collect();
        for (r, end) in ran.into_iter().zip(ends) {
            let mine = appended.get(r.start..end).unwrap_or_default().to_vec();
            let _ = r.reply.send(Ok((r.value, mine, size)));
        }
    }
}

/// Tells every caller that the batch failed with `error` and nothing of it was committed.
fn fail_all(replies: impl Iterator<Item = oneshot::Sender<Outcome>>, error: &StoreError) {
    for reply in replies {
        let _ = reply.send(Err(StoreError::Batch {
            reason: error.to_string(),
            unavailable: error.is_unavailable(),
        }));
    }
}

/// Keeps a lane alive if its runner dies (a change's work panicked): the changes queued behind
/// get a new runner instead of waiting forever.
struct LaneGuard {
    store: Store,
    tenant: Uuid,
    finished: bool,
}

impl Drop for LaneGuard {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let restart = {
            let mut lanes = self.store.sequencer.lanes();
            match lanes.get_mut(&self.tenant) {
                Some(lane) if !lane.queue.is_empty() => true,
                _ => {
                    lanes.remove(&self.tenant);
                    false
                }
            }
        };
        if restart {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                let store = self.store.clone();
                let tenant = self.tenant;
                runtime.spawn(async move { store.run_lane(tenant).await });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> (Job, oneshot::Receiver<Outcome>) {
        let (reply, answer) = oneshot::channel();
        let work: Work = Box::new(|_change: &mut Change| {
            Box::pin(async { Err(StoreError::Refused("never run".into())) })
        });
        (Job { work, reply }, answer)
    }

    #[test]
    fn the_first_change_starts_a_runner_and_the_rest_queue() {
        let seq = Sequencer::default();
        let lane = Uuid::new_v4();
        assert!(matches!(seq.push(lane, job().0), Ok(true)));
        assert!(matches!(seq.push(lane, job().0), Ok(false)));
        assert!(matches!(seq.push(Uuid::new_v4(), job().0), Ok(true)));
        assert_eq!(seq.take(lane).len(), 2);
        // Empty now: the lane goes, and the next change starts a runner again.
        assert!(seq.take(lane).is_empty());
        assert!(matches!(seq.push(lane, job().0), Ok(true)));
    }

    #[test]
    fn batches_are_bounded_and_so_is_the_queue() {
        let seq = Sequencer::default();
        let lane = Uuid::new_v4();
        for _ in 0..MAX_QUEUED {
            assert!(seq.push(lane, job().0).is_ok());
        }
        assert!(seq.push(lane, job().0).is_err());
        assert_eq!(seq.take(lane).len(), MAX_BATCH);
        assert!(seq.push(lane, job().0).is_ok());
        let mut left = MAX_QUEUED - MAX_BATCH + 1;
        while left > 0 {
            let n = seq.take(lane).len();
            assert_eq!(n, left.min(MAX_BATCH));
            left -= n;
        }
        assert!(seq.take(lane).is_empty());
    }
}
