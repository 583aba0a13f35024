//! One Claude session driving three agents at once through the tools a
//! client without Tasks uses: a codex job (the fake codex), a Gemini CLI job
//! and a Claude Code job (the real CLIs against their fake APIs on
//! loopback), all from one shim. codex_wait on the three returns at the
//! first to end and says where each stands, codex_list names the agent of
//! every job that is not codex's (and `codexd jobs` every job's), codex_result gives each agent's own answer
//! under its name, and codex_cancel stops the job still running.

#[path = "../../shim/tests/common/mod.rs"]
mod shim_client;

use serde_json::{json, Value};
use testkit::{FakeAnthropic, FakeGemini, Step, TempHome, Turn};

const GEMINI_ANSWER: &str = "Gemini's answer: the parser is fine.";
const CLAUDE_ANSWER: &str = "Claude's answer: the parser is fine.";

fn start(shim: &mut shim_client::Shim, home: &TempHome, agent: &str, prompt: &str) -> String {
    shim.start(json!({
        "prompt": prompt,
        "cwd": home.workdir().display().to_string(),
        "agent": agent,
    }))
}

/// The result of a job that must end `done`.
fn result_when_done(shim: &mut shim_client::Shim, job: &str) -> String {
    let last = shim.poll_until_finished(job);
    assert_eq!(last["status"], "done", "{last}");
    shim.ok_result("codex_result", json!({"job_id": job})).text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_session_runs_codex_gemini_and_claude_jobs_side_by_side() {
    let home = TempHome::new();
    let gemini = FakeGemini::start(vec![Turn::text(GEMINI_ANSWER)]);
    let claude = FakeAnthropic::start(vec![Step::text(CLAUDE_ANSWER)]);
    let (Some(gemini_env), Some(claude_env)) = (
        testkit::gemini_env(&home, &gemini),
        testkit::claude_env(&home, &claude),
    ) else {
        return;
    };
    let env: Vec<(&str, String)> = gemini_env.into_iter().chain(claude_env).collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut shim = tokio::task::block_in_place(|| shim_client::Shim::spawn(&home, &env));

    tokio::task::block_in_place(|| {
        let codex = start(&mut shim, &home, "codex", "hang");
        let gemini_job = start(&mut shim, &home, "gemini", "is the parser fine?");
        let claude_job = start(&mut shim, &home, "claude", "is the parser fine?");

        // The first of the three to end: one of the agents' (codex hangs).
        let id = shim.send_call(
            "codex_wait",
            json!({"job_ids": [codex, gemini_job, claude_job], "timeout_seconds": 50}),
        );
        let message = shim.response(id);
        let text = message["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_else(|| panic!("no text in {message}"))
            .to_string();
        // One or both agents may have ended by now ("First of 3 jobs to
        // end: …" or "2 of 3 jobs have ended, … first"): the result shown is
        // of one that ended first.
        let (_, result) = text
            .split_once("\n\n")
            .unwrap_or_else(|| panic!("no result after the status lines: {text}"));
        let (title, answer) = if result.starts_with(&format!("Gemini job {gemini_job} done")) {
            ("Gemini job", GEMINI_ANSWER)
        } else {
            assert!(
                result.starts_with(&format!("Claude job {claude_job} done")),
                "an agent's job ends first, under its agent's name: {text}"
            );
            ("Claude job", CLAUDE_ANSWER)
        };
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("{codex} running "))),
            "the codex job is still running: {text}"
        );
        assert!(result.contains(answer), "{title}: {result}");

        // Each agent's own result, under its name.
        let gemini_result = result_when_done(&mut shim, &gemini_job);
        assert!(gemini_result.starts_with("Gemini job"), "{gemini_result}");
        assert!(gemini_result.contains(GEMINI_ANSWER), "{gemini_result}");
        let claude_result = result_when_done(&mut shim, &claude_job);
        assert!(claude_result.starts_with("Claude job"), "{claude_result}");
        assert!(claude_result.contains(CLAUDE_ANSWER), "{claude_result}");
        let waited = shim.ok_result("codex_wait", json!({"job_id": gemini_job}));
        assert_eq!(
            waited.text, gemini_result,
            "codex_wait on an ended job is its result"
        );

        // The list names the agent of every job that is not codex's.
        let listed = shim.ok("codex_list", json!({"limit": 10}));
        let jobs = listed["jobs"].as_array().cloned().unwrap_or_default();
        let agent_of = |id: &str| -> Value {
            jobs.iter()
                .find(|j| j["job_id"] == id)
                .unwrap_or_else(|| panic!("{id} not listed: {listed}"))
                .get("agent")
                .cloned()
                .unwrap_or(Value::Null)
        };
        assert_eq!(agent_of(&gemini_job), json!("gemini"), "{listed}");
        assert_eq!(agent_of(&claude_job), json!("claude"), "{listed}");
        assert_eq!(
            agent_of(&codex),
            Value::Null,
            "codex jobs list as before: {listed}"
        );

        // So does `codexd jobs`, in its AGENT column.
        let out = home.codexd().arg("jobs").output().expect("run codexd jobs");
        let table = String::from_utf8_lossy(&out.stdout);
        assert!(
            table.lines().next().is_some_and(|h| h.contains("AGENT")),
            "{table}"
        );
        for (id, agent) in [
            (&gemini_job, "gemini"),
            (&claude_job, "claude"),
            (&codex, "codex"),
        ] {
            let line = table
                .lines()
                .find(|l| l.starts_with(id.as_str()))
                .unwrap_or_else(|| panic!("{id} not in {table}"));
            assert!(line.split_whitespace().nth(2) == Some(agent), "{line}");
        }

        // The one still running is stopped.
        let cancelled = shim.ok("codex_cancel", json!({"job_id": codex}));
        assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    });
}
