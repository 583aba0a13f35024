//! How codex finds its credentials, and the one gap between its two front
//! ends: `codex exec` reads an API key from `CODEX_API_KEY`, `codex
//! app-server` does not (measured, codex 0.171: exec sends `Authorization:
//! Bearer $CODEX_API_KEY`, app-server sends none). A daemon given
//! `CODEX_API_KEY` (README: the way to run codex without `codex login`)
//! would lose it with the move of every task to the app-server, so its
//! command line gets a model provider of codex's own config kind that reads
//! the key from that variable, as exec's built-in one does. Nothing is
//! written anywhere (`codex login --with-api-key` would store the key and
//! replace a ChatGPT login).

use std::path::{Path, PathBuf};

/// The variable `codex exec` reads an API key from.
pub const API_KEY_VAR: &str = "CODEX_API_KEY";

/// The name of the provider codexd adds (codex's config takes it as a bare key).
const PROVIDER: &str = "codex_async_api_key";

/// OpenAI's API, where the built-in provider goes unless config.toml's
/// `openai_base_url` says otherwise.
const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

/// The model provider codex is set to use, and where that is set: `-c
/// model_provider=…` in `extra_args`, else `model_provider` in
/// `codex_home`'s config.toml (or its active profile's). None: codex's
/// default, OpenAI's built-in provider.
pub fn provider_setting(
    codex_home: Option<&Path>,
    extra_args: &[String],
) -> Option<(String, String)> {
    let from_args = extra_args.iter().find_map(|arg| {
        let value = arg.strip_prefix("model_provider=")?;
        Some(value.trim_matches('"').to_string())
    });
    if let Some(name) = from_args {
        return Some((name, "extra_codex_args".to_string()));
    }
    let (file, table) = config(codex_home?)?;
    let profile = table
        .get("profile")
        .and_then(|p| p.as_str())
        .and_then(|p| table.get("profiles")?.get(p)?.get("model_provider"));
    let name = profile.or_else(|| table.get("model_provider"))?.as_str()?;
    Some((name.to_string(), file.display().to_string()))
}

/// codex's home as codexd's environment gives it: `$CODEX_HOME`, else
/// `~/.codex`.
pub fn codex_home_of(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
    let set = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    set("CODEX_HOME").or_else(|| set("HOME").map(|home| home.join(".codex")))
}

/// The `-c` overrides for `codex app-server` that make it read
/// `CODEX_API_KEY` as `codex exec` does: none unless the key is set and
/// codex would use OpenAI's built-in provider (a provider of the user's own
/// has its own credentials).
pub fn app_server_overrides(
    key_set: bool,
    codex_home: Option<&Path>,
    extra_args: &[String],
) -> Vec<String> {
    let custom = provider_setting(codex_home, extra_args).is_some_and(|(name, _)| name != "openai");
    if !key_set || custom {
        return Vec::new();
    }
    let base_url = codex_home
        .and_then(config)
        .and_then(|(_, table)| table.get("openai_base_url")?.as_str().map(str::to_string))
        .unwrap_or_else(|| OPENAI_BASE_URL.to_string());
    let table = toml::Value::Table(toml::Table::from_iter([
        ("name".to_string(), toml::Value::from("OpenAI")),
        ("base_url".to_string(), toml::Value::from(base_url)),
        ("env_key".to_string(), toml::Value::from(API_KEY_VAR)),
        ("wire_api".to_string(), toml::Value::from("responses")),
    ]));
    vec![
        "-c".into(),
        // An inline table: codex parses a `-c` value as TOML.
        format!("model_providers.{PROVIDER}={table}"),
        "-c".into(),
        format!("model_provider=\"{PROVIDER}\""),
    ]
}

/// [`app_server_overrides`] for codexd's own environment (which its codex
/// inherits).
pub fn app_server_overrides_here(extra_args: &[String]) -> Vec<String> {
    let key_set = std::env::var_os(API_KEY_VAR).is_some_and(|v| !v.is_empty());
    let home = codex_home_of(|name| std::env::var_os(name));
    app_server_overrides(key_set, home.as_deref(), extra_args)
}

/// codex's config.toml in `codex_home`, parsed; None if absent or not TOML.
fn config(codex_home: &Path) -> Option<(PathBuf, toml::Table)> {
    let file = codex_home.join("config.toml");
    let table = std::fs::read_to_string(&file).ok()?.parse().ok()?;
    Some((file, table))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_becomes_a_provider_only_for_openais_own() {
        let home = tempfile::tempdir().expect("tempdir");
        assert!(app_server_overrides(false, Some(home.path()), &[]).is_empty());
        let args = app_server_overrides(true, Some(home.path()), &[]);
        assert_eq!(args.len(), 4);
        assert_eq!(args[3], "model_provider=\"codex_async_api_key\"");
        let value = args[1]
            .strip_prefix("model_providers.codex_async_api_key=")
            .expect("the provider");
        let table: toml::Table = format!("v = {value}").parse().expect("TOML");
        assert_eq!(table["v"]["env_key"].as_str(), Some("CODEX_API_KEY"));
        assert_eq!(
            table["v"]["base_url"].as_str(),
            Some("https://api.openai.com/v1")
        );

        std::fs::write(
            home.path().join("config.toml"),
            "openai_base_url = \"http://127.0.0.1:9/v1\"\n",
        )
        .expect("config");
        let args = app_server_overrides(true, Some(home.path()), &[]);
        assert!(args[1].contains("http://127.0.0.1:9/v1"), "{args:?}");

        // A provider of the user's own: its credentials are its own.
        std::fs::write(
            home.path().join("config.toml"),
            "model_provider = \"fake\"\n",
        )
        .expect("config");
        assert!(app_server_overrides(true, Some(home.path()), &[]).is_empty());
        assert_eq!(
            provider_setting(Some(home.path()), &[]).map(|(name, _)| name),
            Some("fake".to_string())
        );
        let from_args = ["-c".to_string(), "model_provider=\"ollama\"".to_string()];
        assert!(app_server_overrides(true, None, &from_args).is_empty());
    }
}
