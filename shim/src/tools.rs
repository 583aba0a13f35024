//! The MCP tools and the server that lists them.
//!
//! Each tool checks its arguments ([`crate::args`]), makes one gRPC call to
//! codexd ([`crate::daemon_link`]) and answers at once ([`crate::output`]) —
//! except `codex_wait` ([`crate::wait`]), which asks codexd again and again
//! until a job ends or its timeout passes. Before any of that, an argument
//! the tool does not take is refused ([`crate::args::check_known`], in
//! `call_tool`, so every tool is covered). A job that has ended is always
//! answered with its one rendering ([`ResultText`]). A call that starts a job
//! from a client speaking the MCP Tasks extension is answered with a task
//! handle instead, and `tasks/get`/`tasks/cancel` follow it ([`crate::tasks`]). The four original tools keep the names and arguments of the
//! Python `codex-async-mcp` users migrate from, so existing permissions
//! (`mcp__codex-async__codex_start`, …) and habits keep working; codex_poll's
//! result now speaks in events (the raw tail only on request, no prompt).

use std::str::FromStr;

use codex_async_proto::v1::{self, JobStatus};
use rmcp::{
    handler::server::{common::schema_for_output, router::tool::ToolRouter, tool::ToolCallContext},
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams, ContentBlock,
        CreateTaskResult, CustomRequest, CustomResult, ErrorCode, GetTaskParams, GetTaskResult,
        Implementation, JsonObject, ServerCapabilities, ServerConfig, UpdateTaskParams,
    },
    service::RequestContext,
    tool, tool_handler, tool_router, ErrorData, RoleServer, ServerHandler,
};

