//! The MCP tools and the server that lists them.
//!
//! Each tool checks its arguments ([`crate::args`]), makes one gRPC call to
//! codexd ([`crate::daemon_link`]) and answers at once with JSON text plus
//! `structuredContent` ([`crate::output`]) — except `codex_wait`, which makes
//! a Get every [`WAIT_POLL_INTERVAL`] until the job ends or its timeout
//! passes. The four original tools keep the names and arguments of the
//! Python `codex-async-mcp` users migrate from, so existing permissions
//! (`mcp__codex-async__codex_start`, …) and habits keep working; codex_poll's
//! result now speaks in events (the raw tail only on request, no prompt).

use std::{str::FromStr, time::Duration};

use codex_async_proto::v1::{self, JobStatus};
use rmcp::{
    handler::server::router::tool::ToolRouter,
    model::{JsonObject, ProgressNotificationParam, ProgressToken},
    service::RequestContext,
    tool, tool_handler, tool_router, Peer, RoleServer, ServerHandler,
};
use tokio::time::Instant;

use crate::{
    args::{
        input_schema, ArgError, CancelArgs, ListArgs, PollArgs, ReplyArgs, ResultArgs, StartArgs,
        WaitArgs,
    },
    daemon_link::DaemonLink,
    output::{CancelOutput, Json, ListOutput, PollOutput, ReplyOutput, ResultOutput, StartOutput},
    tool_error::ToolError,
};

/// How often `codex_wait` asks codexd about the job.
///
/// Polling beats holding a Watch stream here: a Get on the local socket costs
/// well under a millisecond, while Watch would stream every byte of codex's
/// output to the shim only to be dropped, and its Job events carry no summary,
/// so the activity for progress notifications and the final payload would
/// need Gets anyway. Each Get also goes through [`DaemonLink`]'s reconnect, so
/// a codexd restarted mid-wait costs one retry instead of a broken stream.
/// The price is that a wait returns up to this much after the job ended.
const WAIT_POLL_INTERVAL: Duration = Duration::from_millis(300);

/// Longest gap between two progress notifications while the activity stays
/// the same (clients reset their idle timeout on each; the MCP promise is
/// "at least every 5 s", and a notice is only sent after a Get).
const PROGRESS_HEARTBEAT: Duration = Duration::from_secs(4);

/// The MCP server: stateless apart from the lazily connected daemon client.
pub struct CodexAsyncServer {
    daemon: DaemonLink,
    tool_router: ToolRouter<Self>,
}

#[tool_router(router = tool_router)]
impl CodexAsyncServer {
    /// A server that forwards to the daemon behind `daemon`.
    pub fn new(daemon: DaemonLink) -> Self {
        Self {
            daemon,
            tool_router: Self::tool_router(),
        }
    }

