//! Loopback HTTP endpoints the tests control: a fault-injecting proxy in front of moto, and an
//! ECS container-credentials endpoint. Plain blocking std networking, one thread per
//! connection; every wait is bounded so that nothing here outlives a test by long.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The longest any endpoint holds a connection open on purpose.
const MAX_HANG: Duration = Duration::from_secs(30);

/// What the proxy does with one request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Pass it to moto and relay the answer.
    Forward,
    /// Answer with an awsJson error: `__type` in the body and `x-amzn-ErrorType`.
    Error {
        status: u16,
        code: &'static str,
        message: &'static str,
    },
    /// Wait, then forward.
    Delay(Duration),
    /// Accept and never answer (for at most 30 s).
    Hang,
    /// Start a 200 answer and close the connection half-way.
    CloseMidResponse,
    /// Reset the connection (RST) without answering.
    Reset,
    /// A 200 answer whose body is not JSON.
    Garbage,
    /// An answer with this status and body (awsJson content type), e.g. a malformed success.
    Respond { status: u16, body: String },
    /// Forward, then relay moto's real answer only half-way (its headers promise the whole
    /// body) and close: a secret cut in the middle.
    Truncate,
    /// Send the head of a 200 answer, then nothing (for at most 30 s): a stalled body.
    StallBody,
    /// A 200 answer of this many bytes (a JSON string of `x`), with a `content-length` or
    /// chunked, sent as fast as the client reads it.
    Huge { bytes: usize, chunked: bool },
    /// Forward, then relay moto's answer one byte every 100 ms: a body that never stalls long
    /// enough for a read timeout but would take minutes.
    Drip,
}

/// An HTTP request as far as the tests care.
#[derive(Debug, Clone)]
pub struct Request {
    pub head: String,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    /// The region the request was signed for: the third field of the SigV4 credential scope
    /// (`Credential=AKID/20250101/REGION/SERVICE/aws4_request`); empty when unsigned.
    pub fn signed_region(&self) -> String {
        let auth = self.header("authorization").unwrap_or_default();
        auth.split("Credential=")
            .nth(1)
            .and_then(|scope| scope.split('/').nth(2))
            .unwrap_or_default()
            .to_string()
    }
}

/// Which requests a [`Proxy::when`] rule applies to.
type Matcher = Arc<dyn Fn(&Request) -> bool + Send + Sync>;

/// Reads one request; `None` on a closed connection.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let mut request = Request {
        head,
        body: Vec::new(),
    };
    let length: usize = request
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    request.body.resize(length, 0);
    reader.read_exact(&mut request.body).ok()?;
    Some(request)
}

fn respond(stream: &mut TcpStream, status: u16, headers: &[(&str, &str)], body: &[u8]) {
    let mut head = format!(
        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
    let _ = stream.flush();
}

/// Serves each connection on `listener` with `handle` (one request per connection: answers
/// carry `connection: close`).
fn serve<F>(listener: TcpListener, handle: F)
where
    F: Fn(Request, TcpStream) + Send + Sync + 'static,
{
    let handle = Arc::new(handle);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let handle = Arc::clone(&handle);
            thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(MAX_HANG));
                let Ok(clone) = stream.try_clone() else {
                    return;
                };
                let mut reader = BufReader::new(clone);
                if let Some(request) = read_request(&mut reader) {
                    handle(request, stream);
                }
            });
        }
    });
}

#[derive(Default)]
struct ProxyState {
    /// Rules checked before the plan: the first whose matcher accepts a request answers it.
    rules: Vec<(Matcher, Fault)>,
    plan: VecDeque<Fault>,
    default: Option<Fault>,
    seen: Vec<Request>,
    /// When each request arrived, in order.
    arrivals: Vec<Instant>,
    /// The body of every answer relayed from the upstream, in order (e.g. the credentials an
    /// STS answer handed out, to check which key signed the next call).
    answers: Vec<Vec<u8>>,
}

/// A fault-injecting proxy in front of an upstream HTTP server (moto).
#[derive(Clone)]
pub struct Proxy {
    pub port: u16,
    state: Arc<Mutex<ProxyState>>,
}

