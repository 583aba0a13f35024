//! The shim's stdio transport: one JSON-RPC message per line, as rmcp's
//! `AsyncRwTransport` speaks it, except that a line which is not a message
//! is answered instead of dropped.
//!
//! Hand-rolled because rmcp 3.11 has no hook for it: its transport drops a
//! line that is not JSON (its issue #938, for fear of error storms with
//! peers that echo), answers well-formed JSON that is not a message without
//! an id, and drops an oversized line with a log line only. Each of those
//! leaves the client waiting for an answer that never comes. JSON-RPC 2.0
//! (§5.1) wants -32700 for a line that does not parse and -32600 for one
//! that is not a request; the storm needs a peer that answers responses,
//! which an MCP client does not do. Everything else (framing, the line
//! limit, cancel safety) follows rmcp's transport, so a good line reaches
//! rmcp as it would have.

use std::{fmt, future::Future, io, sync::Arc};

use rmcp::{
    service::{RxJsonRpcMessage, TxJsonRpcMessage},
    transport::Transport,
    RoleServer,
};
use serde::{
    de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor},
    Deserialize, Deserializer,
};
use serde_json::{error::Category, json, Value};
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader},
    sync::Mutex,
};

/// The longest line taken: rmcp's own limit, so a message the shim takes
/// over stdio is one rmcp would have taken.
pub const MAX_LINE_BYTES: usize = rmcp::transport::async_rw::DEFAULT_MAX_LINE_LENGTH;

/// JSON-RPC's code for a line that is not JSON.
pub const PARSE_ERROR: i32 = -32700;
/// JSON-RPC's code for JSON that is not a request.
pub const INVALID_REQUEST: i32 = -32600;
/// JSON-RPC's code for a request whose params are wrong.
pub const INVALID_PARAMS: i32 = -32602;

/// RFC 8259 §8.1 lets a parser skip a leading byte order mark.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// A line buffer grown past this by a big message is given back afterwards.
const KEPT_LINE_CAPACITY: usize = 1024 * 1024;

/// How much of the head of an oversized line is searched for its id: a
/// client puts `jsonrpc`, `id` and `method` before the params that made the
/// line big, and a bound keeps the search as cheap as the refusal.
const ID_SCAN_BYTES: usize = 64 * 1024;

/// Newline-delimited JSON-RPC over a reader and a writer (the shim's stdin
/// and stdout).
pub struct LineTransport<R, W> {
    read: BufReader<R>,
    /// The line being read; kept across calls, since rmcp drops a pending
    /// `receive` whenever it sends, and a new call resumes the same line.
    line: Vec<u8>,
    /// Skipping the rest of an oversized line, up to its newline.
    discarding: bool,
    max_line: usize,
    /// The answer to a line that was not a message, until it is on the
    /// writer: held here so a `receive` dropped before that loses nothing.
    answer: Option<Vec<u8>>,
    write: Arc<Mutex<Writer<W>>>,
}

/// The writer and the bytes not yet written to it. Every message is added
/// whole before any of it is written, and whoever holds the lock writes
/// from the front, so lines never interleave, even when a write is dropped
/// half-way (its rest goes out with the next one).
struct Writer<W> {
    out: Option<W>,
    pending: Vec<u8>,
}

impl<W: AsyncWrite + Unpin> Writer<W> {
    async fn drain(&mut self) -> io::Result<()> {
        let Self { out, pending } = self;
        let out = out.as_mut().ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotConnected, "the transport is closed")
        })?;
        while !pending.is_empty() {
            let written = out.write(pending).await?;
            if written == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            pending.drain(..written);
        }
        out.flush().await
    }
}

/// What one read found.
enum Read {
    /// A whole line is in `line`.
    Line,
    /// A line longer than `max_line`: dropped (the rest of it is skipped by
    /// the reads that follow), with its id when its head shows it.
    Oversized(Option<Value>),
    Eof,
}