    #[tool(
        description = "Start OpenAI Codex (`codex exec`) on a task in the background. Returns at \
once with {job_id, status, pid, branch, worktree}: it does not wait for Codex, which usually takes \
minutes. Then follow the job: codex_wait(job_id) waits up to 50 s and returns as soon as the job \
ends; or do other work and call codex_poll every 20-60 seconds (not in a tight loop). Once it has \
ended, codex_result gives Codex's final answer and the files it changed, and codex_reply \
continues the conversation. approval_policy: \"suggest\" (default) = read-only sandbox, Codex \
can read and answer but changes nothing; \"auto-edit\" = Codex may edit files inside cwd; \
\"full-auto\" = no sandbox, Codex can run anything you could. Use auto-edit or full-auto when \
Codex should change files. isolation: \"worktree\" (cwd must be in a git repository) runs Codex \
in a new git worktree on its own branch codex/<job_id>, so parallel jobs on one repository never \
touch each other's files or your working tree; the result names the branch and worktree, and \
codex_result reports a diffstat once the job ends (merge or delete the branch yourself). \
Watchdogs: a job with no output for stall_timeout_seconds (default 600) ends as error \
\"stalled\", one running longer than max_duration_seconds (default 3600) as error \"timed_out\".",
        input_schema = input_schema::<StartArgs>(),
        annotations(open_world_hint = true, destructive_hint = true)
    )]
    async fn codex_start(&self, args: JsonObject) -> Result<Json<StartOutput>, ToolError> {
        let args = StartArgs::from_json(&args)?;
        let request = v1::StartRequest {
            prompt: args.prompt,
            cwd: args.cwd,
            approval_policy: Some(args.approval_policy),
            model: args.model,
            reply_to: None,
            isolation: Some(args.isolation),
            stall_timeout_seconds: args.stall_timeout_seconds,
            max_duration_seconds: args.max_duration_seconds,
        };
        let response = self.start(request).await?;
        Ok(Json(StartOutput::from_proto(response)?))
    }

    #[tool(
        description = "Check a Codex job: its status, seconds elapsed, what Codex is doing now \
(activity), how many commands it ran and files it changed, and its new events (its messages, \
each command with its exit code, each file change; one line each). Pass the returned `cursor` \
back as `since` on your next codex_poll or codex_wait of the job to get only the events since \
then. Once the job has ended the result leads with final_message (Codex's answer) and \
files_changed. While the job is queued or running, call this every 20-60 seconds, not in a \
tight loop, or use codex_wait. Statuses: \"queued\" = accepted, Codex not started yet; \
\"running\" = Codex is working; \"done\" = Codex finished with exit code 0; \"error\" = Codex \
failed, exited non-zero, could not start, stalled, timed out or was lost (see `error` and \
`exit_code`); \"cancelled\" = stopped by codex_cancel. done, error and cancelled are final. \
tail_lines adds Codex's raw output tail as `output` (rarely needed: events say the same in \
fewer tokens).",
        input_schema = input_schema::<PollArgs>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn codex_poll(&self, args: JsonObject) -> Result<Json<PollOutput>, ToolError> {
        let args = PollArgs::from_json(&args)?;
        let output = self.poll(&args.job_id, args.since, args.tail_lines).await?;
        Ok(Json(output))
    }

    #[tool(
        description = "Wait for a Codex job to end, for at most timeout_seconds (1-50, default \
30): returns as soon as the job is done, error or cancelled, or when the time is up with the job \
still queued or running (then call codex_wait again, passing `cursor` as `since`). The result \
is the same as codex_poll's: once the job has ended it leads with final_message (Codex's \
answer) and files_changed. Use it instead of repeated codex_poll calls when you have nothing \
else to do until Codex finishes. While waiting it sends progress notifications with what Codex \
is doing.",
        input_schema = input_schema::<WaitArgs>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn codex_wait(
        &self,
        args: JsonObject,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<PollOutput>, ToolError> {
        let args = WaitArgs::from_json(&args)?;
        let begun = Instant::now();
        let deadline = begun + Duration::from_secs(args.timeout_seconds.into());
        let mut progress = context
            .meta
            .get_progress_token()
            .map(|token| Progress::new(context.peer.clone(), token, args.timeout_seconds));
        loop {
            let output = self.poll(&args.job_id, args.since, None).await?;
            let now = Instant::now();
            if output.status.is_final() || now >= deadline {
                return Ok(Json(output));
            }
            if let Some(progress) = progress.as_mut() {
                let message = output
                    .activity
                    .clone()
                    .unwrap_or_else(|| format!("Codex job is {}", output.status.as_str()));
                progress.report(now - begun, message).await;
            }
            tokio::select! {
                () = tokio::time::sleep_until(deadline.min(now + WAIT_POLL_INTERVAL)) => {}
                // The client gave up on this call (notifications/cancelled):
                // the answer will be dropped, so stop asking codexd.
                () = context.ct.cancelled() => return Ok(Json(output)),
            }
        }
    }

    #[tool(
        description = "What you need to act on once a Codex job has ended: its final answer \
(final_message), the files it changed, the commands it ran with their exit codes, token usage, \
the exit code and error, and with worktree isolation the branch and its diffstat. If the job is \
still queued or running, status says so and the rest is what is known so far: wait with \
codex_wait, or check back later.",
        input_schema = input_schema::<ResultArgs>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn codex_result(&self, args: JsonObject) -> Result<Json<ResultOutput>, ToolError> {
        let args = ResultArgs::from_json(&args)?;
        let response = self.get(args.job_id, None, 0).await?;
        Ok(Json(ResultOutput::from_proto(response)?))
    }

    #[tool(
        description = "Continue the conversation of a Codex job that has ended: Codex gets your \
prompt with the earlier task, its answer and what it did in mind (`codex exec resume`), in the \
same directory, with the same approval_policy and model unless you pass others. Starts a new job \
and returns at once with {job_id, status, pid, parent_job_id}; follow it with codex_wait, \
codex_poll and codex_result like any job. Fails if the earlier job is still running (wait for \
it first).",
        input_schema = input_schema::<ReplyArgs>(),
        annotations(open_world_hint = true, destructive_hint = true)
    )]
    async fn codex_reply(&self, args: JsonObject) -> Result<Json<ReplyOutput>, ToolError> {
        let args = ReplyArgs::from_json(&args)?;
        let request = v1::StartRequest {
            prompt: args.prompt,
            // Empty: codexd runs a reply where its parent ran.
            cwd: String::new(),
            approval_policy: args.approval_policy,
            model: args.model,
            reply_to: Some(args.job_id),
            isolation: None,
            stall_timeout_seconds: None,
            max_duration_seconds: None,
        };
        let response = self
            .start(request)
            .await
            .map_err(|e| e.rename_field("reply_to", "job_id"))?;
        Ok(Json(ReplyOutput::from_proto(response)?))
    }

    #[tool(
        description = "List recent Codex jobs, newest first: id, status, the first 200 \
characters of the prompt, cwd, times and exit code. Use it to find a job_id or to see what is \
still running; filter with status (queued, running, done, error, cancelled).",
        input_schema = input_schema::<ListArgs>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn codex_list(&self, args: JsonObject) -> Result<Json<ListOutput>, ToolError> {
        let args = ListArgs::from_json(&args)?;
        let status = args
            .status
            .as_deref()
            .map(JobStatus::from_str)
            .transpose()
            .map_err(|e| ArgError(format!("status: {e}, or leave it out for all jobs")))?;
        let request = v1::ListRequest {
            limit: Some(args.limit),
            status: status.map(|s| s as i32),
        };
        let response = self
            .daemon
            .call(
                "List",
                |mut client| async move { client.list(request).await },
            )
            .await?;
        Ok(Json(ListOutput::from_proto(response)?))
    }

    #[tool(
        description = "Stop a queued or running Codex job and every process it started; its \
status becomes \"cancelled\" and cancelled=true. Cancelling a job that has already finished \
(done, error or cancelled) changes nothing and returns cancelled=false with its final status.",
        input_schema = input_schema::<CancelArgs>(),
        annotations(destructive_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn codex_cancel(&self, args: JsonObject) -> Result<Json<CancelOutput>, ToolError> {
        let args = CancelArgs::from_json(&args)?;
        let request = v1::CancelRequest {
            job_id: args.job_id,
        };
        let response = self
            .daemon
            .call("Cancel", |mut client| {
                let request = request.clone();
                async move { client.cancel(request).await }
            })
            .await?;
        Ok(Json(CancelOutput::from_proto(response)?))
    }
}

