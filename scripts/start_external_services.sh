#!/bin/sh
# Starts Kafka (KRaft), InfluxDB 2 and Grafana from docker/compose.yaml,
# detached, waits until each is healthy, creates the topics nbi uses, and
# prints the URLs and the nbi configuration for watchers and the collector.
# Needs Docker with the compose plugin. Safe to run twice.
#   NBI_BIND=0.0.0.0 ./scripts/start_external_services.sh   # let other machines in
set -eu
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$NBI_ROOT/docker"

command -v docker >/dev/null 2>&1 || { log "Docker is not installed"; exit 1; }
docker compose version >/dev/null 2>&1 || { log "the Docker compose plugin is missing"; exit 1; }

: "${NBI_INFLUX_TOKEN:=nbi-dev-token-change-me}"
export NBI_INFLUX_TOKEN
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
