//! `ApiError`: an API failure as `{"code": <RocketMQ response code>, "remark": "..."}` with
//! the HTTP status that fits the code.

use ramjet_net::code::response;
use ramjet_tools::error::AdminError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: i32,
    pub remark: String,
}

impl ApiError {
    /// An error with the HTTP status that `code` calls for.
    pub fn new(code: i32, remark: impl Into<String>) -> ApiError {
        ApiError {
            status: http_status(code),
            code,
            remark: remark.into(),
        }
    }

    /// Bad input from the HTTP caller: a missing or malformed parameter.
    pub fn invalid(remark: impl Into<String>) -> ApiError {
        ApiError::new(response::INVALID_PARAMETER, remark)
    }

    pub fn not_found(remark: impl Into<String>) -> ApiError {
        ApiError {
            status: 404,
            code: response::QUERY_NOT_FOUND,
            remark: remark.into(),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::json!({"code": self.code, "remark": self.remark}).to_string()
    }
}

/// The HTTP status for a RocketMQ response code.
pub fn http_status(code: i32) -> u16 {
    match code {
        response::SUCCESS => 200,
        response::TOPIC_NOT_EXIST
        | response::QUERY_NOT_FOUND
        | response::SUBSCRIPTION_GROUP_NOT_EXIST
        | response::SUBSCRIPTION_NOT_EXIST
        | response::CONSUMER_NOT_ONLINE => 404,
        response::NO_PERMISSION => 403,
        response::TOPIC_EXIST_ALREADY => 409,
        response::INVALID_PARAMETER
        | response::MESSAGE_ILLEGAL
        | response::SUBSCRIPTION_PARSE_FAILED => 400,
        response::REQUEST_CODE_NOT_SUPPORTED => 501,
        response::SYSTEM_BUSY | response::SERVICE_NOT_AVAILABLE => 503,
        // The broker asked a client, which did not answer in time.
        response::CONSUME_MSG_TIMEOUT => 504,
        _ => 500,
    }
}

impl From<AdminError> for ApiError {
    fn from(error: AdminError) -> ApiError {
        let remark = error.to_string();
        match error {
            AdminError::Refused { code, .. } => ApiError::new(code, remark),
            AdminError::TopicNotExist(_) => ApiError::new(response::TOPIC_NOT_EXIST, remark),
            AdminError::ConsumerNotOnline(_) => {
                ApiError::new(response::CONSUMER_NOT_ONLINE, remark)
            }
            AdminError::NotFound(_)
            | AdminError::ClusterNotFound(_)
            | AdminError::BrokerNotFound(_) => ApiError::not_found(remark),
            AdminError::Usage(_) => ApiError::invalid(remark),
            // The broker or a name server could not be asked: a gateway failure.
            AdminError::NoNameServer
            | AdminError::NameServerUnreachable { .. }
            | AdminError::BrokerUnreachable { .. }
            | AdminError::BadAnswer { .. } => ApiError {
                status: 502,
                code: response::SYSTEM_ERROR,
                remark,
            },
            AdminError::Failed(_) | AdminError::Io { .. } => {
                ApiError::new(response::SYSTEM_ERROR, remark)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_keep_the_broker_code_and_get_a_matching_status() {
        let error: ApiError = AdminError::Refused {
            what: "UPDATE_AND_CREATE_TOPIC",
            addr: "127.0.0.1:1".into(),
            code: response::NO_PERMISSION,
            remark: "denied".into(),
        }
        .into();
        assert_eq!((error.status, error.code), (403, response::NO_PERMISSION));
        assert!(error.remark.contains("denied"));
        let missing: ApiError = AdminError::TopicNotExist("T".into()).into();
        assert_eq!(
            (missing.status, missing.code),
            (404, response::TOPIC_NOT_EXIST)
        );
        let json: serde_json::Value = serde_json::from_str(&missing.to_json()).unwrap();
        assert_eq!(json["code"], response::TOPIC_NOT_EXIST);
    }
}
