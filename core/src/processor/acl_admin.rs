//! The ACL 1.0 admin codes (`AdminBrokerProcessor`'s handlers, docs/acl.md):
//! UPDATE_AND_CREATE_ACL_CONFIG (50), DELETE_ACL_CONFIG (51), GET_BROKER_CLUSTER_ACL_INFO
//! (52), UPDATE_GLOBAL_WHITE_ADDRS_CONFIG (53) and GET_BROKER_CLUSTER_ACL_CONFIG (54).
//!
//! Edits run on glommio's blocking pool (`AclState::edit` reads, writes and fsyncs
//! plain_acl.yml) and are in force on every shard before the answer. Only admin accounts
//! get here: the ACL check in `BrokerHandler::handle` lists these codes as admin codes.

use std::rc::Rc;
use std::sync::Arc;

use ramjet_net::body::WireBody;
use ramjet_net::code::request;
use ramjet_net::header::{
    CommandHeader, CreateAccessConfigRequestHeader, DeleteAccessConfigRequestHeader,
    GetBrokerAclConfigResponseHeader, UpdateGlobalWhiteAddrsConfigRequestHeader,
};
use ramjet_net::RemotingCommand;

use crate::acl::{check_global_white, split_list, AccessConfig, AclState, Edit, PlainAcl};
use crate::error::{BrokerError, BrokerResult};
use crate::response_code::success;
use crate::shard::BrokerShard;

/// Java's broker has no validator without aclEnable and fails these codes with its
/// error code and an empty remark; the remark here says why.
const ACL_OFF: &str = "ACL is not enabled on this broker (aclEnable=false)";

/// Runs an ACL admin code; `None` when `request.code` is not one.
pub async fn process(
    shard: &Rc<BrokerShard>,
    acl: Option<&Arc<AclState>>,
    request: &RemotingCommand,
) -> Option<BrokerResult<RemotingCommand>> {
    Some(match request.code {
        request::UPDATE_AND_CREATE_ACL_CONFIG => update(acl, request).await,
        request::DELETE_ACL_CONFIG => delete(acl, request).await,
        request::GET_BROKER_CLUSTER_ACL_INFO => version(shard, acl, request),
        request::UPDATE_GLOBAL_WHITE_ADDRS_CONFIG => global_white(acl, request).await,
        request::GET_BROKER_CLUSTER_ACL_CONFIG => all_config(acl, request).await,
        _ => return None,
    })
}

/// `AclState::edit` off the reactor.
async fn edit(acl: &Arc<AclState>, edit: Edit) -> Result<(), String> {
    let acl = acl.clone();
    glommio::executor()
        .spawn_blocking(move || acl.edit(&edit).map(|_| ()))
        .await
}

async fn update(
    acl: Option<&Arc<AclState>>,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let header = CreateAccessConfigRequestHeader::decode(request.fields())
        .map_err(BrokerError::bad_header)?;
    let acl = acl.ok_or_else(|| BrokerError::AclUpdateFailed(ACL_OFF.into()))?;
    let config = AccessConfig {
        access_key: header.access_key,
        secret_key: header.secret_key,
        white_remote_address: header.white_remote_address,
        admin: header.admin.unwrap_or(false),
        default_topic_perm: header.default_topic_perm,
        default_group_perm: header.default_group_perm,
        topic_perms: split_list(header.topic_perms.as_deref()),
        group_perms: split_list(header.group_perms.as_deref()),
    };
    config.check().map_err(BrokerError::AclUpdateFailed)?;
    let access_key = config.access_key.clone();
    edit(acl, Edit::Update(config)).await.map_err(|reason| {
        BrokerError::AclUpdateFailed(format!(
            "The accesskey[{access_key}] corresponding to accessConfig has been updated failed: {reason}"
        ))
    })?;
    Ok(success(request))
}

async fn delete(
    acl: Option<&Arc<AclState>>,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let header = DeleteAccessConfigRequestHeader::decode(request.fields())
        .map_err(BrokerError::bad_header)?;
    let acl = acl.ok_or_else(|| BrokerError::AclDeleteFailed(ACL_OFF.into()))?;
    let access_key = header.access_key.trim().to_owned();
    let failed = |reason: String| {
        BrokerError::AclDeleteFailed(format!(
            "The accesskey[{access_key}] corresponding to accessConfig has been deleted failed: {reason}"
        ))
    };
    if access_key.is_empty() {
        return Err(failed("the accessKey is empty".into()));
    }
    edit(acl, Edit::Delete(access_key.clone()))
        .await
        .map_err(failed)?;
    Ok(success(request))
}

fn version(
    shard: &BrokerShard,
    acl: Option<&Arc<AclState>>,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let acl = acl.ok_or_else(|| BrokerError::FeatureOff(ACL_OFF.into()))?;
    let version = acl.current().data_version.to_json();
    // Java's `JSON.toJSONString(Map<path, DataVersion>)`: one file here.
    let path = serde_json::to_string(&acl.path().display().to_string())
        .map_err(|e| BrokerError::Internal(e.to_string()))?;
    let all = format!("{{{path}:{version}}}");
    let config = shard.config();
    let header = GetBrokerAclConfigResponseHeader {
        version,
        all_acl_file_version: Some(all),
        broker_name: config.broker_name.clone(),
        broker_addr: config.broker_addr(),
        cluster_name: config.broker_cluster_name.clone(),
    };
    Ok(success(request).with_ext_fields(header.to_ext_fields()))
}

async fn global_white(
    acl: Option<&Arc<AclState>>,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let header = UpdateGlobalWhiteAddrsConfigRequestHeader::decode(request.fields())
        .map_err(BrokerError::bad_header)?;
    let acl = acl.ok_or_else(|| BrokerError::GlobalWhiteUpdateFailed(ACL_OFF.into()))?;
    let failed = |reason: String| {
        BrokerError::GlobalWhiteUpdateFailed(format!(
            "The globalWhiteAddresses[{}] has been updated failed: {reason}",
            header.global_white_addrs
        ))
    };
    // Only the default file is read (not RocketMQ 4.9.6+'s conf/acl/ directory).
    if let Some(path) = header
        .acl_file_full_path
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        if std::path::Path::new(path) != acl.path() {
            return Err(failed(format!(
                "aclFileFullPath {path} is not this broker's ACL file {}",
                acl.path().display()
            )));
        }
    }
    let addrs = split_list(Some(&header.global_white_addrs)).unwrap_or_default();
    check_global_white(&addrs).map_err(failed)?;
    edit(acl, Edit::GlobalWhite(addrs)).await.map_err(failed)?;
    Ok(success(request))
}

async fn all_config(
    acl: Option<&Arc<AclState>>,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let acl = acl
        .ok_or_else(|| BrokerError::FeatureOff(ACL_OFF.into()))?
        .clone();
    let text = glommio::executor()
        .spawn_blocking(move || acl.read_file())
        .await
        .map_err(BrokerError::NotFound)?;
    let body = PlainAcl::config_body(&text)
        .map_err(|e| BrokerError::NotFound(format!("the ACL file does not parse: {e}")))?;
    Ok(success(request).with_body(body.encode()))
}
