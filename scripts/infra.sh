#!/usr/bin/env bash
# Real services for the integration and e2e tests, on loopback, started as our own processes:
#   kafka  Apache Kafka (KRaft, one combined broker+controller) from the Maven Central jars
#   redis  Debian's redis-server (no persistence)
#   s3     S3Proxy (filesystem backend, SigV4 credentials)
#
# Usage: scripts/infra.sh up|down|status|env [kafka|redis|s3]     (no service = all three)
#        scripts/infra.sh restart [kafka|redis|s3]                (kafka keeps its data across restart)
#        scripts/infra.sh stop|start [kafka|redis|s3]             (stop, then start again keeping the data)
#        scripts/infra.sh tool rclone                             (install a Debian tool the benchmarks use)
#
# Environment:
#   ZP_CACHE_DIR   downloads (default ${XDG_CACHE_HOME:-$HOME/.cache}/zoom-pipeline)
#   ZP_RUN_DIR     data dirs, logs, pid files, endpoints.json (default $ZP_CACHE_DIR/run)
#   ZP_KAFKA_PORT  19092 (the KRaft controller listens on ZP_KAFKA_PORT+1)
#   ZP_REDIS_PORT  16379
#   ZP_S3_PORT     19000
#   ZP_S3_ACCESS_KEY / ZP_S3_SECRET_KEY   S3Proxy credentials (defaults below)
#   ZP_INFRA_TIMEOUT  seconds to wait for each service to answer (default 90)
#   ZP_JAVA        java binary (default: java on PATH; must be 17+)
# See scripts/infra/README.md.
set -euo pipefail

# ---- version pins: the one place ------------------------------------------------------------------
KAFKA_VERSION=4.1.2              # org.apache.kafka:kafka_2.13
LOG4J_VERSION=2.25.3             # = the log4j-core kafka-server 4.1.2 pulls; + log4j-slf4j-impl (slf4j 1.7.x)
S3PROXY_VERSION=4.0.0            # org.gaul:s3proxy:<v>:jar:jar-with-dependencies
MAVEN_DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
# ---------------------------------------------------------------------------------------------------

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
INFRA_DIR=$SCRIPT_DIR/infra
ALL_SERVICES=(kafka redis s3)

: "${HOME:=$(getent passwd "$(id -u)" | cut -d: -f6)}"
CACHE=${ZP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/zoom-pipeline}
RUN=${ZP_RUN_DIR:-$CACHE/run}
KAFKA_PORT=${ZP_KAFKA_PORT:-19092}
REDIS_PORT=${ZP_REDIS_PORT:-16379}
S3_PORT=${ZP_S3_PORT:-19000}
S3_ACCESS_KEY=${ZP_S3_ACCESS_KEY:-zp-test-access-key}
S3_SECRET_KEY=${ZP_S3_SECRET_KEY:-zp-test-secret-key}
S3_REGION=us-east-1
TIMEOUT=${ZP_INFRA_TIMEOUT:-90}
LOCK_TIMEOUT=${ZP_INFRA_LOCK_TIMEOUT:-900}
JAVA=${ZP_JAVA:-java}

KAFKA_HOME=$CACHE/kafka-$KAFKA_VERSION
S3PROXY_HOME=$CACHE/s3proxy-$S3PROXY_VERSION
S3PROXY_JAR=$S3PROXY_HOME/s3proxy-$S3PROXY_VERSION-jar-with-dependencies.jar

log() { printf '[infra] %s\n' "$*" >&2; }
die() { printf '[infra] ERROR: %s\n' "$*" >&2; exit 1; }

for v in KAFKA_PORT REDIS_PORT S3_PORT TIMEOUT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number, got '${!v}'"
done
KAFKA_CONTROLLER_PORT=$((KAFKA_PORT + 1))

