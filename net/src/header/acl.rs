//! Headers of the ACL 1.0 admin codes (docs/acl.md), with the field names of RocketMQ
//! 4.9's `CreateAccessConfigRequestHeader`, `DeleteAccessConfigRequestHeader`,
//! `UpdateGlobalWhiteAddrsConfigRequestHeader` and `GetBrokerAclConfigResponseHeader`.

use super::macros::command_header;

command_header! {
    /// UPDATE_AND_CREATE_ACL_CONFIG (50). The permission lists travel comma-joined
    /// (`topicA=DENY,topicB=SUB`); Java's mqadmin always sends `admin`.
    pub struct CreateAccessConfigRequestHeader {
        access_key: String = "accessKey",                       // @CFNotNull
        secret_key: Option<String> = "secretKey",
        white_remote_address: Option<String> = "whiteRemoteAddress",
        admin: Option<bool> = "admin",
        default_topic_perm: Option<String> = "defaultTopicPerm",
        default_group_perm: Option<String> = "defaultGroupPerm",
        topic_perms: Option<String> = "topicPerms",
        group_perms: Option<String> = "groupPerms",
    }
}

command_header! {
    /// DELETE_ACL_CONFIG (51).
    pub struct DeleteAccessConfigRequestHeader {
        access_key: String = "accessKey",                       // @CFNotNull
    }
}

command_header! {
    /// UPDATE_GLOBAL_WHITE_ADDRS_CONFIG (53). Java marks `aclFileFullPath` @CFNotNull,
    /// but its own mqadmin leaves it out unless `-p` is given; absent means the default
    /// file here.
    pub struct UpdateGlobalWhiteAddrsConfigRequestHeader {
        global_white_addrs: String = "globalWhiteAddrs",         // @CFNotNull
        acl_file_full_path: Option<String> = "aclFileFullPath",
    }
}

command_header! {
    /// GET_BROKER_CLUSTER_ACL_INFO (52) response. `version` is the default ACL file's
    /// DataVersion JSON, `allAclFileVersion` a JSON object of file path -> DataVersion.
    pub struct GetBrokerAclConfigResponseHeader {
        version: String = "version",                            // @CFNotNull
        all_acl_file_version: Option<String> = "allAclFileVersion",
        broker_name: String = "brokerName",                     // @CFNotNull
        broker_addr: String = "brokerAddr",                     // @CFNotNull
        cluster_name: String = "clusterName",                   // @CFNotNull
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::CommandHeader;

    #[test]
    fn create_header_round_trips_with_java_names() {
        let header = CreateAccessConfigRequestHeader {
            access_key: "RocketMQ01".into(),
            secret_key: Some("12345678".into()),
            admin: Some(false),
            topic_perms: Some("topicA=DENY,topicB=SUB".into()),
            ..Default::default()
        };
        let fields = header.to_ext_fields();
        assert_eq!(fields.get("accessKey"), Some("RocketMQ01"));
        assert_eq!(fields.get("admin"), Some("false"));
        assert!(fields.get("groupPerms").is_none());
        assert_eq!(
            CreateAccessConfigRequestHeader::decode(&fields).unwrap(),
            header
        );
    }

    #[test]
    fn missing_mandatory_fields_are_named() {
        let fields = crate::remoting::ExtFields::new();
        let error = DeleteAccessConfigRequestHeader::decode(&fields).unwrap_err();
        assert_eq!(error.to_string(), "the custom field <accessKey> is null");
        let error = UpdateGlobalWhiteAddrsConfigRequestHeader::decode(&fields).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the custom field <globalWhiteAddrs> is null"
        );
    }
}
