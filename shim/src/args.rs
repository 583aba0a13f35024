//! The tools' arguments: their JSON Schemas (what `tools/list` shows) and how
//! they are read from a call's raw `arguments` object.
//!
//! Why not rmcp's `Parameters<T>`: serde stops at the first problem and, for a
//! wrong type, says "invalid type: string \"abc\", expected u32" without naming
//! the field, so a model cannot tell what to fix. Each tool therefore takes the
//! raw JSON object and reads it here field by field; every problem is an
//! [`ArgError`] that names the field and the fix, and becomes a tool error
//! (`isError`), never a JSON-RPC error. The structs below only derive
//! `JsonSchema`, so the input schemas clients see still come from them (with
//! `prompt`, `cwd` and `job_id` required).
//!
//! The shim checks presence and JSON types only. Values the daemon owns (is
//! `cwd` an existing absolute directory, is the policy known, is a job id well
//! formed, is a limit in range) are checked by codexd, whose messages already
//! name the field, so there is one source of truth for them.

use std::sync::Arc;

use codex_async_proto::values;
use rmcp::{handler::server::tool::schema_for_type, model::JsonObject};
use schemars::JsonSchema;
use serde_json::Value;

/// A problem with one argument, as a sentence that names the field and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgError(pub String);

impl std::fmt::Display for ArgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The input schema of a tool, from its argument struct, as lean as the
/// model can use it.
///
/// Uses rmcp's own generator (draft 2020-12, root title/description removed);
/// our structs always have an object root, and if one ever did not, the plain
/// schema is still better than no tool at all. Then [`lean`] drops what only
/// costs the model characters: the model reads every character of a tool's
/// input schema the first time it uses the tool.
pub fn input_schema<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    let schema = rmcp::handler::server::common::schema_for_input::<T>().unwrap_or_else(|error| {
        tracing::error!("input schema of {}: {error}", std::any::type_name::<T>());
        schema_for_type::<T>()
    });
    let mut schema = Value::Object(Arc::unwrap_or_clone(schema));
    lean(&mut schema);
    match schema {
        Value::Object(object) => Arc::new(object),
        _ => schema_for_type::<T>(),
    }
}

/// Drops from a generated schema what says nothing to a model and nothing a
/// tool needs checked by the client (every argument is checked here, by
/// [`check_known`] and each tool's `from_json`, with errors naming the
/// field): `$schema`, Rust's integer `format`s, `additionalProperties:
/// true` (the default), `minimum: 0` (every integer here is unsigned), the `null` schemars adds to an optional field's
/// type and values (leaving it out says the same), and the line breaks of
/// the doc comments descriptions are made from.
fn lean(schema: &mut Value) {
    let Value::Object(object) = schema else {
        return;
    };
    object.remove("$schema");
    if object
        .get("format")
        .and_then(Value::as_str)
        .is_some_and(|f| f.starts_with("int") || f.starts_with("uint"))
    {
        object.remove("format");
    }
    // Every integer argument is unsigned: a minimum of 0 says nothing.
    if object.get("minimum") == Some(&Value::from(0)) {
        object.remove("minimum");
    }
    if object.get("additionalProperties") == Some(&Value::Bool(true)) {
        object.remove("additionalProperties");
    }
    if let Some(Value::Array(types)) = object.get_mut("type") {
        types.retain(|t| t != "null");
        if let [only] = types.as_slice() {
            let only = only.clone();
            object.insert("type".into(), only);
        }
    }
    if let Some(Value::Array(values)) = object.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    // A doc comment's line breaks are the source's wrapping, not the text's.
    if let Some(Value::String(text)) = object.get_mut("description") {
        *text = text.replace('\n', " ");
    }
    // Into the schemas this one holds, and only those: `properties` is a map
    // of argument names, one of which may well be called `format`.
    for key in ["properties", "$defs"] {
        if let Some(Value::Object(map)) = object.get_mut(key) {
            map.values_mut().for_each(lean);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(inner) = object.get_mut(key) {
            lean(inner);
        }
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(inner)) = object.get_mut(key) {
            inner.iter_mut().for_each(lean);
        }
    }
}

/// Refuses arguments a tool does not take, before anything reaches codexd.
///
/// The names a tool takes are its input schema's `properties` (the schema
/// derived from its argument struct), so an argument added to a struct is
/// known at once and no list is kept by hand. Without this, a misspelt or
/// unsupported argument (`aproval_policy`, an option of another release)
/// would be dropped silently and the model would believe it took effect.
pub fn check_known(tool: &str, schema: &JsonObject, args: &JsonObject) -> Result<(), ArgError> {
    let empty = JsonObject::new();
    let properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let unknown: Vec<&String> = args
        .keys()
        .filter(|name| !properties.contains_key(name.as_str()))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let suggestions: Vec<(&String, &str)> = unknown
        .iter()
        .filter_map(|name| suggest(name, properties.keys()).map(|known| (*name, known)))
        .collect();
    let did_you_mean = match suggestions.as_slice() {
        [] => String::new(),
        [(_, known)] if unknown.len() == 1 => format!(" (did you mean {known}?)"),
        several => format!(
            " (did you mean {}?)",
            several
                .iter()
                .map(|(name, known)| format!("{known} for {name}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    // Required ones first, in the struct's order, then the rest by name.
    let takes: Vec<String> = required
        .iter()
        .map(|name| format!("{name} (required)"))
        .chain(
            properties
                .keys()
                .filter(|name| !required.contains(&name.as_str()))
                .cloned(),
        )
        .collect();
    let takes = if takes.is_empty() {
        "it takes no arguments".to_string()
    } else {
        format!("it takes {}", takes.join(", "))
    };
    let such = if unknown.len() == 1 {
        "no such argument"
    } else {
        "no such arguments"
    };
    let names: Vec<&str> = unknown.iter().map(|n| n.as_str()).collect();
    Err(ArgError(format!(
        "{}: {such} of {tool}{did_you_mean}; {takes}. Nothing was done.",
        names.join(", ")
    )))
}

/// The argument an unknown one most likely meant: the same words in another
/// case or separator (`jobId`), else the closest spelling by strsim's
/// Jaro-Winkler (as clap and codexd's config use), if close enough —
/// preferring a name the unknown one is an abbreviation of (its letters in
/// order: `jobs` is `job_ids` short, not `job_id` misspelt).
fn suggest<'a>(unknown: &str, known: impl Iterator<Item = &'a String> + Clone) -> Option<&'a str> {
    let squash = |s: &str| {
        s.chars()
            .filter(|c| !matches!(c, '_' | '-'))
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    let unknown_squashed = squash(unknown);
    if let Some(same) = known.clone().find(|k| squash(k) == unknown_squashed) {
        return Some(same);
    }
    let abbreviates = |k: &str| {
        let mut letters = squash(k).into_bytes().into_iter();
        unknown_squashed.bytes().all(|u| letters.any(|l| l == u))
    };
    known
        .map(|k| (abbreviates(k), strsim::jaro_winkler(unknown, k), k))
        .filter(|(_, score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)))
        .map(|(_, _, k)| k.as_str())
}

/// Arguments of `codex_start`.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
pub struct StartArgs {
    /// The task, with all Codex needs to know.
    pub prompt: String,
    /// Absolute path Codex works in.
    pub cwd: String,
    /// suggest: read-only. auto-edit: edits in cwd. ask: auto-edit, asking the user before
    /// anything else. full-auto: no sandbox.
    #[schemars(
        default = "default_approval_policy",
        transform = enum_of_policies
    )]
    pub approval_policy: String,
    // Codex's model; no description: the name says it, and an optional
    // argument left out means codex's default.
    pub model: Option<String>,
    /// worktree: on a new branch codex/<job_id> in its own git worktree.
    #[schemars(default = "default_isolation", transform = enum_of_isolations)]
    pub isolation: String,
    /// No output this long: error "stalled" (default 600).
    #[schemars(range(min = 1))]
    pub stall_timeout_seconds: Option<u32>,
    /// Running this long: error "timed_out" (default 3600).
    #[schemars(range(min = 1))]
    pub max_duration_seconds: Option<u32>,
    /// How hard Codex thinks.
    #[schemars(transform = enum_of_efforts_or_null)]
    pub reasoning_effort: Option<String>,
    /// JSON Schema Codex's answer must match (checked).
    pub output_schema: Option<JsonObject>,
    // Which CLI runs it; no description: the description of codex_start
    // names the agents, and left out it is codex (codexd's default).
    #[schemars(transform = enum_of_agents_or_null)]
    pub agent: Option<String>,
}

