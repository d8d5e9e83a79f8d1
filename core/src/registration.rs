//! Registration with name servers (`BrokerOuterAPI.registerBrokerAll`): every
//! `registerNameServerPeriod` (30 s) and at once when topics change, REGISTER_BROKER goes to
//! every configured name server; UNREGISTER_BROKER on graceful shutdown. Runs on the leader.

use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use ramjet_net::body::RegisterBrokerBody;
use ramjet_net::code::{request, response};
use ramjet_net::header::{
    CommandHeader, RegisterBrokerRequestHeader, RegisterBrokerResponseHeader,
    UnregisterBrokerRequestHeader,
};
use ramjet_net::server::Connection;
use ramjet_net::RemotingCommand;

use crate::leader::{Leader, RegisterNow};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const REGISTER_TIMEOUT: Duration = Duration::from_secs(6);

pub struct NamesrvRegistration {
    leader: Rc<Leader>,
    connections: std::cell::RefCell<HashMap<String, Rc<Connection>>>,
}

impl NamesrvRegistration {
    pub fn new(leader: Rc<Leader>) -> NamesrvRegistration {
        NamesrvRegistration {
            leader,
            connections: Default::default(),
        }
    }

    async fn connection(&self, addr: &str) -> Option<Rc<Connection>> {
        if let Some(connection) = self
            .connections
            .borrow()
            .get(addr)
            .filter(|c| !c.is_closed())
        {
            return Some(connection.clone());
        }
        match ramjet_net::client::connect(addr, CONNECT_TIMEOUT).await {
            Ok(connection) => {
                self.connections
                    .borrow_mut()
                    .insert(addr.to_owned(), connection.clone());
                Some(connection)
            }
            Err(error) => {
                tracing::warn!(namesrv = addr, %error, "cannot reach name server");
                None
            }
        }
    }

    fn register_request(&self) -> RemotingCommand {
        let config = self.leader.config();
        let mut wrapper = self.leader.topics.borrow().wrapper();
        // A broker made read-only (or write-only) by brokerPermission advertises its topics
        // that way, so producers (or consumers) stop choosing it.
        let broker_perm = config.broker_permission;
        if broker_perm & (ramjet_net::body::perm::READ | ramjet_net::body::perm::WRITE)
            != (ramjet_net::body::perm::READ | ramjet_net::body::perm::WRITE)
        {
            for topic in wrapper.topic_config_table.values_mut() {
                topic.perm &= broker_perm;
            }
        }
        let body = RegisterBrokerBody {
            filter_server_list: Vec::new(),
            topic_config_serialize_wrapper: wrapper,
        }
        .encode(config.compressed_register);
        let header = RegisterBrokerRequestHeader {
            broker_name: config.broker_name.clone(),
            broker_addr: config.broker_addr(),
            cluster_name: config.broker_cluster_name.clone(),
            ha_server_addr: format!(
                "{}:{}",
                config.broker_ip2,
                config.ha.port(config.listen_port)
            ),
            broker_id: config.broker_id,
            heartbeat_timeout_millis: None,
            enable_acting_master: Some(false),
            compressed: Some(config.compressed_register),
            body_crc32: Some((crc32fast::hash(&body) & 0x7fff_ffff) as i32),
        };
        RemotingCommand::request(request::REGISTER_BROKER)
            .with_ext_fields(header.to_ext_fields())
            .with_body(body)
    }

    /// Registers with every name server once, with all of them at the same time (as Java's
    /// `registerBrokerAll` does on its executor), so a name server that is slow to answer or
    /// to refuse a connection does not hold back the others. Returns whether all of them
    /// took it; failures are logged, and `run` retries them soon rather than a period later.
    pub async fn register_all(self: &Rc<Self>) -> bool {
        let mut addrs = self.leader.config().namesrv_addr.clone();
        addrs.sort();
        addrs.dedup();
        let tasks: Vec<_> = addrs
            .into_iter()
            .map(|addr| {
                let this = self.clone();
                glommio::spawn_local(async move { this.register_one(&addr).await })
            })
            .collect();
        let mut all = true;
        for task in tasks {
            all &= task.await;
        }
        all
    }

    async fn register_one(&self, addr: &str) -> bool {
        let Some(connection) = self.connection(addr).await else {
            return false;
        };
        match connection
            .invoke(self.register_request(), REGISTER_TIMEOUT)
            .await
        {
            Ok(answer) if answer.code == response::SUCCESS => {
                tracing::debug!(namesrv = addr, "registered");
                if self.leader.config().broker_role == crate::config::BrokerRole::Slave {
                    // The answer names this slave's master (RocketMQ's
                    // RegisterBrokerResult: haServerAddr, masterAddr).
                    if let Ok(header) = RegisterBrokerResponseHeader::decode(answer.fields()) {
                        crate::ha::learn_master(header.ha_server_addr, header.master_addr);
                    }
                }
                true
            }
            Ok(answer) => {
                tracing::warn!(namesrv = addr, code = answer.code, remark = ?answer.remark, "registration refused");
                false
            }
            Err(error) => {
                tracing::warn!(namesrv = addr, %error, "registration failed");
                false
            }
        }
    }

    pub async fn unregister_all(&self) {
        let config = self.leader.config();
        let header = UnregisterBrokerRequestHeader {
            broker_name: config.broker_name.clone(),
            broker_addr: config.broker_addr(),
            cluster_name: config.broker_cluster_name.clone(),
            broker_id: config.broker_id,
        };
        for addr in config.namesrv_addr.clone() {
            let Some(connection) = self.connection(&addr).await else {
                continue;
            };
            let request = RemotingCommand::request(request::UNREGISTER_BROKER)
                .with_ext_fields(header.to_ext_fields());
            if let Err(error) = connection.invoke(request, REGISTER_TIMEOUT).await {
                tracing::warn!(namesrv = addr, %error, "unregistration failed");
            }
        }
    }

    /// Registers now, then every `registerNameServerPeriod` (read each time, so a changed
    /// period takes effect at once), and whenever the leader asks (topics changed); the
    /// leader's request is answered once the registration it asked for is done.
    pub async fn run(self: Rc<Self>) {
        let Some(requests) = self.leader.take_register_receiver() else {
            return;
        };
        // A name server that was unreachable (restarting, or not up yet) is retried after
        // 1 s, doubling up to the period, so routes do not wait 30 s to appear.
        let mut retry = Duration::from_secs(1);
        let mut asked: Vec<RegisterNow> = Vec::new();
        loop {
            let registered = self.register_all().await;
            for done in asked.drain(..) {
                let _ = done.send(());
            }
            let period = self.leader.config().register_name_server_period;
            let wait = if registered {
                retry = Duration::from_secs(1);
                period
            } else {
                let wait = retry.min(period);
                retry = (retry * 2).min(period);
                wait
            };
            let request = glommio::timer::timeout(wait, async { Ok(requests.recv().await) }).await;
            if let Ok(Some(done)) = request {
                asked.push(done);
                // Coalesce a burst of topic changes into one registration.
                while let Some(Some(done)) = futures_lite::future::poll_once(requests.recv()).await
                {
                    asked.push(done);
                }
            }
        }
    }
}
