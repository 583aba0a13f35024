//! The gRPC service: each method validates its input, then asks the supervisor.
//!
//! A call that changes state (Start, Cancel, Answer, Steer, Prune) runs as a task of
//! its own ([`Service::to_the_end`]): tonic drops a call's future when its
//! client goes (a reset stream, a closed connection), and a Start dropped
//! between its folder and its record, or in `git worktree add`, would leave
//! a job half made. Run apart, it ends whole whoever is still listening.

use std::{pin::Pin, time::Duration};

use codex_async_proto::v1::{
    codex_async_server::CodexAsync, AnswerRequest, AnswerResponse, CancelRequest, CancelResponse,
    GetRequest, GetResponse, InfoRequest, InfoResponse, Job, JobStatus, JobSummary, ListRequest,
    ListResponse, ShutdownRequest, ShutdownResponse, StartRequest, StartResponse, SteerRequest,
    SteerResponse, WatchEvent, WatchRequest,
};
use tokio::sync::{mpsc, watch as signal, Notify, Semaphore};
use tokio_stream::{wrappers::ReceiverStream, Stream};
use tokio_util::task::TaskTracker;
use tonic::{Request, Response, Status};
use tracing::warn;

use crate::{
    api::fit,
    api::validate::{self, Invalid},
    api::watch,
    job::{JobId, JobRecord},
    output::render::{self, Rendered},
    output::render_cache::RenderCache,
    output::tail::{read_tail, Tail},
    supervisor::{Supervisor, SupervisorError},
    sys::resource,
};

/// Gets reading output (its tail, its events) at once, over all clients.
/// Each read runs on a blocking thread with buffers of up to a few hundred
/// KiB; unbounded, a flood of Gets fills tokio's blocking pool (512 threads)
/// and the daemon's memory with them, and a client's one Get waits behind
/// all of them. The wait for a turn is first come, first served, and the
/// server lets each connection have only a few calls in progress
/// (server.rs), so no one connection can hold more than its share of turns.
const READS_AT_ONCE: usize = 8;

/// The `codexasync.v1.CodexAsync` service.
pub struct Service {
    supervisor: Supervisor,
    /// Turns at reading output (see [`READS_AT_ONCE`]).
    reads: std::sync::Arc<Semaphore>,
    /// The latest events of finished jobs (see render_cache.rs).
    rendered: std::sync::Arc<RenderCache>,
    shutdown: std::sync::Arc<Notify>,
    /// Turns true when the daemon starts stopping: Watch streams end then.
    stopping: signal::Receiver<bool>,
    started_at: String,
    /// The calls changing state still running (see [`Service::to_the_end`]).
    changes: TaskTracker,
}

impl Service {
    /// The service; `shutdown` is notified by a Shutdown call, and `stopping`
    /// turns true once the daemon is stopping (for whatever reason).
    pub fn new(
        supervisor: Supervisor,
        shutdown: std::sync::Arc<Notify>,
        stopping: signal::Receiver<bool>,
        started_at: String,
    ) -> Self {
        Self {
            supervisor,
            reads: std::sync::Arc::new(Semaphore::new(READS_AT_ONCE)),
            rendered: std::sync::Arc::default(),
            shutdown,
            stopping,
            started_at,
            changes: TaskTracker::new(),
        }
    }

    /// The calls that change state still running, for a stopping daemon to
    /// wait for (server.rs).
    pub fn changes(&self) -> TaskTracker {
        self.changes.clone()
    }

