//! `Remote`: mqadmin's connections to name servers and brokers, one blocking connection per
//! address, one request at a time (what `DefaultMQAdminExt` does, minus the thread pools).
//!
//! Only the standard protocol is used, so every command works against Apache RocketMQ
//! name servers and brokers as well as Ramjet's. Answers are read leniently: fastjson's
//! unquoted and object keys go through `ramjet_net::body::fastjson`.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use ramjet_net::body::{ClusterInfo, TopicRouteData, WireBody};
use ramjet_net::client::{requests, select_addr, BlockingClient};
use ramjet_net::code::response;
use ramjet_net::server::connection::InvokeError;
use ramjet_net::RemotingCommand;

use crate::error::{AdminError, AdminResult};

/// How long a connect may take; Java's admin uses 3 s for connects.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one request may take; Java's `DefaultMQAdminExt` default `timeoutMillis`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Who is on the other end, for the error an operator sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peer {
    NameServer,
    Broker,
}

pub struct Remote {
    /// `-n` split on ';' (RocketMQ's separator), or empty when the command needs none.
    namesrv_addrs: Vec<String>,
    connections: HashMap<String, BlockingClient>,
    /// ACL credentials every request is signed with (--accessKey/--secretKey).
    credentials: Option<ramjet_net::acl::SessionCredentials>,
}

impl Remote {
    /// `namesrv` is `-n` (or `NAMESRV_ADDR`): `host:port[;host:port...]`.
    pub fn new(namesrv: Option<&str>) -> Remote {
        let namesrv_addrs = namesrv
            .unwrap_or("")
            .split(';')
            .map(str::trim)
            .filter(|addr| !addr.is_empty())
            .map(str::to_owned)
            .collect();
        Remote {
            namesrv_addrs,
            connections: HashMap::new(),
            credentials: None,
        }
    }

    /// Signs every request with `credentials` (RocketMQ ACL 1.0).
    pub fn with_credentials(
        mut self,
        credentials: Option<ramjet_net::acl::SessionCredentials>,
    ) -> Remote {
        self.credentials = credentials;
        self
    }

    pub fn namesrv_addrs(&self) -> AdminResult<&[String]> {
        if self.namesrv_addrs.is_empty() {
            return Err(AdminError::NoNameServer);
        }
        Ok(&self.namesrv_addrs)
    }

    fn invoke_peer(
        &mut self,
        peer: Peer,
        addr: &str,
        request: RemotingCommand,
    ) -> AdminResult<RemotingCommand> {
        self.invoke_peer_within(peer, addr, request, REQUEST_TIMEOUT)
    }

    fn invoke_peer_within(
        &mut self,
        peer: Peer,
        addr: &str,
        request: RemotingCommand,
        timeout: Duration,
    ) -> AdminResult<RemotingCommand> {
        let unreachable = |reason: String| match peer {
            Peer::NameServer => AdminError::NameServerUnreachable {
                addrs: addr.to_owned(),
                reason,
            },
            Peer::Broker => AdminError::BrokerUnreachable {
                addr: addr.to_owned(),
                reason,
            },
        };
        if !self.connections.contains_key(addr) {
            let client = BlockingClient::connect(addr, CONNECT_TIMEOUT)
                .map_err(|e| unreachable(connect_reason(&e)))?
                .with_credentials(self.credentials.clone());
            self.connections.insert(addr.to_owned(), client);
        }
        let client = self.connections.get_mut(addr).expect("inserted above");
        match client.invoke(request, timeout) {
            Ok(response) => Ok(response),
            Err(error) => {
                // A timed-out or closed connection is not reused: a late answer would
                // otherwise arrive on the next request's connection.
                self.connections.remove(addr);
                Err(unreachable(error.to_string()))
            }
        }
    }

    /// One request to a broker.
    pub fn invoke_broker(
        &mut self,
        addr: &str,
        request: RemotingCommand,
    ) -> AdminResult<RemotingCommand> {
        self.invoke_peer(Peer::Broker, addr, request)
    }

