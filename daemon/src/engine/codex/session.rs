//! The monitor's side of a codex app-server session (the monitor drives it
//! through the engine seam, `engine::Session`): it speaks the protocol
//! (codex/app_server.rs) on codex's stdin and stdout, writes the translated
//! events into `output.txt` (beside codex's stderr), turns codex's approval
//! requests and its own questions (`item/tool/requestUserInput`, policy
//! `ask`) into the job's question and hands it the answer codexd leaves in
//! `answer.json`, denies a question nobody answers by its deadline (codex's
//! own: the empty answer), declines MCP servers' elicitations with a line in
//! the events, and interrupts the turn on a cancel.
//!
//! The session ends when the turn does: it then closes codex's stdin, and the
//! app-server exits; the monitor's loop reaps it as it reaps `codex exec`.
//! A codex that has not answered `initialize` by the plan's `init_timeout`
//! is stopped by the monitor as a watchdog would; for one that ended before
//! its turn, the session knows how far it got and codex/startup.rs says why.

use std::{
    collections::VecDeque,
    ffi::OsStr,
    fs::{File, OpenOptions},
    io::Write,
    os::fd::{AsFd, OwnedFd},
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::unix::pipe,
    sync::mpsc,
};

use crate::{
    engine::codex::{
        app_server::{self, Incoming, Plan, Translator, TurnEnd},
        startup::{self, NoTurn},
    },
    job::{
        answers::{self, shown_answers, AnswerFile, AnsweredBy, Decision},
        events::{self, Question},
        now_rfc3339,
    },
    store::jobdir::{write_json_atomic, Durability, JobDir, SteerDone, SteerNote},
};

/// How often a pending question's answer file and deadline are looked at
/// (SIGUSR1 from codexd wakes the session sooner).
const ANSWER_TICK: Duration = Duration::from_secs(1);
/// After the turn ended and codex's stdin closed, how long the app-server
/// gets to exit before it is sent SIGTERM.
const EXIT_GRACE: Duration = Duration::from_secs(3);
/// How long a stop waits for codex's lines already written to be read.
const DEFER_LIMIT: Duration = Duration::from_millis(200);
/// The longest line read from codex (a command's whole output is in one).
const MAX_LINE: usize = 64 * 1024 * 1024;

/// The session's read buffer on codex's stdout.
const READ_BUFFER: usize = 256 * 1024;
/// Events held for one write to output.txt while more of codex's lines are
/// already read: at most this many bytes (then they are written at once).
const WRITE_BATCH: usize = 64 * 1024;

/// What the monitor's loop tells a session.
#[derive(Debug)]
pub enum Control {
    /// Cancel: interrupt the turn.
    Interrupt,
    /// codexd left an answer (SIGUSR1).
    Answer,
}

/// What a session shares with the monitor's loop.
#[derive(Debug, Default)]
pub struct Shared {
    /// A question waits for an answer (the stall watchdog holds meanwhile).
    pub waiting: bool,
    /// How the turn ended, once it has; None if codex ended first.
    pub end: Option<TurnEnd>,
    /// Why the session could not run the turn (codex refused a request).
    pub failure: Option<String>,
    /// The user answered `stop`.
    pub stopped: bool,
    /// A `turn/interrupt` went to codex: a turn that completed without one
    /// had ended before any stop reached it (a cancel, a watchdog).
    pub interrupt_sent: bool,
    /// codex answered `initialize` (either way).
    pub initialized: bool,
    /// codex accepted `turn/start`: from here its exit is the turn's.
    pub turn_started: bool,
    /// codex closed its stdout.
    pub stdout_closed: bool,
    /// The session gave up on `initialize` and asked the monitor to stop codex.
    pub gave_up: bool,
}

