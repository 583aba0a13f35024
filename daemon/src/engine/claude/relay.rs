//! Claude Code's permission questions under policy `ask` (measured on 2.1.332:
//! docs/field-notes/claude-agent.md §3).
//!
//! Headless, Claude Code asks nobody: it sends each question its permission
//! mode leaves open to the MCP tool named by `--permission-prompt-tool`, and
//! waits for the tool's answer as long as it takes. codexd serves that tool
//! itself: Claude Code is given (`--mcp-config`) one stdio server,
//! `codexd ask-relay --job-dir DIR` ([`serve`]), whose only tool hands the
//! question to the job's monitor over the job folder's socket and returns the
//! monitor's answer. The monitor holds the question as the job's, the same
//! way it holds codex's approvals (monitor/asks.rs), so it is answered with
//! codex_answer or `codexd answer`, outlives codexd, and is denied at its
//! deadline.
//!
//! What the tool receives: `{tool_name, input, tool_use_id}`; what it must
//! answer: one text block holding `{"behavior":"allow","updatedInput":{…}}`
//! or `{"behavior":"deny","message":"…"}` ([`question`], [`reply`]).

use std::{ffi::OsString, path::Path, sync::Arc};

use rmcp::{
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
        ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    },
    service::RequestContext,
    ErrorData, RoleServer, ServerHandler, ServiceExt,
};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::job::{answers::Decision, events::Question};

/// The MCP server's name in the job's `--mcp-config`: unlikely to be one of
/// the user's own (the user's servers are still loaded beside it).
pub const SERVER: &str = "codex-async-ask";
/// Its one tool.
pub const TOOL: &str = "approve";
/// The longest question or answer line on the socket: a tool's input (a
/// whole file for Write) fits many times over.
const MAX_LINE: u64 = 16 * 1024 * 1024;

/// The decisions Claude Code's prompt tool can give: it runs once, or not,
/// or not and the run stops (`interrupt`, measured: Claude Code ends the run
/// at once). (Its `updatedPermissions`, a rule for the rest of the session,
/// is not offered: codex's `allow_session` would promise more than was
/// measured.)
const DECISIONS: &[Decision] = &[Decision::Allow, Decision::Deny, Decision::Stop];

/// The arguments that send Claude Code's questions to codexd's relay for
/// the job in `job_dir`, `codexd` being the binary at `codexd`. The MCP
/// config is given inline (`--mcp-config` takes JSON text as well as files,
/// measured), so nothing is written for it; as one `=` argument, because the
/// flag takes several values.
pub fn args(codexd: &Path, job_dir: &Path) -> Vec<OsString> {
    let config = json!({"mcpServers": {SERVER: {
        "type": "stdio",
        // Lossy: Claude Code's JSON config cannot hold a path that is not
        // UTF-8 anyway (such a home fails the run, it does not go unasked).
        "command": codexd.to_string_lossy(),
        "args": ["ask-relay", "--job-dir", job_dir.to_string_lossy()],
    }}});
    vec![
        format!("--mcp-config={config}").into(),
        "--permission-prompt-tool".into(),
        format!("mcp__{SERVER}__{TOOL}").into(),
    ]
}