impl Proxy {
    /// Forwards to `upstream_port`, unless told otherwise.
    pub fn start(upstream_port: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(ProxyState::default()));
        let shared = Arc::clone(&state);
        serve(listener, move |request, stream| {
            let fault = {
                let mut state = shared.lock().unwrap();
                state.seen.push(request.clone());
                state.arrivals.push(Instant::now());
                let rule = state
                    .rules
                    .iter()
                    .find(|(matches, _)| matches(&request))
                    .map(|(_, fault)| fault.clone());
                rule.or_else(|| state.plan.pop_front())
                    .or_else(|| state.default.clone())
                    .unwrap_or(Fault::Forward)
            };
            if let Some(answer) = act(fault, request, stream, upstream_port) {
                shared.lock().unwrap().answers.push(answer);
            }
        });
        Proxy { port, state }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The next requests get these faults, in order; then the default applies.
    pub fn then(&self, fault: Fault) -> &Self {
        self.state.lock().unwrap().plan.push_back(fault);
        self
    }

    /// Every request that `matches` accepts gets `fault`, whatever the plan says; the others
    /// go through the plan and the default as usual.
    pub fn when(
        &self,
        matches: impl Fn(&Request) -> bool + Send + Sync + 'static,
        fault: Fault,
    ) -> &Self {
        let rule: Matcher = Arc::new(matches);
        self.state.lock().unwrap().rules.push((rule, fault));
        self
    }

    /// Every request signed for `region` gets `fault` (see [`Request::signed_region`]): one
    /// region down, the others up.
    pub fn in_region(&self, region: &str, fault: Fault) -> &Self {
        let region = region.to_string();
        self.when(move |request| request.signed_region() == region, fault)
    }

    /// What every request gets once the plan is used up.
    pub fn always(&self, fault: Fault) -> &Self {
        self.state.lock().unwrap().default = Some(fault);
        self
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().seen.clone()
    }

    /// When each request arrived, in order (for retry and backoff checks).
    pub fn arrivals(&self) -> Vec<Instant> {
        self.state.lock().unwrap().arrivals.clone()
    }

    /// When each request of `target` (e.g. `secretsmanager.GetSecretValue`) arrived, in order.
    pub fn arrivals_of(&self, target: &str) -> Vec<Instant> {
        let state = self.state.lock().unwrap();
        state
            .seen
            .iter()
            .zip(&state.arrivals)
            .filter(|(request, _)| request.header("x-amz-target").as_deref() == Some(target))
            .map(|(_, arrival)| *arrival)
            .collect()
    }

    /// The bodies of the upstream's answers that were relayed, in order.
    pub fn answers(&self) -> Vec<Vec<u8>> {
        self.state.lock().unwrap().answers.clone()
    }

    /// The `X-Amz-Target` of every request seen, e.g. `secretsmanager.GetSecretValue`.
    pub fn targets(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| r.header("x-amz-target").unwrap_or_default())
            .collect()
    }
}