use crate::{
    args::{
        check_known, input_schema, AnswerArgs, ArgError, CancelArgs, ListArgs, PollArgs, ReplyArgs,
        ResultArgs, ReviewArgs, StartArgs, WaitArgs,
    },
    daemon_link::DaemonLink,
    output::{
        answer_text, view, CancelOutput, Json, ListOutput, ReplyOutput, ResultText, ReviewOutput,
        StartOutput,
    },
    request_shape, tasks,
    tool_error::ToolError,
    wait,
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
        description = "Run OpenAI Codex (or Gemini CLI, Claude Code: agent) on a task in the background; \
returns at once. With MCP tasks it is a task: you get the result when it ends. Else it returns \
{job_id, status, branch, worktree}: codex_wait(job_id) gives the result (answer, files changed, \
commands), or codex_poll every 20-60 s.",
        input_schema = input_schema::<StartArgs>(),
        output_schema = schema_for_output::<StartOutput>(),
        annotations(open_world_hint = true, destructive_hint = true)
    )]
    async fn codex_start(
        &self,
        args: JsonObject,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ToolError> {
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
            reasoning_effort: args.reasoning_effort,
            output_schema: args
                .output_schema
                .map(|s| serde_json::Value::Object(s).to_string()),
            review: None,
            steer_if_running: false,
            agent: args.agent,
        };
        let response = self.start(request).await?;
        if let Some(task) = tasks::handle_for(&context, &response) {
            return Ok(CreateTaskResult::new(task).into());
        }
        Ok(Json(StartOutput::from_proto(response)?)
            .into_result()?
            .into())
    }

    #[tool(
        description = "Check a Codex job once: status (queued, running, input_required: Codex asks, \
done, error, cancelled), activity, new events and, once ended, the result; pass the returned \
cursor as since next time. Call every 20-60 seconds, or use codex_wait.",
        input_schema = input_schema::<PollArgs>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn codex_poll(&self, args: JsonObject) -> Result<CallToolResult, ToolError> {
        let args = PollArgs::from_json(&args)?;
        let response = self
            .get(args.job_id, args.since, args.tail_lines.unwrap_or(0))
            .await?;
        view(response, true, args.tail_lines.is_some())
    }

    #[tool(
        description = "Wait up to timeout_seconds (sending progress) for a Codex job to end; returns its \
result (status, answer, files changed, commands run), or sooner the question if Codex asks \
(ask the user, then codex_answer), or if time is up its status and activity: call again. since: a \
cursor, for the events after it.",
        input_schema = input_schema::<WaitArgs>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn codex_wait(
        &self,
        args: JsonObject,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        let args = WaitArgs::from_json(&args)?;
        wait::wait(&self.daemon, args, context).await
    }

    #[tool(
        description = "A Codex job's result again, for later (codex_wait, codex_poll and tasks give it \
when it ends).",
        input_schema = input_schema::<ResultArgs>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn codex_result(&self, args: JsonObject) -> Result<CallToolResult, ToolError> {
        let args = ResultArgs::from_json(&args)?;
        let response = self.get(args.job_id, None, 0).await?;
        if args.format == "json" {
            let document = codex_async_proto::json::job_document(&response);
            return Ok(CallToolResult::success(vec![ContentBlock::text(
                document.to_string(),
            )]));
        }
        ResultText::from_proto(&response)?.into_call_tool_result()
    }

    #[tool(
        description = "Continue a Codex job's conversation. Still running: the prompt goes into its \
turn now (steer; give nothing else). Finished: a new job that remembers it, returning at once like \
codex_start.",
        input_schema = input_schema::<ReplyArgs>(),
        output_schema = schema_for_output::<ReplyOutput>(),
        annotations(open_world_hint = true, destructive_hint = true)
    )]
    async fn codex_reply(
        &self,
        args: JsonObject,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ToolError> {
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
            reasoning_effort: args.reasoning_effort,
            output_schema: args
                .output_schema
                .map(|s| serde_json::Value::Object(s).to_string()),
            review: None,
            // A job still in its turn takes the prompt there (turn/steer):
            // codexd does it only when nothing but the prompt is given.
            steer_if_running: true,
            agent: None,
        };
        let response = self
            .start(request)
            .await
            .map_err(|e| e.rename_field("reply_to", "job_id"))?;
        if response.steered.is_some() {
            // The running job's own task (if any) goes on: no new task here.
            return Ok(Json(ReplyOutput::from_proto(response)?)
                .into_result()?
                .into());
        }
        if let Some(task) = tasks::handle_for(&context, &response) {
            return Ok(CreateTaskResult::new(task).into());
        }
        Ok(Json(ReplyOutput::from_proto(response)?)
            .into_result()?
            .into())
    }

    #[tool(
        description = "Codex's own reviewer reviews code changes in a git repository, read-only, in the \
background; returns at once like codex_start. The result leads with its findings.",
        input_schema = input_schema::<ReviewArgs>(),
        output_schema = schema_for_output::<ReviewOutput>(),
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn codex_review(
        &self,
        args: JsonObject,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ToolError> {
        let args = ReviewArgs::from_json(&args)?;
        let request = v1::StartRequest {
            // Unused: a review's prompt is its target or its instructions.
            prompt: String::new(),
            cwd: args.cwd,
            approval_policy: None,
            model: args.model,
            reply_to: None,
            isolation: None,
            stall_timeout_seconds: None,
            max_duration_seconds: None,
            reasoning_effort: args.reasoning_effort,
            output_schema: None,
            review: Some(v1::ReviewRequest {
                target: args.target,
                base_branch: args.base_branch,
                commit: args.commit,
                title: args.title,
                instructions: args.instructions,
            }),
            steer_if_running: false,
            agent: None,
        };
        let response = self.start(request).await?;
        if let Some(task) = tasks::handle_for(&context, &response) {
            return Ok(CreateTaskResult::new(task).into());
        }
        Ok(Json(ReviewOutput::from_proto(response)?)
            .into_result()?
            .into())
    }

    #[tool(
        description = "Recent Codex jobs, newest first: id, status, the prompt's first 200 characters, \
cwd, times, exit code; a job that asks shows its question.",
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
        description = "Answer a Codex job in input_required: an approval with the user's decision, \
Codex's own question with answer. Ask the user first. Unanswered by the deadline: denied, or no \
answer.",
        input_schema = input_schema::<AnswerArgs>(),
        annotations(destructive_hint = true, idempotent_hint = false, open_world_hint = false)
    )]
    async fn codex_answer(&self, args: JsonObject) -> Result<CallToolResult, ToolError> {
        let args = AnswerArgs::from_json(&args)?;
        let response = self
            .answer(
                args.job_id,
                args.decision.unwrap_or_default(),
                args.answer,
                args.question_id,
            )
            .await?;
        Ok(CallToolResult::success(vec![ContentBlock::text(
            answer_text(response)?,
        )]))
    }

    #[tool(
        description = "Stop a queued or running Codex job and every process it started (cancelled=true); \
a finished job stays as it is.",
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

    /// One Answer call.
    async fn answer(
        &self,
        job_id: String,
        decision: String,
        answer: Option<String>,
        question_id: Option<String>,
    ) -> Result<v1::AnswerResponse, ToolError> {
        let request = v1::AnswerRequest {
            job_id,
            decision,
            question_id,
            answer,
        };
        self.daemon
            .call("Answer", |mut client| {
                let request = request.clone();
                async move { client.answer(request).await }
            })
            .await
    }

    /// `tasks/update`: the answers of the forms the task's `tasks/get`
    /// showed, each an Answer to codexd (so, like `tasks/get`, any shim
    /// process answers for any task).
    async fn update_job_of_task(&self, request: &UpdateTaskParams) -> Result<(), ErrorData> {
        let task_id = request.task_id.as_str();
        let job_id = tasks::job_id(task_id)?;
        for answer in tasks::answers(task_id, &request.input_responses)? {
            self.answer(
                job_id.clone(),
                answer.decision,
                answer.answer,
                Some(answer.question_id.clone()),
            )
            .await
            .map_err(|e| tasks::update_error(task_id, &answer.question_id, &e))?;
        }
        Ok(())
    }

    /// One Get of a job (codex_poll, codex_result, tasks/get).
    pub(crate) async fn get(
        &self,
        job_id: String,
        since: Option<u64>,
        tail_lines: u32,
    ) -> Result<v1::GetResponse, ToolError> {
        self.daemon.get(job_id, since, tail_lines).await
    }

    /// `tasks/get`: the job behind a task, from codexd (so any shim process
    /// answers for any task, across shim and codexd restarts).
    async fn task(&self, task_id: &str) -> Result<GetTaskResult, ErrorData> {
        let id = tasks::job_id(task_id)?;
        let response = self
            .get(id, None, 0)
            .await
            .map_err(|e| tasks::error("tasks/get", task_id, &e))?;
        let output_written = match &response.job {
            Some(job) => tasks::output_written(job).await,
            None => None,
        };
        tasks::detailed(&response, output_written).map(GetTaskResult::new)
    }

    /// `tasks/cancel`: codex_cancel of the task's job. The extension wants an
    /// acknowledgement whatever the id, since cancellation is eventually
    /// consistent; failures are logged and show in the next `tasks/get`.
    async fn cancel_job_of_task(&self, task_id: &str) {
        let Ok(job_id) = tasks::job_id(task_id) else {
            tracing::info!("tasks/cancel of {task_id:?}: not a job id, nothing to cancel");
            return;
        };
        let request = v1::CancelRequest { job_id };
        let cancelled = self
            .daemon
            .call("Cancel", |mut client| {
                let request = request.clone();
                async move { client.cancel(request).await }
            })
            .await;
        if let Err(e) = cancelled {
            tracing::warn!("tasks/cancel of {task_id}: {e}");
        }
    }
}

