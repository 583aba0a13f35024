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
}

/// A running fake provider; stops when dropped.
pub struct FakeProvider {
    port: u16,
    stop: Arc<AtomicBool>,
    requests: Arc<AtomicUsize>,
    thread: Option<thread::JoinHandle<()>>,
}

impl FakeProvider {
    /// Starts the fake on a free loopback port.
    pub fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake provider");
        let port = listener.local_addr().expect("local addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let thread = {
            let stop = stop.clone();
            let requests = requests.clone();
            thread::spawn(move || {
                let mut held = Vec::new();
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    requests.fetch_add(1, Ordering::SeqCst);
                    match &behaviour {
                        Behaviour::Reply(text) => {
                            let text = text.clone();
                            thread::spawn(move || answer(conn, &text));
                        }
                        Behaviour::Hang => held.push(conn),
                    }
                }
            })
        };
        Self {
            port,
            stop,
            requests,
            thread: Some(thread),
        }
    }

    /// How many connections codex has made.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
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

fn answer(conn: TcpStream, text: &str) {
    let mut reader = BufReader::new(match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut conn = conn;
    loop {
        // One HTTP/1.1 request: headers, then a Content-Length body.
        let mut length = 0usize;
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
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let events = sse_events(text);
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n",
            events.len()
        );
        if conn.write_all(head.as_bytes()).is_err() || conn.write_all(events.as_bytes()).is_err() {
            return;
        }
    }
}

fn sse_events(text: &str) -> String {
    let message = serde_json::json!({
        "type": "response.output_item.done",
        "item": {"type": "message", "role": "assistant", "id": "msg_1",
                 "content": [{"type": "output_text", "text": text}]}
    });
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