/// The allowed values of a field, from the one list in
/// `codex_async_proto::values` (null too for an optional field).
fn set_enum(schema: &mut schemars::Schema, values: &[&str], nullable: bool) {
    let mut allowed: Vec<Value> = values.iter().map(|v| Value::from(*v)).collect();
    if nullable {
        allowed.push(Value::Null);
    }
    schema.insert("enum".into(), Value::Array(allowed));
}

fn enum_of_policies(schema: &mut schemars::Schema) {
    set_enum(schema, values::APPROVAL_POLICIES, false);
}

fn enum_of_policies_or_null(schema: &mut schemars::Schema) {
    set_enum(schema, values::APPROVAL_POLICIES, true);
}

fn enum_of_agents_or_null(schema: &mut schemars::Schema) {
    set_enum(schema, values::AGENTS, true);
}

fn enum_of_isolations(schema: &mut schemars::Schema) {
    set_enum(schema, values::ISOLATIONS, false);
}

fn enum_of_efforts_or_null(schema: &mut schemars::Schema) {
    set_enum(schema, values::REASONING_EFFORTS, true);
}

fn enum_of_targets(schema: &mut schemars::Schema) {
    set_enum(schema, values::REVIEW_TARGETS, false);
}

fn enum_of_statuses_or_null(schema: &mut schemars::Schema) {
    set_enum(schema, values::STATUSES, true);
}

fn enum_of_decisions_or_null(schema: &mut schemars::Schema) {
    set_enum(schema, values::DECISIONS, true);
}

fn default_isolation() -> String {
    "none".to_string()
}

fn default_approval_policy() -> String {
    "suggest".to_string()
}

/// Arguments of `codex_poll`.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
pub struct PollArgs {
    // The job id codex_start returned. A plain comment, not a doc comment:
    // the name says it, and a description would cost the model characters.
    pub job_id: String,
    /// The cursor your last poll or wait returned.
    pub since: Option<u64>,
    /// Also this many lines of Codex's raw output (rarely needed).
    #[schemars(range(min = 0, max = 10000))]
    pub tail_lines: Option<u32>,
}

/// Arguments of `codex_wait`: `job_id` for one job, or `job_ids` for the
/// first of several to end (exactly one of the two; [`WaitArgs::from_json`]
/// makes sure, so the schema needs no `oneOf`, which the Anthropic API refuses
/// at the root of a tool's input schema).
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
pub struct WaitArgs {
    // The job id codex_start returned (or job_ids).
    pub job_id: Option<String>,
    /// Several jobs: returns when the first ends or asks.
    #[schemars(length(min = 1, max = 20))]
    pub job_ids: Option<Vec<String>>,
    /// Seconds to wait at most.
    #[schemars(default = "default_wait_seconds", range(min = 1, max = 50))]
    pub timeout_seconds: u32,
    /// With job_id: the cursor your last poll or wait returned.
    pub since: Option<u64>,
}

/// The most jobs one `codex_wait` watches (`job_ids`): each costs a Get per
/// poll and a status line in the answer.
pub const WAIT_JOBS_MAX: usize = 20;

/// Default and bounds of `codex_wait`'s `timeout_seconds`.
pub const WAIT_SECONDS_DEFAULT: u32 = 30;
/// The longest wait: MCP clients time out a tool call after ~60 s.
pub const WAIT_SECONDS_MAX: u32 = 50;

fn default_wait_seconds() -> u32 {
    WAIT_SECONDS_DEFAULT
}

/// Arguments of `codex_result`.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
pub struct ResultArgs {
    // The job id codex_start returned.
    pub job_id: String,
    /// text: to read; json: every field, for a program.
    #[schemars(default = "default_format", extend("enum" = ["text", "json"]))]
    pub format: String,
}

fn default_format() -> String {
    "text".into()
}

/// Arguments of `codex_reply`.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
pub struct ReplyArgs {
    // The finished job to continue.
    pub job_id: String,
    /// Your next message to Codex.
    pub prompt: String,
    /// As for codex_start; omit to keep the earlier job's.
    #[schemars(transform = enum_of_policies_or_null)]
    pub approval_policy: Option<String>,
    /// Omit to keep the earlier job's.
    pub model: Option<String>,
    /// Omit to keep the earlier job's.
    #[schemars(transform = enum_of_efforts_or_null)]
    pub reasoning_effort: Option<String>,
    /// JSON Schema Codex's answer must match (checked).
    pub output_schema: Option<JsonObject>,
}