    /// One request to a broker that may take up to `timeout` (a request the broker relays
    /// to a client and waits for, up to 10 s).
    pub fn invoke_broker_within(
        &mut self,
        addr: &str,
        request: RemotingCommand,
        timeout: Duration,
    ) -> AdminResult<RemotingCommand> {
        self.invoke_peer_within(Peer::Broker, addr, request, timeout)
    }

    /// One request to a broker that must answer SUCCESS.
    pub fn call_broker(
        &mut self,
        what: &'static str,
        addr: &str,
        request: RemotingCommand,
    ) -> AdminResult<RemotingCommand> {
        let response = self.invoke_broker(addr, request)?;
        expect_success(what, addr, response)
    }

    /// One request to the first name server that answers; the next one is tried only when
    /// a name server cannot be reached, as the Java client rotates on connect failures.
    pub fn invoke_namesrv(
        &mut self,
        request: RemotingCommand,
    ) -> AdminResult<(String, RemotingCommand)> {
        let addrs = self.namesrv_addrs()?.to_vec();
        let mut reasons = Vec::new();
        for addr in &addrs {
            match self.invoke_peer(Peer::NameServer, addr, request.clone()) {
                Ok(response) => return Ok((addr.clone(), response)),
                Err(AdminError::NameServerUnreachable { reason, .. }) => reasons.push(reason),
                Err(other) => return Err(other),
            }
        }
        Err(AdminError::NameServerUnreachable {
            addrs: addrs.join(";"),
            reason: reasons.join("; "),
        })
    }

    /// One request to every name server (DELETE_TOPIC_IN_NAMESRV, PUT_KV_CONFIG), each of
    /// which must answer SUCCESS.
    pub fn call_every_namesrv(
        &mut self,
        what: &'static str,
        request: RemotingCommand,
    ) -> AdminResult<Vec<String>> {
        let addrs = self.namesrv_addrs()?.to_vec();
        for addr in &addrs {
            let response = self.invoke_peer(Peer::NameServer, addr, request.clone())?;
            expect_success(what, addr, response)?;
        }
        Ok(addrs)
    }

    /// GET_ROUTEINFO_BY_TOPIC; no route becomes [`AdminError::TopicNotExist`].
    pub fn route(&mut self, topic: &str) -> AdminResult<TopicRouteData> {
        let (addr, response) = self.invoke_namesrv(requests::get_route_info(topic))?;
        if response.code == response::TOPIC_NOT_EXIST {
            return Err(AdminError::TopicNotExist(topic.to_owned()));
        }
        let response = expect_success("GET_ROUTEINFO_BY_TOPIC", &addr, response)?;
        match requests::read_route(topic, &response) {
            Ok(Some(route)) => Ok(route),
            Ok(None) => Err(AdminError::TopicNotExist(topic.to_owned())),
            Err(reason) => Err(AdminError::BadAnswer {
                what: "GET_ROUTEINFO_BY_TOPIC",
                addr,
                reason,
            }),
        }
    }

    /// GET_BROKER_CLUSTER_INFO.
    pub fn cluster_info(&mut self) -> AdminResult<ClusterInfo> {
        let (addr, response) = self.invoke_namesrv(requests::get_broker_cluster_info())?;
        let response = expect_success("GET_BROKER_CLUSTER_INFO", &addr, response)?;
        read_body("GET_BROKER_CLUSTER_INFO", &addr, &response.body)
    }

    /// `CommandUtil.fetchMasterAddrByClusterName`: the master address of every broker name
    /// in `cluster`.
    pub fn master_addrs_of_cluster(&mut self, cluster: &str) -> AdminResult<Vec<String>> {
        let info = self.cluster_info()?;
        let names = cluster_broker_names(&info, cluster)?;
        Ok(names
            .iter()
            .filter_map(|name| info.broker_addr_table.get(name))
            .filter_map(|data| data.master_addr().map(str::to_owned))
            .collect())
    }

