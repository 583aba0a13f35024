//! The four MCP tools and the server that lists them.
//!
//! Each tool checks its arguments ([`crate::args`]), makes one gRPC call to
//! codexd ([`crate::daemon_link`]) and answers at once with JSON text plus
//! `structuredContent` ([`crate::output`]). Names, argument names and result
//! fields match the Python `codex-async-mcp` users migrate from, so existing
//! permissions (`mcp__codex-async__codex_start`, …) and habits keep working.

use std::str::FromStr;

use codex_async_proto::v1::{self, JobStatus};
use rmcp::{
    handler::server::router::tool::ToolRouter, model::JsonObject, tool, tool_handler, tool_router,
    Json, ServerHandler,
};

use crate::{
    args::{input_schema, ArgError, CancelArgs, ListArgs, PollArgs, StartArgs},
    daemon_link::DaemonLink,
    output::{CancelOutput, ListOutput, PollOutput, StartOutput},
    tool_error::ToolError,
};

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
once with {job_id, status, pid}: it does not wait for Codex, which usually takes minutes. Then \
call codex_poll with the job_id every 20-60 seconds (not in a tight loop) until the status is \
done, error or cancelled; do other work meanwhile. approval_policy: \"suggest\" (default) = \
read-only sandbox, Codex can read and answer but changes nothing; \"auto-edit\" = Codex may \
edit files inside cwd; \"full-auto\" = no sandbox, Codex can run anything you could. Use \
auto-edit or full-auto when Codex should change files.",
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
        };
        let response = self
            .daemon
            .call("Start", |mut client| {
                let request = request.clone();
                async move { client.start(request).await }
            })
            .await?;
        Ok(Json(StartOutput::from_proto(response)?))
    }

    #[tool(
        description = "Check a Codex job started with codex_start: its status and the last \
lines of its output. While the job is queued or running, call this every 20-60 seconds, not in \
a tight loop. Statuses: \"queued\" = accepted, Codex not started yet; \"running\" = Codex is \
working; \"done\" = Codex finished with exit code 0 (its answer is at the end of `output`); \
\"error\" = Codex exited non-zero, could not start, or was lost (see `error` and `exit_code`); \
\"cancelled\" = stopped by codex_cancel. done, error and cancelled are final.",
        input_schema = input_schema::<PollArgs>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn codex_poll(&self, args: JsonObject) -> Result<Json<PollOutput>, ToolError> {
        let args = PollArgs::from_json(&args)?;
        let request = v1::GetRequest {
            job_id: args.job_id,
            tail_lines: Some(args.tail_lines),
        };
        let response = self
            .daemon
            .call("Get", |mut client| {
                let request = request.clone();
                async move { client.get(request).await }
            })
            .await?;
        Ok(Json(PollOutput::from_proto(response)?))
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

/// `instructions` is what clients show the model about the server as a whole.
#[tool_handler(
    router = self.tool_router,
    name = "codex-async",
    instructions = "Runs OpenAI Codex jobs in the background. codex_start returns a job_id at once; check it with codex_poll every 20-60 seconds (not in a tight loop) until its status is done, error or cancelled, and do other work meanwhile. codex_list shows recent jobs; codex_cancel stops one. Jobs keep running if this server restarts."
)]
impl ServerHandler for CodexAsyncServer {}
