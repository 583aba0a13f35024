//! Answers to a job's questions (approval policy `ask`), whatever its
//! agent: the decisions a user gives, the text that answers an agent's own
//! questions (kind `input`: [`input_answers`]), and the answer file codexd
//! hands to a job's monitor. Each engine maps a decision to its agent's
//! answer (codex's app-server names: `engine/codex/app_server.rs`).
//!
//! The answer travels by file, not by a connection: codexd writes
//! `answer.json` into the job's folder (atomically) and sends the monitor
//! SIGUSR1; the monitor also looks for the file every second. So an answer
//! given while the monitor is busy, or by a codexd that restarted since the
//! question was asked, still reaches codex, and nothing but the job's owner
//! (the folder is 0700) can answer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use serde_json::{json, Value};

use super::events::{Prompt, Question, APPROVAL_REQUESTED, APPROVAL_RESOLVED};

/// The decisions, in the order forms and messages list them.
pub const DECISIONS: &[Decision] = &[
    Decision::Allow,
    Decision::AllowSession,
    Decision::Deny,
    Decision::Stop,
];

/// What the user decided about one question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Run it (or make the change) this once.
    Allow,
    /// Run it, and the same again without asking, for the rest of the job.
    AllowSession,
    /// Do not; codex goes on without it.
    Deny,
    /// Do not, and end the job (its turn is interrupted).
    Stop,
}

/// A decision name that is not one of the four.
#[derive(Debug, thiserror::Error)]
#[error("decision: unknown value {0:?}; use one of allow (this once), allow_session (this and the same again for the rest of the job), deny (the agent goes on without it), stop (deny and end the job)")]
pub struct BadDecision(pub String);

impl Decision {
    /// Parses a decision name; an unknown name is an error.
    pub fn parse(s: &str) -> Result<Self, BadDecision> {
        DECISIONS
            .iter()
            .copied()
            .find(|d| d.name() == s)
            .ok_or_else(|| BadDecision(s.chars().take(40).collect()))
    }

    /// The name users pass and see.
    pub fn name(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::AllowSession => "allow_session",
            Self::Deny => "deny",
            Self::Stop => "stop",
        }
    }

    /// What a person reads in a form.
    pub fn title(self) -> &'static str {
        match self {
            Self::Allow => "Allow once",
            Self::AllowSession => "Allow for the rest of this job",
            Self::Deny => "Deny (the agent goes on without it)",
            Self::Stop => "Deny and stop the job",
        }
    }
}

/// Who answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnsweredBy {
    /// A person (a Claude Code form, codex_answer, `codexd answer`).
    User,
    /// Nobody answered before the question's deadline: denied.
    Timeout,
}

impl AnsweredBy {
    pub fn name(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Timeout => "timeout",
        }
    }
}

/// `answer.json`: codexd's answer to the question `question_id`: a
/// decision for an approval, or (kind `input`) each prompt's text by its id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnswerFile {
    pub question_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub answers: BTreeMap<String, String>,
    pub answered_at: String,
}

/// What a person gives a question: a decision (an approval) or text
/// (codex's own questions, kind `input`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Decision(Decision),
    Text(String),
}

/// The longest answer text (all of a question's prompts together): codex
/// hands it to the model whole.
pub const MAX_ANSWER_BYTES: usize = 16 * 1024;