/// A running session.
pub struct Session {
    pub control: mpsc::UnboundedSender<Control>,
    pub shared: Arc<Mutex<Shared>>,
    /// The driver: it ends when codex's stdout does.
    task: tokio::task::JoinHandle<()>,
    /// codex must have answered `initialize` by then (the plan's
    /// `init_timeout`, seconds, from the session's start).
    init_timeout: u32,
    init_deadline: tokio::time::Instant,
}

impl Session {
    /// Starts the session on codex's stdin and stdout.
    pub fn start(
        dir: &JobDir,
        plan: Plan,
        stdin: OwnedFd,
        stdout: OwnedFd,
        codex_pid: i32,
    ) -> std::io::Result<Self> {
        let writer = pipe::Sender::from_owned_fd(stdin)?;
        let reader = pipe::Receiver::from_owned_fd(stdout)?;
        let output = OpenOptions::new()
            .append(true)
            .create(true)
            .open(dir.output())?;
        let prompt = std::fs::read(dir.prompt())
            .map(|p| String::from_utf8_lossy(&p).into_owned())
            .unwrap_or_default();
        let schema = match &plan.output_schema {
            Some(path) => {
                let text = std::fs::read_to_string(path)?;
                Some(serde_json::from_str::<Value>(&text).map_err(|e| {
                    std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())
                })?)
            }
            None => None,
        };
        let (control, control_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let init_timeout = plan.init_timeout.max(1);
        let init_deadline =
            tokio::time::Instant::now() + Duration::from_secs(u64::from(init_timeout));
        let driver = Driver {
            dir: dir.clone(),
            plan,
            prompt,
            schema,
            writer: Some(writer),
            output,
            pending: Vec::new(),
            hold: false,
            translator: Translator::default(),
            next_id: 0,
            thread_request: None,
            turn_request: None,
            questions: VecDeque::new(),
            steers: Vec::new(),
            shared: shared.clone(),
            codex_pid,
        };
        let task = tokio::spawn(driver.run(reader, control_rx));
        Ok(Self {
            control,
            shared,
            task,
            init_timeout,
            init_deadline,
        })
    }