/// The job's question for one of Claude Code's permission requests (the
/// tool's arguments); `fallback_id` names it when Claude Code gave no
/// `tool_use_id`. Bash is a command, an edit a file change, anything else
/// the tool by name with its input.
pub fn question(
    request: &Value,
    fallback_id: String,
    asked_at: String,
    deadline: String,
) -> Question {
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let tool = text(request, "tool_name").unwrap_or_else(|| "?".into());
    let input = request.get("input").cloned().unwrap_or(Value::Null);
    let id = text(request, "tool_use_id")
        .filter(|id| !id.is_empty())
        .unwrap_or(fallback_id);
    let (kind, command, files) = match tool.as_str() {
        "Bash" => ("command", text(&input, "command"), Vec::new()),
        "Edit" | "Write" | "MultiEdit" | "NotebookEdit" => (
            "file_change",
            None,
            text(&input, "file_path")
                .or_else(|| text(&input, "notebook_path"))
                .into_iter()
                .collect(),
        ),
        _ => {
            // Its input, clipped: enough to say what it would do.
            let mut shown = input.to_string();
            if shown.len() > 200 {
                let mut end = 200;
                while !shown.is_char_boundary(end) {
                    end -= 1;
                }
                shown.truncate(end);
                shown.push('…');
            }
            ("tool", Some(format!("{tool} {shown}")), Vec::new())
        }
    };
    Question {
        id,
        kind: kind.into(),
        command,
        cwd: None,
        files,
        // Bash's own description of the command, when the model gave one.
        reason: (tool == "Bash")
            .then(|| text(&input, "description"))
            .flatten(),
        decisions: DECISIONS.iter().map(|d| d.name().to_string()).collect(),
        asked_at,
        deadline,
        answered: None,
        prompts: Vec::new(),
    }
}

/// What the prompt tool answers Claude Code: allowed, the call runs with its
/// input unchanged; otherwise the model is told why (a person denied it, or
/// nobody answered in `timeout` seconds) and goes on.
pub fn reply(request: &Value, decision: Decision, timed_out: bool, timeout: u32) -> String {
    let answer = match decision {
        Decision::Allow | Decision::AllowSession => json!({
            "behavior": "allow",
            // Given back as it came: Claude Code runs what updatedInput says.
            "updatedInput": request.get("input").cloned().filter(Value::is_object).unwrap_or_else(|| json!({})),
        }),
        Decision::Stop => json!({
            "behavior": "deny",
            "message": "The user denied this and stopped the job (codex-async).",
            "interrupt": true,
        }),
        Decision::Deny if timed_out => json!({
            "behavior": "deny",
            "message": format!("Denied: nobody answered this permission request within {timeout} seconds (codex-async). Go on without it."),
        }),
        Decision::Deny => json!({
            "behavior": "deny",
            "message": "The user denied this (codex-async). Go on without it.",
        }),
    };
    answer.to_string()
}

/// The answer when the monitor cannot be reached (it is gone): denied.
fn unreachable(why: &str) -> String {
    json!({
        "behavior": "deny",
        "message": format!("Denied: codex-async could not ask the user ({why})."),
    })
    .to_string()
}

/// The stdio MCP server Claude Code starts for a job (`codexd ask-relay`).
/// Returns the process exit code.
pub fn serve(job_dir: &Path) -> i32 {
    // The socket is reached by its name in the job's folder: a socket path
    // is limited to ~100 bytes, a folder's path is not.
    if let Err(e) = std::env::set_current_dir(job_dir) {
        eprintln!(
            "codexd ask-relay: job-dir: cannot enter {}: {e}",
            job_dir.display()
        );
        return 1;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("codexd ask-relay: cannot create its runtime: {e}");
            return 1;
        }
    };
    runtime.block_on(async {
        let served = Relay.serve(rmcp::transport::io::stdio()).await;
        match served {
            Ok(service) => {
                let _ = service.waiting().await;
                0
            }
            Err(e) => {
                eprintln!("codexd ask-relay: MCP initialization failed: {e}");
                1
            }
        }
    })
}

/// The relay's MCP server: one tool, each call one question to the monitor.
struct Relay;

impl Relay {
    fn tool() -> Tool {
        let schema = json!({
            "type": "object",
            "properties": {
                "tool_name": {"type": "string"},
                "input": {"type": "object"},
                "tool_use_id": {"type": "string"},
            },
            "required": ["tool_name", "input"],
        });
        let schema = match schema {
            Value::Object(map) => map,
            _ => Default::default(),
        };
        Tool::new(
            TOOL,
            "codex-async: asks the job's user for permission (Claude Code's --permission-prompt-tool).",
            Arc::new(schema),
        )
    }
}