absolute() { case $1 in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$PWD" "$1" ;; esac; }
CACHE=$(absolute "$CACHE")
RUN=$(absolute "$RUN")
# Physical path: process cwds (used to recognise our processes) are reported resolved.
[[ -d $RUN ]] && RUN=$(cd "$RUN" && pwd -P)

svc_dir() { printf '%s/%s' "$RUN" "$1"; }
pid_file() { printf '%s/%s/%s.pid' "$RUN" "$1" "$1"; }
log_file() { printf '%s/%s/%s.log' "$RUN" "$1" "$1"; }
svc_port() { case $1 in kafka) echo "$KAFKA_PORT" ;; redis) echo "$REDIS_PORT" ;; s3) echo "$S3_PORT" ;; esac; }
port_var() { case $1 in kafka) echo ZP_KAFKA_PORT ;; redis) echo ZP_REDIS_PORT ;; s3) echo ZP_S3_PORT ;; esac; }

show_log_tail() {
  local f=$1 n=${2:-40}
  if [[ -s $f ]]; then
    printf '[infra] ---- last %s lines of %s ----\n' "$n" "$f" >&2
    tail -n "$n" "$f" >&2
    printf '[infra] ---- end of %s ----\n' "$f" >&2
  else
    log "(log $f is empty or missing)"
  fi
}

# ---- process identity ------------------------------------------------------------------------------
# A pid is "ours" when it is alive (not a zombie), runs in our service dir (we start every service with
# cwd = $RUN/<svc>) and runs the expected program. This survives pid reuse and never matches other
# users' Kafka/Redis/S3Proxy processes.
alive() {
  local pid=$1 state
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)
  [[ -n $state && $state != Z && $state != X ]]
}

is_ours() {
  local svc=$1 pid=$2 cwd cmd
  alive "$pid" || return 1
  cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null || true)
  [[ $cwd == "$(svc_dir "$svc")" ]] || return 1
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
  case $svc in
    kafka) [[ $cmd == *kafka.Kafka* ]] ;;
    s3) [[ $cmd == *s3proxy* ]] ;;
    redis) [[ $(readlink "/proc/$pid/exe" 2>/dev/null || true) == *redis-server* || $cmd == *redis-server* ]] ;;
  esac
}

# Prints the pid when the pid file names a live process of ours; removes a stale pid file.
our_pid() {
  local svc=$1 f pid
  f=$(pid_file "$svc")
  [[ -f $f ]] || return 1
  pid=$(<"$f")
  if is_ours "$svc" "$pid"; then
    echo "$pid"
    return 0
  fi
  return 1
}

# ---- probes ----------------------------------------------------------------------------------------
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

port_owner() {
  local who=""
  if command -v ss >/dev/null 2>&1; then
    who=$(ss -ltnpH "sport = :$1" 2>/dev/null | grep -o 'users:((.*))' | head -1 || true)
  fi
  printf '%s' "${who:-an unknown process}"
}

answers() {
  case $1 in
    kafka) node "$INFRA_DIR/wait-kafka.cjs" "127.0.0.1:$KAFKA_PORT" 0 >/dev/null 2>&1 ;;
    redis) [[ $(timeout 5 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]] ;;
    s3)
      # Any HTTP status from S3Proxy counts (an anonymous GET / answers 403 AccessDenied in S3 XML).
      local code
      code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$S3_PORT/" 2>/dev/null || true)
      [[ $code =~ ^[1-5][0-9][0-9]$ ]]
      ;;
  esac
}