/// What a line holds.
#[derive(Debug)]
enum Decoded {
    Message(Box<RxJsonRpcMessage<RoleServer>>),
    /// Not a message, but it asked something: this error answers it.
    Answer(Vec<u8>),
    /// Nothing to hand on or answer: a blank line, or a notification or
    /// response that cannot be read (JSON-RPC answers neither).
    Skip,
}

impl<R, W> LineTransport<R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    pub fn new(read: R, write: W) -> Self {
        Self {
            read: BufReader::with_capacity(64 * 1024, read),
            line: Vec::new(),
            discarding: false,
            max_line: MAX_LINE_BYTES,
            answer: None,
            write: Arc::new(Mutex::new(Writer {
                out: Some(write),
                pending: Vec::new(),
            })),
        }
    }

    /// Reads up to the end of a line without holding more than `max_line`
    /// bytes of it. Cancel safe: bytes move from the reader to `line`
    /// without an await in between, so a dropped call leaves the partial
    /// line for the next.
    async fn read_line(&mut self) -> io::Result<Read> {
        loop {
            let available = self.read.fill_buf().await?;
            if available.is_empty() {
                return Ok(Read::Eof);
            }
            let newline = available.iter().position(|&b| b == b'\n');
            let take = newline.map_or(available.len(), |at| at + 1);
            let read = if self.discarding {
                self.discarding = newline.is_none();
                None
            } else if self.line.len().saturating_add(take) > self.max_line {
                let room = ID_SCAN_BYTES.saturating_sub(self.line.len());
                self.line.extend_from_slice(&available[..take.min(room)]);
                let id = id_in_head(&self.line[..self.line.len().min(ID_SCAN_BYTES)]);
                self.line.clear();
                self.discarding = newline.is_none();
                Some(Read::Oversized(id))
            } else {
                self.line.extend_from_slice(&available[..take]);
                newline.map(|_| Read::Line)
            };
            self.read.consume(take);
            if let Some(read) = read {
                return Ok(read);
            }
        }
    }
}

impl<R, W> Transport<RoleServer> for LineTransport<R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    type Error = io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let line = serde_json::to_vec(&item);
        let write = Arc::clone(&self.write);
        async move {
            let mut line = line.map_err(io::Error::other)?;
            line.push(b'\n');
            let mut writer = write.lock().await;
            writer.pending.extend_from_slice(&line);
            writer.drain().await
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        loop {
            if self.answer.is_some() {
                let mut writer = self.write.lock().await;
                if let Some(answer) = self.answer.take() {
                    writer.pending.extend_from_slice(&answer);
                }
                if let Err(e) = writer.drain().await {
                    tracing::error!("cannot write to stdout: {e}");
                    return None;
                }
            }
            match self.read_line().await {
                Ok(Read::Line) => {}
                Ok(Read::Oversized(id)) => {
                    tracing::warn!(
                        "refused a message longer than {} bytes (id {})",
                        self.max_line,
                        id.as_ref()
                            .map_or_else(|| "unread".to_string(), |id| id.to_string())
                    );
                    self.answer = Some(error_line(
                        id,
                        INVALID_REQUEST,
                        &format!(
                            "Invalid Request: a message longer than {} bytes, dropped unread; \
                             send smaller messages (a prompt can point Codex at a file that \
                             holds the details)",
                            self.max_line
                        ),
                    ));
                    continue;
                }
                Ok(Read::Eof) => return None,
                Err(e) => {
                    tracing::error!("cannot read stdin: {e}");
                    return None;
                }
            }
            let decoded = decode(&self.line);
            self.line.clear();
            if self.line.capacity() > KEPT_LINE_CAPACITY {
                self.line.shrink_to(KEPT_LINE_CAPACITY);
            }
            match decoded {
                Decoded::Message(message) => return Some(*message),
                Decoded::Answer(answer) => self.answer = Some(answer),
                Decoded::Skip => {}
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        let mut writer = self.write.lock().await;
        let drained = writer.drain().await;
        if let Some(mut out) = writer.out.take() {
            out.shutdown().await?;
        }
        drained
    }
}

/// One line (its newline included) as a message, or what to answer.
fn decode(line: &[u8]) -> Decoded {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = line.strip_prefix(UTF8_BOM).unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Decoded::Skip;
    }
    let (code, why) = match std::str::from_utf8(line) {
        Err(e) => (
            PARSE_ERROR,
            format!(
                "Parse error: the message is not UTF-8 (byte {} starts an invalid sequence); \
                 send each message as one line of UTF-8 JSON",
                e.valid_up_to()
            ),
        ),
        Ok(_) => match serde_json::from_slice::<RxJsonRpcMessage<RoleServer>>(line) {
            Ok(message) => return Decoded::Message(Box::new(message)),
            Err(e) if matches!(e.classify(), Category::Syntax | Category::Eof) => (
                PARSE_ERROR,
                format!(
                    "Parse error: the message is not JSON ({e}); send each message as one \
                     line of JSON text (strings in UTF-8, no lone surrogates such as \\ud800)"
                ),
            ),
            Err(e) => not_a_request(line, &e),
        },
    };
    let envelope = Envelope::of(line);
    if envelope.as_ref().is_some_and(Envelope::asks_nothing) {
        tracing::warn!(
            "dropped a notification or response that cannot be read: {}",
            head(line)
        );
        return Decoded::Skip;
    }
    tracing::warn!("answered {code}: {}", head(line));
    let id = envelope
        .and_then(|e| e.id)
        .filter(|id| id.is_number() || id.is_string());
    Decoded::Answer(error_line(id, code, &why))
}