    /// Resolves when codex has not answered `initialize` by its deadline;
    /// never once it has. The monitor then stops codex with
    /// [`Session::give_up`]'s reason, as a watchdog would: a codex that
    /// hangs before its session would otherwise sit `running` with nothing
    /// to show until the stall watchdog.
    pub async fn initialize_overdue(&self) {
        // Asked on every turn of the monitor's loop: no timer once answered.
        if self.lock().initialized {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep_until(self.init_deadline).await;
        if self.lock().initialized {
            std::future::pending::<()>().await;
        }
    }

    /// Marks that the session gave up on `initialize`; the stop's reason
    /// (the job's is [`Session::why_no_turn`]'s, once codex is gone).
    pub fn give_up(&self) -> String {
        self.lock().gave_up = true;
        startup::no_initialize(self.init_timeout)
    }

    /// Why the job ended before its turn started, when codex's exit status
    /// alone would not say: codex ended on its own before it (`stopped`: the
    /// monitor stopped it for a cancel or a watchdog, whose reason stands),
    /// or the session gave up on `initialize`. codex's version and its last
    /// lines of `output` (the job's output.txt) are in it; `codex_bin` is
    /// asked for its version. None once the turn started, when codex refused
    /// a request (its words are the reason), and for codex's usage error
    /// (codexd's `explain_exit` names the argument and where it came from).
    pub async fn why_no_turn(
        &self,
        codex_bin: &OsStr,
        output: &Path,
        exit_code: Option<i32>,
        signal: Option<i32>,
        stopped: bool,
    ) -> Option<String> {
        let what = {
            let shared = self.lock();
            if shared.turn_started || shared.end.is_some() || shared.failure.is_some() {
                return None;
            }
            if shared.gave_up {
                NoTurn::NoInitialize {
                    seconds: self.init_timeout,
                    stdout_closed: shared.stdout_closed,
                }
            } else if stopped {
                return None;
            } else {
                NoTurn::Ended {
                    code: exit_code,
                    signal,
                    initialized: shared.initialized,
                }
            }
        };
        if matches!(what, NoTurn::Ended { .. }) && startup::is_usage_error(output, exit_code).await
        {
            return None;
        }
        Some(startup::explain(codex_bin, output, what).await)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A question waits for a person (the stall watchdog holds meanwhile).
    pub fn waiting(&self) -> bool {
        self.lock().waiting
    }

    /// The session's say on how the job ended (`program` codex's command,
    /// `output` the job's output.txt, `stop_sent` whether the monitor
    /// stopped codex): the app-server exits 0 whatever became of the turn,
    /// so the turn's end is the job's, in exec's terms (a failed turn exits
    /// 1); and for a session that never reached its turn, codex's exit status
    /// says nothing of why, [`Self::why_no_turn`] does.
    pub async fn settle(
        &self,
        program: &OsStr,
        output: &Path,
        stop_sent: bool,
        ending: &mut crate::engine::Ending,
    ) {
        if let Some(why) = self
            .why_no_turn(program, output, ending.exit_code, ending.signal, stop_sent)
            .await
        {
            ending.reason = Some(why);
        }
        let (end, failure, stopped, interrupt_sent) = {
            let s = self.lock();
            (
                s.end.clone(),
                s.failure.clone(),
                s.stopped,
                s.interrupt_sent,
            )
        };
        let interrupted = end == Some(TurnEnd::Interrupted);
        match (end, failure) {
            (Some(TurnEnd::Completed), _) => {
                // However the process ended after its turn (the SIGTERM of a
                // session whose app-server outstayed its stdin).
                ending.exit_code = Some(0);
                ending.signal = None;
                if !interrupt_sent {
                    // The turn ended before a stop (a cancel, a watchdog,
                    // both maybe while the monitor was frozen) reached
                    // codex: the job did its work.
                    ending.reason = None;
                    ending.cancelled = false;
                }
            }
            (Some(TurnEnd::Failed(_)), _) | (None, Some(_)) => ending.exit_code = Some(1),
            (None, None)
                if ending.reason.is_none() && !ending.cancelled && ending.exit_code == Some(0) =>
            {
                ending.reason =
                    Some("codex app-server ended before its turn did; see the output".into());
            }
            _ => {}
        }
        // A turn interrupted by a cancel or by the user's `stop` answer ends
        // the job cancelled (a watchdog's reason says otherwise).
        if (interrupted || stopped) && ending.reason.is_none() {
            ending.cancelled = true;
        }
    }

    /// Waits (up to `within`) until everything codex wrote is read: after
    /// codex exits, its last lines (the end of its turn, say) may still be in
    /// the pipe, and the job's end must not be told before them.
    pub async fn drain(&mut self, within: Duration) {
        let _ = tokio::time::timeout(within, &mut self.task).await;
    }
}

/// A question asked, and codex's request id to answer it by.
struct Pending {
    request_id: Value,
    /// codex's method: how the answer is written.
    method: String,
    question: Question,
    /// Its deadline, on the monotonic clock.
    deadline: tokio::time::Instant,
    /// Already written to output.txt (only the first in line is shown).
    announced: bool,
}

struct Driver {
    dir: JobDir,
    plan: Plan,
    prompt: String,
    schema: Option<Value>,
    writer: Option<pipe::Sender>,
    output: File,
    /// Event lines not yet written to output.txt (see [`Driver::event`]).
    pending: Vec<u8>,
    /// More of codex's lines are read and waiting: hold events for one write.
    hold: bool,
    translator: Translator,
    next_id: u64,
    thread_request: Option<u64>,
    turn_request: Option<u64>,
    questions: VecDeque<Pending>,
    /// Steerings sent, by request id: their number (`steer/<n>`) and text.
    steers: Vec<(u64, u32, String)>,
    shared: Arc<Mutex<Shared>>,
    codex_pid: i32,
}

impl Driver {
    async fn run(mut self, reader: pipe::Receiver, mut control: mpsc::UnboundedReceiver<Control>) {
        // Big reads: one of codex's lines can hold a command's megabytes of output.
        let mut lines = BufReader::with_capacity(READ_BUFFER, reader);
        let mut line = Vec::new();
        let mut tick = tokio::time::interval(ANSWER_TICK);
        self.send("initialize", Plan::initialize()).await;
        let mut interrupt_wanted = false;
        let mut deferred_at: Option<std::time::Instant> = None;
        loop {
            tokio::select! {
                // codex's lines first: what it said before a stop came (the
                // end of its turn, say) is taken as said before it.
                biased;
                read = read_line(&mut lines, &mut line) => {
                    match read {
                        Ok(true) => {
                            let over = self.take_line(&line, !lines.buffer().is_empty(), false).await;
                            line.clear();
                            if over {
                                break;
                            }
                            if interrupt_wanted {
                                // Once all codex had said is read (or a
                                // moment passed: codex may never stop talking).
                                let said_all = !unread(&lines);
                                let waited = deferred_at.is_some_and(|at| at.elapsed() >= DEFER_LIMIT);
                                if (said_all || waited) && self.interrupt().await {
                                    interrupt_wanted = false;
                                }
                            }
                        }
                        // codex closed its stdout: it is ending (or, before
                        // its session, hanging: see `initialize_overdue`).
                        Ok(false) | Err(_) => {
                            self.flush();
                            self.lock().stdout_closed = true;
                            return;
                        }
                    }
                }
                message = control.recv() => match message {
                    // What codex has said already (its turn's end, written
                    // while this monitor was frozen) comes before the stop:
                    // the interrupt follows the next line, if still needed.
                    Some(Control::Interrupt) if unread(&lines) => {
                        interrupt_wanted = true;
                        deferred_at = Some(std::time::Instant::now());
                    }
                    Some(Control::Interrupt) => {
                        let sent = self.interrupt().await;
                        // No turn yet: interrupt once it starts; before the
                        // thread is even asked for, nothing is left but to end.
                        if !sent && self.thread_request.is_none() && self.turn_request.is_none() {
                            break;
                        }
                        interrupt_wanted = !sent;
                    }
                    Some(Control::Answer) => {
                        self.check_answers().await;
                        self.check_steers().await;
                    }
                    None => {}
                },
                _ = tick.tick() => {
                    self.check_answers().await;
                    self.check_steers().await;
                }
            }
        }
        // The turn is over: closing stdin ends the app-server. What it still
        // writes is read to its end, so the session ends when its stdout does.
        self.writer = None;
        let grace = tokio::time::sleep(EXIT_GRACE);
        tokio::pin!(grace);
        let mut termed = false;
        loop {
            tokio::select! {
                read = read_line(&mut lines, &mut line) => match read {
                    Ok(true) => {
                        self.take_line(&line, !lines.buffer().is_empty(), true).await;
                        line.clear();
                    }
                    Ok(false) | Err(_) => {
                        self.flush();
                        return;
                    }
                },
                _ = &mut grace, if !termed => {
                    termed = true;
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(self.codex_pid),
                        nix::sys::signal::Signal::SIGTERM,
                    );
                }
            }
        }
    }

    /// Takes one of codex's lines: a message handled (after the turn, only
    /// what codex says counts: it has nothing left to ask or answer), any
    /// other line kept verbatim. Its events are held for one write while
    /// `more` lines are already read. True once the turn is over.
    async fn take_line(&mut self, line: &[u8], more: bool, after_turn: bool) -> bool {
        self.hold = more;
        let over = match Incoming::parse(line) {
            None => {
                self.verbatim(line);
                false
            }
            Some(Incoming::Notification { method, params }) if after_turn => {
                let (events, _) = self.translator.notification(&method, &params);
                for event in events {
                    self.event(&event);
                }
                false
            }
            Some(_) if after_turn => false,
            Some(message) => self.handle(message).await,
        };
        self.hold = false;
        if !more || over {
            self.flush();
        }
        over
    }

    /// Handles one message; true once the turn is over.
    async fn handle(&mut self, message: Incoming) -> bool {
        match message {
            Incoming::Response { id, result } => self.response(id, result).await,
            Incoming::Request { id, method, params } => {
                self.request(id, &method, &params).await;
                false
            }
            Incoming::Notification { method, params } => {
                let (events, end) = self.translator.notification(&method, &params);
                for event in events {
                    self.event(&event);
                }
                match end {
                    Some(end) => {
                        // Questions still open are moot now.
                        self.questions.clear();
                        let mut shared = self.lock();
                        shared.waiting = false;
                        shared.end = Some(end);
                        true
                    }
                    None => false,
                }
            }
        }
    }

    async fn response(&mut self, id: Value, result: Result<Value, String>) -> bool {
        let id = id.as_u64();
        if let Some(at) = self.steers.iter().position(|(r, _, _)| Some(*r) == id) {
            let (_, n, text) = self.steers.remove(at);
            self.steered(n, &text, result.err());
            return false;
        }
        if id == Some(0) {
            self.lock().initialized = true;
        }
        match result {
            Err(message) => {
                let what = if id == self.thread_request {
                    "start its thread"
                } else if id == self.turn_request {
                    "start its turn"
                } else if id == Some(0) {
                    "initialize"
                } else {
                    // An interrupt that came too late, say.
                    return false;
                };
                let why = format!("codex app-server could not {what}: {message}");
                self.event(&serde_json::json!({"type": "error", "message": why}));
                self.lock().failure = Some(why);
                true
            }
            Ok(_) if id == Some(0) => {
                self.notify("initialized").await;
                let (method, params) = self.plan.thread_request();
                self.thread_request = Some(self.send(method, params).await);
                false
            }
            Ok(result) if id == self.thread_request => {
                if let Some(event) = self.translator.thread_started(&result) {
                    self.event(&event);
                }
                let Some(thread) = self.translator.thread_id.clone() else {
                    let why = "codex app-server started no thread".to_string();
                    self.lock().failure = Some(why);
                    return true;
                };
                let params = self
                    .plan
                    .turn_request(&thread, &self.prompt, self.schema.take());
                self.turn_request = Some(self.send("turn/start", params).await);
                false
            }
            Ok(_) if id.is_some() && id == self.turn_request => {
                self.lock().turn_started = true;
                false
            }
            Ok(_) => false,
        }
    }

    /// A request codex makes: an approval, or one of codex's own questions
    /// under a policy where a person answers, becomes a question; an MCP
    /// server's own elicitation is declined and said in the events (see
    /// README, "Questions"); anything else is refused at once, so codex
    /// never waits on us for it.
    async fn request(&mut self, id: Value, method: &str, params: &Value) {
        if method == app_server::ELICITATION && !app_server::is_mcp_tool_approval(method, params) {
            let line = app_server::response_line(&id, app_server::elicitation_declined());
            self.write(&line).await;
            let what = app_server::elicitation_what(params);
            self.event(&answers::declined_event(&id, &what));
            return;
        }
        if method == app_server::USER_INPUT && !self.plan.user_input {
            // Nobody would answer (codex offers the tool only when asked to).
            let line = app_server::error_line(&id, "codex-async: no user answers this job");
            self.write(&line).await;
            return;
        }
        let timeout = Duration::from_secs(u64::from(self.plan.question_timeout.max(1)));
        let deadline = chrono::Utc::now()
            + chrono::Duration::from_std(timeout).unwrap_or(chrono::Duration::seconds(600));
        let question = self.translator.question(
            &id,
            method,
            params,
            now_rfc3339(),
            deadline.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
        match question {
            Some(question) => {
                self.questions.push_back(Pending {
                    request_id: id,
                    method: method.to_string(),
                    question,
                    deadline: tokio::time::Instant::now() + timeout,
                    announced: false,
                });
                self.announce();
            }
            None => {
                let line =
                    app_server::error_line(&id, &format!("codex-async does not answer {method}"));
                self.write(&line).await;
            }
        }
    }

    /// Writes the first question in line to output.txt, once.
    fn announce(&mut self) {
        let Some(first) = self.questions.front_mut() else {
            self.lock().waiting = false;
            return;
        };
        if !first.announced {
            first.announced = true;
            let event = answers::question_event(&first.question);
            self.event(&event);
        }
        self.lock().waiting = true;
    }

    /// Hands codex an answer codexd left, or denies a question past its
    /// deadline (kind `input`: gives it the empty answer codex expects).
    async fn check_answers(&mut self) {
        let Some(first) = self.questions.front() else {
            return;
        };
        let answer = std::fs::read(self.dir.answer())
            .ok()
            .and_then(|bytes| serde_json::from_slice::<AnswerFile>(&bytes).ok());
        let input = first.question.kind == "input";
        let (answer, by) = match answer {
            // codexd checked the answer against the question; one of the
            // wrong shape (a hand-made file) is no answer.
            Some(answer)
                if answer.question_id == first.question.id
                    && (answer.decision.is_some() != input) =>
            {
                (Some(answer), AnsweredBy::User)
            }
            Some(_) => {
                // For a question already answered: nothing to do with it.
                let _ = std::fs::remove_file(self.dir.answer());
                return;
            }
            None if tokio::time::Instant::now() >= first.deadline => (None, AnsweredBy::Timeout),
            None => return,
        };
        let Some(pending) = self.questions.pop_front() else {
            return;
        };
        if input {
            let answers = answer.map(|a| a.answers).unwrap_or_default();
            let line = app_server::response_line(
                &pending.request_id,
                app_server::user_input_result(&answers),
            );
            self.write(&line).await;
            let shown =
                (!answers.is_empty()).then(|| shown_answers(&pending.question.prompts, &answers));
            self.event(&answers::input_answer_event(
                &pending.question.id,
                shown.as_deref(),
                by.name(),
            ));
        } else {
            let decision = answer.and_then(|a| a.decision).unwrap_or(Decision::Deny);
            let line = app_server::response_line(
                &pending.request_id,
                app_server::decision_result(&pending.method, decision),
            );
            self.write(&line).await;
            self.event(&answers::answer_event(
                &pending.question.id,
                decision,
                by.name(),
            ));
            if decision == Decision::Stop {
                self.lock().stopped = true;
            }
        }
        let _ = std::fs::remove_file(self.dir.answer());
        self.announce();
    }

    /// Sends codex the steerings codexd left (`steer/<n>.json`, in order)
    /// for the running turn; with no turn running, says so in their answer.
    async fn check_steers(&mut self) {
        for n in self.dir.steers(Some("json")) {
            let path = self.dir.steer_note(n, "json");
            let Some(note) = std::fs::read(&path)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<SteerNote>(&bytes).ok())
            else {
                continue;
            };
            let turn = {
                let shared = self.lock();
                shared.turn_started && shared.end.is_none()
            };
            let (Some(thread), Some(turn), true) = (
                self.translator.thread_id.clone(),
                self.translator.turn_id.clone(),
                turn,
            ) else {
                let _ = std::fs::remove_file(&path);
                self.steered(n, &note.text, Some("no turn is running now".into()));
                continue;
            };
            // Sent once: a later look finds it `.sent`, not `.json`.
            if std::fs::rename(&path, self.dir.steer_note(n, "sent")).is_err() {
                continue;
            }
            let request = app_server::steer_request(&thread, &turn, &note.text);
            let id = self.send("turn/steer", request).await;
            self.steers.push((id, n, note.text));
        }
    }

    /// Records how steering `n` went: into the turn's events when codex
    /// took it, and in `steer/<n>.done` for codexd either way.
    fn steered(&mut self, n: u32, text: &str, error: Option<String>) {
        if error.is_none() {
            self.event(&events::steered_event(text));
            self.flush();
        }
        let done = SteerDone { error };
        if let Err(e) =
            write_json_atomic(&self.dir.steer_note(n, "done"), &done, Durability::Atomic)
        {
            tracing::warn!(steering = n, error = %e, "cannot record how a steering went");
        }
    }

    /// Sends `turn/interrupt` for the running turn; false when there is none yet.
    async fn interrupt(&mut self) -> bool {
        let (Some(thread), Some(turn)) = (
            self.translator.thread_id.clone(),
            self.translator.turn_id.clone(),
        ) else {
            return false;
        };
        self.send(
            "turn/interrupt",
            app_server::interrupt_request(&thread, &turn),
        )
        .await;
        self.lock().interrupt_sent = true;
        true
    }

    async fn send(&mut self, method: &str, params: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.write(&app_server::request_line(id, method, params))
            .await;
        id
    }

    async fn notify(&mut self, method: &str) {
        self.write(&app_server::notification_line(method)).await;
    }

    async fn write(&mut self, line: &str) {
        if let Some(writer) = self.writer.as_mut() {
            // codex gone: its exit is what the monitor reports.
            let _ = writer.write_all(line.as_bytes()).await;
        }
    }

    /// Appends one event line to output.txt: at once, or with the others
    /// of a burst of codex's lines (one write per [`WRITE_BATCH`] instead of
    /// one per line, made before the session waits for more). Each write is
    /// whole lines, and O_APPEND keeps it whole beside codex's own stderr.
    fn event(&mut self, event: &Value) {
        let line = events::event_line(event);
        self.append(line.as_bytes());
    }

    /// A line on codex's stdout that is not the protocol (a wrapper's echo,
    /// a warning printed there): kept in output.txt as it came, as `codex
    /// exec`'s stdout was, rather than lost.
    fn verbatim(&mut self, line: &[u8]) {
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        self.pending.extend_from_slice(line);
        self.append(b"\n");
    }

    /// Adds whole lines to what output.txt gets: written now, or held with
    /// a burst (see [`Driver::event`]).
    fn append(&mut self, lines: &[u8]) {
        self.pending.extend_from_slice(lines);
        if !self.hold || self.pending.len() >= WRITE_BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            let _ = self.output.write_all(&self.pending);
            self.pending.clear();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Whether codex has written what the session has not taken yet: lines
/// already read, or bytes waiting in the pipe.
fn unread(lines: &BufReader<pipe::Receiver>) -> bool {
    !lines.buffer().is_empty() || readable(lines.get_ref())
}

/// Whether codex's stdout has bytes waiting (poll with no wait): the
/// kernel's word, which the runtime's readiness may not have caught up with.
fn readable(pipe: &impl AsFd) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut fds = [PollFd::new(pipe.as_fd(), PollFlags::POLLIN)];
    poll(&mut fds, PollTimeout::ZERO).is_ok_and(|n| n > 0)
        && fds[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLIN))
}

/// Reads one line onto `line` (without its newline); false at EOF. The
/// caller clears `line` once it has taken it: cancelled halfway (the driver
/// selects on this with its other work), the bytes already read stay in
/// `line` and the next call goes on from them. A line longer than
/// [`MAX_LINE`] is cut (what follows is read as the next line, and fails to
/// parse).
async fn read_line(
    reader: &mut BufReader<pipe::Receiver>,
    line: &mut Vec<u8>,
) -> std::io::Result<bool> {
    loop {
        let room = MAX_LINE.saturating_sub(line.len()) as u64;
        let n = (&mut *reader).take(room).read_until(b'\n', line).await?;
        if n == 0 {
            // EOF: a last line without its newline still counts.
            return Ok(!line.is_empty());
        }
        if line.last() == Some(&b'\n') {
            line.pop();
            return Ok(true);
        }
        if line.len() >= MAX_LINE {
            return Ok(true);
        }
    }
}
