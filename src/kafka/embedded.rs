//! The in-process broker: rdkafka's mock cluster, owned by a thread of its own because the
//! handle is not `Send`. It lives until `stop` or the end of the process.

use std::sync::mpsc;
use std::thread::JoinHandle;

use rdkafka::mocking::MockCluster;

use super::KafkaError;

pub struct EmbeddedBroker {
    bootstrap: String,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl EmbeddedBroker {
    /// Starts one mock broker on a random loopback port and creates `topic` on it.
    pub fn start(topic: &str, partitions: i32) -> Result<EmbeddedBroker, KafkaError> {
        let (ready_tx, ready_rx) = mpsc::channel::<Result<String, String>>();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let topic = topic.to_string();
        let thread = std::thread::Builder::new()
            .name("embedded-broker".into())
            .spawn(move || {
                let cluster = match MockCluster::new(1) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                if let Err(e) = cluster.create_topic(&topic, partitions, 1) {
                    let _ = ready_tx.send(Err(e.to_string()));
                    return;
                }
                let _ = ready_tx.send(Ok(cluster.bootstrap_servers()));
                // Blocks until `stop` is called or the handle is dropped.
                let _ = stop_rx.recv();
                drop(cluster);
            })
            .map_err(|e| {
                KafkaError::Other(format!("cannot start the embedded broker thread: {e}"))
            })?;
        let bootstrap = ready_rx
            .recv()
            .map_err(|_| KafkaError::Other("embedded broker thread ended early".into()))?
            .map_err(|e| KafkaError::Other(format!("embedded broker: {e}")))?;
        Ok(EmbeddedBroker {
            bootstrap,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    pub fn stop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        self.stop();
    }
}
