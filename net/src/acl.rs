//! RocketMQ ACL 1.0 request signing, shared by the broker (which verifies) and our clients
//! (which sign, as Java's `AclClientRPCHook` does).
//!
//! The signed content is the values of every extFields entry except `Signature`, in the
//! order of their names (Java's `TreeMap<String, String>`, i.e. UTF-16 code unit order,
//! which equals byte order for the ASCII names RocketMQ uses), concatenated as UTF-8,
//! followed by the body bytes. The signature is Base64(HMAC-SHA1(secretKey, content)).

use std::collections::BTreeMap;

use base64::Engine;
use hmac::{KeyInit, Mac};

use crate::remoting::{ExtFields, RemotingCommand};

/// extFields names of `SessionCredentials`.
pub const ACCESS_KEY: &str = "AccessKey";
pub const SIGNATURE: &str = "Signature";
pub const SECURITY_TOKEN: &str = "SecurityToken";
/// QUERY_MESSAGE's `_UNIQUE_KEY_QUERY` flag: Java's broker leaves it out of the signed
/// content although its client signs it, so the broker accepts either form.
pub const UNIQUE_MSG_QUERY_FLAG: &str = "_UNIQUE_KEY_QUERY";

type HmacSha1 = hmac::Hmac<sha1::Sha1>;

/// The bytes `AclUtils.combineRequestContent` builds: values sorted by name, `Signature`
/// and the names in `skip` left out, then the body.
pub fn signing_content(fields: Option<&ExtFields>, body: &[u8], skip: &[&str]) -> Vec<u8> {
    let mut sorted = BTreeMap::new();
    if let Some(fields) = fields {
        for (name, value) in fields.iter() {
            if name != SIGNATURE && !skip.contains(&name) {
                // A repeated name keeps its last value, as a map built from the header does.
                sorted.insert(name, value);
            }
        }
    }
    let mut content =
        Vec::with_capacity(sorted.values().map(|v| v.len()).sum::<usize>() + body.len());
    for value in sorted.values() {
        content.extend_from_slice(value.as_bytes());
    }
    content.extend_from_slice(body);
    content
}

fn mac(secret_key: &str, content: &[u8]) -> HmacSha1 {
    // HMAC takes keys of any length; new_from_slice cannot fail for it.
    let mut mac = <HmacSha1 as KeyInit>::new_from_slice(secret_key.as_bytes())
        .expect("HMAC accepts a key of any length");
    mac.update(content);
    mac
}

/// `AclSigner.calSignature`: Base64(HMAC-SHA1(secret_key, content)).
pub fn signature(secret_key: &str, content: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(mac(secret_key, content).finalize().into_bytes())
}

/// Whether `claimed` is the signature of `content` under `secret_key`. The comparison of
/// the MAC is constant-time (hmac's `verify_slice`), so a wrong guess learns nothing from
/// how long the answer took.
pub fn verify(secret_key: &str, content: &[u8], claimed: &str) -> bool {
    let Ok(claimed) = base64::engine::general_purpose::STANDARD.decode(claimed.trim()) else {
        return false;
    };
    mac(secret_key, content).verify_slice(&claimed).is_ok()
}

/// An access key and its secret, as a client holds them.
#[derive(Clone)]
pub struct SessionCredentials {
    pub access_key: String,
    pub secret_key: String,
    pub security_token: Option<String>,
}

impl std::fmt::Debug for SessionCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("SessionCredentials")
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

impl SessionCredentials {
    pub fn new(access_key: &str, secret_key: &str) -> SessionCredentials {
        SessionCredentials {
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
            security_token: None,
        }
    }

    /// What `AclClientRPCHook.doBeforeRequest` does: add AccessKey (and SecurityToken),
    /// then the Signature of everything.
    pub fn sign(&self, request: &mut RemotingCommand) {
        let fields = request.ext_fields_mut();
        fields.remove(SIGNATURE);
        fields.insert(ACCESS_KEY, self.access_key.clone());
        if let Some(token) = &self.security_token {
            fields.insert(SECURITY_TOKEN, token.clone());
        }
        let content = signing_content(request.ext_fields.as_ref(), &request.body, &[]);
        let signature = signature(&self.secret_key, &content);
        request.ext_fields_mut().insert(SIGNATURE, signature);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Golden values computed independently with Python:
    //   base64(hmac.new(b'12345678', b'RocketMQ'+b'group'+b'TopicA'+b'hello', sha1).digest())
    const GOLDEN: &str = "vzb11ea6GY1+lwBpi/gKeK4ATSY=";

    fn send_v2() -> RemotingCommand {
        let mut fields = ExtFields::new();
        fields.insert("b", "TopicA");
        fields.insert("a", "group");
        RemotingCommand::request(310)
            .with_ext_fields(fields)
            .with_body(b"hello".to_vec())
    }

    #[test]
    fn signature_matches_an_independent_hmac() {
        assert_eq!(
            signature("12345678", b"RocketMQ"),
            "IUc8rrO/0gDch8CjObLQsW2rsiA="
        );
        let mut request = send_v2();
        SessionCredentials::new("RocketMQ", "12345678").sign(&mut request);
        // "AccessKey" sorts before "a" and "b": uppercase first, as Java's TreeMap does.
        assert_eq!(request.ext_field(SIGNATURE), Some(GOLDEN));
        let content = signing_content(request.ext_fields.as_ref(), &request.body, &[]);
        assert_eq!(content, b"RocketMQgroupTopicAhello");
        assert!(verify("12345678", &content, GOLDEN));
    }

    #[test]
    fn verify_rejects_tampering_and_garbage() {
        let mut request = send_v2();
        SessionCredentials::new("RocketMQ", "12345678").sign(&mut request);
        let mut tampered = request.clone();
        tampered.body = bytes::Bytes::from_static(b"hellO");
        let content = signing_content(tampered.ext_fields.as_ref(), &tampered.body, &[]);
        assert!(!verify("12345678", &content, GOLDEN));
        let content = signing_content(request.ext_fields.as_ref(), &request.body, &[]);
        assert!(!verify("87654321", &content, GOLDEN));
        assert!(!verify("12345678", &content, "not base64 !!"));
        assert!(!verify("12345678", &content, ""));
    }

    #[test]
    fn signing_twice_replaces_the_signature() {
        let mut request = send_v2();
        let credentials = SessionCredentials::new("RocketMQ", "12345678");
        credentials.sign(&mut request);
        credentials.sign(&mut request);
        assert_eq!(request.ext_field(SIGNATURE), Some(GOLDEN));
    }
}