/// What clients show the model about the server as a whole. Claude Code
/// defers tool schemas until the model loads them, so this carries the usage.
const INSTRUCTIONS: &str = "Runs OpenAI Codex jobs in the background; they survive restarts. \
codex_start, codex_reply and codex_review return at once. With MCP tasks (interactive Claude \
Code) the call becomes a task and you are told the result when it ends: do not poll or wait, go \
on with other work. Without tasks you get a job_id: codex_wait(job_id) returns the result when \
the job ends (call again while it runs), or codex_poll every 20-60 s. With approval_policy \
\"ask\" Codex asks the user before running or changing anything outside cwd, and may ask them \
questions. With tasks the user answers in a form and you are NOT told the task waits, so tell the \
user \"Codex may ask you in a form; answer it there\". Without tasks codex_wait returns the \
question: ask the user, then codex_answer.";

#[tool_handler(router = self.tool_router)]
impl ServerHandler for CodexAsyncServer {
    /// Every tool call: refuse an argument the tool does not take (a tool
    /// error naming it, before anything reaches codexd), then the tool.
    /// Written out instead of the one `#[tool_handler]` would generate only
    /// for that check, so a tool added later is covered without a line of
    /// its own.
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if let (Some(tool), Some(args)) = (
            self.tool_router.get(&request.name),
            request.arguments.as_ref(),
        ) {
            if let Err(error) = check_known(&tool.name, &tool.input_schema, args) {
                return Ok(CallToolResult::error(vec![ContentBlock::text(error.0)]).into());
            }
        }
        let call = ToolCallContext::new(self, request, context);
        self.tool_router.call(call).await
    }

    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tasks()
                .build(),
        )
        .with_server_info(Implementation::new(
            "codex-async",
            env!("CARGO_PKG_VERSION"),
        ))
        .with_instructions(INSTRUCTIONS)
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        self.task(&request.task_id).await
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.cancel_job_of_task(&request.task_id).await;
        Ok(())
    }

    /// A request rmcp could not read as its method's type: for a method
    /// served here the param that is wrong ([`request_shape`]), not rmcp's
    /// "method not found", which is kept for every other method.
    async fn on_custom_request(
        &self,
        request: CustomRequest,
        _context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, ErrorData> {
        Err(request_shape::invalid_params(&request)
            .unwrap_or_else(|| ErrorData::new(ErrorCode::METHOD_NOT_FOUND, request.method, None)))
    }

    /// Answered with `{}` once codexd has the answers: the client then
    /// resumes polling `tasks/get`.
    async fn update_task(
        &self,
        request: UpdateTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.update_job_of_task(&request).await
    }
}