    /// Runs `change` to its end even when the caller's future is dropped
    /// (its client went away), and gives its outcome to the caller if it is
    /// still there.
    async fn to_the_end<T: Send + 'static>(
        &self,
        what: &str,
        change: impl std::future::Future<Output = Result<T, Status>> + Send + 'static,
    ) -> Result<T, Status> {
        self.changes
            .spawn(change)
            .await
            .map_err(|e| Status::internal(format!("{what}: {e}")))?
    }

    fn to_proto(&self, id: &JobId, job: &JobRecord) -> Job {
        let output = self.supervisor.job_dir(id).output();
        let mut api = job.to_proto(output.display().to_string());
        // One stat: a result must not offer a reply that cannot work.
        api.worktree_missing = job
            .worktree
            .as_deref()
            .is_some_and(|w| !std::path::Path::new(w).exists());
        api
    }

    /// A reply (`spec`) to a job still in its turn, made a steering of it
    /// (StartRequest.steer_if_running): its answer, or None when the job is
    /// not running (the reply is started as usual, or refused by Start's
    /// own checks). Only a reply that sets nothing else may steer: policy,
    /// model and the rest are for a new job.
    async fn steer_instead(
        &self,
        spec: &validate::JobSpec,
    ) -> Result<Option<StartResponse>, Status> {
        let Some(parent) = &spec.reply_to else {
            return Ok(None);
        };
        let only_text = spec.policy.is_none()
            && spec.model.is_none()
            && spec.reasoning_effort.is_none()
            && spec.output_schema.is_none()
            && spec.review.is_none();
        // Unknown, ended or queued: Start says what to do.
        let running = match self.supervisor.load(parent).await {
            Ok(job) => job.status == JobStatus::Running,
            Err(_) => false,
        };
        if !only_text || !running {
            return Ok(None);
        }
        let (job, message) = self.steer_job(parent, spec.prompt.clone()).await?;
        Ok(Some(StartResponse {
            job: Some(job),
            task_answers: false,
            retention_seconds: self.retention_seconds(),
            steered: Some(message),
        }))
    }

    /// Steers job `id` with `text` (to its end, see [`Self::to_the_end`]):
    /// the job then, and what happened.
    async fn steer_job(&self, id: &JobId, text: String) -> Result<(Job, String), Status> {
        let (supervisor, job_id) = (self.supervisor.clone(), id.clone());
        let outcome = self
            .to_the_end("steer", async move {
                supervisor.steer(&job_id, text).await.map_err(internal)
            })
            .await?;
        Ok((self.to_proto(id, &outcome.job), outcome.message))
    }

    /// How long a finished job is kept (0: forever), for the MCP tasks' ttl.
    fn retention_seconds(&self) -> u64 {
        u64::from(self.supervisor.config().retention_days) * 86_400
    }

    async fn find(&self, raw_id: &str) -> Result<(JobId, JobRecord), Status> {
        let id = validate::job_id(raw_id).map_err(invalid)?;
        match self
            .supervisor
            .db()
            .get(id.as_str())
            .await
            .map_err(internal)?
        {
            Some(job) => Ok((id, job)),
            None => Err(not_found(&id)),
        }
    }
}

fn invalid(e: Invalid) -> Status {
    Status::invalid_argument(e.0)
}

/// Metadata on the NotFound answer for an unknown job, holding its id: a
/// client that words the error for its own user (`codexd show` for a person
/// rather than the shim for a model) knows the case without reading the text.
pub const UNKNOWN_JOB_KEY: &str = "codexasync-unknown-job";

/// The sentence for an unknown job `id`, pointing at `list_with`, the way
/// the reader lists jobs (`codex_list` for the model, `codexd jobs` for a person).
pub fn no_job(id: &str, list_with: &str) -> String {
    format!(
        "no job {id}; list existing jobs with {list_with} (finished jobs are kept until pruned)"
    )
}

fn not_found(id: &JobId) -> Status {
    let mut metadata = tonic::metadata::MetadataMap::new();
    if let Ok(value) = id.as_str().parse() {
        metadata.insert(UNKNOWN_JOB_KEY, value);
    }
    // Worded for the shim's reader, the model; other clients reword it.
    Status::with_metadata(
        tonic::Code::NotFound,
        format!("job_id: {}", no_job(id.as_str(), "codex_list")),
        metadata,
    )
}

fn internal(e: impl Into<SupervisorError>) -> Status {
    match e.into() {
        SupervisorError::Invalid(m) => Status::invalid_argument(m),
        SupervisorError::NotFound(m) => Status::not_found(m),
        SupervisorError::Precondition(m) => Status::failed_precondition(m),
        SupervisorError::Exhausted(m) => Status::resource_exhausted(m),
        e => {
            warn!(error = %e, "request failed");
            Status::internal(e.to_string())
        }
    }
}

