//! The leader: the one shard that owns the route table and KV config and applies every
//! change. Other shards forward writes here and receive snapshots back.
//!
//! Writes are rare (a registration per broker every 30 s, admin commands), reads are many,
//! so funnelling writes through one core costs nothing measurable and keeps the table free
//! of locks.

use std::time::Instant;

use ramjet_net::body::{fastjson, DataVersion, KvTable, RegisterBrokerBody, TopicRouteData};
use ramjet_net::code::{request, response};
use ramjet_net::header::{
    AddWritePermOfBrokerResponseHeader, BrokerNameRequestHeader, CommandHeader,
    DeleteTopicFromNamesrvRequestHeader, KvConfigKeyRequestHeader, PutKvConfigRequestHeader,
    QueryDataVersionRequestHeader, QueryDataVersionResponseHeader, RegisterBrokerRequestHeader,
    RegisterBrokerResponseHeader, RegisterTopicRequestHeader, UnregisterBrokerRequestHeader,
    WipeWritePermOfBrokerResponseHeader,
};
use ramjet_net::RemotingCommand;

use crate::config::NamesrvConfig;
use crate::kv_config::KvConfigManager;
use crate::route_info::{ChannelKey, Registration, RouteInfoManager};
use crate::snapshot::{ReadSettings, RouteSnapshot};

/// The codes the leader applies; everything else is read from a snapshot.
pub fn is_write(code: i32) -> bool {
    matches!(
        code,
        request::REGISTER_BROKER
            | request::UNREGISTER_BROKER
            | request::QUERY_DATA_VERSION
            | request::BROKER_HEARTBEAT
            | request::DELETE_TOPIC_IN_NAMESRV
            | request::REGISTER_TOPIC_IN_NAMESRV
            | request::PUT_KV_CONFIG
            | request::DELETE_KV_CONFIG
            | request::WIPE_WRITE_PERM_OF_BROKER
            | request::ADD_WRITE_PERM_OF_BROKER
            | request::UPDATE_NAMESRV_CONFIG
    )
}

pub struct Leader {
    config: NamesrvConfig,
    routes: RouteInfoManager,
    kv: KvConfigManager,
    version: u64,
}

/// The outcome of one write: the response, and whether reads must see a new snapshot.
pub struct Applied {
    pub response: RemotingCommand,
    pub changed: bool,
}

impl Leader {
    pub fn new(config: NamesrvConfig) -> Leader {
        let routes = RouteInfoManager::new(
            config.broker_channel_expired_time,
            config.delete_topic_with_broker_registration,
        );
        let kv = KvConfigManager::load(config.kv_config_path.clone());
        Leader {
            config,
            routes,
            kv,
            version: 0,
        }
    }

    pub fn snapshot(&mut self) -> RouteSnapshot {
        self.version += 1;
        let settings = ReadSettings {
            enable_all_topic_list: self.config.enable_all_topic_list,
            enable_topic_list: self.config.enable_topic_list,
            config_text: ramjet_net::properties::to_text(
                self.config.to_pairs().iter().map(|(k, v)| (*k, v.as_str())),
            ),
        };
        RouteSnapshot::build(
            self.version,
            &self.routes,
            self.kv.tables(),
            self.config.order_message_enable,
            settings,
        )
    }

    pub fn scan_not_active_brokers(&mut self, now: Instant) -> bool {
        let expired = self.routes.scan_not_active_brokers(now);
        for key in &expired {
            tracing::warn!(
                cluster = key.cluster,
                addr = key.addr,
                "broker expired: no registration within its timeout"
            );
        }
        !expired.is_empty()
    }

    pub fn on_channel_closed(&mut self, channel: ChannelKey) -> bool {
        let removed = self.routes.on_channel_closed(channel);
        if removed > 0 {
            tracing::info!(
                ?channel,
                removed,
                "broker connection closed; its routes are gone"
            );
        }
        removed > 0
    }

