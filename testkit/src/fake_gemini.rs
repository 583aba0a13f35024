//! A fake of the Gemini API (`generativelanguage`, v1beta) on loopback, so the
//! real Gemini CLI can run end to end offline.
//!
//! How the CLI is pointed here (measured on 0.61.0, see
//! docs/field-notes/gemini.md): settings `security.auth.selectedType =
//! "gemini-api-key"`, `GEMINI_API_KEY` set to anything and
//! `GOOGLE_GEMINI_BASE_URL` set to [`FakeGemini::base_url`]. The CLI then posts
//! `/v1beta/models/<model>:streamGenerateContent?alt=sse` for each turn, and,
//! with its default model `auto`, a `:generateContent` call first that asks a
//! small model to rate the prompt (structured JSON): the fake answers those
//! with a fixed rating and consumes nothing of its script.
//!
//! Hand-written over std's TcpListener like the other fakes here: one
//! request per connection (`Connection: close`), no TLS, nothing to pull in.

use std::{
    collections::VecDeque,
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    thread,
};

use serde_json::{json, Value};

/// What the model answers to one turn request.
#[derive(Debug, Clone)]
pub enum Turn {
    /// A text answer, sent in two chunks (the CLI prints one `message` event
    /// with `delta:true` per chunk); ends the turn.
    Text(String),
    /// A call of the CLI's tool `name` with `args`; the CLI runs it (if its
    /// approval mode lets it) and posts the result in the next request.
    Call { name: String, args: Value },
    /// An HTTP error status with the API's JSON error body.
    Status(u16, String),
}

impl Turn {
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(text.into())
    }

    pub fn call(name: impl Into<String>, args: Value) -> Self {
        Self::Call {
            name: name.into(),
            args,
        }
    }
}

/// The token counts every answer reports (`usageMetadata`).
pub const PROMPT_TOKENS: u64 = 10;
pub const ANSWER_TOKENS: u64 = 5;

/// A running fake; stops when dropped.
pub struct FakeGemini {
    port: u16,
    stop: Arc<AtomicBool>,
    turns: Arc<Mutex<Vec<Value>>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl FakeGemini {
    /// Starts the fake on a free loopback port; turn requests take `script`'s
    /// answers in order, and the last one repeats.
    pub fn start(script: Vec<Turn>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake gemini");
        let port = listener.local_addr().expect("local addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let turns = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let thread = {
            let (stop, turns) = (stop.clone(), turns.clone());
            thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (turns, script) = (turns.clone(), script.clone());
                    thread::spawn(move || serve(conn, &turns, &script));
                }
            })
        };
        Self {
            port,
            stop,
            turns,
            thread: Some(thread),
        }
    }

    /// What `GOOGLE_GEMINI_BASE_URL` should be.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The environment that points the real Gemini CLI here, with its state
    /// (settings, sessions) kept under `state`: the settings name the API-key
    /// auth (`GOOGLE_GEMINI_BASE_URL` alone selects a gateway auth that it
    /// refuses headless: exit 41), turn usage statistics off (no network)
    /// and make one attempt per request (it retries for minutes otherwise).
    pub fn cli_env(&self, state: &std::path::Path) -> Vec<(&'static str, String)> {
        let settings = state.join(".gemini");
        std::fs::create_dir_all(&settings).expect("gemini settings folder");
        let config = json!({
            "security": {"auth": {"selectedType": "gemini-api-key"}},
            "privacy": {"usageStatisticsEnabled": false},
            "general": {"maxAttempts": 1}
        });
        std::fs::write(settings.join("settings.json"), config.to_string())
            .expect("gemini settings.json");
        vec![
            ("GEMINI_CLI_HOME", state.display().to_string()),
            ("GEMINI_API_KEY", "fake-key".to_string()),
            ("GOOGLE_GEMINI_BASE_URL", self.base_url()),
        ]
    }

    /// The JSON body of every turn request so far, in order (`contents` holds
    /// the conversation the model was given).
    pub fn turns(&self) -> Vec<Value> {
        self.turns.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

impl Drop for FakeGemini {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(conn: TcpStream, turns: &Mutex<Vec<Value>>, script: &Mutex<VecDeque<Turn>>) {
    let Ok(read_half) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() {
            return;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let path = request_line.split_whitespace().nth(1).unwrap_or("");
    let mut conn = conn;
    if path.contains(":generateContent") {
        // The router's rating (or any other side call): a fixed JSON answer.
        let rating = json!({"complexity_reasoning": "a fake rates every prompt simple", "complexity_score": 1});
        let answer = chunk(&rating.to_string(), true);
        respond(&mut conn, 200, "application/json", &answer.to_string());
        return;
    }
    if !path.contains(":streamGenerateContent") {
        respond(
            &mut conn,
            404,
            "application/json",
            r#"{"error":{"code":404,"message":"the fake serves generateContent and streamGenerateContent only","status":"NOT_FOUND"}}"#,
        );
        return;
    }
    if let Ok(mut turns) = turns.lock() {
        turns.push(body);
    }
    let turn = {
        let mut script = script.lock().unwrap_or_else(|p| p.into_inner());
        match script.len() {
            0 => Turn::text("(the fake's script is empty)"),
            1 => script[0].clone(),
            _ => script.pop_front().unwrap_or_else(|| Turn::text("")),
        }
    };
    let events = match turn {
        Turn::Status(code, message) => {
            let body = json!({"error": {"code": code, "message": message, "status": "FAILED_PRECONDITION"}});
            respond(&mut conn, code, "application/json", &body.to_string());
            return;
        }
        Turn::Text(text) => {
            let cut = text
                .char_indices()
                .nth(text.chars().count() / 2)
                .map_or(0, |(i, _)| i);
            vec![chunk(&text[..cut], false), chunk(&text[cut..], true)]
        }
        Turn::Call { name, args } => {
            let part = json!({"functionCall": {"name": name, "args": args}});
            vec![answer(vec![part], true)]
        }
    };
    let sse: String = events
        .iter()
        .map(|e| format!("data: {e}\r\n\r\n"))
        .collect();
    respond(&mut conn, 200, "text/event-stream", &sse);
}

/// One GenerateContentResponse with a text part.
fn chunk(text: &str, last: bool) -> Value {
    answer(vec![json!({ "text": text })], last)
}

fn answer(parts: Vec<Value>, last: bool) -> Value {
    let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
    let mut response = json!({"modelVersion": "fake-model"});
    if last {
        candidate["finishReason"] = json!("STOP");
        response["usageMetadata"] = json!({
            "promptTokenCount": PROMPT_TOKENS,
            "candidatesTokenCount": ANSWER_TOKENS,
            "totalTokenCount": PROMPT_TOKENS + ANSWER_TOKENS,
        });
    }
    response["candidates"] = json!([candidate]);
    response
}

fn respond(conn: &mut TcpStream, status: u16, content_type: &str, body: &str) {
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        if status == 200 { "OK" } else { "Error" },
        body.len()
    );
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(body.as_bytes());
    let _ = conn.flush();
}