/// The error for valid JSON that rmcp cannot read as a message.
fn not_a_request(line: &[u8], error: &serde_json::Error) -> (i32, String) {
    let value: Value = serde_json::from_slice(line).unwrap_or(Value::Null);
    // rmcp reads params that are not an object as no request at all; they
    // are a request whose params are wrong.
    if let (Some(method), Some(params)) = (
        value.get("method").and_then(Value::as_str),
        value
            .get("params")
            .filter(|p| !p.is_object() && !p.is_null()),
    ) {
        return (
            INVALID_PARAMS,
            format!(
                "Invalid params of {method}: params: must be an object (MCP passes params by \
                 name), got {}",
                crate::args::describe(params)
            ),
        );
    }
    (
        INVALID_REQUEST,
        format!(
            "Invalid Request: {error}; a request is {{\"jsonrpc\": \"2.0\", \"id\": <number or \
             string>, \"method\": <string>, \"params\": <object>}}"
        ),
    )
}

/// What can be read of a line that does not parse as a whole: serde skips
/// the fields it is not asked for without decoding their strings, so a bad
/// string elsewhere leaves these readable.
#[derive(Deserialize)]
struct Envelope {
    /// Present (null too) or not: null is a request's id, if a bad one.
    #[serde(default, deserialize_with = "present")]
    id: Option<Value>,
    method: Option<IgnoredAny>,
    result: Option<IgnoredAny>,
    error: Option<IgnoredAny>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

impl Envelope {
    fn of(line: &[u8]) -> Option<Self> {
        // serde reads a struct from a list too, its first item as the id.
        if line.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return None;
        }
        serde_json::from_slice(line)
            .or_else(|_| serde_json::from_str(&String::from_utf8_lossy(line)))
            .ok()
    }

    /// A notification or a response: JSON-RPC answers neither, even when
    /// they cannot be read.
    fn asks_nothing(&self) -> bool {
        match (&self.method, &self.id) {
            (Some(_), None) => true,
            (Some(_), Some(_)) => false,
            (None, _) => self.result.is_some() || self.error.is_some(),
        }
    }
}

