//! A fake of the OpenAI Responses API on loopback, so the real codex CLI can
//! run end to end offline (see FIELD-NOTES: "Driving the real codex offline").

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    path::Path,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    thread,
};

/// How the fake answers.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Every request gets an assistant message with this text.
    Reply(String),
    /// Requests are read and never answered (codex waits, as on a dead network).
    Hang,
    /// The n-th request gets the n-th answer; the last one repeats.
    Script(Vec<Answer>),
}

/// One answer to one `POST /v1/responses`.
#[derive(Debug, Clone)]
pub enum Answer {
    /// An assistant message: ends the turn.
    Message(String),
    /// A call of codex's `exec_command` tool; codex runs it and posts the output back.
    Exec(String),
    /// A call of `exec_command` that asks to run outside the sandbox
    /// (`sandbox_permissions: "require_escalated"`) with this justification:
    /// under approval policy on-request, codex asks the user first.
    ExecEscalated(String, String),
    /// A call of codex's `apply_patch` tool with this patch text.
    Patch(String),
    /// A call of codex's `request_user_input` tool with these questions
    /// (`[{id, header, question, options: [{label, description}]}]`): codex
    /// asks the client (`item/tool/requestUserInput`) when the feature is on,
    /// and posts the answer back as the call's output.
    AskUser(serde_json::Value),
    /// An HTTP error status with a JSON error body.
    Status(u16, String),
    /// Never answer.
    Hang,
}

/// A running fake provider; stops when dropped.
pub struct FakeProvider {
    port: u16,
    stop: Arc<AtomicBool>,
    requests: Arc<AtomicUsize>,
    posts: Arc<AtomicUsize>,
    /// The JSON body of every request posted, in order.
    bodies: Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    /// The `Authorization` header of every request posted, in order.
    authorizations: Arc<std::sync::Mutex<Vec<Option<String>>>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl FakeProvider {
    /// Starts the fake on a free loopback port.
    pub fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake provider");
        let port = listener.local_addr().expect("local addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let posts = Arc::new(AtomicUsize::new(0));
        let bodies = Arc::new(std::sync::Mutex::new(Vec::new()));
        let authorizations = Arc::new(std::sync::Mutex::new(Vec::new()));
        let thread = {
            let bodies = bodies.clone();
            let authorizations = authorizations.clone();
            let stop = stop.clone();
            let requests = requests.clone();
            let posts = posts.clone();
            thread::spawn(move || {
                let mut held = Vec::new();
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    requests.fetch_add(1, Ordering::SeqCst);
                    let script = match &behaviour {
                        Behaviour::Reply(text) => vec![Answer::Message(text.clone())],
                        Behaviour::Hang => vec![Answer::Hang],
                        Behaviour::Script(answers) => answers.clone(),
                    };
                    let posts = posts.clone();
                    let seen = Seen {
                        bodies: bodies.clone(),
                        authorizations: authorizations.clone(),
                    };
                    let (tx, rx) = std::sync::mpsc::channel();
                    thread::spawn(move || serve(conn, &script, &posts, &seen, tx));
                    // Hung connections are kept open until the fake stops.
                    if let Ok(conn) = rx.recv() {
                        held.push(conn);
                    }
                }
            })
        };
        Self {
            port,
            stop,
            requests,
            posts,
            bodies,
            authorizations,
            thread: Some(thread),
        }
    }

    /// The JSON body of every request codex posted so far, in order (what
    /// codex sent: model, `reasoning`, `text.format`, `input`, …).
    pub fn bodies(&self) -> Vec<serde_json::Value> {
        self.bodies.lock().map(|b| b.clone()).unwrap_or_default()
    }

    /// The `Authorization` header of every request codex posted so far.
    pub fn authorizations(&self) -> Vec<Option<String>> {
        self.authorizations
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default()
    }

    /// How many connections codex has made.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// How many requests codex has posted (across connections).
    pub fn posts(&self) -> usize {
        self.posts.load(Ordering::SeqCst)
    }

    /// Writes a `config.toml` into `codex_home` that points codex at this fake.
    pub fn write_codex_config(&self, codex_home: &Path) {
        std::fs::create_dir_all(codex_home).expect("create CODEX_HOME");
        let config = format!(
            "model = \"gpt-5.5\"\nmodel_provider = \"fake\"\n\n[model_providers.fake]\n\
             name = \"fake\"\nbase_url = \"http://127.0.0.1:{}/v1\"\nwire_api = \"responses\"\n\
             request_max_retries = 0\nstream_max_retries = 0\n",
            self.port
        );
        std::fs::write(codex_home.join("config.toml"), config).expect("write codex config");
    }
}

