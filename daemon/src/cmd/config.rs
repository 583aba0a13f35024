//! `codexd config`: the effective settings and where each value came from.

use std::process::ExitCode;

use codex_async_proto::paths::Paths;

use crate::config::Config;

pub fn run(json: bool) -> anyhow::Result<ExitCode> {
    let paths = Paths::from_env()?;
    let file = paths.home.join("config.toml");
    let config = Config::load(&paths.home)?;
    let rows = config.rows();
    if json {
        let settings: serde_json::Map<String, serde_json::Value> = rows
            .iter()
            .map(|(key, value, source)| {
                (
                    key.to_string(),
                    serde_json::json!({"value": value, "source": source}),
                )
            })
            .collect();
        let out = serde_json::json!({"file": file.display().to_string(), "settings": settings});
        println!("{out}");
    } else {
        let present = if file.exists() { "" } else { " (not present)" };
        println!("config file: {}{present}", file.display());
        let width = rows.iter().map(|(k, _, _)| k.len()).max().unwrap_or(0);
        for (key, value, source) in rows {
            println!("{key:<width$}  {value}  [{source}]");
        }
        println!("(a running daemon uses the settings it read when it started; restart it after a change)");
    }
    Ok(ExitCode::SUCCESS)
}