/// Arguments of `codex_review`.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
pub struct ReviewArgs {
    /// Absolute path in the git repository.
    pub cwd: String,
    /// auto: uncommitted changes, else the branch against its default branch.
    #[schemars(
        default = "default_target",
        transform = enum_of_targets
    )]
    pub target: String,
    /// For target base, e.g. "main".
    pub base_branch: Option<String>,
    /// For target commit: a sha, or e.g. HEAD.
    pub commit: Option<String>,
    /// For target commit.
    pub title: Option<String>,
    /// Custom review instructions, instead of a target.
    pub instructions: Option<String>,
    // Codex's model; no description: the name says it, and an optional
    // argument left out means codex's default.
    pub model: Option<String>,
    /// How hard Codex thinks.
    #[schemars(transform = enum_of_efforts_or_null)]
    pub reasoning_effort: Option<String>,
}

fn default_target() -> String {
    "auto".to_string()
}

/// Arguments of `codex_list`.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
pub struct ListArgs {
    /// Most jobs to return.
    #[schemars(default = "default_limit", range(min = 1, max = 1000))]
    pub limit: u32,
    /// Only jobs with this status.
    #[schemars(transform = enum_of_statuses_or_null)]
    pub status: Option<String>,
}

fn default_limit() -> u32 {
    20
}

/// Arguments of `codex_cancel`.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
pub struct CancelArgs {
    // The job id codex_start returned.
    pub job_id: String,
}

/// Arguments of `codex_answer`.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
pub struct AnswerArgs {
    // The job whose Codex asks.
    pub job_id: String,
    /// allow_session: and the same again; stop: deny and end the job.
    #[schemars(transform = enum_of_decisions_or_null)]
    pub decision: Option<String>,
    /// Codex's own question: an option or the user's words; several: {"<id>":"…"}.
    pub answer: Option<String>,
    // The question_id shown (a plain comment: the name says it).
    pub question_id: Option<String>,
}

const JOB_ID_HINT: &str =
    "pass the job_id that codex_start returned (codex_list shows recent ones)";

const SINCE_HINT: &str =
    "pass the `cursor` of your previous codex_poll or codex_wait, or leave it out";

impl StartArgs {
    /// Reads and type-checks the arguments of a `codex_start` call.
    pub fn from_json(args: &JsonObject) -> Result<Self, ArgError> {
        let prompt = required_string(
            args,
            "prompt",
            "pass the task for Codex as a non-empty string",
        )?;
        if prompt.trim().is_empty() {
            return Err(ArgError(
                "prompt: is empty; pass the task for Codex as a non-empty string".into(),
            ));
        }
        prompt_size(&prompt)?;
        let cwd = required_string(
            args,
            "cwd",
            "pass the absolute path of the directory Codex should work in",
        )?;
        let approval_policy =
            optional_string(args, "approval_policy")?.unwrap_or_else(default_approval_policy);
        let model = optional_string(args, "model")?.filter(|m| !m.is_empty());
        let isolation = optional_string(args, "isolation")?
            .filter(|i| !i.is_empty())
            .unwrap_or_else(default_isolation);
        Ok(Self {
            prompt,
            cwd,
            approval_policy,
            model,
            isolation,
            stall_timeout_seconds: optional_seconds(args, "stall_timeout_seconds")?,
            max_duration_seconds: optional_seconds(args, "max_duration_seconds")?,
            // An empty effort goes to codexd, which refuses it naming the efforts.
            reasoning_effort: optional_string(args, "reasoning_effort")?,
            output_schema: optional_schema(args)?,
            agent: optional_string(args, "agent")?.filter(|a| !a.is_empty()),
        })
    }
}

impl PollArgs {
    /// Reads and type-checks the arguments of a `codex_poll` call.
    pub fn from_json(args: &JsonObject) -> Result<Self, ArgError> {
        Ok(Self {
            job_id: required_job_id(args)?,
            since: optional_cursor(args)?,
            tail_lines: optional_number(args, "tail_lines", "e.g. 100")?
                .map(|n| u32::try_from(n).map_err(|_| not_a_count("tail_lines", &n, "e.g. 100")))
                .transpose()?,
        })
    }
}

impl WaitArgs {
    /// Reads and type-checks the arguments of a `codex_wait` call: exactly
    /// one of `job_id` and `job_ids`, and `since` only with `job_id`.
    pub fn from_json(args: &JsonObject) -> Result<Self, ArgError> {
        let job_ids = optional_job_ids(args)?;
        let given = |field| !matches!(args.get(field), None | Some(Value::Null));
        let job_id = match (given("job_id"), &job_ids) {
            (true, Some(_)) => {
                return Err(ArgError(
                    "job_id, job_ids: pass one of them, not both: job_id to wait for one job, \
                     job_ids for the first of several to end"
                        .into(),
                ))
            }
            (false, None) => {
                return Err(ArgError(format!(
                    "job_id, job_ids: missing; {JOB_ID_HINT}, or job_ids (a list of 1 to \
                     {WAIT_JOBS_MAX}) to wait for the first of several to end"
                )))
            }
            (true, None) => Some(required_job_id(args)?),
            (false, Some(_)) => None,
        };
        let bad = |got: String| {
            ArgError(format!(
                "timeout_seconds: must be a whole number from 1 to {WAIT_SECONDS_MAX}, got {got}: \
                 MCP clients give up on a tool call after about a minute, so wait at most \
                 {WAIT_SECONDS_MAX} s and call codex_wait again (with the cursor as since) if the \
                 job is still running; leave it out for {WAIT_SECONDS_DEFAULT} s"
            ))
        };
        let timeout_seconds = match optional_number(args, "timeout_seconds", "") {
            Err(_) => {
                return Err(bad(args
                    .get("timeout_seconds")
                    .map(describe)
                    .unwrap_or_default()))
            }
            Ok(None) => WAIT_SECONDS_DEFAULT,
            Ok(Some(n)) => match u32::try_from(n) {
                Ok(n) if (1..=WAIT_SECONDS_MAX).contains(&n) => n,
                _ => return Err(bad(n.to_string())),
            },
        };
        let since = optional_cursor(args)?;
        if since.is_some() && job_ids.is_some() {
            return Err(ArgError(
                "since: a cursor belongs to one job; pass it with job_id, or leave it out with \
                 job_ids"
                    .into(),
            ));
        }
        Ok(Self {
            job_id,
            job_ids,
            timeout_seconds,
            since,
        })
    }
}