impl ServerHandler for Relay {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(SERVER, env!("CARGO_PKG_VERSION")))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(vec![Self::tool()]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if request.name != TOOL {
            return Err(ErrorData::invalid_params(
                format!("name: this server has one tool, {TOOL:?}"),
                None,
            ));
        }
        let arguments = Value::Object(request.arguments.unwrap_or_default());
        let text = match ask(&arguments).await {
            Ok(answer) => answer,
            Err(e) => unreachable(&e.to_string()),
        };
        Ok(CallToolResult::success(vec![ContentBlock::text(text)]).into())
    }
}

/// One question to the monitor: the request as one line, the answer as one
/// line back (it comes when someone answers, or at the deadline).
async fn ask(request: &Value) -> std::io::Result<String> {
    let stream =
        tokio::net::UnixStream::connect(crate::store::jobdir::JobDir::ask_socket_name()).await?;
    let (read, mut write) = stream.into_split();
    let mut line = request.to_string();
    line.push('\n');
    write.write_all(line.as_bytes()).await?;
    let mut answer = Vec::new();
    BufReader::new(read)
        .take(MAX_LINE)
        .read_until(b'\n', &mut answer)
        .await?;
    let answer = String::from_utf8_lossy(&answer).trim().to_string();
    if answer.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the job's monitor closed the question unanswered",
        ));
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bash_request_is_a_command_question_and_its_answers_are_claudes_shape() {
        let request = json!({"tool_name": "Bash", "input": {"command": "python3 -c 'print(1)'", "description": "compute"}, "tool_use_id": "toolu_1"});
        let q = question(&request, "1".into(), "t0".into(), "t1".into());
        assert_eq!((q.id.as_str(), q.kind.as_str()), ("toolu_1", "command"));
        assert_eq!(q.command.as_deref(), Some("python3 -c 'print(1)'"));
        assert_eq!(q.reason.as_deref(), Some("compute"));
        assert_eq!(q.decisions, ["allow", "deny", "stop"]);
        let allow: Value =
            serde_json::from_str(&reply(&request, Decision::Allow, false, 60)).expect("json");
        assert_eq!(allow["behavior"], "allow");
        assert_eq!(allow["updatedInput"]["command"], "python3 -c 'print(1)'");
        let deny: Value =
            serde_json::from_str(&reply(&request, Decision::Deny, true, 60)).expect("json");
        assert_eq!(deny["behavior"], "deny");
        assert!(deny["message"]
            .as_str()
            .is_some_and(|m| m.contains("60 seconds")));
        let stop: Value =
            serde_json::from_str(&reply(&request, Decision::Stop, false, 60)).expect("json");
        assert_eq!(
            (&stop["behavior"], &stop["interrupt"]),
            (&json!("deny"), &json!(true))
        );
    }

    #[test]
    fn edits_name_their_file_and_other_tools_their_input() {
        let write =
            json!({"tool_name": "Write", "input": {"file_path": "/w/a.txt", "content": "x"}});
        let q = question(&write, "7".into(), "t0".into(), "t1".into());
        assert_eq!((q.id.as_str(), q.kind.as_str()), ("7", "file_change"));
        assert_eq!(q.files, ["/w/a.txt"]);
        let fetch = json!({"tool_name": "WebFetch", "input": {"url": "https://example.com/".repeat(40)}, "tool_use_id": "t"});
        let q = question(&fetch, "8".into(), "t0".into(), "t1".into());
        assert_eq!(q.kind, "tool");
        assert!(q
            .command
            .as_deref()
            .is_some_and(|c| c.starts_with("WebFetch {") && c.ends_with('…')));
    }

    #[test]
    fn the_command_line_names_the_relay_and_its_tool() {
        let args = args(Path::new("/bin/codexd"), Path::new("/h/jobs/abc"));
        let config = args[0].to_string_lossy();
        let json: Value =
            serde_json::from_str(config.trim_start_matches("--mcp-config=")).expect("json");
        assert_eq!(json["mcpServers"][SERVER]["command"], "/bin/codexd");
        assert_eq!(
            json["mcpServers"][SERVER]["args"],
            json!(["ask-relay", "--job-dir", "/h/jobs/abc"])
        );
        assert_eq!(args[2], "mcp__codex-async-ask__approve");
    }
}