/// The id of the request whose first bytes are `head` (a line cut short):
/// a top-level `"id"` member holding a number or a string, read whole before
/// the head ends; None when the head does not show one (the id comes after
/// a big params, the line is no object, the id is null or an object).
///
/// serde_json does the scanning rather than a hand-rolled scanner: driven
/// member by member, it reads keys with their escapes, skips the values
/// before the id (strings with their escapes, nesting to its depth limit)
/// without building them, and stops with an error where the head is cut,
/// which is expected here and ignored: the id, if found before, is kept.
fn id_in_head(head: &[u8]) -> Option<Value> {
    let head = head.strip_prefix(UTF8_BOM).unwrap_or(head);
    let mut found = None;
    let mut json = serde_json::Deserializer::from_slice(head);
    // Err is the cut, or a line that is no JSON-RPC object: `found` says all.
    let _ = IdScan(&mut found).deserialize(&mut json);
    found
}

/// Reads a message's members up to its `"id"`, into the slot it holds.
struct IdScan<'a>(&'a mut Option<Value>);

impl<'de> DeserializeSeed<'de> for IdScan<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, json: D) -> Result<(), D::Error> {
        json.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for IdScan<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON-RPC message (an object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<(), A::Error> {
        while let Some(key) = members.next_key::<String>()? {
            if key != "id" {
                members.next_value::<IgnoredAny>()?;
                continue;
            }
            match members.next_value::<Value>()? {
                // Its closing quote was read: the string is whole.
                id @ Value::String(_) => *self.0 = Some(id),
                // A number cut by the head's end reads as a shorter one
                // (`12` of `123`): it is whole only once what follows it
                // (the next member or the object's end) is seen.
                id @ Value::Number(_) => {
                    let after = members.next_key_seed(Confirm(self.0, id.clone()))?;
                    if after.is_none() {
                        *self.0 = Some(id);
                    }
                }
                _ => {}
            }
            return Ok(());
        }
        Ok(())
    }
}

/// Stores the id it holds when the key after the id starts, which shows the
/// id's number ended.
struct Confirm<'a>(&'a mut Option<Value>, Value);

impl<'de> DeserializeSeed<'de> for Confirm<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, key: D) -> Result<(), D::Error> {
        *self.0 = Some(self.1);
        IgnoredAny::deserialize(key).map(|_| ())
    }
}

/// A JSON-RPC error answer, as one line. An id that cannot be read is
/// `null`, as JSON-RPC 2.0 §5 says.
fn error_line(id: Option<Value>, code: i32, message: &str) -> Vec<u8> {
    let answer = json!({
        "jsonrpc": "2.0",
        "id": id.unwrap_or(Value::Null),
        "error": {"code": code, "message": message},
    });
    let mut line = answer.to_string().into_bytes();
    line.push(b'\n');
    line
}