/// `job_ids` of codex_wait: absent, or 1 to [`WAIT_JOBS_MAX`] non-empty
/// strings, each once (a repeat is dropped: waiting on a job twice is
/// waiting on it once). Like the numbers, a list sent as a JSON string
/// (`"[\"a\", \"b\"]"`, as models sometimes write it) is read as the list.
fn optional_job_ids(args: &JsonObject) -> Result<Option<Vec<String>>, ArgError> {
    const HINT: &str = "pass the job ids codex_start returned, e.g. [\"0123456789ab\", \
                        \"fedcba987654\"] (codex_list shows recent ones)";
    let value = match args.get("job_ids") {
        None | Some(Value::Null) => return Ok(None),
        Some(value) => value,
    };
    let parsed;
    let items = match value {
        Value::Array(items) => items,
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Array(items)) => {
                parsed = items;
                &parsed
            }
            _ => {
                return Err(ArgError(format!(
                    "job_ids: expected a list of job ids, got {}; {HINT}, or pass one id as \
                     job_id",
                    describe(value)
                )))
            }
        },
        other => {
            return Err(ArgError(format!(
                "job_ids: expected a list of job ids, got {}; {HINT}",
                describe(other)
            )))
        }
    };
    if items.is_empty() {
        return Err(ArgError(format!(
            "job_ids: is empty; {HINT}, 1 to {WAIT_JOBS_MAX} of them"
        )));
    }
    if items.len() > WAIT_JOBS_MAX {
        return Err(ArgError(format!(
            "job_ids: lists {} jobs, at most {WAIT_JOBS_MAX} can be waited for at once; pass \
             {WAIT_JOBS_MAX} or fewer (the ones you need first)",
            items.len()
        )));
    }
    let mut ids: Vec<String> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match item {
            Value::String(id) if !id.trim().is_empty() => {
                if !ids.contains(id) {
                    ids.push(id.clone());
                }
            }
            Value::String(_) => {
                return Err(ArgError(format!(
                    "job_ids: item {} is empty; {HINT}",
                    i + 1
                )));
            }
            other => {
                return Err(ArgError(format!(
                    "job_ids: item {} is {}, not a job id string; {HINT}",
                    i + 1,
                    describe(other)
                )))
            }
        }
    }
    Ok(Some(ids))
}

impl ResultArgs {
    /// Reads and type-checks the arguments of a `codex_result` call.
    pub fn from_json(args: &JsonObject) -> Result<Self, ArgError> {
        let format = optional_string(args, "format")?.unwrap_or_else(default_format);
        if format != "text" && format != "json" {
            return Err(ArgError(format!(
                "format: unknown value {:?}; use \"text\" (the result to read, the default) or \"json\" (every field, for a program)",
                format.chars().take(40).collect::<String>()
            )));
        }
        Ok(Self {
            job_id: required_job_id(args)?,
            format,
        })
    }
}

impl ReplyArgs {
    /// Reads and type-checks the arguments of a `codex_reply` call.
    pub fn from_json(args: &JsonObject) -> Result<Self, ArgError> {
        let job_id = required_job_id(args)?;
        let prompt = required_string(
            args,
            "prompt",
            "pass your next message to Codex as a non-empty string",
        )?;
        if prompt.trim().is_empty() {
            return Err(ArgError(
                "prompt: is empty; pass your next message to Codex as a non-empty string".into(),
            ));
        }
        prompt_size(&prompt)?;
        Ok(Self {
            job_id,
            prompt,
            approval_policy: optional_string(args, "approval_policy")?.filter(|p| !p.is_empty()),
            model: optional_string(args, "model")?.filter(|m| !m.is_empty()),
            // An empty effort goes to codexd, which refuses it naming the efforts.
            reasoning_effort: optional_string(args, "reasoning_effort")?,
            output_schema: optional_schema(args)?,
        })
    }
}

impl ReviewArgs {
    /// Reads and type-checks the arguments of a `codex_review` call (which
    /// combinations make sense is codexd's to say).
    pub fn from_json(args: &JsonObject) -> Result<Self, ArgError> {
        let cwd = required_string(
            args,
            "cwd",
            "pass the absolute path of a directory in the git repository to review",
        )?;
        let text = |field: &str| -> Result<Option<String>, ArgError> {
            Ok(optional_string(args, field)?.filter(|v| !v.is_empty()))
        };
        Ok(Self {
            cwd,
            target: text("target")?.unwrap_or_default(),
            base_branch: text("base_branch")?,
            commit: text("commit")?,
            title: text("title")?,
            instructions: text("instructions")?,
            model: text("model")?,
            // Not text(): an empty effort is codexd's to refuse.
            reasoning_effort: optional_string(args, "reasoning_effort")?,
        })
    }
}

/// `output_schema`: a JSON object, or a string holding one (models often
/// send an object argument as its JSON text).
fn optional_schema(args: &JsonObject) -> Result<Option<JsonObject>, ArgError> {
    const HINT: &str = "pass a JSON Schema object, e.g. {\"type\": \"object\", \"properties\": {\"answer\": {\"type\": \"string\"}}, \"required\": [\"answer\"]}, or leave it out";
    match args.get("output_schema") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(schema)) => Ok(Some(schema.clone())),
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(schema)) => Ok(Some(schema)),
            _ => Err(ArgError(format!(
                "output_schema: expected a JSON Schema object, got a string that is not one; {HINT}"
            ))),
        },
        Some(other) => Err(ArgError(format!(
            "output_schema: expected a JSON Schema object, got {}; {HINT}",
            describe(other)
        ))),
    }
}

impl ListArgs {
    /// Reads and type-checks the arguments of a `codex_list` call.
    pub fn from_json(args: &JsonObject) -> Result<Self, ArgError> {
        let limit = optional_number(args, "limit", "e.g. 20")?
            .map(|n| u32::try_from(n).map_err(|_| not_a_count("limit", &n, "e.g. 20")))
            .transpose()?
            .unwrap_or_else(default_limit);
        Ok(Self {
            limit,
            status: optional_string(args, "status")?.filter(|s| !s.is_empty()),
        })
    }
}

