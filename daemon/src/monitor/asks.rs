//! The monitor's side of an agent's relayed permission questions (an agent
//! whose output is a translated stream and which, under policy `ask`, sends
//! its questions to a relay process: engine::Stream::question). The relay
//! connects to the job folder's socket, writes the agent's request as one
//! JSON line and waits; the monitor makes it the job's question (an
//! `approval.requested` event in output.txt, as for codex's approvals, so
//! poll, wait, list and the forms show it), takes the answer codexd leaves
//! in `answer.json` (on SIGUSR1, and every second), or denies it at its
//! deadline, and writes the agent's answer back as one line.
//!
//! The question lives in the monitor, not in codexd: codexd can be killed
//! and restarted while it waits, and the answer still reaches the agent.
//! The socket is in the job's folder (0700) and made 0600, and a peer of
//! another uid is refused as well.

use std::{
    collections::VecDeque,
    fs::{File, OpenOptions},
    io::Write,
    os::unix::fs::PermissionsExt,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::{UnixListener, UnixStream},
    sync::{mpsc, oneshot},
    task::JoinHandle,
};

use crate::{
    engine::Stream,
    job::{
        answers::{self, AnswerFile, AnsweredBy, Decision},
        events::{self, Question},
        now_rfc3339,
    },
    store::jobdir::JobDir,
};

/// How often the answer file and the deadline are looked at (SIGUSR1 from
/// codexd wakes the monitor sooner).
const ANSWER_TICK: Duration = Duration::from_secs(1);
/// The longest request line read from the relay (a Write's whole file is in it).
const MAX_LINE: u64 = 16 * 1024 * 1024;

/// Binds the job's question socket, from inside its folder (see
/// `JobDir::ask_socket_name`), 0600. Done before the monitor enters the
/// job's run directory: the working directory is changed for the bind and
/// put back.
pub fn bind(dir: &JobDir) -> std::io::Result<UnixListener> {
    let name = JobDir::ask_socket_name();
    // A monitor whose working directory is gone has none to go back to:
    // it enters the job's run directory next anyway.
    let here = std::env::current_dir().ok();
    std::env::set_current_dir(dir.path())?;
    let _ = std::fs::remove_file(name);
    let bound = std::os::unix::net::UnixListener::bind(name);
    if let Some(here) = &here {
        let _ = std::env::set_current_dir(here);
    }
    let listener = bound?;
    std::fs::set_permissions(
        dir.path().join(name),
        std::fs::Permissions::from_mode(0o600),
    )?;
    listener.set_nonblocking(true)?;
    UnixListener::from_std(listener)
}

/// The questions of one job's agent.
pub struct Asks {
    wake: mpsc::UnboundedSender<()>,
    waiting: Arc<AtomicBool>,
    stopped: Arc<AtomicBool>,
    task: JoinHandle<()>,
    socket: std::path::PathBuf,
}

impl Asks {
    /// Serves `listener` for the agent of `stream`; a question nobody
    /// answers is denied after `timeout` seconds.
    pub fn start(
        dir: &JobDir,
        listener: UnixListener,
        stream: Stream,
        timeout: u32,
    ) -> std::io::Result<Self> {
        let output = OpenOptions::new()
            .append(true)
            .create(true)
            .open(dir.output())?;
        let waiting = Arc::new(AtomicBool::new(false));
        let stopped = Arc::new(AtomicBool::new(false));
        let (wake, woken) = mpsc::unbounded_channel();
        let driver = Driver {
            dir: dir.clone(),
            stream,
            timeout: timeout.max(1),
            output,
            queue: VecDeque::new(),
            waiting: waiting.clone(),
            stopped: stopped.clone(),
            asked: 0,
        };
        let task = tokio::spawn(driver.run(listener, woken));
        Ok(Self {
            wake,
            waiting,
            stopped,
            task,
            socket: dir.path().join(JobDir::ask_socket_name()),
        })
    }

    /// codexd left an answer (SIGUSR1).
    pub fn wake(&self) {
        let _ = self.wake.send(());
    }

    /// A question waits for a person (the stall watchdog holds meanwhile).
    pub fn waiting(&self) -> bool {
        self.waiting.load(Ordering::Relaxed)
    }

    /// The user answered `stop`: the agent ends its run, the job is cancelled.
    pub fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }
}

