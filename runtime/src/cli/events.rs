//! `bvisor events`: resource usage and OOM notifications, one JSON object per line, as
//! `runc events` prints them (`{"type":"stats","id":…,"data":{…}}`, `{"type":"oom","id":…}`).

use super::Global;
use crate::container::Status;
use std::io::Write;
use std::time::Duration;

#[derive(clap::Args, Debug)]
#[command(
    about = "Display container events: resource usage and OOM kills",
    long_about = "Print the container's resource usage from its cgroups as runc does: with \
--stats once, otherwise every --interval until the container stops, plus an \"oom\" event \
whenever the kernel OOM-kills one of its processes."
)]
pub struct EventsArgs {
    /// Container id
    pub id: String,
    /// Print the stats once and exit
    #[arg(long)]
    pub stats: bool,
    /// Time between stats (Go duration: 500ms, 5s, 1m)
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub interval: Duration,
}

pub fn run(g: &Global, a: &EventsArgs) -> anyhow::Result<i32> {
    let mut out = std::io::stdout().lock();
    let mut ooms = None;
    let mut started = false;
    loop {
        let (status, data, oom) = match crate::container::stats(&g.root, &a.id) {
            Ok(s) => s,
            // Deleted while we watched: the stream ends as it would at its stop.
            Err(_) if started && !g.root.join(&a.id).exists() => return Ok(0),
            Err(e) => return Err(e.into()),
        };
        started = true;
        if a.stats {
            let Some(data) = data else {
                anyhow::bail!("container {} has no cgroups of its own: no stats", a.id);
            };
            writeln!(out, "{}", event("stats", &a.id, Some(data)))?;
            return Ok(0);
        }
        if matches!(status, Status::Stopped) {
            return Ok(0);
        }
        if let (Some(before), Some(now)) = (ooms, oom) {
            if now > before {
                writeln!(out, "{}", event("oom", &a.id, None))?;
            }
        }
        ooms = oom.or(ooms);
        if let Some(data) = data {
            writeln!(out, "{}", event("stats", &a.id, Some(data)))?;
        }
        out.flush()?;
        std::thread::sleep(a.interval);
    }
}

fn event(kind: &str, id: &str, data: Option<serde_json::Value>) -> serde_json::Value {
    let mut e = serde_json::json!({"type": kind, "id": id});
    if let Some(d) = data {
        e["data"] = d;
    }
    e
}

/// A Go-style duration: a number with ns, us, ms, s, m or h (no compound forms).
fn parse_duration(s: &str) -> Result<Duration, String> {
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("{s:?}: needs a unit (ms, s, m, h)"))?;
    let (n, unit) = s.split_at(split);
    let n: f64 = n.parse().map_err(|_| format!("{s:?}: not a duration"))?;
    let secs = match unit {
        "ns" => n / 1e9,
        "us" | "µs" => n / 1e6,
        "ms" => n / 1e3,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("{s:?}: unknown unit {unit:?}")),
    };
    if secs <= 0.0 || !secs.is_finite() {
        return Err(format!("{s:?}: must be positive"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("3 parsecs").is_err());
    }
}