    /// Applies one write request. Header and body problems are answered, never panicked on.
    pub fn apply(&mut self, request: &RemotingCommand, channel: ChannelKey) -> Applied {
        let fields = request.fields();
        let result = match request.code {
            request::REGISTER_BROKER => self.register_broker(request, fields, channel),
            request::UNREGISTER_BROKER => UnregisterBrokerRequestHeader::decode(fields)
                .map_err(|e| e.to_string())
                .map(|h| {
                    self.routes
                        .unregister_broker(&h.cluster_name, &h.broker_addr, &h.broker_name);
                    tracing::info!(
                        broker = h.broker_name,
                        addr = h.broker_addr,
                        "broker unregistered"
                    );
                    (success(request), true)
                }),
            request::QUERY_DATA_VERSION | request::BROKER_HEARTBEAT => {
                self.query_data_version(request, fields)
            }
            request::DELETE_TOPIC_IN_NAMESRV => DeleteTopicFromNamesrvRequestHeader::decode(fields)
                .map_err(|e| e.to_string())
                .map(|h| {
                    self.routes
                        .delete_topic(&h.topic, h.cluster_name.as_deref());
                    (success(request), true)
                }),
            request::REGISTER_TOPIC_IN_NAMESRV => self.register_topic(request, fields),
            request::PUT_KV_CONFIG => PutKvConfigRequestHeader::decode(fields)
                .map_err(|e| e.to_string())
                .map(|h| {
                    self.kv.put(&h.namespace, &h.key, &h.value);
                    (success(request), true)
                }),
            request::DELETE_KV_CONFIG => KvConfigKeyRequestHeader::decode(fields)
                .map_err(|e| e.to_string())
                .map(|h| {
                    self.kv.delete(&h.namespace, &h.key);
                    (success(request), true)
                }),
            request::WIPE_WRITE_PERM_OF_BROKER | request::ADD_WRITE_PERM_OF_BROKER => {
                self.set_write_perm(request, fields)
            }
            request::UPDATE_NAMESRV_CONFIG => self.update_config(request),
            other => unreachable!("code {other} is not a write"),
        };
        match result {
            Ok((response, changed)) => Applied { response, changed },
            Err(remark) => Applied {
                response: RemotingCommand::response_to(request, response::SYSTEM_ERROR)
                    .with_remark(remark),
                changed: false,
            },
        }
    }

    fn register_broker(
        &mut self,
        request: &RemotingCommand,
        fields: &ramjet_net::ExtFields,
        channel: ChannelKey,
    ) -> Result<(RemotingCommand, bool), String> {
        let header = RegisterBrokerRequestHeader::decode(fields).map_err(|e| e.to_string())?;
        if let Some(expected) = header.body_crc32.filter(|crc| *crc != 0) {
            let actual = (crc32fast::hash(&request.body) & 0x7fff_ffff) as i32;
            if actual != expected {
                tracing::warn!(
                    broker = header.broker_name,
                    expected,
                    actual,
                    "registration body crc32 mismatch"
                );
                return Err("crc32 not match".into());
            }
        }
        let body = if request.body.is_empty() {
            RegisterBrokerBody::default()
        } else {
            RegisterBrokerBody::decode(&request.body, header.compressed.unwrap_or(false))
                .map_err(|e| format!("bad REGISTER_BROKER body: {e}"))?
        };
        let wrapper = body.topic_config_serialize_wrapper;
        let registration = Registration {
            cluster: header.cluster_name.clone(),
            broker_addr: header.broker_addr.clone(),
            broker_name: header.broker_name.clone(),
            broker_id: header.broker_id,
            ha_server_addr: header.ha_server_addr.clone(),
            zone_name: request.ext_field("__ZONE_NAME").map(str::to_owned),
            timeout: header
                .heartbeat_timeout_millis
                .filter(|ms| *ms > 0)
                .map(|ms| std::time::Duration::from_millis(ms as u64)),
            enable_acting_master: header.enable_acting_master.unwrap_or(false),
            data_version: wrapper.data_version,
            topic_configs: wrapper.topic_config_table,
            filter_server_list: body.filter_server_list,
            channel: Some(channel),
        };
        tracing::debug!(
            broker = header.broker_name,
            addr = header.broker_addr,
            id = header.broker_id,
            "register broker"
        );
        let result = self.routes.register_broker(registration, Instant::now());
        let response_header = RegisterBrokerResponseHeader {
            ha_server_addr: result.ha_server_addr,
            master_addr: result.master_addr,
        };
        let mut response = success(request).with_ext_fields(response_header.to_ext_fields());
        // The body is the order-topic KV table the broker may apply.
        let order = self
            .kv
            .tables()
            .get(crate::kv_config::ORDER_TOPIC_CONFIG)
            .cloned()
            .unwrap_or_default();
        response.body = ramjet_net::body::to_json(&KvTable { table: order }).into();
        Ok((response, true))
    }