/// The start of a line, for the log.
fn head(line: &[u8]) -> String {
    const SHOWN: usize = 200;
    let text = String::from_utf8_lossy(&line[..line.len().min(SHOWN)]);
    if line.len() > SHOWN {
        format!("{text}…")
    } else {
        text.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(line: &[u8]) -> Value {
        match decode(line) {
            Decoded::Answer(bytes) => serde_json::from_slice(&bytes).expect("an answer is JSON"),
            other => panic!("{:?} got {other:?}", String::from_utf8_lossy(line)),
        }
    }

    #[test]
    fn a_line_that_does_not_parse_is_a_parse_error_with_the_id_when_it_can_be_read() {
        let surrogate = br#"{"jsonrpc":"2.0","id":7,"method":"ping","params":{"x":"\ud800"}}"#;
        let got = answer(surrogate);
        assert_eq!(got["id"], 7);
        assert_eq!(got["error"]["code"], PARSE_ERROR);
        let message = got["error"]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with("Parse error: "), "{message}");
        assert!(message.contains("surrogate"), "{message}");

        let bytes =
            b"{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"ping\",\"params\":{\"x\":\"\xff\"}}";
        let got = answer(bytes);
        assert_eq!(got["id"], "a");
        assert!(got["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not UTF-8")));

        for garbage in [&b"{nope"[..], b"{\"id\": 3, \"method\":", b"\x80\x81", b"]"] {
            let got = answer(garbage);
            assert_eq!(got["id"], Value::Null, "{got}");
            assert_eq!(got["error"]["code"], PARSE_ERROR, "{got}");
        }
    }

    #[test]
    fn json_that_is_not_a_request_is_invalid_unless_it_asked_nothing() {
        let got = answer(br#"{"jsonrpc":"2.0","id":9,"method":5}"#);
        assert_eq!(
            (got["id"].clone(), got["error"]["code"].clone()),
            (json!(9), json!(INVALID_REQUEST))
        );
        let got = answer(br#"{"jsonrpc":"2.0","id":"p","method":"tools/list","params":[1]}"#);
        assert_eq!(got["id"], "p");
        assert_eq!(got["error"]["code"], INVALID_PARAMS);
        assert!(got["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("params: must be an object")));
        let got = answer(b"[1]");
        assert_eq!(got["id"], Value::Null);
        assert_eq!(got["error"]["code"], INVALID_REQUEST);
        let got = answer(br#"{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}"#);
        assert_eq!(got["id"], Value::Null, "an object is no id: {got}");
        for quiet in [
            &br#"{"jsonrpc":"2.0","method":5}"#[..],
            br#"{"jsonrpc":"2.0","result":{"x":1}}"#,
            b"",
            b"  \r\n",
        ] {
            assert!(matches!(decode(quiet), Decoded::Skip), "{quiet:?}");
        }
    }

    #[test]
    fn the_id_is_read_from_the_head_of_a_line_when_it_shows_it_whole() {
        let big = "x".repeat(1000);
        let cut = |line: &str, at: usize| id_in_head(&line.as_bytes()[..at.min(line.len())]);
        let line =
            format!(r#"{{"jsonrpc":"2.0","id":7,"method":"ping","params":{{"x":"{big}"}}}}"#);
        assert_eq!(cut(&line, 100), Some(json!(7)));
        let line = format!(r#"{{"id" : "a\"b\u0041","method":"ping","params":{{"x":"{big}"}}}}"#);
        assert_eq!(cut(&line, 100), Some(json!("a\"bA")));
        // Members before it are skipped, nested and with quotes and braces
        // in their strings; a key spelled with an escape is still `id`.
        let line = format!(
            r#"{{"jsonrpc":"2.0","meta":{{"a":[{{"id":1}}, "}}\"]"],"id":2}},"\u0069d":-3.5e2,"params":"{big}"}}"#
        );
        assert_eq!(cut(&line, 200), Some(json!(-350.0)));
        let line = format!("\u{feff}{{\"id\":8,\"params\":\"{big}\"}}");
        assert_eq!(cut(&line, 100), Some(json!(8)));
        // A number or a string the head cuts is not read as a shorter one.
        let line = r#"{"jsonrpc":"2.0","id":12345,"method":"ping"}"#;
        assert_eq!(cut(line, line.find("45").unwrap_or(0)), None);
        let next_key = line.find(r#","method"#).map_or(0, |at| at + 2);
        assert_eq!(cut(line, next_key), Some(json!(12345)));
        assert_eq!(cut(r#"{"id":"abc"#, 100), None);
        assert_eq!(cut(r#"{"id":5}"#, 100), Some(json!(5)));
        // No id in the head, or no id a request could have.
        for line in [
            format!(r#"{{"jsonrpc":"2.0","method":"ping","params":{{"x":"{big}"}},"id":9}}"#),
            format!(r#"[{{"id":1}},"{big}"]"#),
            format!(r#"{{"id":null,"params":"{big}"}}"#),
            format!(r#"{{"id":{{"n":1}},"params":"{big}"}}"#),
            format!("not json {big}"),
        ] {
            assert_eq!(cut(&line, 100), None, "{line:.60}");
        }
    }

    #[test]
    fn a_good_line_is_the_message_even_with_a_bom_and_crlf() {
        let line = b"\xEF\xBB\xBF{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r\n";
        assert!(matches!(decode(line), Decoded::Message(_)));
    }
}