/// Answers one request as `fault` says; returns the upstream's answer body when one was relayed.
fn act(
    fault: Fault,
    request: Request,
    mut stream: TcpStream,
    upstream_port: u16,
) -> Option<Vec<u8>> {
    match fault {
        Fault::Forward => return forward(&request, &mut stream, upstream_port),
        Fault::Delay(delay) => {
            thread::sleep(delay.min(MAX_HANG));
            return forward(&request, &mut stream, upstream_port);
        }
        Fault::Error {
            status,
            code,
            message,
        } => {
            let body = serde_json::json!({ "__type": code, "message": message }).to_string();
            respond(
                &mut stream,
                status,
                &[
                    ("content-type", "application/x-amz-json-1.1"),
                    ("x-amzn-errortype", code),
                ],
                body.as_bytes(),
            );
        }
        Fault::Hang => thread::sleep(MAX_HANG),
        Fault::CloseMidResponse => {
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: 400\r\n\r\n{\"ARN\":\"arn:aws:secretsmanager:us-east-1:1",
            );
            let _ = stream.flush();
        }
        Fault::Reset => {
            let socket = socket2::SockRef::from(&stream);
            let _ = socket.set_linger(Some(Duration::ZERO));
        }
        Fault::Garbage => {
            respond(
                &mut stream,
                200,
                &[("content-type", "application/x-amz-json-1.1")],
                b"<html>this is not json</html>",
            );
        }
        Fault::Respond { status, body } => {
            respond(
                &mut stream,
                status,
                &[("content-type", "application/x-amz-json-1.1")],
                body.as_bytes(),
            );
        }
        Fault::Truncate => {
            let (head, body) = upstream_answer(&request, upstream_port)?;
            let _ = stream
                .write_all(format!("{head}content-length: {}\r\n\r\n", body.len()).as_bytes());
            let _ = stream.write_all(&body[..body.len() / 2]);
            let _ = stream.flush();
        }
        Fault::Huge { bytes, chunked } => huge(&mut stream, bytes, chunked),
        Fault::Drip => {
            let (head, body) = upstream_answer(&request, upstream_port)?;
            let _ = stream
                .write_all(format!("{head}content-length: {}\r\n\r\n", body.len()).as_bytes());
            let started = Instant::now();
            for byte in body {
                if stream.write_all(&[byte]).is_err() || started.elapsed() > MAX_HANG {
                    return None;
                }
                let _ = stream.flush();
                thread::sleep(Duration::from_millis(100));
            }
        }
        Fault::StallBody => {
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: 100\r\n\r\n",
            );
            let _ = stream.flush();
            thread::sleep(MAX_HANG);
        }
    }
    None
}

/// Writes a 200 answer of `bytes` bytes in 64 KiB pieces, until done or the client stops
/// reading (a closed connection ends it).
fn huge(stream: &mut TcpStream, bytes: usize, chunked: bool) {
    let framing = if chunked {
        "transfer-encoding: chunked".to_string()
    } else {
        format!("content-length: {bytes}")
    };
    let head =
        format!("HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\n{framing}\r\n\r\n");
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    let piece = vec![b'x'; 64 * 1024];
    let mut left = bytes;
    let mut first = true;
    while left > 0 {
        let n = left.min(piece.len());
        let mut data = piece[..n].to_vec();
        if first {
            let prefix = b"{\"SecretString\":\"";
            data[..prefix.len()].copy_from_slice(prefix);
            first = false;
        }
        let sent = if chunked {
            let mut framed = format!("{n:x}\r\n").into_bytes();
            framed.extend_from_slice(&data);
            framed.extend_from_slice(b"\r\n");
            stream.write_all(&framed)
        } else {
            stream.write_all(&data)
        };
        if sent.is_err() {
            return;
        }
        left -= n;
    }
    if chunked {
        let _ = stream.write_all(b"0\r\n\r\n");
    }
    let _ = stream.flush();
}

/// Relays one request to the upstream and its answer back, with `connection: close`; returns
/// the answer's body.
fn forward(request: &Request, stream: &mut TcpStream, upstream_port: u16) -> Option<Vec<u8>> {
    let (mut head, body) = upstream_answer(request, upstream_port)?;
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
    let _ = stream.flush();
    Some(body)
}

/// Sends one request to the upstream; returns the status line and headers of its answer
/// (without `connection` and `content-length`, and without the blank line) and its body.
fn upstream_answer(request: &Request, upstream_port: u16) -> Option<(String, Vec<u8>)> {
    let mut upstream = TcpStream::connect(("127.0.0.1", upstream_port)).ok()?;
    let _ = upstream.set_read_timeout(Some(MAX_HANG));
    let head: String = request
        .head
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    let _ = upstream.write_all(format!("{head}connection: close\r\n\r\n").as_bytes());
    let _ = upstream.write_all(&request.body);
    let mut reader = BufReader::new(upstream);
    let mut status_and_headers = Vec::new();
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse::<usize>().ok();
        }
        if !lower.starts_with("connection:") && !lower.starts_with("content-length:") {
            status_and_headers.push(line);
        }
    }
    let mut body = Vec::new();
    match length {
        Some(n) => {
            body.resize(n, 0);
            let _ = reader.read_exact(&mut body);
        }
        None => {
            let _ = reader.read_to_end(&mut body);
        }
    }
    Some((status_and_headers.concat(), body))
}

