#!/bin/sh
# Starts Kafka (KRaft), InfluxDB 2 and Grafana from docker/compose.yaml,
# detached, waits until each is healthy, creates the topics nbi uses, and
# prints the URLs and the nbi configuration for watchers and the collector.
# Needs Docker with the compose plugin. Safe to run twice. On 127.0.0.1 the
# secrets default to published ones; to let other machines in, set them:
#   NBI_BIND=0.0.0.0 NBI_INFLUX_TOKEN=... NBI_INFLUX_PASSWORD=... \
#       NBI_GRAFANA_PASSWORD=... ./scripts/start_external_services.sh
set -eu
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$NBI_ROOT/docker"

check_stack_secrets || exit 1
# Compose gets what was checked: the environment wins over a docker/.env.
: "${NBI_BIND:=127.0.0.1}" "${NBI_INFLUX_TOKEN:=nbi-dev-token-change-me}"
: "${NBI_INFLUX_PASSWORD:=nbi-change-me}" "${NBI_GRAFANA_PASSWORD:=nbi-change-me}"
export NBI_BIND NBI_INFLUX_TOKEN NBI_INFLUX_PASSWORD NBI_GRAFANA_PASSWORD

command -v docker >/dev/null 2>&1 || { log "Docker is not installed"; exit 1; }
docker compose version >/dev/null 2>&1 || { log "the Docker compose plugin is missing"; exit 1; }

# InfluxDB and Grafana read the secrets only when their volumes are new.
if ! bind_is_loopback && docker volume inspect nbi_influxdb-data >/dev/null 2>&1; then
    log "InfluxDB and Grafana keep the secrets their volumes were made with: if that was with the defaults, change them there, or start afresh (docker compose down -v deletes the data)"
fi
partitions=${NBI_KAFKA_PARTITIONS:-3}

log "starting kafka, influxdb and grafana"
docker compose up -d

wait_healthy() {
    service=$1
    id=$(docker compose ps -q "$service")
    for _ in $(seq 1 120); do
        state=$(docker inspect -f '{{.State.Health.Status}}' "$id" 2>/dev/null || echo starting)
        [ "$state" = healthy ] && { log "$service is healthy"; return 0; }
        sleep 1
    done
    log "$service did not become healthy: docker compose logs $service"
    return 1
}
for s in kafka influxdb grafana; do wait_healthy "$s"; done

for topic in network-metrics network-metrics.dlq; do
    docker compose exec -T kafka /opt/kafka/bin/kafka-topics.sh --bootstrap-server localhost:9092 \
        --create --if-not-exists --topic "$topic" --partitions "$partitions" --replication-factor 1 >/dev/null
done
log "topics network-metrics and network-metrics.dlq are ready ($partitions partitions)"

host=${NBI_KAFKA_HOST:-127.0.0.1}
cat <<EOT

Kafka:    $host:9092
InfluxDB: http://$host:8086   (org nbi, bucket nbi, token \$NBI_INFLUX_TOKEN)
Grafana:  http://$host:3000   (admin / \$NBI_GRAFANA_PASSWORD; dashboard "Network Behavior Intelligence")

nbi configuration (config.toml):

[kafka]
brokers = "$host:9092"
topic = "network-metrics"
group = "nbi-collector"

[influxdb]
url = "http://$host:8086"
database = "nbi"
token_file = "/path/to/influx-token"   # or NBI_INFLUXDB__TOKEN in the environment
EOT