impl Drop for Asks {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// A question asked: the agent's request and where its answer goes.
struct Pending {
    question: Question,
    request: Value,
    deadline: tokio::time::Instant,
    announced: bool,
    reply: oneshot::Sender<String>,
}

struct Driver {
    dir: JobDir,
    stream: Stream,
    timeout: u32,
    output: File,
    queue: VecDeque<Pending>,
    waiting: Arc<AtomicBool>,
    stopped: Arc<AtomicBool>,
    /// Questions asked so far, to name one the agent gave no id.
    asked: u64,
}

type Asked = (Value, oneshot::Sender<String>);

impl Driver {
    async fn run(mut self, listener: UnixListener, mut woken: mpsc::UnboundedReceiver<()>) {
        let (asked_tx, mut asked_rx) = mpsc::unbounded_channel::<Asked>();
        let mut tick = tokio::time::interval(ANSWER_TICK);
        let me = nix::unistd::getuid().as_raw();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((connection, _)) = accepted else { continue };
                    // The folder keeps other users out; this says so again.
                    if connection.peer_cred().is_ok_and(|c| c.uid() == me) {
                        tokio::spawn(serve(connection, asked_tx.clone()));
                    }
                }
                Some((request, reply)) = asked_rx.recv() => self.asked(request, reply),
                Some(()) = woken.recv() => self.check_answer(),
                _ = tick.tick() => self.check_answer(),
            }
        }
    }

    fn asked(&mut self, request: Value, reply: oneshot::Sender<String>) {
        self.asked += 1;
        let timeout = Duration::from_secs(u64::from(self.timeout));
        let deadline = chrono::Utc::now()
            + chrono::Duration::from_std(timeout).unwrap_or(chrono::Duration::seconds(900));
        let Some(question) = self.stream.question(
            &request,
            self.asked.to_string(),
            now_rfc3339(),
            deadline.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ) else {
            // No questions for this agent: dropping `reply` closes the
            // connection, which its relay takes as a denial.
            return;
        };
        self.queue.push_back(Pending {
            question,
            request,
            deadline: tokio::time::Instant::now() + timeout,
            announced: false,
            reply,
        });
        self.announce();
    }

    /// Writes the first question in line to output.txt, once.
    fn announce(&mut self) {
        let Some(first) = self.queue.front_mut() else {
            self.waiting.store(false, Ordering::Relaxed);
            return;
        };
        if !first.announced {
            first.announced = true;
            let event = answers::question_event(&first.question);
            self.event(&event);
        }
        self.waiting.store(true, Ordering::Relaxed);
    }

    /// Hands the agent the answer codexd left for the first question, or
    /// denies it past its deadline.
    fn check_answer(&mut self) {
        // A question whose relay went away (the agent stopped asking) is
        // moot: said so, and the next one is shown.
        while self.queue.front().is_some_and(|p| p.reply.is_closed()) {
            if let Some(gone) = self.queue.pop_front() {
                let event = answers::declined_event(
                    &Value::String(gone.question.id.clone()),
                    "a question the agent withdrew",
                );
                self.event(&event);
            }
            self.announce();
        }
        let Some(first) = self.queue.front() else {
            return;
        };
        let answer = std::fs::read(self.dir.answer())
            .ok()
            .and_then(|bytes| serde_json::from_slice::<AnswerFile>(&bytes).ok());
        let (decision, by) = match answer {
            Some(AnswerFile {
                question_id,
                decision: Some(decision),
                ..
            }) if question_id == first.question.id => (decision, AnsweredBy::User),
            Some(_) => {
                // For a question already answered (or not in an approval's
                // shape): nothing to do with it.
                let _ = std::fs::remove_file(self.dir.answer());
                return;
            }
            None if tokio::time::Instant::now() >= first.deadline => {
                (Decision::Deny, AnsweredBy::Timeout)
            }
            None => return,
        };
        let Some(pending) = self.queue.pop_front() else {
            return;
        };
        let text = self.stream.reply(
            &pending.request,
            decision,
            by == AnsweredBy::Timeout,
            self.timeout,
        );
        let _ = pending.reply.send(text);
        if decision == Decision::Stop {
            self.stopped.store(true, Ordering::Relaxed);
        }
        let event = answers::answer_event(&pending.question.id, decision, by.name());
        self.event(&event);
        let _ = std::fs::remove_file(self.dir.answer());
        self.announce();
    }

    /// One event line, appended whole (O_APPEND keeps it so beside the
    /// agent's translated stream and its stderr).
    fn event(&mut self, event: &Value) {
        let line = events::event_line(event);
        let _ = self.output.write_all(line.as_bytes());
    }
}

/// One relay connection: its request line to the driver, the answer back.
/// The connection closing first (the agent gave up on the question) drops
/// the wait, which the driver sees as a withdrawn question.
async fn serve(connection: UnixStream, asked: mpsc::UnboundedSender<Asked>) {
    let (read, mut write) = connection.into_split();
    let mut reader = BufReader::new(read.take(MAX_LINE));
    let mut line = Vec::new();
    match reader.read_until(b'\n', &mut line).await {
        Ok(n) if n > 0 => {}
        _ => return,
    }
    let Ok(request) = serde_json::from_slice::<Value>(&line) else {
        return;
    };
    let (reply, answer) = oneshot::channel();
    if asked.send((request, reply)).is_err() {
        return;
    }
    let mut rest = [0u8; 1];
    tokio::select! {
        answer = answer => {
            if let Ok(mut text) = answer {
                text.push('\n');
                let _ = write.write_all(text.as_bytes()).await;
            }
        }
        // EOF or an error: the relay is gone.
        _ = reader.read(&mut rest) => {}
    }
}