# Waits until the service answers; fails fast (with the log tail) if its process dies.
wait_for() {
  local svc=$1 pid=$2 deadline
  deadline=$((SECONDS + TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! alive "$pid"; then
      show_log_tail "$(log_file "$svc")"
      rm -f "$(pid_file "$svc")"
      die "$svc (pid $pid) exited during startup; see $(log_file "$svc")"
    fi
    if answers "$svc"; then
      [[ $svc == kafka ]] || return 0
      # Load the group and transaction coordinators now rather than in the first test.
      node "$INFRA_DIR/wait-kafka.cjs" "127.0.0.1:$KAFKA_PORT" $((deadline - SECONDS)) --warm >/dev/null 2>&1 && return 0
      show_log_tail "$(log_file kafka)"
      die "kafka answers on 127.0.0.1:$KAFKA_PORT but its group/transaction coordinators did not load within ${TIMEOUT}s"
    fi
    sleep 0.5
  done
  show_log_tail "$(log_file "$svc")"
  die "$svc (pid $pid) did not answer on 127.0.0.1:$(svc_port "$svc") within ${TIMEOUT}s (ZP_INFRA_TIMEOUT); it is left running: 'scripts/infra.sh restart $svc' or 'down'"
}

# ---- prerequisites ---------------------------------------------------------------------------------
need_java() {
  command -v "$JAVA" >/dev/null 2>&1 ||
    die "java not found (needed by Kafka and S3Proxy): install it with 'apt-get install -y openjdk-17-jre-headless' (or set ZP_JAVA)"
  local major
  major=$("$JAVA" -version 2>&1 | sed -n 's/.*version "\([0-9]*\)[."].*/\1/p' | head -1)
  [[ -n $major && $major -ge 17 ]] ||
    die "$JAVA is Java '${major:-unknown}'; Kafka $KAFKA_VERSION and S3Proxy $S3PROXY_VERSION need Java 17+: apt-get install -y openjdk-17-jre-headless (or set ZP_JAVA)"
}

need_mvn() {
  command -v mvn >/dev/null 2>&1 ||
    die "mvn not found; it is needed once to download $1 into $CACHE: apt-get install -y maven"
}

need_node() {
  command -v node >/dev/null 2>&1 || die "node not found (used to probe Kafka)"
}

# Serialises downloads between concurrent runs that share the cache (fd 8).
with_cache_lock() {
  mkdir -p "$CACHE/logs"
  exec 8>"$CACHE/.install.lock"
  if ! flock -n 8; then
    log "another infra.sh is downloading into $CACHE; waiting (up to ${LOCK_TIMEOUT}s)"
    flock -w "$LOCK_TIMEOUT" 8 || die "timed out waiting for $CACHE/.install.lock"
  fi
  "$@"
  flock -u 8
  exec 8>&-
}

mvn_fail() {
  local what=$1 mlog=$2
  grep -E '^\[ERROR\]' "$mlog" | head -15 >&2 || true
  die "Maven could not download $what (full log: $mlog; cache dir is $CACHE, Maven repo $CACHE/m2). Check that Maven Central is reachable; a retry resumes from the cache"
}

install_kafka() {
  local stamp="kafka_2.13=$KAFKA_VERSION log4j=$LOG4J_VERSION"
  [[ -f $KAFKA_HOME/.complete && $(<"$KAFKA_HOME/.complete") == "$stamp" ]] && return 0
  need_mvn "org.apache.kafka:kafka_2.13:$KAFKA_VERSION"
  local mlog=$CACHE/logs/mvn-kafka-$KAFKA_VERSION.log tmp=$KAFKA_HOME/libs.tmp.$$ start=$SECONDS
  log "downloading Kafka $KAFKA_VERSION jars from Maven Central into $KAFKA_HOME (once)"
  mkdir -p "$KAFKA_HOME"
  rm -rf "$tmp"
  mvn -B -ntp -f "$INFRA_DIR/kafka-runtime.pom" -Dmaven.repo.local="$CACHE/m2" \
    -Dkafka.version="$KAFKA_VERSION" -Dlog4j.version="$LOG4J_VERSION" \
    "$MAVEN_DEPENDENCY_PLUGIN:copy-dependencies" -DincludeScope=runtime -DoutputDirectory="$tmp" \
    >"$mlog" 2>&1 </dev/null ||
    mvn_fail "org.apache.kafka:kafka_2.13:$KAFKA_VERSION + org.apache.logging.log4j:log4j-slf4j-impl:$LOG4J_VERSION" "$mlog"
  ls "$tmp"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null 2>&1 || mvn_fail "kafka_2.13-$KAFKA_VERSION.jar" "$mlog"
  rm -rf "$KAFKA_HOME/libs"
  mv "$tmp" "$KAFKA_HOME/libs"
  printf '%s' "$stamp" >"$KAFKA_HOME/.complete"
  log "Kafka jars ready ($((SECONDS - start))s)"
}

install_s3proxy() {
  [[ -s $S3PROXY_JAR && -f $S3PROXY_HOME/.complete ]] && return 0
  local artifact=org.gaul:s3proxy:$S3PROXY_VERSION:jar:jar-with-dependencies
  need_mvn "$artifact"
  local mlog=$CACHE/logs/mvn-s3proxy-$S3PROXY_VERSION.log start=$SECONDS
  local m2jar=$CACHE/m2/org/gaul/s3proxy/$S3PROXY_VERSION/s3proxy-$S3PROXY_VERSION-jar-with-dependencies.jar
  log "downloading S3Proxy $S3PROXY_VERSION from Maven Central into $S3PROXY_HOME (once)"
  mkdir -p "$S3PROXY_HOME"
  mvn -B -ntp -Dmaven.repo.local="$CACHE/m2" "$MAVEN_DEPENDENCY_PLUGIN:get" \
    -Dartifact="$artifact" -Dtransitive=false >"$mlog" 2>&1 </dev/null || mvn_fail "$artifact" "$mlog"
  [[ -s $m2jar ]] || mvn_fail "$artifact" "$mlog"
  ln -f "$m2jar" "$S3PROXY_JAR.tmp" 2>/dev/null || cp "$m2jar" "$S3PROXY_JAR.tmp"
  mv -f "$S3PROXY_JAR.tmp" "$S3PROXY_JAR"
  : >"$S3PROXY_HOME/.complete"
  log "S3Proxy ready ($((SECONDS - start))s)"
}

install_redis() {
  command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 && return 0
  install_debian_package redis-server
}

# Installs one of Debian's packages (root, or passwordless sudo), for a tool the project needs that npm cannot bring.
install_debian_package() {
  local pkg=$1 sudo=()
  if [[ $(id -u) != 0 ]]; then
    if ! { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }; then
      die "$pkg is missing and we are not root: run 'sudo apt-get update && sudo apt-get install -y $pkg'"
    fi
    sudo=(sudo -n)
  fi
  command -v apt-get >/dev/null 2>&1 || die "$pkg is missing and apt-get is not available: install it so that it is on PATH"
  mkdir -p "$CACHE/logs"
  local alog=$CACHE/logs/apt-$pkg.log start=$SECONDS
  log "installing Debian's $pkg (apt-get; log $alog)"
  { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$pkg"; } \
    >"$alog" 2>&1 </dev/null || {
    tail -n 20 "$alog" >&2
    die "apt-get install $pkg failed (log $alog)"
  }
  log "$pkg installed ($((SECONDS - start))s)"
}

# Fails when a port we need is taken by a process that is not one of ours.
check_port_free() {
  local svc=$1 port=$2 var=$3
  if port_open "$port"; then
    die "port $port ($svc) is already in use by $(port_owner "$port"), which is not a service started by this script (run dir $RUN). Stop it or pick another port with $var=<port>"
  fi
}

# ---- starting ----------------------------------------------------------------------------------------
# Launch detached: own session (a Ctrl-C in the test runner does not kill it), stdin from /dev/null,
# output to the log, cwd = the service dir, and without our lock fds (8, 9) so a running service never
# holds the lock. In a non-interactive shell the background subshell is not a process-group leader,
# so setsid does not fork and $! is the service's pid (left in LAUNCHED_PID).
launch() {
  local svc=$1
  shift
  local dir
  dir=$(svc_dir "$svc")
  (cd "$dir" && exec setsid "$@" </dev/null >>"$(log_file "$svc")" 2>&1 8>&- 9>&-) &
  LAUNCHED_PID=$!
  echo "$LAUNCHED_PID" >"$(pid_file "$svc")"
  svc_port "$svc" >"$dir/port"
}

write_kafka_properties() {
  local dir=$1
  cat >"$dir/server.properties" <<EOF
# generated by scripts/infra.sh; regenerated on every start
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
auto.create.topics.enable=false
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
log.index.size.max.bytes=1048576
# A test broker: keep a day of records, in segments small enough to be deleted (benchmarks append ~300 MB a run).
log.retention.hours=24
log.segment.bytes=67108864
EOF
}

start_kafka() {
  local keep=$1 dir
  dir=$(svc_dir kafka)
  mkdir -p "$dir"
  if [[ $keep != keep ]]; then
    rm -rf "$dir/data"
    : >"$(log_file kafka)"
  fi
  write_kafka_properties "$dir"
  cp "$INFRA_DIR/log4j2.properties" "$dir/log4j2.properties"
  local cp="$KAFKA_HOME/libs/*" logcfg="-Dlog4j2.configurationFile=$dir/log4j2.properties"
  if [[ ! -f $dir/data/meta.properties ]]; then
    local cluster_id
    # 16 random bytes, base64url without padding (= Kafka's Uuid text); never starting with '-', which the
    # storage tool's argument parser would take for an option (Kafka's own Uuid.randomUuid avoids it too).
    cluster_id=-
    while [[ $cluster_id == -* ]]; do
      cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    done
    echo "$cluster_id" >"$dir/cluster.id"
    if ! (cd "$dir" && "$JAVA" -XX:TieredStopAtLevel=1 -Xshare:auto "$logcfg" -cp "$cp" kafka.tools.StorageTool \
      format --ignore-formatted -t "$cluster_id" -c "$dir/server.properties") >>"$(log_file kafka)" 2>&1 </dev/null 8>&- 9>&-; then
      show_log_tail "$(log_file kafka)"
      die "formatting the Kafka log dir $dir/data failed"
    fi
  fi
  launch kafka "$JAVA" -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true "$logcfg" -cp "$cp" kafka.Kafka "$dir/server.properties"
}

start_redis() {
  local keep=$1 dir
  dir=$(svc_dir redis)
  mkdir -p "$dir"
  # Claims must survive a Redis restart (a lost claim would let a retry become a second event), as in
  # production: AOF with fsync on every write. `up` starts empty, `restart`/`start` keep the data.
  [[ $keep == keep ]] || rm -rf "$dir/appendonlydir"
  : >"$(log_file redis)"
  cat >"$dir/redis.conf" <<EOF
# generated by scripts/infra.sh: test Redis, loopback only, AOF persistence (appendfsync always)
bind 127.0.0.1
port $REDIS_PORT
protected-mode yes
daemonize no
supervised no
save ""
appendonly yes
appendfsync always
dir $dir
logfile ""
EOF
  launch redis redis-server "$dir/redis.conf" --daemonize no
}

start_s3() {
  local keep=$1 dir
  dir=$(svc_dir s3)
  mkdir -p "$dir"
  if [[ $keep != keep ]]; then
    rm -rf "$dir/data"
    : >"$(log_file s3)"
  fi
  mkdir -p "$dir/data"
  cat >"$dir/s3proxy.conf" <<EOF
# generated by scripts/infra.sh
s3proxy.endpoint=http://127.0.0.1:$S3_PORT
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=$S3_ACCESS_KEY
s3proxy.credential=$S3_SECRET_KEY
jclouds.provider=filesystem
jclouds.filesystem.basedir=$dir/data
EOF
  launch s3 "$JAVA" -Xms64m -Xmx512m -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -jar "$S3PROXY_JAR" --properties "$dir/s3proxy.conf"
}

# ---- commands ----------------------------------------------------------------------------------------
take_run_lock() {
  mkdir -p "$RUN"
  RUN=$(cd "$RUN" && pwd -P)
  exec 9>"$RUN/.lock"
  if ! flock -n 9; then
    log "another infra.sh is working on $RUN; waiting (up to ${LOCK_TIMEOUT}s)"
    flock -w "$LOCK_TIMEOUT" 9 || die "timed out waiting for the lock $RUN/.lock"
  fi
}

write_endpoints() {
  local f=$RUN/endpoints.json
  cat >"$f.tmp" <<EOF
{
  "kafkaBrokers": "127.0.0.1:$KAFKA_PORT",
  "redisUrl": "redis://127.0.0.1:$REDIS_PORT",
  "s3": {
    "endpoint": "http://127.0.0.1:$S3_PORT",
    "region": "$S3_REGION",
    "accessKeyId": "$S3_ACCESS_KEY",
    "secretAccessKey": "$S3_SECRET_KEY",
    "forcePathStyle": true,
    "dataDir": "$(svc_dir s3)/data"
  }
}
EOF
  mv -f "$f.tmp" "$f"
}

# up_services KEEP svc...   (KEEP = keep|fresh: what to do with the data of a stopped kafka/s3)
up_services() {
  local keep=$1
  shift
  local svc pid port_rec
  local -a to_start=() running=()
  for svc in "$@"; do
    if pid=$(our_pid "$svc"); then
      port_rec=$(cat "$(svc_dir "$svc")/port" 2>/dev/null || true)
      if [[ -n $port_rec && $port_rec != "$(svc_port "$svc")" ]]; then
        die "$svc is running on port $port_rec but $(port_var "$svc")=$(svc_port "$svc"): run 'scripts/infra.sh restart $svc' to move it"
      fi
      running+=("$svc")
    else
      rm -f "$(pid_file "$svc")"
      to_start+=("$svc")
    fi
  done

  if ((${#to_start[@]})); then
    local needs_java=0
    for svc in "${to_start[@]}"; do [[ $svc == redis ]] || needs_java=1; done
    ((needs_java)) && need_java
    for svc in "${to_start[@]}"; do
      case $svc in
        kafka)
          need_node
          with_cache_lock install_kafka
          check_port_free kafka "$KAFKA_PORT" ZP_KAFKA_PORT
          check_port_free "kafka controller" "$KAFKA_CONTROLLER_PORT" "ZP_KAFKA_PORT (controller = ZP_KAFKA_PORT+1)"
          ;;
        redis)
          command -v redis-server >/dev/null 2>&1 || with_cache_lock install_redis
          check_port_free redis "$REDIS_PORT" ZP_REDIS_PORT
          ;;
        s3)
          with_cache_lock install_s3proxy
          check_port_free s3 "$S3_PORT" ZP_S3_PORT
          ;;
      esac
    done
  fi

  local -A started_pid=() t0=()
  for svc in "${to_start[@]}"; do
    t0[$svc]=$SECONDS
    "start_$svc" "$keep"
    started_pid[$svc]=$LAUNCHED_PID
    log "$svc: started (pid ${started_pid[$svc]}, log $(log_file "$svc"))"
  done
  for svc in "${running[@]}"; do
    pid=$(<"$(pid_file "$svc")")
    if answers "$svc"; then
      log "$svc: already running (pid $pid) on 127.0.0.1:$(svc_port "$svc")"
    else
      log "$svc: running (pid $pid) but not answering yet; waiting up to ${TIMEOUT}s"
      wait_for "$svc" "$pid"
    fi
  done
  for svc in "${to_start[@]}"; do
    wait_for "$svc" "${started_pid[$svc]}"
    log "$svc: answers on 127.0.0.1:$(svc_port "$svc") (ready $((SECONDS - ${t0[$svc]}))s after start or less)"
  done
  write_endpoints
}

stop_service() {
  local svc=$1 f pid grace
  f=$(pid_file "$svc")
  if [[ ! -f $f ]]; then
    log "$svc: not running"
    return 0
  fi
  pid=$(<"$f")
  if ! is_ours "$svc" "$pid"; then
    log "$svc: stale pid file ($pid is not our $svc); removed"
    rm -f "$f"
    return 0
  fi
  case $svc in kafka) grace=60 ;; *) grace=20 ;; esac
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + grace))
  while alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
  if alive "$pid"; then
    log "$svc: pid $pid still alive after ${grace}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 10))
    while alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
    alive "$pid" && die "$svc: pid $pid did not exit after SIGKILL"
  fi
  rm -f "$f"
  log "$svc: stopped (pid $pid)"
}