impl FakeProvider {
    /// Writes a `config.toml` into `codex_home` that keeps OpenAI's built-in
    /// provider but points it at this fake (`openai_base_url`): codex as a
    /// user with an API key and no provider of their own runs it.
    pub fn write_openai_config(&self, codex_home: &Path) {
        std::fs::create_dir_all(codex_home).expect("create CODEX_HOME");
        let config = format!(
            "model = \"gpt-5.5\"\nopenai_base_url = \"http://127.0.0.1:{}/v1\"\n",
            self.port
        );
        std::fs::write(codex_home.join("config.toml"), config).expect("write codex config");
    }
}

/// What the fake records of each request.
struct Seen {
    bodies: Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    authorizations: Arc<std::sync::Mutex<Vec<Option<String>>>>,
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves the requests of one connection; a connection told to hang is
/// handed back through `hold` so it stays open.
fn serve(
    conn: TcpStream,
    script: &[Answer],
    posts: &AtomicUsize,
    seen: &Seen,
    hold: std::sync::mpsc::Sender<TcpStream>,
) {
    let Ok(read_half) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut conn = conn;
    loop {
        // One HTTP/1.1 request: headers, then a Content-Length body.
        let mut length = 0usize;
        let mut authorization = None;
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let trimmed = line.trim_end();
            if trimmed.is_empty() {
                break;
            }
            if let Some((name, value)) = trimmed.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
                if name.eq_ignore_ascii_case("authorization") {
                    authorization = Some(value.trim().to_string());
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if let (Ok(json), Ok(mut all)) = (serde_json::from_slice(&body), seen.bodies.lock()) {
            all.push(json);
        }
        if let Ok(mut all) = seen.authorizations.lock() {
            all.push(authorization);
        }
        let n = posts.fetch_add(1, Ordering::SeqCst);
        let Some(answer) = script.get(n).or(script.last()) else {
            return;
        };
        let (status, content_type, payload) = match answer {
            Answer::Hang => {
                let _ = hold.send(conn);
                return;
            }
            Answer::Status(code, message) => (
                format!("{code} Error"),
                "application/json",
                serde_json::json!({"error": {"message": message, "type": "server_error"}})
                    .to_string(),
            ),
            Answer::Message(text) => (
                "200 OK".into(),
                "text/event-stream",
                sse_events(&message_item(text)),
            ),
            Answer::Exec(cmd) => (
                "200 OK".into(),
                "text/event-stream",
                sse_events(&serde_json::json!({
                    "type": "function_call", "name": "exec_command", "call_id": format!("call_{n}"),
                    "arguments": serde_json::json!({"cmd": cmd}).to_string()
                })),
            ),
            Answer::ExecEscalated(cmd, why) => (
                "200 OK".into(),
                "text/event-stream",
                sse_events(&serde_json::json!({
                    "type": "function_call", "name": "exec_command", "call_id": format!("call_{n}"),
                    "arguments": serde_json::json!({
                        "cmd": cmd, "sandbox_permissions": "require_escalated", "justification": why
                    }).to_string()
                })),
            ),
            Answer::AskUser(questions) => (
                "200 OK".into(),
                "text/event-stream",
                sse_events(&serde_json::json!({
                    "type": "function_call", "name": "request_user_input", "call_id": format!("call_ask{n}"),
                    "arguments": serde_json::json!({"questions": questions}).to_string()
                })),
            ),
            Answer::Patch(patch) => (
                "200 OK".into(),
                "text/event-stream",
                sse_events(&serde_json::json!({
                    "type": "custom_tool_call", "name": "apply_patch", "call_id": format!("call_{n}"),
                    "input": patch
                })),
            ),
        };
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
            payload.len()
        );
        if conn.write_all(head.as_bytes()).is_err() || conn.write_all(payload.as_bytes()).is_err() {
            return;
        }
    }
}

fn message_item(text: &str) -> serde_json::Value {
    serde_json::json!({"type": "message", "role": "assistant", "id": "msg_1",
                       "content": [{"type": "output_text", "text": text}]})
}

fn sse_events(item: &serde_json::Value) -> String {
    let message = serde_json::json!({"type": "response.output_item.done", "item": item});
    let created = serde_json::json!({"type": "response.created", "response": {"id": "resp_1"}});
    let completed = serde_json::json!({
        "type": "response.completed",
        "response": {"id": "resp_1", "usage": {"input_tokens": 10, "input_tokens_details": null,
                     "output_tokens": 5, "output_tokens_details": null, "total_tokens": 15}}
    });
    [
        ("response.created", created),
        ("response.output_item.done", message),
        ("response.completed", completed),
    ]
    .iter()
    .map(|(name, data)| format!("event: {name}\ndata: {data}\n\n"))
    .collect()
}
