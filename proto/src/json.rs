//! The JSON of a job for programs: `codexd show --json` and `codex_result`
//! with `format: "json"`. It is the API's own messages serialized (serde is
//! derived on the generated types in build.rs), so every field of the job's
//! record and summary is in it by construction; only the status is written
//! by name and `final_json` as the JSON it holds.

use serde::Serializer;
use serde_json::{json, Value};

use crate::v1::{GetResponse, JobStatus};

/// A job's status by its lowercase name (`input_required`), as everywhere
/// else people and programs read it.
pub(crate) fn status<S: Serializer>(status: &i32, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&status_name(*status))
}

/// `queued`, `running`, `input_required`, `done`, `error`, `cancelled`; an
/// unknown number as itself.
pub fn status_name(status: i32) -> String {
    match JobStatus::try_from(status) {
        Ok(known) => known
            .as_str_name()
            .trim_start_matches("JOB_STATUS_")
            .to_ascii_lowercase(),
        Err(_) => status.to_string(),
    }
}

/// JSON text carried in a string field, as the JSON value it is (null when
/// absent or, which codexd never sends, not JSON).
pub(crate) fn embedded<S: Serializer>(
    text: &Option<String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let value = text
        .as_deref()
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
        .unwrap_or(Value::Null);
    serde::Serialize::serialize(&value, serializer)
}

/// Everything known about one job: `{"job": …, "summary": …, "output_bytes": n}`.
pub fn job_document(response: &GetResponse) -> Value {
    json!({
        "job": response.job,
        "summary": response.summary,
        "output_bytes": response.output_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::{Job, JobSummary};

    #[test]
    fn status_is_a_name_and_final_json_is_json() {
        let doc = job_document(&GetResponse {
            job: Some(Job {
                status: JobStatus::InputRequired as i32,
                ..Default::default()
            }),
            summary: Some(JobSummary {
                final_json: Some(r#"{"answer":42}"#.into()),
                ..Default::default()
            }),
            ..Default::default()
        });
        assert_eq!(doc["job"]["status"], "input_required");
        assert_eq!(doc["summary"]["final_json"]["answer"], 42);
    }

    /// Every field the API has for a job and its summary is in the JSON
    /// programs read: a field added to the proto cannot be forgotten here.
    #[test]
    fn every_field_of_the_job_and_its_summary_is_in_the_document() {
        use prost::Message;
        let set = prost_types::FileDescriptorSet::decode(crate::FILE_DESCRIPTOR_SET)
            .expect("the descriptor set decodes");
        let doc = job_document(&GetResponse {
            job: Some(Job::default()),
            summary: Some(JobSummary::default()),
            ..Default::default()
        });
        let mut checked = 0;
        for message in set.file.iter().flat_map(|f| &f.message_type) {
            let key = match message.name() {
                "Job" => "job",
                "JobSummary" => "summary",
                _ => continue,
            };
            for field in &message.field {
                assert!(
                    doc[key].get(field.name()).is_some(),
                    "{key}.{} is missing from {doc}",
                    field.name()
                );
                checked += 1;
            }
        }
        assert!(checked > 30, "only {checked} fields found");
    }
}