    fn query_data_version(
        &mut self,
        request: &RemotingCommand,
        fields: &ramjet_net::ExtFields,
    ) -> Result<(RemotingCommand, bool), String> {
        let header = QueryDataVersionRequestHeader::decode(fields).map_err(|e| e.to_string())?;
        let version: DataVersion = if request.body.is_empty() {
            DataVersion::default()
        } else {
            fastjson::from_slice(&request.body).map_err(|e| format!("bad DataVersion body: {e}"))?
        };
        let (changed, ours) = self.routes.query_data_version(
            &header.cluster_name,
            &header.broker_addr,
            &version,
            Instant::now(),
        );
        let mut response = success(request)
            .with_ext_fields(QueryDataVersionResponseHeader { changed }.to_ext_fields());
        if let Some(ours) = ours {
            response.body = serde_json::to_vec(&ours).expect("serializes").into();
        }
        Ok((response, false))
    }

    fn register_topic(
        &mut self,
        request: &RemotingCommand,
        fields: &ramjet_net::ExtFields,
    ) -> Result<(RemotingCommand, bool), String> {
        let header = RegisterTopicRequestHeader::decode(fields).map_err(|e| e.to_string())?;
        let route =
            TopicRouteData::from_json(&request.body).map_err(|e| format!("bad route body: {e}"))?;
        self.routes.register_topic(&header.topic, route.queue_datas);
        Ok((success(request), true))
    }

    fn set_write_perm(
        &mut self,
        request: &RemotingCommand,
        fields: &ramjet_net::ExtFields,
    ) -> Result<(RemotingCommand, bool), String> {
        let header = BrokerNameRequestHeader::decode(fields).map_err(|e| e.to_string())?;
        let writable = request.code == request::ADD_WRITE_PERM_OF_BROKER;
        let count = self
            .routes
            .set_write_perm_of_broker(&header.broker_name, writable);
        let ext = if writable {
            AddWritePermOfBrokerResponseHeader {
                add_topic_count: count,
            }
            .to_ext_fields()
        } else {
            WipeWritePermOfBrokerResponseHeader {
                wipe_topic_count: count,
            }
            .to_ext_fields()
        };
        Ok((success(request).with_ext_fields(ext), count > 0))
    }

    /// UPDATE_NAMESRV_CONFIG: properties text. Keys that only take effect at start (ports,
    /// paths) are refused rather than silently ignored.
    fn update_config(
        &mut self,
        request: &RemotingCommand,
    ) -> Result<(RemotingCommand, bool), String> {
        let text = std::str::from_utf8(&request.body).map_err(|_| "config body is not UTF-8")?;
        let mut updated = self.config.clone();
        for (key, value) in ramjet_net::properties::parse(text) {
            if matches!(
                key.as_str(),
                "listenPort" | "bindAddress" | "kvConfigPath" | "shardCount" | "rocketmqHome"
            ) {
                return Err(format!("{key} can only be changed by a restart"));
            }
            match updated.set(&key, &value) {
                Ok(true) => {}
                Ok(false) => return Err(format!("unknown config key {key}")),
                Err(error) => return Err(error.to_string()),
            }
        }
        self.config = updated;
        Ok((success(request), true))
    }
}

fn success(request: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(request, response::SUCCESS)
}
