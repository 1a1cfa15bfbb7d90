//! How every Kafka client of Satisfy (ingest's producer, the aggregator's consumer, their
//! topic administration) reaches the cluster: brokers, TLS and SASL. One list of
//! librdkafka properties, so no client can forget the credentials.

use secrecy::{ExposeSecret, SecretString};
use std::path::PathBuf;

/// `security.protocol` values librdkafka accepts.
pub const SECURITY_PROTOCOLS: [&str; 4] = ["plaintext", "ssl", "sasl_plaintext", "sasl_ssl"];

/// `sasl.mechanism` values this build supports (GSSAPI/Kerberos is not built in).
pub const SASL_MECHANISMS: [&str; 3] = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];

/// Where the cluster is and how to authenticate to it. `Debug` never shows the password.
#[derive(Debug, Clone)]
pub struct KafkaAccess {
    /// Bootstrap servers, `host:port,host:port`.
    pub brokers: String,
    /// One of [`SECURITY_PROTOCOLS`]; librdkafka's default (`plaintext`) when unset.
    pub security_protocol: Option<String>,
    /// One of [`SASL_MECHANISMS`], with a `sasl_*` protocol.
    pub sasl_mechanism: Option<String>,
    /// SASL user name.
    pub sasl_username: Option<String>,
    /// SASL password.
    pub sasl_password: Option<SecretString>,
    /// PEM file of the certificate authorities to trust for the brokers' certificates;
    /// the system's when unset.
    pub ssl_ca_location: Option<PathBuf>,
}

impl KafkaAccess {
    /// Plaintext access to `brokers`.
    pub fn plaintext(brokers: impl Into<String>) -> KafkaAccess {
        KafkaAccess {
            brokers: brokers.into(),
            security_protocol: None,
            sasl_mechanism: None,
            sasl_username: None,
            sasl_password: None,
            ssl_ca_location: None,
        }
    }

    /// A client configuration reaching the cluster as these settings say: every Kafka
    /// client starts from it.
    pub fn client_config(&self) -> rdkafka::ClientConfig {
        let mut config = rdkafka::ClientConfig::new();
        for (name, value) in self.properties() {
            config.set(name, value);
        }
        config
    }

    /// Creates `topics` unless they exist (a no-op on a cluster that has them): ingest's
    /// topics, the aggregator's dead-letter topic.
    pub async fn create_topics(
        &self,
        topics: &[&str],
        partitions: i32,
        replication: i32,
    ) -> Result<(), rdkafka::error::KafkaError> {
        use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
        use rdkafka::error::{KafkaError, RDKafkaErrorCode};
        let admin: AdminClient<rdkafka::client::DefaultClientContext> =
            self.client_config().create()?;
        let new_topics: Vec<NewTopic<'_>> = topics
            .iter()
            .map(|topic| NewTopic::new(topic, partitions, TopicReplication::Fixed(replication)))
            .collect();
        let options =
            AdminOptions::new().operation_timeout(Some(std::time::Duration::from_secs(10)));
        for result in admin.create_topics(&new_topics, &options).await? {
            match result {
                Ok(topic) => tracing::info!(topic, partitions, "created Kafka topic"),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => return Err(KafkaError::AdminOp(code)),
            }
        }
        Ok(())
    }

    /// Every librdkafka property these settings give. The only place the password is
    /// exposed.
    pub fn properties(&self) -> Vec<(&'static str, String)> {
        let mut properties = vec![("bootstrap.servers", self.brokers.clone())];
        let optional = [
            ("security.protocol", self.security_protocol.clone()),
            ("sasl.mechanism", self.sasl_mechanism.clone()),
            ("sasl.username", self.sasl_username.clone()),
            (
                "sasl.password",
                self.sasl_password
                    .as_ref()
                    .map(|p| p.expose_secret().to_owned()),
            ),
            (
                "ssl.ca.location",
                self.ssl_ca_location
                    .as_ref()
                    .map(|p| p.display().to_string()),
            ),
        ];
        properties.extend(
            optional
                .into_iter()
                .filter_map(|(name, value)| value.map(|v| (name, v))),
        );
        properties
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_reaches_the_client_and_the_password_never_debug() {
        let access = KafkaAccess {
            brokers: "kafka-1:9093,kafka-2:9093".into(),
            security_protocol: Some("sasl_ssl".into()),
            sasl_mechanism: Some("SCRAM-SHA-512".into()),
            sasl_username: Some("satisfy".into()),
            sasl_password: Some(SecretString::from("s3greto-di-bugliano")),
            ssl_ca_location: Some(PathBuf::from("/etc/satisfy/kafka-ca.pem")),
        };
        assert_eq!(
            access.properties(),
            [
                ("bootstrap.servers", "kafka-1:9093,kafka-2:9093".to_owned()),
                ("security.protocol", "sasl_ssl".to_owned()),
                ("sasl.mechanism", "SCRAM-SHA-512".to_owned()),
                ("sasl.username", "satisfy".to_owned()),
                ("sasl.password", "s3greto-di-bugliano".to_owned()),
                ("ssl.ca.location", "/etc/satisfy/kafka-ca.pem".to_owned()),
            ]
        );
        let debug = format!("{access:?}");
        assert!(!debug.contains("s3greto"), "{debug}");
        assert!(debug.contains("REDACTED"), "{debug}");
        assert_eq!(
            KafkaAccess::plaintext("127.0.0.1:9092").properties(),
            [("bootstrap.servers", "127.0.0.1:9092".to_owned())]
        );
    }
}
