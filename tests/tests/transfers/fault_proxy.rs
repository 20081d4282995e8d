//! A fault-injecting reverse proxy for docker-registry: answers a status instead of forwarding, cuts a request
//! body part-way (the registry keeps what arrived), or cuts an answer's body part-way.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does to one request.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Act {
    /// Answer this status (with `Retry-After` seconds) without forwarding.
    Answer(u16, Option<u64>),
    /// Forward the head and this many bytes of the body, then close both connections.
    CutRequest(usize),
    /// Forward the request, relay the answer's head and this many bytes of its body, then close.
    CutResponse(usize),
    /// Forward the request, wait for the answer, then close the client's connection without relaying it.
    LoseAnswer,
}

struct Rule {
    method: &'static str,
    path_contains: String,
    /// Matching requests to let through before acting.
    skip: usize,
    act: Act,
}

#[derive(Default)]
struct ProxyState {
    rules: Vec<Rule>,
    /// `METHOD path?query` of every request.
    seen: Vec<String>,
}

/// A reverse proxy in front of a registry: one upstream connection per request (`Connection: close`), the `Host`
/// header kept so the registry's `Location`s point back at the proxy, and faults applied per request.
pub(crate) struct FaultProxy {
    addr: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    pub(crate) async fn start(upstream: String) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(ProxyState::default()));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(proxy_connection(client, upstream.clone(), shared.clone()));
            }
        });
        FaultProxy { addr, state, task }
    }

    pub(crate) fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Act on the request with `method` whose target contains `path_contains`, after letting `skip` through.
    pub(crate) fn on(&self, method: &'static str, path_contains: &str, skip: usize, act: Act) {
        self.state.lock().unwrap().rules.push(Rule { method, path_contains: path_contains.to_string(), skip, act });
    }

    /// How many requests with `method` whose target contains `path_contains` arrived.
    pub(crate) fn seen(&self, method: &str, path_contains: &str) -> usize {
        let prefix = format!("{method} ");
        let state = self.state.lock().unwrap();
        state.seen.iter().filter(|s| s.starts_with(&prefix) && s.contains(path_contains)).count()
    }

    pub(crate) fn pending_rules(&self) -> usize {
        self.state.lock().unwrap().rules.len()
    }
}

/// The head of an HTTP message: its lines without the terminating blank line. `None` at a clean end of stream.
async fn read_head<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> std::io::Result<Option<Vec<String>>> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        if line.is_empty() {
            return Ok(Some(lines));
        }
        lines.push(line);
    }
}

fn header<'a>(head: &'a [String], name: &str) -> Option<&'a str> {
    head.iter().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

async fn proxy_connection(client: TcpStream, upstream: String, state: Arc<Mutex<ProxyState>>) -> std::io::Result<()> {
    let (r, mut w) = client.into_split();
    let mut r = BufReader::new(r);
    loop {
        let Some(head) = read_head(&mut r).await? else { return Ok(()) };
        let mut parts = head.first().map(|l| l.split(' ')).into_iter().flatten();
        let (method, target) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
        assert!(header(&head, "transfer-encoding").is_none(), "the proxy does not relay chunked bodies");
        let len: u64 = header(&head, "content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let act = {
            let mut s = state.lock().unwrap();
            s.seen.push(format!("{method} {target}"));
            let hit = s.rules.iter().position(|rule| rule.method == method && target.contains(&rule.path_contains));
            match hit {
                Some(i) if s.rules[i].skip > 0 => {
                    s.rules[i].skip -= 1;
                    None
                }
                Some(i) => Some(s.rules.remove(i).act),
                None => None,
            }
        };
        if let Some(Act::Answer(status, retry_after)) = act {
            tokio::io::copy(&mut (&mut r).take(len), &mut tokio::io::sink()).await?;
            let body =
                format!(r#"{{"errors":[{{"code":"UNAVAILABLE","message":"injected by the proxy ({status})"}}]}}"#);
            let retry = retry_after.map(|s| format!("Retry-After: {s}\r\n")).unwrap_or_default();
            let answer = format!(
                "HTTP/1.1 {status} Injected\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{retry}\r\n{body}",
                body.len()
            );
            w.write_all(answer.as_bytes()).await?;
            continue;
        }
        let mut up = TcpStream::connect(&upstream).await?;
        let mut out = String::new();
        for line in &head {
            let name = line.split_once(':').map(|(k, _)| k.trim().to_ascii_lowercase());
            if !matches!(name.as_deref(), Some("connection" | "keep-alive")) {
                out.push_str(line);
                out.push_str("\r\n");
            }
        }
        out.push_str("Connection: close\r\n\r\n");
        up.write_all(out.as_bytes()).await?;
        if let Some(Act::CutRequest(n)) = act {
            tokio::io::copy(&mut (&mut r).take((n as u64).min(len)), &mut up).await?;
            up.flush().await?;
            // The registry sees the body end early; give it time to keep what arrived before the client learns of
            // the failure (and asks where the upload is).
            drop(up);
            tokio::time::sleep(Duration::from_millis(200)).await;
            return Ok(());
        }
        tokio::io::copy(&mut (&mut r).take(len), &mut up).await?;
        let mut ur = BufReader::new(up);
        if let Some(Act::LoseAnswer) = act {
            read_head(&mut ur).await?;
            return Ok(());
        }
        if let Some(Act::CutResponse(n)) = act {
            let head = read_head(&mut ur).await?.unwrap_or_default();
            let mut text = head.join("\r\n");
            text.push_str("\r\n\r\n");
            w.write_all(text.as_bytes()).await?;
            tokio::io::copy(&mut (&mut ur).take(n as u64), &mut w).await?;
            w.flush().await?;
            tokio::time::sleep(Duration::from_millis(50)).await;
            return Ok(());
        }
        // The answer says `Connection: close`: relay it to the end, then close.
        tokio::io::copy(&mut ur, &mut w).await?;
        return Ok(());
    }
}