    /// `CommandUtil.fetchMasterAndSlaveAddrByClusterName`: every address in `cluster`.
    pub fn all_addrs_of_cluster(&mut self, cluster: &str) -> AdminResult<Vec<String>> {
        let info = self.cluster_info()?;
        let names = cluster_broker_names(&info, cluster)?;
        Ok(names
            .iter()
            .filter_map(|name| info.broker_addr_table.get(name))
            .flat_map(|data| data.broker_addrs.values().cloned())
            .collect())
    }

    /// (broker name, address) of every broker serving `topic`, or, with `cluster`, of every
    /// broker name in that cluster; the master's address when there is one.
    pub fn topic_brokers(
        &mut self,
        topic: &str,
        cluster: Option<&str>,
    ) -> AdminResult<Vec<(String, String)>> {
        let datas = match cluster {
            Some(cluster) => {
                let info = self.cluster_info()?;
                let names = cluster_broker_names(&info, cluster)?;
                names
                    .iter()
                    .filter_map(|name| info.broker_addr_table.get(name).cloned())
                    .collect()
            }
            None => self.route(topic)?.broker_datas,
        };
        Ok(datas
            .iter()
            .filter_map(|d| select_addr(&d.broker_addrs).map(|a| (d.broker_name.clone(), a)))
            .collect())
    }

    /// The master address of `broker_name`, from a topic route or else the cluster info.
    pub fn master_addr_of_broker(
        &mut self,
        route: Option<&TopicRouteData>,
        broker_name: &str,
    ) -> AdminResult<String> {
        if let Some(route) = route {
            if let Some(data) = route
                .broker_datas
                .iter()
                .find(|d| d.broker_name == broker_name)
            {
                if let Some(addr) = select_addr(&data.broker_addrs) {
                    return Ok(addr);
                }
            }
        }
        let info = self.cluster_info()?;
        info.broker_addr_table
            .get(broker_name)
            .and_then(|data| select_addr(&data.broker_addrs))
            .ok_or_else(|| AdminError::BrokerNotFound(broker_name.to_owned()))
    }
}

fn cluster_broker_names(info: &ClusterInfo, cluster: &str) -> AdminResult<BTreeSet<String>> {
    info.cluster_addr_table
        .get(cluster)
        .cloned()
        .ok_or_else(|| AdminError::ClusterNotFound(cluster.to_owned()))
}

/// The response if it is SUCCESS, else [`AdminError::Refused`] with the server's remark.
pub fn expect_success(
    what: &'static str,
    addr: &str,
    response: RemotingCommand,
) -> AdminResult<RemotingCommand> {
    if response.code == response::SUCCESS {
        return Ok(response);
    }
    Err(AdminError::Refused {
        what,
        addr: addr.to_owned(),
        code: response.code,
        remark: response.remark.clone().unwrap_or_default(),
    })
}

/// Reads an answer's body as `T`, in any of fastjson's forms.
pub fn read_body<T: WireBody>(what: &'static str, addr: &str, body: &[u8]) -> AdminResult<T> {
    T::decode(body).map_err(|e| AdminError::BadAnswer {
        what,
        addr: addr.to_owned(),
        reason: e.to_string(),
    })
}

/// A JSON (or fastjson) body read into a plain serde type.
pub fn read_body_json<T: serde::de::DeserializeOwned>(
    what: &'static str,
    addr: &str,
    body: &[u8],
) -> AdminResult<T> {
    ramjet_net::body::fastjson::from_slice(body).map_err(|reason| AdminError::BadAnswer {
        what,
        addr: addr.to_owned(),
        reason,
    })
}

fn connect_reason(error: &InvokeError) -> String {
    match error {
        InvokeError::Connect { reason, .. } => format!("connect failed: {reason}"),
        other => other.to_string(),
    }
}