cmd_up() {
  take_run_lock
  local start=$SECONDS
  up_services fresh "$@"
  log "up done in $((SECONDS - start))s; endpoints: $RUN/endpoints.json"
}

cmd_down() {
  [[ -d $RUN ]] || { log "nothing to stop ($RUN does not exist)"; return 0; }
  take_run_lock
  local svc
  for svc in "$@"; do stop_service "$svc"; done
  local any=0
  for svc in "${ALL_SERVICES[@]}"; do [[ -f $(pid_file "$svc") ]] && any=1; done
  ((any)) || rm -f "$RUN/endpoints.json"
}

cmd_restart() {
  take_run_lock
  local svc start=$SECONDS
  for svc in "$@"; do stop_service "$svc"; done
  up_services keep "$@"
  log "restart done in $((SECONDS - start))s"
}

# start = up, keeping the data of a stopped service (tests stop the broker, then start it again and
# expect every acknowledged message to be there).
cmd_start() {
  take_run_lock
  up_services keep "$@"
}

cmd_status() {
  local svc pid rc=0 state
  for svc in "$@"; do
    if pid=$(our_pid "$svc"); then
      if answers "$svc"; then state="running, answers"; else state="running, NOT answering"; rc=1; fi
      printf '%-6s %-24s pid %-8s 127.0.0.1:%-6s log %s\n' "$svc" "$state" "$pid" "$(cat "$(svc_dir "$svc")/port" 2>/dev/null || svc_port "$svc")" "$(log_file "$svc")"
    else
      if [[ -f $(pid_file "$svc") ]]; then state="stopped (stale pid file)"; else state=stopped; fi
      printf '%-6s %s\n' "$svc" "$state"
      rc=3
    fi
  done
  return $rc
}