/// The answers `text` gives a question of kind `input` with `prompts`, by
/// prompt id: for one prompt the text itself (or a JSON object naming that
/// prompt), for several a JSON object of prompt id → text (prompts left out
/// get no answer). Errors name the field (`answer`) and the fix.
pub fn input_answers(prompts: &[Prompt], text: &str) -> Result<BTreeMap<String, String>, String> {
    let ids = || {
        prompts
            .iter()
            .map(|p| p.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let example = || {
        let fields: Vec<String> = prompts
            .iter()
            .map(|p| format!("{}: \"…\"", serde_json::Value::String(p.id.clone())))
            .collect();
        format!("{{{}}}", fields.join(", "))
    };
    if text.trim().is_empty() {
        return Err("answer: empty; pass an option's label or your own words".into());
    }
    if text.len() > MAX_ANSWER_BYTES {
        return Err(format!(
            "answer: {} bytes is over the limit of {MAX_ANSWER_BYTES} bytes; shorten it",
            text.len()
        ));
    }
    let object = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text.trim());
    if let [one] = prompts {
        // A JSON object is taken apart only when it names this prompt: any
        // other text is the answer itself.
        match &object {
            Ok(map) if map.keys().all(|k| *k == one.id) && !map.is_empty() => {}
            _ => return Ok(BTreeMap::from([(one.id.clone(), text.trim().to_string())])),
        }
    }
    let map = object.map_err(|_| {
        format!(
            "answer: codex asks {} questions ({}); pass a JSON object of question id → answer, e.g. {}",
            prompts.len(),
            ids(),
            example()
        )
    })?;
    let mut answers = BTreeMap::new();
    for (id, value) in map {
        if !prompts.iter().any(|p| p.id == id) {
            return Err(format!(
                "answer: {:?} is not one of codex's question ids ({}); use those keys, e.g. {}",
                id.chars().take(40).collect::<String>(),
                ids(),
                example()
            ));
        }
        let text = match value {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(_) | serde_json::Value::Bool(_) => value.to_string(),
            _ => {
                return Err(format!(
                "answer: the answer to {id:?} is not text; give each question a string, e.g. {}",
                example()
            ))
            }
        };
        if text.trim().is_empty() {
            return Err(format!(
                "answer: the answer to {id:?} is empty; give it text, or leave it out"
            ));
        }
        answers.insert(id, text.trim().to_string());
    }
    if answers.is_empty() {
        return Err(format!(
            "answer: the object answers none of codex's questions ({}); e.g. {}",
            ids(),
            example()
        ));
    }
    Ok(answers)
}

/// The answers as the result shows them: one prompt's text alone, several
/// as `header: text` joined by `; `, in codex's order; a secret's text
/// never (`(secret)`).
pub fn shown_answers(prompts: &[Prompt], answers: &BTreeMap<String, String>) -> String {
    let shown = |p: &Prompt, text: &str| {
        if p.is_secret {
            "(secret)".to_string()
        } else {
            text.to_string()
        }
    };
    match prompts {
        [one] => answers
            .get(&one.id)
            .map(|t| shown(one, t))
            .unwrap_or_default(),
        several => several
            .iter()
            .filter_map(|p| {
                let name = if p.header.trim().is_empty() {
                    &p.id
                } else {
                    &p.header
                };
                answers
                    .get(&p.id)
                    .map(|t| format!("{name}: {}", shown(p, t)))
            })
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// codexd's event for a question asked.
pub fn question_event(question: &Question) -> Value {
    json!({"type": APPROVAL_REQUESTED, "question": question})
}

/// codexd's event for a question answered.
pub fn answer_event(question_id: &str, decision: Decision, by: &str) -> Value {
    json!({"type": APPROVAL_RESOLVED, "id": question_id, "decision": decision.name(), "by": by})
}

/// codexd's event for a question of kind `input` answered (`answer`:
/// what the result shows, secrets masked) or left unanswered (None).
pub fn input_answer_event(question_id: &str, answer: Option<&str>, by: &str) -> Value {
    let mut event = json!({"type": APPROVAL_RESOLVED, "id": question_id, "by": by,
        "decision": if answer.is_some() { "answered" } else { "unanswered" }});
    if let Some(answer) = answer {
        event["answer"] = json!(answer);
    }
    event
}

/// codexd's event for a request it answered without asking anyone
/// (an MCP server's elicitation, declined): `what` names the server and
/// what it asked, for the events and the result.
pub fn declined_event(request_id: &Value, what: &str) -> Value {
    let id = match request_id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    json!({"type": APPROVAL_RESOLVED, "id": id, "decision": "deny", "by": "codex-async", "what": what})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for d in DECISIONS {
            assert_eq!(Decision::parse(d.name()).ok(), Some(*d));
        }
        let e = Decision::parse("yes").expect_err("unknown");
        assert!(e.to_string().starts_with("decision: unknown value \"yes\""));
    }

    fn prompt(id: &str) -> Prompt {
        Prompt {
            id: id.into(),
            header: id.to_uppercase(),
            question: format!("{id}?"),
            options: Vec::new(),
            is_other: true,
            is_secret: false,
        }
    }

    #[test]
    fn one_prompt_takes_the_text_several_a_json_object() {
        let one = [prompt("db")];
        assert_eq!(
            input_answers(&one, " SQLite ").ok(),
            Some(BTreeMap::from([("db".into(), "SQLite".into())]))
        );
        assert_eq!(
            input_answers(&one, r#"{"db": "Postgres"}"#).ok(),
            Some(BTreeMap::from([("db".into(), "Postgres".into())]))
        );
        // An object that does not name the prompt is the answer itself.
        assert_eq!(
            input_answers(&one, r#"{"x": 1}"#).ok(),
            Some(BTreeMap::from([("db".into(), r#"{"x": 1}"#.into())]))
        );
        let two = [prompt("db"), prompt("name")];
        assert_eq!(
            input_answers(&two, r#"{"db": "SQLite", "name": "svc"}"#).ok(),
            Some(BTreeMap::from([
                ("db".into(), "SQLite".into()),
                ("name".into(), "svc".into())
            ]))
        );
        for (bad, says) in [
            ("", "answer: empty"),
            (
                "SQLite",
                "answer: codex asks 2 questions (db, name); pass a JSON object",
            ),
            (
                r#"{"dbx": "a"}"#,
                "answer: \"dbx\" is not one of codex's question ids",
            ),
            (r#"{"db": ""}"#, "answer: the answer to \"db\" is empty"),
            (r#"{"db": [1]}"#, "answer: the answer to \"db\" is not text"),
            ("{}", "answer: the object answers none"),
        ] {
            let e = input_answers(&two, bad).expect_err(bad);
            assert!(e.starts_with(says), "{bad}: {e}");
        }
        let long = "x".repeat(MAX_ANSWER_BYTES + 1);
        assert!(input_answers(&one, &long)
            .expect_err("long")
            .contains("over the limit"));
    }

    #[test]
    fn shown_answers_mask_secrets() {
        let mut two = [prompt("db"), prompt("token")];
        two[1].is_secret = true;
        let answers = BTreeMap::from([
            ("db".into(), "SQLite".into()),
            ("token".into(), "s3cr3t".into()),
        ]);
        assert_eq!(shown_answers(&two, &answers), "DB: SQLite; TOKEN: (secret)");
        assert_eq!(shown_answers(&two[..1], &answers), "SQLite");
    }
}
