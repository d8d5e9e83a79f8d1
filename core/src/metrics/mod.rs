//! The Prometheus exporter (docs/metrics.md): RocketMQ 5.1's metric names and labels, so
//! its Grafana dashboard works, plus Ramjet's own per-shard figures.

mod exposition;
mod http;
pub mod ops;
mod scrape;

use std::rc::Rc;

pub use exposition::{Exposition, CONTENT_TYPE};
pub use scrape::scrape;

use crate::shard::BrokerShard;

/// Starts the exporter on this shard when `metricsExporterType=PROM` and
/// `metricsPromExporterPort` is not 0.
pub fn start_exporter(shard: &Rc<BrokerShard>) {
    let config = shard.config();
    match config.metrics_prom_addr() {
        Some(addr) => {
            ops::start_store_size(config.store.store_path_root_dir.clone());
            http::listen(shard, &addr, config.metrics_prom_exporter_port)
        }
        None => {
            tracing::info!("metrics exporter off (metricsExporterType / metricsPromExporterPort)")
        }
    }
}