impl CodexAsyncServer {
    /// One Start call.
    async fn start(&self, request: v1::StartRequest) -> Result<v1::StartResponse, ToolError> {
        self.daemon
            .call("Start", |mut client| {
                let request = request.clone();
                async move { client.start(request).await }
            })
            .await
    }

    /// One Get call.
    async fn get(
        &self,
        job_id: String,
        since: Option<u64>,
        tail_lines: u32,
    ) -> Result<v1::GetResponse, ToolError> {
        let request = v1::GetRequest {
            job_id,
            tail_lines: Some(tail_lines),
            since,
        };
        self.daemon
            .call("Get", |mut client| {
                let request = request.clone();
                async move { client.get(request).await }
            })
            .await
    }

    /// What codex_poll and codex_wait return. The raw tail is read only when
    /// the caller asked for it (`tail_lines`): the events say the same in
    /// far fewer tokens.
    async fn poll(
        &self,
        job_id: &str,
        since: Option<u64>,
        tail_lines: Option<u32>,
    ) -> Result<PollOutput, ToolError> {
        let response = self
            .get(job_id.to_string(), since, tail_lines.unwrap_or(0))
            .await?;
        PollOutput::from_proto(response, tail_lines.is_some())
    }
}

/// `notifications/progress` for one `codex_wait` call whose request carried
/// a progress token: progress = seconds waited, total = the timeout, message
/// = what Codex is doing. Sent when the message changes and at least every
/// [`PROGRESS_HEARTBEAT`] (clients reset their idle timeout on each).
struct Progress {
    peer: Peer<RoleServer>,
    token: ProgressToken,
    total: f64,
    /// When the last notice went out, its progress and its message.
    last: Option<(Instant, f64, String)>,
    /// Set once sending failed (the client went away): stop trying.
    broken: bool,
}

impl Progress {
    fn new(peer: Peer<RoleServer>, token: ProgressToken, total_seconds: u32) -> Self {
        Self {
            peer,
            token,
            total: f64::from(total_seconds),
            last: None,
            broken: false,
        }
    }

    /// Sends a notice if one is due.
    async fn report(&mut self, waited: Duration, message: String) {
        if self.broken {
            return;
        }
        // Tenths of a second; the spec wants progress to grow with each notice.
        let mut progress = (waited.as_secs_f64() * 10.0).round() / 10.0;
        if let Some((at, last_progress, last_message)) = &self.last {
            if *last_message == message && at.elapsed() < PROGRESS_HEARTBEAT {
                return;
            }
            progress = progress.max(last_progress + 0.1);
        }
        let progress = progress.min(self.total);
        let notice = ProgressNotificationParam::new(self.token.clone(), progress)
            .with_total(self.total)
            .with_message(message.clone());
        match self.peer.notify_progress(notice).await {
            Ok(()) => self.last = Some((Instant::now(), progress, message)),
            Err(error) => {
                tracing::info!(
                    "cannot send a progress notification ({error}); no more for this wait"
                );
                self.broken = true;
            }
        }
    }
}

/// `instructions` is what clients show the model about the server as a whole.
#[tool_handler(
    router = self.tool_router,
    name = "codex-async",
    instructions = "Runs OpenAI Codex jobs in the background. codex_start returns a job_id at once. Then either codex_wait(job_id) (returns when the job ends, or after at most 50 s; call again while it runs) or, while you do other work, codex_poll every 20-60 seconds (not in a tight loop); pass each result's cursor as since next time to see only new events. When the status is done, error or cancelled, codex_result gives Codex's final answer, changed files and commands; codex_reply continues the same Codex conversation as a new job. isolation=\"worktree\" gives a job its own git branch and worktree, so parallel jobs on one repository don't collide. codex_list shows recent jobs; codex_cancel stops one. Jobs keep running if this server restarts."
)]
impl ServerHandler for CodexAsyncServer {}
