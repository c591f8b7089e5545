//! Secrets from SSM Parameter Store (SecureString, free): read once per cold start, and by
//! `backroom setup secrets`.

use std::collections::HashMap;

use aws_sdk_ssm::error::SdkError;
use aws_sdk_ssm::operation::get_parameters::GetParametersError;
use aws_sdk_ssm::types::Parameter;

/// GetParameters takes at most ten names per call.
const NAMES_PER_CALL: usize = 10;

/// The named parameters as SSM has them, decrypted.
#[derive(Debug, Default)]
pub struct Parameters {
    /// Those that exist, in the order SSM answered.
    pub found: Vec<Parameter>,
    /// The names that do not exist, in the order asked.
    pub missing: Vec<String>,
}

/// A call that failed, with the names it asked for.
#[derive(Debug)]
pub struct ReadError {
    pub names: Vec<String>,
    pub error: SdkError<GetParametersError>,
}

/// Reads the named parameters, decrypted, ten names a call. A name that does not exist is not
/// an error here: it is in `missing`.
pub async fn read_parameters(client: &aws_sdk_ssm::Client, names: &[String]) -> Result<Parameters, ReadError> {
    let mut out = Parameters::default();
    for chunk in names.chunks(NAMES_PER_CALL) {
        let answer = client
            .get_parameters()
            .set_names(Some(chunk.to_vec()))
            .with_decryption(true)
            .send()
            .await
            .map_err(|error| ReadError {
                names: chunk.to_vec(),
                error,
            })?;
        out.missing.extend(answer.invalid_parameters.unwrap_or_default());
        out.found.extend(answer.parameters.unwrap_or_default());
    }
    Ok(out)
}

/// Reads the named parameters, decrypted. An unknown name is an error that names it.
pub async fn get_parameters(names: &[String]) -> Result<HashMap<String, String>, String> {
    if names.is_empty() {
        return Ok(HashMap::new());
    }
    let sdk = crate::sdk_config().await;
    let client = aws_sdk_ssm::Client::new(&sdk);
    let read = read_parameters(&client, names).await.map_err(|e| {
        format!(
            "could not read the secrets from SSM: {}",
            aws_sdk_ssm::error::DisplayErrorContext(e.error)
        )
    })?;
    if let Some(missing) = read.missing.first() {
        return Err(format!("the SSM parameter {missing} does not exist"));
    }
    Ok(read
        .found
        .into_iter()
        .filter_map(|p| Some((p.name?, p.value?)))
        .collect())
}
