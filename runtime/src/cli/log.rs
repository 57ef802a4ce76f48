//! runc-compatible logging: `--log FILE`, `--log-format text|json`, `--debug`.
//!
//! JSON lines are `{"level":"error","msg":"…","time":"…"}` (containerd's runc shim reads the last
//! error from them); text lines are logrus-style `time="…" level=error msg="…"`. Errors always
//! reach stderr too, so a person sees them.

use super::Global;
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

struct Config {
    file: Option<PathBuf>,
    json: bool,
    debug: bool,
}

static CONFIG: OnceLock<Config> = OnceLock::new();

/// When `main` began: `--debug` logs each phase of a command with the time since then, which is
/// how the start path is profiled without a tracer's overhead (see integration/bench.sh).
static START: OnceLock<std::time::Instant> = OnceLock::new();

pub fn mark_start() {
    let _ = START.set(std::time::Instant::now());
}

/// `--debug` only: "phase NAME: +N us" since `main` began.
pub fn phase(name: &str) {
    if CONFIG.get().is_some_and(|c| c.debug) {
        let us = START.get().map_or(0, |t| t.elapsed().as_micros());
        emit("debug", &format!("phase {name}: +{us} us"));
    }
}

pub fn init(g: &Global) {
    let _ = CONFIG.set(Config {
        file: g.log.clone(),
        json: g.log_format == "json",
        debug: g.debug,
    });
}

fn format_line(json: bool, level: &str, msg: &str) -> String {
    let time = crate::container::state::now_rfc3339();
    if json {
        serde_json::json!({"level": level, "msg": msg, "time": time}).to_string()
    } else {
        format!("time={time:?} level={level} msg={msg:?}")
    }
}

fn emit(level: &str, msg: &str) {
    let Some(c) = CONFIG.get() else {
        eprintln!("{level}: {msg}");
        return;
    };
    let line = format_line(c.json, level, msg);
    match &c.file {
        Some(f) => {
            let written = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(f)
                .and_then(|mut f| writeln!(f, "{line}"));
            if level == "error" || written.is_err() {
                eprintln!("bvisor: {msg}");
            }
        }
        None => eprintln!("{line}"),
    }
}

pub fn error(msg: &str) {
    emit("error", msg);
}

pub fn warn(msg: &str) {
    emit("warning", msg);
}

pub fn debug(msg: &str) {
    if CONFIG.get().is_some_and(|c| c.debug) {
        emit("debug", msg);
    }
}

#[cfg(test)]
mod tests {
    use super::format_line;

    #[test]
    fn json_lines_are_runc_shaped() {
        let l = format_line(true, "error", "container \"x\" does not exist");
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "container \"x\" does not exist");
        assert!(v["time"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn text_lines_quote_the_message() {
        let l = format_line(false, "warning", "a \"b\"");
        assert!(l.contains("level=warning msg=\"a \\\"b\\\"\""), "{l}");
    }
}