/// How the credentials endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CredentialsMode {
    /// Valid credentials, expiring in the future.
    Valid,
    /// Credentials whose expiration is in the past.
    Expired,
    /// An HTTP error status.
    Status(u16),
    /// Accept and never answer (for at most 30 s).
    Hang,
    /// Valid JSON whose AccessKeyId and Token are these (e.g. with a newline).
    Fields {
        access_key_id: &'static str,
        token: &'static str,
    },
}

/// An ECS container-credentials endpoint (`AWS_CONTAINER_CREDENTIALS_FULL_URI`) that checks the
/// authorization token, as the ECS agent does.
pub struct CredentialsEndpoint {
    pub port: u16,
    pub token: String,
    seen: Arc<Mutex<Vec<Request>>>,
}

impl CredentialsEndpoint {
    pub fn start(token: &str, mode: CredentialsMode) -> CredentialsEndpoint {
        Self::authorized(token, move |stream| {
            let json = [("content-type", "application/json")];
            let expiration = match mode {
                CredentialsMode::Expired => "2001-01-01T00:00:00Z",
                _ => "2099-01-01T00:00:00Z",
            };
            match mode {
                CredentialsMode::Status(status) => respond(stream, status, &json, b"{}"),
                CredentialsMode::Hang => thread::sleep(MAX_HANG),
                CredentialsMode::Fields {
                    access_key_id,
                    token,
                } => {
                    let body = serde_json::json!({
                        "AccessKeyId": access_key_id,
                        "SecretAccessKey": "container-secret",
                        "Token": token,
                        "Expiration": expiration,
                    });
                    respond(stream, 200, &json, body.to_string().as_bytes());
                }
                _ => {
                    let body = serde_json::json!({
                        "AccessKeyId": "ASIATESTCONTAINER",
                        "SecretAccessKey": "container-secret",
                        "Token": "container-session-token",
                        "Expiration": expiration,
                        "RoleArn": "arn:aws:iam::111122223333:role/shortcut-ecs-task-role",
                    });
                    respond(stream, 200, &json, body.to_string().as_bytes());
                }
            }
        })
    }

    /// The endpoint itself: it records every request, refuses (401) any whose Authorization
    /// header is not `token`, and lets `answer` answer the others.
    fn authorized(
        token: &str,
        answer: impl Fn(&mut TcpStream) + Send + Sync + 'static,
    ) -> CredentialsEndpoint {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&seen);
        let expected = token.to_string();
        serve(listener, move |request: Request, mut stream| {
            let authorized = request.header("authorization").as_deref() == Some(expected.as_str());
            shared.lock().unwrap().push(request);
            if authorized {
                answer(&mut stream);
            } else {
                let body = br#"{"code":"InvalidToken","message":"invalid authorization token"}"#;
                respond(
                    &mut stream,
                    401,
                    &[("content-type", "application/json")],
                    body,
                );
            }
        });
        CredentialsEndpoint {
            port,
            token: token.to_string(),
            seen,
        }
    }

    pub fn uri(&self) -> String {
        format!("http://127.0.0.1:{}/v2/credentials/task", self.port)
    }

    /// The EKS Pod Identity agent's path (its address is 169.254.170.23; here loopback).
    pub fn pod_identity_uri(&self) -> String {
        format!("http://127.0.0.1:{}/v1/credentials", self.port)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }
}

/// A TCP port with nothing listening on it (bound, then released).
pub fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl CredentialsEndpoint {
    /// A container-credentials endpoint that answers every authorized request with `status`
    /// and `body` as they are: for answers [`CredentialsMode`] cannot describe (not JSON,
    /// missing fields, control characters in a field, a wrong JSON type).
    pub fn answering(token: &str, status: u16, body: String) -> CredentialsEndpoint {
        Self::authorized(token, move |stream| {
            respond(
                stream,
                status,
                &[("content-type", "application/json")],
                body.as_bytes(),
            );
        })
    }
}