cmd_env() {
  local svc
  exp() { printf 'export %s=%q\n' "$1" "$2"; }
  for svc in "$@"; do
    case $svc in
      kafka) exp KAFKA_BROKERS "127.0.0.1:$KAFKA_PORT" ;;
      redis) exp REDIS_URL "redis://127.0.0.1:$REDIS_PORT" ;;
      s3)
        exp S3_ENDPOINT "http://127.0.0.1:$S3_PORT"
        exp S3_REGION "$S3_REGION"
        exp AWS_REGION "$S3_REGION"
        exp S3_FORCE_PATH_STYLE true
        exp AWS_ACCESS_KEY_ID "$S3_ACCESS_KEY"
        exp AWS_SECRET_ACCESS_KEY "$S3_SECRET_KEY"
        ;;
    esac
  done
  exp ZP_ENDPOINTS_FILE "$RUN/endpoints.json"
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}

main() {
  (($# >= 1)) || usage
  local cmd=$1
  shift
  if [[ $cmd == tool ]]; then
    # The benchmarks' peers that come from Debian (rclone): installed on first use.
    local t
    for t in "$@"; do command -v "$t" >/dev/null 2>&1 || install_debian_package "$t"; done
    return 0
  fi
  local -a services=()
  if (($# == 0)); then
    services=("${ALL_SERVICES[@]}")
  else
    local s
    for s in "$@"; do
      case $s in kafka | redis | s3) services+=("$s") ;; *) die "unknown service '$s' (kafka, redis, s3)" ;; esac
    done
  fi
  case $cmd in
    up) cmd_up "${services[@]}" ;;
    down) cmd_down "${services[@]}" ;;
    restart) cmd_restart "${services[@]}" ;;
    start) cmd_start "${services[@]}" ;;
    stop) cmd_down "${services[@]}" ;;
    status) cmd_status "${services[@]}" ;;
    env) cmd_env "${services[@]}" ;;
    -h | --help | help) usage ;;
    *) die "unknown command '$cmd' (up, down, start, stop, restart, status, env)" ;;
  esac
}

main "$@"
