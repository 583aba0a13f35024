//! Generates the gRPC code with protox (pure Rust), so building needs no system `protoc`.

use std::{env, fs, path::PathBuf};

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/codexasync/v1/codexasync.proto";
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile([proto], ["proto"])?;
    // compile_fds does not write the descriptor set; reflection needs it.
    let out = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out.join("codexasync_descriptor.bin"), fds.encode_to_vec())?;
    // A job's record and summary serialize as the JSON programs read
    // (`codexd show --json`, codex_result with format "json"): every field by
    // construction, the status by name and final_json parsed.
    let mut builder = tonic_prost_build::configure()
        .build_client(true)
        .build_server(true);
    for message in [
        "Job",
        "JobSummary",
        "Question",
        "Prompt",
        "PromptOption",
        "Approval",
        "FileChange",
        "CommandRun",
        "Usage",
    ] {
        builder = builder.type_attribute(
            format!(".codexasync.v1.{message}"),
            "#[derive(serde::Serialize)]",
        );
    }
    builder
        .field_attribute(
            ".codexasync.v1.Job.status",
            "#[serde(serialize_with = \"crate::json::status\")]",
        )
        .field_attribute(
            ".codexasync.v1.JobSummary.final_json",
            "#[serde(serialize_with = \"crate::json::embedded\")]",
        )
        .compile_fds(fds)?;
    Ok(())
}
