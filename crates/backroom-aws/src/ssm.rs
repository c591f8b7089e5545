//! Secrets from SSM Parameter Store (SecureString, free): read once per cold start.

use std::collections::HashMap;

/// Reads the named parameters, decrypted. An unknown name is an error that names it.
pub async fn get_parameters(names: &[String]) -> Result<HashMap<String, String>, String> {
    if names.is_empty() {
        return Ok(HashMap::new());
    }
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_ssm::Client::new(&sdk);
    let mut out = HashMap::new();
    // GetParameters takes at most ten names per call.
    for chunk in names.chunks(10) {
        let answer = client
            .get_parameters()
            .set_names(Some(chunk.to_vec()))
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "could not read the secrets from SSM: {}",
                    aws_sdk_ssm::error::DisplayErrorContext(e)
                )
            })?;
        if let Some(missing) = answer.invalid_parameters.as_ref().and_then(|m| m.first()) {
            return Err(format!("the SSM parameter {missing} does not exist"));
        }
        for p in answer.parameters.unwrap_or_default() {
            if let (Some(name), Some(value)) = (p.name, p.value) {
                out.insert(name, value);
            }
        }
    }
    Ok(out)
}