impl CancelArgs {
    /// Reads and type-checks the arguments of a `codex_cancel` call.
    pub fn from_json(args: &JsonObject) -> Result<Self, ArgError> {
        Ok(Self {
            job_id: required_job_id(args)?,
        })
    }
}

impl AnswerArgs {
    /// Reads and type-checks the arguments of a `codex_answer` call (which
    /// decisions the question takes is codexd's to say).
    pub fn from_json(args: &JsonObject) -> Result<Self, ArgError> {
        const HINT: &str = "pass the user's decision (allow, allow_session, deny or stop: the \
                            question lists the ones Codex takes), or answer (text) when Codex \
                            asks a question";
        let job_id = required_job_id(args)?;
        let decision = optional_string(args, "decision")?;
        let answer = optional_string(args, "answer")?;
        match (&decision, &answer) {
            (Some(_), Some(_)) => {
                return Err(ArgError(
                    "decision: give decision (an approval) or answer (Codex's question), not both"
                        .into(),
                ))
            }
            (None, None) => return Err(ArgError(format!("decision: missing; {HINT}"))),
            (Some(d), None) if d.trim().is_empty() => {
                return Err(ArgError(format!("decision: is empty; {HINT}")))
            }
            (None, Some(a)) if a.trim().is_empty() => {
                return Err(ArgError(
                    "answer: is empty; pass an option's label or the user's words".into(),
                ))
            }
            _ => {}
        }
        Ok(Self {
            job_id,
            decision,
            answer,
            question_id: optional_string(args, "question_id")?.filter(|q| !q.is_empty()),
        })
    }
}

fn required_job_id(args: &JsonObject) -> Result<String, ArgError> {
    let job_id = required_string(args, "job_id", JOB_ID_HINT)?;
    if job_id.trim().is_empty() {
        return Err(ArgError(format!("job_id: is empty; {JOB_ID_HINT}")));
    }
    Ok(job_id)
}

/// A string that must be present (null counts as missing).
/// codexd's prompt limit, checked here too: a prompt far over it would
/// otherwise meet gRPC's message size limit first, whose error names no field.
fn prompt_size(prompt: &str) -> Result<(), ArgError> {
    if prompt.len() > values::MAX_PROMPT_BYTES {
        return Err(ArgError(format!(
            "prompt: {} bytes is over the limit of {} bytes; shorten it or point codex at a file that holds the details",
            prompt.len(),
            values::MAX_PROMPT_BYTES
        )));
    }
    Ok(())
}

fn required_string(args: &JsonObject, field: &str, hint: &str) -> Result<String, ArgError> {
    match args.get(field) {
        None | Some(Value::Null) => Err(ArgError(format!("{field}: missing; {hint}"))),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(ArgError(format!(
            "{field}: expected a string, got {}; {hint}",
            describe(other)
        ))),
    }
}

/// A string that may be absent or null.
fn optional_string(args: &JsonObject, field: &str) -> Result<Option<String>, ArgError> {
    match args.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ArgError(format!(
            "{field}: expected a string, got {}; pass a string or leave it out",
            describe(other)
        ))),
    }
}

/// A whole number ≥ 0 that may be absent or null.
///
/// Like the Python tool this replaces (pydantic's lax mode), a number written
/// as a string ("50") or as a float with no fraction (50.0) is accepted;
/// anything else is an error naming the field. `example` completes "pass …".
fn optional_number(args: &JsonObject, field: &str, example: &str) -> Result<Option<u64>, ArgError> {
    let value = match args.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(value) => value,
    };
    let number: Option<i128> = match value {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 1e18)
                    .map(|f| f as i128)
            }),
        Value::String(s) => s.trim().parse::<i128>().ok(),
        _ => None,
    };
    match number {
        None => Err(not_a_count(field, &describe(value), example)),
        Some(n) => u64::try_from(n)
            .map(Some)
            .map_err(|_| not_a_count(field, &n, example)),
    }
}

fn not_a_count(field: &str, got: &dyn std::fmt::Display, example: &str) -> ArgError {
    ArgError(format!(
        "{field}: expected a whole number ≥ 0, got {got}; pass {example} or leave it out"
    ))
}

/// A `since` cursor: a byte offset, any whole number ≥ 0.
fn optional_cursor(args: &JsonObject) -> Result<Option<u64>, ArgError> {
    optional_number(args, "since", "the cursor").map_err(|_| {
        let got = args.get("since").map(describe).unwrap_or_default();
        ArgError(format!(
            "since: expected a whole number ≥ 0, got {got}; {SINCE_HINT}"
        ))
    })
}

/// A watchdog duration: a whole number of seconds ≥ 1, or absent.
fn optional_seconds(args: &JsonObject, field: &str) -> Result<Option<u32>, ArgError> {
    let bad = |got: String| {
        ArgError(format!(
            "{field}: expected a whole number of seconds ≥ 1, got {got}; pass e.g. 600 or \
             leave it out for the daemon's default"
        ))
    };
    match optional_number(args, field, "e.g. 600") {
        Err(_) => Err(bad(args.get(field).map(describe).unwrap_or_default())),
        Ok(None) => Ok(None),
        Ok(Some(0)) => Err(bad("0".into())),
        Ok(Some(n)) => u32::try_from(n).map(Some).map_err(|_| bad(n.to_string())),
    }
}