/// With an output schema, once codex gave its final answer: the answer read
/// against the schema (`final_json`, or `final_json_error` saying why not).
/// Read on each Get rather than stored: the answer and the schema are both
/// at hand, and a check costs far less than the Get's own file reads.
async fn structured_answer(job: &JobRecord, mut summary: JobSummary) -> JobSummary {
    let (Some(schema_path), Some(answer)) = (&job.output_schema, &job.summary.final_message) else {
        return summary;
    };
    let checked = match tokio::fs::read_to_string(schema_path).await {
        Ok(schema) => crate::job::schema::check_answer(&schema, answer),
        Err(e) => Err(format!(
            "the output schema {schema_path} cannot be read ({e})"
        )),
    };
    match checked {
        Ok(value) => summary.final_json = Some(value.to_string()),
        Err(why) => summary.final_json_error = Some(why),
    }
    summary
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<WatchEvent, Status>> + Send>>;

#[tonic::async_trait]
impl CodexAsync for Service {
    async fn start(
        &self,
        request: Request<StartRequest>,
    ) -> Result<Response<StartResponse>, Status> {
        let spec = validate::start(request.get_ref()).map_err(invalid)?;
        if request.get_ref().steer_if_running {
            if let Some(steered) = self.steer_instead(&spec).await? {
                return Ok(Response::new(steered));
            }
        }
        let supervisor = self.supervisor.clone();
        let job = self
            .to_the_end("start", async move {
                supervisor.start(spec).await.map_err(internal)
            })
            .await?;
        let id = validate::job_id(&job.job_id).map_err(invalid)?;
        let config = self.supervisor.config();
        Ok(Response::new(StartResponse {
            job: Some(self.to_proto(&id, &job)),
            task_answers: config.task_answers,
            retention_seconds: self.retention_seconds(),
            steered: None,
        }))
    }

    async fn get(&self, request: Request<GetRequest>) -> Result<Response<GetResponse>, Status> {
        let req = request.into_inner();
        let lines = validate::tail_lines(req.tail_lines).map_err(invalid)?;
        let (id, mut job) = self.find(&req.job_id).await?;
        if !job.status.is_terminal() {
            // Fold what codex printed since the follower's last tick, so the
            // summary agrees with the events rendered below.
            match self.supervisor.advance_summary(&id).await {
                Ok(()) => {}
                // No descriptor to read the output with: answer from the
                // summary folded so far (the follower catches up later).
                Err(SupervisorError::JobDir { source, .. })
                    if resource::exhausted(&source, &self.supervisor.paths().home).is_some() => {}
                Err(e) => return Err(internal(e)),
            }
            job = self.supervisor.load(&id).await.map_err(internal)?;
        }
        let path = self.supervisor.job_dir(&id).output();
        let since = req.since;
        // The plain poll of a finished job (the model's usual call) is
        // answered from the cache when the output has not changed.
        let cacheable = job.status.is_terminal() && since.is_none() && lines == 0;
        let cached = cacheable
            .then(|| std::fs::metadata(&path).ok())
            .flatten()
            .and_then(|meta| {
                let events = self.rendered.get(id.as_str(), meta.len())?;
                let tail = Tail {
                    size: meta.len(),
                    ..Tail::default()
                };
                Some(Ok((tail, events)))
            });
        let cache = self.rendered.clone();
        let job_id = id.to_string();
        let read = match cached {
            Some(hit) => Ok(Ok(hit)),
            None => {
                // Held by the read itself, so a client that gives up waiting
                // does not free the turn of a read still running.
                let turn = self
                    .reads
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|e| Status::internal(e.to_string()))?;
                tokio::task::spawn_blocking(move || {
                    let _turn = turn;
                    let tail = read_tail(&path, lines)?;
                    let size = tail.size;
                    if let Some(cursor) = since {
                        if let Err(e) = validate::since(cursor, size) {
                            return Ok(Err(e));
                        }
                    }
                    let events = render::events(&path, since, size)?;
                    if cacheable {
                        cache.put(&job_id, size, &events);
                    }
                    std::io::Result::Ok(Ok((tail, events)))
                })
                .await
            }
        };
        let read = match read.map_err(|e| Status::internal(e.to_string()))? {
            // The record and summary are still worth having when the output
            // cannot be opened for want of a descriptor: say so in its place.
            Err(e) => match resource::exhausted(&e, &self.supervisor.paths().home) {
                Some(why) => Ok((
                    Tail::default(),
                    Rendered {
                        text: format!("[codex-async: the output cannot be read now: {why}]"),
                        next_cursor: since.unwrap_or(0),
                        truncated: true,
                    },
                )),
                None => return Err(Status::internal(format!("reading output of job {id}: {e}"))),
            },
            Ok(read) => read,
        };
        let (tail, events) = read.map_err(invalid)?;
        let summary = structured_answer(&job, job.summary_proto()).await;
        let mut answer = GetResponse {
            job: Some(self.to_proto(&id, &job)),
            output: tail.text,
            output_truncated: tail.truncated,
            output_bytes: tail.size,
            events: events.text,
            next_cursor: events.next_cursor,
            events_truncated: events.truncated,
            summary: Some(summary),
            retention_seconds: self.retention_seconds(),
        };
        fit::get(&mut answer);
        Ok(Response::new(answer))
    }

    async fn list(&self, request: Request<ListRequest>) -> Result<Response<ListResponse>, Status> {
        let req = request.into_inner();
        let limit = validate::list_limit(req.limit).map_err(invalid)?;
        let status = validate::status_filter(req.status).map_err(invalid)?;
        // input_required is a running job with a question: the running ones
        // are few (run slots), so all of them are read and filtered.
        let (query_limit, query_status) = match status {
            Some(JobStatus::InputRequired) => (validate::MAX_LIST_LIMIT, Some(JobStatus::Running)),
            other => (limit, other),
        };
        let jobs = self
            .supervisor
            .db()
            .list(query_limit, query_status)
            .await
            .map_err(internal)?;
        let matched: Vec<&JobRecord> = jobs
            .iter()
            .filter(|job| status.is_none_or(|s| job.api_status() == s))
            .take(limit as usize)
            .collect();
        let listed = matched.iter().map(|job| self.to_proto(&job.job_id, job));
        Ok(Response::new(fit::list(listed, matched.len())))
    }

    async fn cancel(
        &self,
        request: Request<CancelRequest>,
    ) -> Result<Response<CancelResponse>, Status> {
        let id = validate::job_id(&request.get_ref().job_id).map_err(invalid)?;
        let (supervisor, job_id) = (self.supervisor.clone(), id.clone());
        let outcome = self
            .to_the_end("cancel", async move {
                supervisor.cancel(&job_id).await.map_err(internal)
            })
            .await?;
        let Some(outcome) = outcome else {
            return Err(not_found(&id));
        };
        Ok(Response::new(CancelResponse {
            job: Some(self.to_proto(&id, &outcome.job)),
            cancelled: outcome.cancelled,
            message: outcome.message,
        }))
    }

    async fn answer(
        &self,
        request: Request<AnswerRequest>,
    ) -> Result<Response<AnswerResponse>, Status> {
        let req = request.into_inner();
        // Every field is checked before the database is asked, the id first.
        validate::job_id(&req.job_id).map_err(invalid)?;
        let reply = validate::reply(&req.decision, req.answer).map_err(invalid)?;
        let question_id = validate::question_id(req.question_id.as_deref()).map_err(invalid)?;
        let (id, _) = self.find(&req.job_id).await?;
        let (supervisor, job_id) = (self.supervisor.clone(), id.clone());
        let question_id = question_id.map(str::to_string);
        let outcome = self
            .to_the_end("answer", async move {
                supervisor
                    .answer(&job_id, reply, question_id.as_deref())
                    .await
                    .map_err(internal)
            })
            .await?;
        Ok(Response::new(AnswerResponse {
            job: Some(self.to_proto(&id, &outcome.job)),
            message: outcome.message,
        }))
    }

    async fn steer(
        &self,
        request: Request<SteerRequest>,
    ) -> Result<Response<SteerResponse>, Status> {
        let req = request.into_inner();
        validate::job_id(&req.job_id).map_err(invalid)?;
        let text = validate::steer_text(req.text).map_err(invalid)?;
        let (id, _) = self.find(&req.job_id).await?;
        let (job, message) = self.steer_job(&id, text).await?;
        Ok(Response::new(SteerResponse {
            job: Some(job),
            message,
        }))
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        request: Request<WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let req = request.into_inner();
        let (id, _) = self.find(&req.job_id).await?;
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(watch::run(
            self.supervisor.clone(),
            id,
            req.from_offset,
            tx,
            self.stopping.clone(),
        ));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn info(&self, _: Request<InfoRequest>) -> Result<Response<InfoResponse>, Status> {
        let counts = self.supervisor.db().counts().await.map_err(internal)?;
        let paths = self.supervisor.paths();
        Ok(Response::new(InfoResponse {
            pid: std::process::id() as i32,
            version: crate::cmd::served_version(),
            socket: paths.socket.display().to_string(),
            home: paths.home.display().to_string(),
            queued: counts.queued,
            running: counts.running,
            done: counts.done,
            error: counts.error,
            cancelled: counts.cancelled,
            started_at: self.started_at.clone(),
            pending_changes: self.supervisor.db().pending_changes() as u64,
        }))
    }

    async fn shutdown(
        &self,
        _: Request<ShutdownRequest>,
    ) -> Result<Response<ShutdownResponse>, Status> {
        // Let this answer reach the client before the server stops.
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            shutdown.notify_one();
        });
        Ok(Response::new(ShutdownResponse {}))
    }

    async fn prune(
        &self,
        request: Request<codex_async_proto::v1::PruneRequest>,
    ) -> Result<Response<codex_async_proto::v1::PruneResponse>, Status> {
        let req = request.into_inner();
        let older_than = Duration::from_secs(req.older_than_seconds);
        let options = crate::store::prune::Options {
            older_than,
            dry_run: req.dry_run,
            empty_branches: req.empty_branches,
        };
        let supervisor = self.supervisor.clone();
        let pruned = self
            .to_the_end("prune", async move {
                crate::store::prune::prune(&supervisor, &options)
                    .await
                    .map_err(internal)
            })
            .await?;
        Ok(Response::new(codex_async_proto::v1::PruneResponse {
            job_ids: pruned.job_ids,
            freed_bytes: pruned.freed_bytes,
            warnings: pruned.warnings,
            branches_deleted: pruned.branches_deleted,
        }))
    }
}
