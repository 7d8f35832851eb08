//! Every variable we read, with its default and meaning: the source of `dataflow config`
//! and of README's table.

/// Every variable we read, with its default and meaning: the source of `config` and the README.
pub const VARIABLES: &[(&str, &str, &str)] = &[
    (
        "ENVIRON",
        "dev",
        "dev binds 127.0.0.1:8001, prd/prod binds 0.0.0.0:80",
    ),
    ("TIMEZONE", "UTC", "IANA zone used to render timestamps"),
    (
        "USERNAME_API",
        "vert",
        "user created at start-up if missing",
    ),
    ("PASSWORD_API", "vert", "password of that user"),
    (
        "DATABASE_URL",
        "",
        "postgres://... or sqlite:PATH; overrides DATABASE_*",
    ),
    (
        "DATABASE",
        "vert_db",
        "PostgreSQL database name (setting any DATABASE_* selects PostgreSQL)",
    ),
    ("DATABASE_HOST", "localhost:5432", "PostgreSQL host[:port]"),
    ("DATABASE_USER", "vert", "PostgreSQL user"),
    ("DATABASE_PASSWORD", "vert", "PostgreSQL password"),
    (
        "KAFKA_HOST",
        "",
        "bootstrap servers; unset = embedded in-process broker",
    ),
    (
        "TOPIC_PRODUCTS",
        "produtos-persistidos",
        "topic the products are published to",
    ),
    (
        "TOPIC_PARTITIONS",
        "3",
        "partitions when the topic is created",
    ),
    (
        "TOPIC_REPLICATION",
        "",
        "replication factor when the topic is created; unset = the broker's default",
    ),
    (
        "TOPIC_CLEANUP_POLICY",
        "delete",
        "cleanup.policy when the topic is created: delete, compact (a changelog: the last value per product) or compact,delete",
    ),
    (
        "CONSUMER_GROUP",
        "consumer-group",
        "group of the consumer route",
    ),
    (
        "IDEMPOTENCY_TTL_HOURS",
        "24",
        "how long an Idempotency-Key is remembered",
    ),
    (
        "PUBLISH_WAIT_MS",
        "2000",
        "how long a registration waits for the broker's ack",
    ),
    (
        "REPLAY_ON_START",
        "1000",
        "recent events replayed into a fresh embedded broker",
    ),
    (
        "BIND",
        "",
        "HTTP listen address HOST:PORT (an IP, or a host name resolved at start); default from ENVIRON",
    ),
    (
        "JWT_SECRET",
        "",
        "HS256 secret; unset = generated once in the data directory",
    ),
    (
        "DEFAULT_CURRENCY",
        "BRL",
        "currency the product form starts with",
    ),
    (
        "TAIL_LAST",
        "100",
        "newest messages the live tail starts with",
    ),
    (
        "TAIL_BUFFER",
        "10000",
        "messages the live tail keeps in memory",
    ),
    (
        "LOGIN_LOCK_SECONDS",
        "60",
        "first lock-out after 5 wrong passwords for a user (20 for an address), doubling up to 15 minutes",
    ),
    (
        "AUDIT_RETENTION_DAYS",
        "365",
        "days the audit trail keeps an entry (1 or more)",
    ),
    (
        "METRICS_TOKEN",
        "",
        "bearer token /metrics requires (Prometheus: `authorization: {credentials: ...}`); unset = open",
    ),
    (
        "TRUSTED_PROXIES",
        "",
        "comma-separated IPs of reverse proxies whose X-Forwarded-For names the caller in the audit trail",
    ),
    ("DATAFLOW_DATA_DIR", "", "overrides the data directory"),
];