/// A short description of a JSON value for error messages.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("{b}"),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let short: String = s.chars().take(40).collect();
            let ellipsis = if short.len() < s.len() { "…" } else { "" };
            format!("the string {short:?}{ellipsis}")
        }
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> JsonObject {
        match v {
            Value::Object(o) => o,
            _ => JsonObject::new(),
        }
    }

    #[test]
    fn output_schema_is_an_object_or_its_json_text() {
        let schema = json!({"type": "object"});
        let args = StartArgs::from_json(&obj(
            json!({"prompt": "p", "cwd": "/tmp", "output_schema": schema}),
        ));
        assert_eq!(
            args.map(|a| a.output_schema),
            Ok(Some(obj(json!({"type": "object"}))))
        );
        let text = StartArgs::from_json(&obj(
            json!({"prompt": "p", "cwd": "/tmp", "output_schema": "{\"type\": \"object\"}"}),
        ));
        assert_eq!(
            text.map(|a| a.output_schema),
            Ok(Some(obj(json!({"type": "object"}))))
        );
        let err = StartArgs::from_json(&obj(
            json!({"prompt": "p", "cwd": "/tmp", "output_schema": [1]}),
        ))
        .unwrap_err();
        assert!(
            err.0
                .starts_with("output_schema: expected a JSON Schema object, got"),
            "{err}"
        );
    }

    #[test]
    fn start_defaults_and_required_fields() {
        let args = StartArgs::from_json(&obj(json!({"prompt": "p", "cwd": "/tmp"})));
        assert_eq!(
            args,
            Ok(StartArgs {
                prompt: "p".into(),
                cwd: "/tmp".into(),
                approval_policy: "suggest".into(),
                model: None,
                isolation: "none".into(),
                stall_timeout_seconds: None,
                max_duration_seconds: None,
                reasoning_effort: None,
                output_schema: None,
                agent: None,
            })
        );
        let err = StartArgs::from_json(&obj(json!({"cwd": "/tmp"}))).unwrap_err();
        assert!(err.0.starts_with("prompt: missing"), "{err}");
        let huge = "x".repeat(10 * 1024 * 1024);
        let err = StartArgs::from_json(&obj(json!({"prompt": huge, "cwd": "/tmp"}))).unwrap_err();
        assert!(
            err.0
                .starts_with("prompt: 10485760 bytes is over the limit of 1048576 bytes"),
            "{err}"
        );
        let err = StartArgs::from_json(&obj(json!({"prompt": "  ", "cwd": "/tmp"}))).unwrap_err();
        assert!(err.0.starts_with("prompt: is empty"), "{err}");
        let err = StartArgs::from_json(&obj(json!({"prompt": "p"}))).unwrap_err();
        assert!(err.0.starts_with("cwd: missing"), "{err}");
        let err = StartArgs::from_json(&obj(json!({"prompt": 5, "cwd": "/tmp"}))).unwrap_err();
        assert!(
            err.0.starts_with("prompt: expected a string, got 5"),
            "{err}"
        );
        let err = StartArgs::from_json(&obj(json!({"prompt": "p", "cwd": "/tmp", "model": []})))
            .unwrap_err();
        assert!(
            err.0.starts_with("model: expected a string, got a list"),
            "{err}"
        );
    }

    #[test]
    fn counts_accept_lax_numbers_and_reject_the_rest() {
        let poll = |v: Value| PollArgs::from_json(&obj(json!({"job_id": "abc", "tail_lines": v})));
        assert_eq!(poll(json!(5)).map(|a| a.tail_lines), Ok(Some(5)));
        assert_eq!(poll(json!(5.0)).map(|a| a.tail_lines), Ok(Some(5)));
        assert_eq!(poll(json!("7")).map(|a| a.tail_lines), Ok(Some(7)));
        assert_eq!(poll(Value::Null).map(|a| a.tail_lines), Ok(None));
        for bad in [
            json!("abc"),
            json!(-1),
            json!(2.5),
            json!(true),
            json!(1u64 << 40),
        ] {
            let err = poll(bad.clone()).unwrap_err();
            assert!(
                err.0.starts_with("tail_lines: expected a whole number"),
                "{bad}: {err}"
            );
        }
        let err = ListArgs::from_json(&obj(json!({"limit": "x"}))).unwrap_err();
        assert!(err.0.starts_with("limit: "), "{err}");
        assert_eq!(
            ListArgs::from_json(&JsonObject::new()).map(|a| a.limit),
            Ok(20)
        );
    }

    #[test]
    fn start_reads_isolation_and_watchdogs() {
        let start = |extra: Value| {
            let mut args = obj(json!({"prompt": "p", "cwd": "/tmp"}));
            args.extend(obj(extra));
            StartArgs::from_json(&args)
        };
        let args = start(json!({
            "isolation": "worktree", "stall_timeout_seconds": 60, "max_duration_seconds": "120"
        }))
        .expect("valid");
        assert_eq!(args.isolation, "worktree");
        assert_eq!(args.stall_timeout_seconds, Some(60));
        assert_eq!(args.max_duration_seconds, Some(120));
        // The daemon judges the isolation value; the shim only its type.
        assert_eq!(
            start(json!({"isolation": "bogus"})).map(|a| a.isolation),
            Ok("bogus".into())
        );
        let err = start(json!({"isolation": 1})).unwrap_err();
        assert!(err.0.starts_with("isolation: expected a string"), "{err}");
        for field in ["stall_timeout_seconds", "max_duration_seconds"] {
            for bad in [
                json!(0),
                json!(-1),
                json!("x"),
                json!(1.5),
                json!(1u64 << 33),
            ] {
                let err = start(json!({ field: bad })).unwrap_err();
                assert!(
                    err.0
                        .starts_with(&format!("{field}: expected a whole number of seconds ≥ 1")),
                    "{bad}: {err}"
                );
            }
        }
    }

    #[test]
    fn wait_timeout_is_1_to_50_seconds() {
        let wait =
            |v: Value| WaitArgs::from_json(&obj(json!({"job_id": "abc", "timeout_seconds": v})));
        assert_eq!(wait(Value::Null).map(|a| a.timeout_seconds), Ok(30));
        assert_eq!(wait(json!(1)).map(|a| a.timeout_seconds), Ok(1));
        assert_eq!(wait(json!("50")).map(|a| a.timeout_seconds), Ok(50));
        for bad in [
            json!(0),
            json!(51),
            json!(-3),
            json!("x"),
            json!([]),
            json!(1u64 << 40),
        ] {
            let err = wait(bad.clone()).unwrap_err();
            assert!(
                err.0
                    .starts_with("timeout_seconds: must be a whole number from 1 to 50"),
                "{bad}: {err}"
            );
            assert!(err.0.contains("MCP clients"), "says why: {err}");
        }
    }

    #[test]
    fn since_is_a_cursor() {
        let poll = |v: Value| PollArgs::from_json(&obj(json!({"job_id": "abc", "since": v})));
        assert_eq!(poll(json!(0)).map(|a| a.since), Ok(Some(0)));
        assert_eq!(poll(json!(1u64 << 40)).map(|a| a.since), Ok(Some(1 << 40)));
        assert_eq!(poll(Value::Null).map(|a| a.since), Ok(None));
        for bad in [json!(-1), json!("x"), json!(0.5), json!({})] {
            let err = poll(bad.clone()).unwrap_err();
            assert!(
                err.0.starts_with("since: expected a whole number ≥ 0"),
                "{bad}: {err}"
            );
            assert!(err.0.contains("cursor"), "{err}");
        }
        let err = WaitArgs::from_json(&obj(json!({"job_id": "abc", "since": -1}))).unwrap_err();
        assert!(err.0.starts_with("since: "), "{err}");
    }

    #[test]
    fn answer_needs_a_job_and_a_decision() {
        let answer = |v: Value| AnswerArgs::from_json(&obj(v)).map_err(|e| e.0);
        assert_eq!(
            answer(json!({"job_id": "abc", "decision": "allow"})),
            Ok(AnswerArgs {
                job_id: "abc".into(),
                decision: Some("allow".into()),
                answer: None,
                question_id: None,
            })
        );
        let args = answer(json!({"job_id": "abc", "answer": "SQLite"}));
        assert_eq!(args.map(|a| a.answer), Ok(Some("SQLite".into())));
        let args = answer(json!({"job_id": "abc", "decision": "deny", "question_id": "q2"}));
        assert_eq!(args.map(|a| a.question_id), Ok(Some("q2".into())));
        let args = answer(json!({"job_id": "abc", "decision": "deny", "question_id": ""}));
        assert_eq!(args.map(|a| a.question_id), Ok(None), "empty = left out");
        // The decision's value is codexd's to judge (it knows the question).
        let args = answer(json!({"job_id": "abc", "decision": "maybe"}));
        assert_eq!(args.map(|a| a.decision), Ok(Some("maybe".into())));
        for (args, start) in [
            (json!({"decision": "allow"}), "job_id: missing"),
            (
                json!({"job_id": "", "decision": "allow"}),
                "job_id: is empty",
            ),
            (
                json!({"job_id": "abc"}),
                "decision: missing; pass the user's decision",
            ),
            (
                json!({"job_id": "abc", "decision": "allow", "answer": "x"}),
                "decision: give decision (an approval) or answer",
            ),
            (json!({"job_id": "abc", "answer": "  "}), "answer: is empty"),
            (
                json!({"job_id": "abc", "decision": " "}),
                "decision: is empty",
            ),
            (
                json!({"job_id": "abc", "decision": true}),
                "decision: expected a string, got true",
            ),
            (
                json!({"job_id": "abc", "decision": "allow", "question_id": 2}),
                "question_id: expected a string, got 2",
            ),
        ] {
            let err = answer(args.clone()).unwrap_err();
            assert!(err.starts_with(start), "{args}: {err}");
        }
        let schema = input_schema::<AnswerArgs>();
        assert_eq!(
            schema["required"],
            json!(["job_id"]),
            "decision or answer: which one, codexd says"
        );
        assert_eq!(
            schema["properties"]["decision"]["enum"],
            json!(["allow", "allow_session", "deny", "stop"])
        );
        assert_eq!(
            check_known(
                "codex_answer",
                &schema,
                &obj(json!({"job_id": "a", "decison": "allow"}))
            )
            .map_err(|e| e.0),
            Err(
                "decison: no such argument of codex_answer (did you mean decision?); it takes \
                 job_id (required), answer, decision, question_id. Nothing was done."
                    .into()
            )
        );
    }

    #[test]
    fn ask_is_a_policy_of_start_and_reply_and_input_required_a_list_status() {
        let start = StartArgs::from_json(&obj(
            json!({"prompt": "p", "cwd": "/tmp", "approval_policy": "ask"}),
        ));
        assert_eq!(start.map(|a| a.approval_policy), Ok("ask".into()));
        let reply = ReplyArgs::from_json(&obj(
            json!({"job_id": "abc", "prompt": "p", "approval_policy": "ask"}),
        ));
        assert_eq!(reply.map(|a| a.approval_policy), Ok(Some("ask".into())));
        assert_eq!(
            input_schema::<ReplyArgs>()["properties"]["approval_policy"]["enum"],
            json!(["suggest", "auto-edit", "ask", "full-auto"])
        );
        let description = input_schema::<StartArgs>()["properties"]["approval_policy"]
            ["description"]
            .as_str()
            .unwrap_or_default()
            .replace('\n', " ");
        assert!(
            description.contains("ask: auto-edit, asking the user before anything else"),
            "{description}"
        );
        let list = input_schema::<ListArgs>();
        let statuses = list["properties"]["status"]["enum"].clone();
        assert!(
            statuses
                .as_array()
                .is_some_and(|s| s.contains(&json!("input_required"))),
            "{statuses}"
        );
        let listed = ListArgs::from_json(&obj(json!({"status": "input_required"})));
        assert_eq!(listed.map(|a| a.status), Ok(Some("input_required".into())));
    }

    #[test]
    fn reply_needs_a_job_and_a_prompt() {
        let reply = |v: Value| ReplyArgs::from_json(&obj(v));
        let args = reply(json!({"job_id": "abc", "prompt": "go on"})).expect("valid");
        assert_eq!(args.approval_policy, None);
        assert_eq!(args.model, None);
        let err = reply(json!({"job_id": "abc"})).unwrap_err();
        assert!(err.0.starts_with("prompt: missing"), "{err}");
        let err = reply(json!({"job_id": "abc", "prompt": " "})).unwrap_err();
        assert!(err.0.starts_with("prompt: is empty"), "{err}");
        let err = reply(json!({"prompt": "go on"})).unwrap_err();
        assert!(err.0.starts_with("job_id: missing"), "{err}");
        let err = reply(json!({"job_id": "abc", "prompt": "p", "model": 3})).unwrap_err();
        assert!(err.0.starts_with("model: "), "{err}");
        let err = ResultArgs::from_json(&JsonObject::new()).unwrap_err();
        assert!(err.0.starts_with("job_id: missing"), "{err}");
    }

    #[test]
    fn job_id_is_required_and_non_empty() {
        let err = CancelArgs::from_json(&JsonObject::new()).unwrap_err();
        assert!(err.0.starts_with("job_id: missing"), "{err}");
        let err = PollArgs::from_json(&obj(json!({"job_id": ""}))).unwrap_err();
        assert!(err.0.starts_with("job_id: is empty"), "{err}");
        let err = PollArgs::from_json(&obj(json!({"job_id": 12}))).unwrap_err();
        assert!(err.0.starts_with("job_id: expected a string"), "{err}");
    }

    #[test]
    fn schemas_mark_the_required_fields() {
        let required = |schema: Arc<JsonObject>| schema.get("required").cloned();
        assert_eq!(
            required(input_schema::<StartArgs>()),
            Some(json!(["prompt", "cwd"]))
        );
        assert_eq!(
            required(input_schema::<PollArgs>()),
            Some(json!(["job_id"]))
        );
        assert_eq!(
            required(input_schema::<CancelArgs>()),
            Some(json!(["job_id"]))
        );
        assert_eq!(required(input_schema::<ListArgs>()), None);
        let start = input_schema::<StartArgs>();
        assert_eq!(
            start["properties"]["approval_policy"]["default"],
            json!("suggest")
        );
        assert_eq!(
            start["properties"]["approval_policy"]["enum"],
            json!(["suggest", "auto-edit", "ask", "full-auto"])
        );
        assert_eq!(
            required(input_schema::<ReplyArgs>()),
            Some(json!(["job_id", "prompt"]))
        );
        // job_id or job_ids: WaitArgs::from_json asks for exactly one.
        assert_eq!(required(input_schema::<WaitArgs>()), None);
        let wait = input_schema::<WaitArgs>();
        assert_eq!(
            wait["properties"]["job_ids"]["maxItems"],
            json!(WAIT_JOBS_MAX)
        );
        assert_eq!(wait["properties"]["job_ids"]["minItems"], json!(1));
        assert_eq!(
            input_schema::<WaitArgs>()["properties"]["timeout_seconds"]["default"],
            json!(30)
        );
        assert_eq!(
            start["properties"]["isolation"]["enum"],
            json!(["none", "worktree"])
        );
    }

    #[test]
    fn unknown_arguments_are_refused_naming_them_and_what_the_tool_takes() {
        let check = |schema: Arc<JsonObject>, tool: &str, args: Value| {
            check_known(tool, &schema, &obj(args)).map_err(|e| e.0)
        };
        let start = input_schema::<StartArgs>;
        assert_eq!(
            check(
                start(),
                "codex_start",
                json!({"prompt": "p", "cwd": "/", "model": null})
            ),
            Ok(())
        );
        assert_eq!(
            check(
                start(),
                "codex_start",
                json!({"prompt": "p", "aproval_policy": "x"})
            ),
            Err(
                "aproval_policy: no such argument of codex_start (did you mean \
                 approval_policy?); it takes prompt (required), cwd (required), agent, \
                 approval_policy, isolation, max_duration_seconds, model, \
                 output_schema, reasoning_effort, stall_timeout_seconds. Nothing was done."
                    .replace("                 ", "")
            )
        );
        assert_eq!(
            check(
                input_schema::<ResultArgs>(),
                "codex_result",
                json!({"job": "x"})
            ),
            Err(
                "job: no such argument of codex_result (did you mean job_id?); it takes \
                 job_id (required), format. Nothing was done."
                    .replace("                 ", "")
            )
        );
        assert_eq!(
            check(
                input_schema::<ListArgs>(),
                "codex_list",
                json!({"limt": 5, "zzz": 1, "Status": "done"})
            ),
            Err(
                "Status, limt, zzz: no such arguments of codex_list (did you mean status for \
                 Status, limit for limt?); it takes limit, status. Nothing was done."
                    .replace("                 ", "")
            )
        );
        assert_eq!(
            check(
                input_schema::<WaitArgs>(),
                "codex_wait",
                json!({"jobIds": []})
            ),
            Err(
                "jobIds: no such argument of codex_wait (did you mean job_ids?); it takes \
                 job_id, job_ids, since, timeout_seconds. Nothing was done."
                    .replace("                 ", "")
            )
        );
    }

    #[test]
    fn wait_takes_job_id_or_job_ids() {
        let wait = |v: Value| WaitArgs::from_json(&obj(v)).map_err(|e| e.0);
        let args = wait(json!({"job_ids": ["a", "b", "a"]})).expect("valid");
        assert_eq!(args.job_ids, Some(vec!["a".to_string(), "b".to_string()]));
        assert_eq!(args.job_id, None);
        let args = wait(json!({"job_ids": "[\"a\", \"b\"]", "job_id": null})).expect("valid");
        assert_eq!(args.job_ids, Some(vec!["a".to_string(), "b".to_string()]));
        let args = wait(json!({"job_id": "a", "job_ids": null})).expect("valid");
        assert_eq!(args.job_id.as_deref(), Some("a"));
        let ids: Vec<String> = (0..=WAIT_JOBS_MAX).map(|i| format!("{i:012x}")).collect();
        let hint = "pass the job ids codex_start returned, e.g. [\"0123456789ab\", \
                    \"fedcba987654\"] (codex_list shows recent ones)";
        for (args, error) in [
            (
                json!({"job_id": "a", "job_ids": ["b"]}),
                "job_id, job_ids: pass one of them, not both: job_id to wait for one job, \
                 job_ids for the first of several to end"
                    .to_string(),
            ),
            (
                json!({}),
                format!(
                    "job_id, job_ids: missing; {JOB_ID_HINT}, or job_ids (a list of 1 to 20) \
                     to wait for the first of several to end"
                ),
            ),
            (
                json!({"job_ids": []}),
                format!("job_ids: is empty; {hint}, 1 to 20 of them"),
            ),
            (
                json!({"job_ids": ids}),
                "job_ids: lists 21 jobs, at most 20 can be waited for at once; pass 20 or \
                 fewer (the ones you need first)"
                    .to_string(),
            ),
            (
                json!({"job_ids": ["a", 5]}),
                format!("job_ids: item 2 is 5, not a job id string; {hint}"),
            ),
            (
                json!({"job_ids": ["a", " "]}),
                format!("job_ids: item 2 is empty; {hint}"),
            ),
            (
                json!({"job_ids": "a"}),
                format!(
                    "job_ids: expected a list of job ids, got the string \"a\"; {hint}, or \
                     pass one id as job_id"
                ),
            ),
            (
                json!({"job_ids": ["a", "b"], "since": 3}),
                "since: a cursor belongs to one job; pass it with job_id, or leave it out \
                 with job_ids"
                    .to_string(),
            ),
        ] {
            assert_eq!(wait(args.clone()), Err(error), "{args}");
        }
    }
}
