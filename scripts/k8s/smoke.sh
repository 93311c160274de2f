#!/usr/bin/env bash
# Smoke test of the cached control plane built by build.sh: start etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and kwok as plain processes on free 127.0.0.1
# ports in a temp dir, seed a fake GPU node (managed by kwok) and a hostPath PV, then check
#   - a Deployment with an nvidia.com/gpu limit gets Running/Ready pods and availableReplicas,
#   - a PVC binds to the PV,
#   - `helm version` works and `helm install --wait` of a tiny chart succeeds.
# Every process it started is killed by PID on exit and the temp dir is removed
# (KEEP_TMP=1 keeps it for the logs; SMOKE_SOAK_SECONDS=N holds the cluster N s at the end
# and re-checks the node and pods). Usage: scripts/k8s/smoke.sh [BIN_DIR]
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${1:-$(bash "$HERE/build.sh" | tail -n1)}
for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok helm; do
  [[ -x "$BIN/$b" ]] || { echo "missing $BIN/$b (run build.sh)" >&2; exit 1; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/fedops-k8s.XXXXXX")
PIDS=()
log() { echo "[k8s-smoke] $(date +%T) $*" >&2; }

cleanup() {
  local rc=$? i pid n
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do     # reverse start order
    pid=${PIDS[i]}
    kill "$pid" 2>/dev/null || continue
    for n in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ $rc != 0 ]]; then
    log "FAILED (rc=$rc); last log lines:"
    for f in "$T"/*.log; do [[ -f $f ]] && { echo "== $f" >&2; tail -n 15 "$f" >&2; }; done
  fi
  if [[ "${KEEP_TMP:-0}" == 1 ]]; then log "kept $T"; else rm -rf "$T"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_until SECONDS DESCRIPTION CMD...: poll CMD every 0.5 s, fail after SECONDS.
wait_until() {
  local limit=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    local pid
    for pid in "${PIDS[@]}"; do
      kill -0 "$pid" 2>/dev/null || { log "process $pid exited while waiting for: $what"; return 1; }
    done
    if ((SECONDS >= deadline)); then log "timed out after ${limit}s waiting for: $what"; return 1; fi
    sleep 0.5
  done
  log "ok: $what"
}

# --- certificates --------------------------------------------------------------------
log "certificates in $T"
cd "$T"
openssl req -x509 -newkey rsa:2048 -nodes -days 365 -keyout ca.key -out ca.crt \
  -subj "/CN=fedops-test-ca" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr \
  -subj "/O=system:masters/CN=admin" 2>/dev/null
cat >admin.ext <<'EOF'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
EOF
openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 \
  -extfile admin.ext -out admin.crt 2>/dev/null
# Service-account token signing key pair (separate from the serving key).
openssl genrsa -out sa.key 2048 2>/dev/null
openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null

ETCD_PORT=$(free_port)
ETCD_PEER_PORT=$(free_port)
API_PORT=$(free_port)
API="https://127.0.0.1:$API_PORT"

printf '#!/bin/sh\nexec "%s" --kubeconfig "%s" "$@"\n' "$BIN/kubectl" "$T/kubeconfig" >"$T/kc"
chmod +x "$T/kc"
K=("$T/kc")
"${K[@]}" config set-cluster local --server="$API" --certificate-authority="$T/ca.crt" --embed-certs=true >/dev/null
"${K[@]}" config set-credentials admin --client-certificate="$T/admin.crt" --client-key="$T/admin.key" --embed-certs=true >/dev/null
"${K[@]}" config set-context local --cluster=local --user=admin >/dev/null
"${K[@]}" config use-context local >/dev/null

# --- etcd ----------------------------------------------------------------------------
t0=$SECONDS
t0_ns=$(date +%s%N)
log "etcd on 127.0.0.1:$ETCD_PORT"
"$BIN/etcd" --name=smoke --data-dir="$T/etcd-data" \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="smoke=http://127.0.0.1:$ETCD_PEER_PORT" \
  --unsafe-no-fsync=true --log-level=warn >"$T/etcd.log" 2>&1 &
PIDS+=($!)
wait_until 30 "etcd /health" curl -fsS "http://127.0.0.1:$ETCD_PORT/health"

# --- kube-apiserver ------------------------------------------------------------------
log "kube-apiserver on $API"
"$BIN/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" \
  --endpoint-reconciler-type=none \
  --tls-cert-file="$T/admin.crt" --tls-private-key-file="$T/admin.key" \
  --client-ca-file="$T/ca.crt" \
  --service-account-key-file="$T/sa.pub" --service-account-signing-key-file="$T/sa.key" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-cluster-ip-range=10.96.0.0/24 \
  --authorization-mode=Node,RBAC \
  --allow-privileged=true \
  --cert-dir="$T/apiserver-certs" \
  --v=1 >"$T/kube-apiserver.log" 2>&1 &
PIDS+=($!)
CURL=(curl -fsS --cacert "$T/ca.crt" --cert "$T/admin.crt" --key "$T/admin.key")
wait_until 120 "kube-apiserver /readyz" "${CURL[@]}" "$API/readyz"
ready_ms=$((($(date +%s%N) - t0_ns) / 1000000))
log "start -> /readyz: ${ready_ms} ms"
log "server /version: $("${CURL[@]}" "$API/version" | tr -d '\n ' )"

# --- controller-manager, scheduler, kwok -----------------------------------------------
"$BIN/kube-controller-manager" --kubeconfig="$T/kubeconfig" \
  --authentication-kubeconfig="$T/kubeconfig" --authorization-kubeconfig="$T/kubeconfig" \
  --leader-elect=false --secure-port=0 --bind-address=127.0.0.1 \
  --root-ca-file="$T/ca.crt" --service-account-private-key-file="$T/sa.key" \
  --use-service-account-credentials=true \
  --v=1 >"$T/kube-controller-manager.log" 2>&1 &
PIDS+=($!)
"$BIN/kube-scheduler" --kubeconfig="$T/kubeconfig" \
  --authentication-kubeconfig="$T/kubeconfig" --authorization-kubeconfig="$T/kubeconfig" \
  --leader-elect=false --secure-port=0 --bind-address=127.0.0.1 \
  --v=1 >"$T/kube-scheduler.log" 2>&1 &
PIDS+=($!)
# kwok's binary has no default stages: build.sh puts the release's own stage files
# (node-initialize, node-heartbeat-with-lease, pod-ready/complete/delete) next to bin/.
KWOK_STAGES="$BIN/../share/kwok-stages.yaml"
[[ -s "$KWOK_STAGES" ]] || { log "missing $KWOK_STAGES (run build.sh)"; exit 1; }
"$BIN/kwok" --kubeconfig="$T/kubeconfig" --config="$KWOK_STAGES" \
  --node-lease-duration-seconds=40 \
  --manage-all-nodes=false \
  --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --manage-nodes-with-label-selector= \
  --cidr=10.244.0.0/24 --node-ip=10.244.255.1 \
  >"$T/kwok.log" 2>&1 &
PIDS+=($!)

wait_until 60 "default ServiceAccount (controller-manager up)" "${K[@]}" get serviceaccount default -n default

# --- seed: fake GPU node and a hostPath PV -----------------------------------------------
cat >"$T/seed.yaml" <<'EOF'
apiVersion: v1
kind: Node
metadata:
  name: fake-gpu-0
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: fake-gpu-0
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    kubernetes.io/role: agent
    node-role.kubernetes.io/agent: ""
    type: kwok
spec: {}
status:
  capacity:
    cpu: "32"
    memory: 256Gi
    pods: "110"
    nvidia.com/gpu: "8"
  allocatable:
    cpu: "32"
    memory: 256Gi
    pods: "110"
    nvidia.com/gpu: "8"
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: smoke-pv
spec:
  capacity:
    storage: 1Gi
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  hostPath:
    path: /tmp/fedops-smoke-pv
EOF
"${K[@]}" apply -f "$T/seed.yaml" >&2
wait_until 60 "node fake-gpu-0 Ready (kwok)" \
  bash -c "$T/kc get node fake-gpu-0 -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"
"${K[@]}" get node fake-gpu-0 -o jsonpath='{.status.allocatable}{"\n"}' >&2

# --- workload: Deployment with a GPU limit, PVC ------------------------------------------
cat >"$T/workload.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: gpu-trainer
  namespace: default
spec:
  replicas: 2
  selector:
    matchLabels: {app: gpu-trainer}
  template:
    metadata:
      labels: {app: gpu-trainer}
    spec:
      containers:
      - name: trainer
        image: registry.invalid/fedops/trainer:latest
        resources:
          limits:
            cpu: "1"
            memory: 1Gi
            nvidia.com/gpu: 1
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: smoke-pvc
  namespace: default
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: ""
  resources:
    requests:
      storage: 1Gi
EOF
"${K[@]}" apply -f "$T/workload.yaml" >&2
wait_until 90 "deployment gpu-trainer availableReplicas=2" \
  bash -c "$T/kc get deploy gpu-trainer -o jsonpath='{.status.availableReplicas}' | grep -qx 2"
"${K[@]}" rollout status deploy/gpu-trainer --timeout=30s >&2
"${K[@]}" get pods -o wide >&2
"${K[@]}" get deploy gpu-trainer -o jsonpath='replicas={.status.replicas} ready={.status.readyReplicas} available={.status.availableReplicas}{"\n"}' >&2
wait_until 60 "PVC smoke-pvc Bound" \
  bash -c "$T/kc get pvc smoke-pvc -o jsonpath='{.status.phase}' | grep -qx Bound"
"${K[@]}" get pv,pvc >&2

# Real apiserver validation: extended resources must be whole numbers, requests == limits.
cat >"$T/bad-gpu.yaml" <<'EOF2'
apiVersion: v1
kind: Pod
metadata: {name: bad-gpu, namespace: default}
spec:
  containers:
  - name: c
    image: registry.invalid/x:1
    resources:
      requests: {nvidia.com/gpu: "1"}
      limits: {nvidia.com/gpu: "2"}
EOF2
if err=$("${K[@]}" apply --dry-run=server -f "$T/bad-gpu.yaml" 2>&1); then
  log "expected the apiserver to reject a GPU request != limit"; exit 1
fi
echo "$err" | grep -q "must be equal to nvidia.com/gpu limit" || { log "unexpected error: $err"; exit 1; }
log "ok: apiserver rejects GPU request != limit: $err"
"${K[@]}" get service kubernetes -n default >&2

# Scheduler counts GPUs: 9 replicas x 1 GPU on an 8-GPU node leaves one Pending.
"${K[@]}" scale deploy/gpu-trainer --replicas=9 >&2
wait_until 60 "8 of 9 GPU pods available, 1 Pending (Insufficient nvidia.com/gpu)" \
  bash -c "$T/kc get deploy gpu-trainer -o jsonpath='{.status.availableReplicas}' | grep -qx 8 && $T/kc get events --field-selector reason=FailedScheduling -o jsonpath='{.items[*].message}' | grep -q 'Insufficient nvidia.com/gpu'"
"${K[@]}" scale deploy/gpu-trainer --replicas=2 >&2

# --- helm ----------------------------------------------------------------------------
export HELM_CACHE_HOME="$T/helm/cache" HELM_CONFIG_HOME="$T/helm/config" HELM_DATA_HOME="$T/helm/data"
"$BIN/helm" version >&2
mkdir -p "$T/chart/templates"
cat >"$T/chart/Chart.yaml" <<'EOF'
apiVersion: v2
name: smoke
version: 0.1.0
kubeVersion: ">=1.30.0-0"
EOF
cat >"$T/chart/templates/deployment.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
spec:
  replicas: 1
  selector:
    matchLabels: {app: {{ .Release.Name }}-web}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}-web}
    spec:
      containers:
      - name: web
        image: registry.invalid/web:1
---
apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-web
spec:
  selector: {app: {{ .Release.Name }}-web}
  ports: [{port: 80}]
EOF
"$BIN/helm" --kubeconfig "$T/kubeconfig" install smoke "$T/chart" --wait --timeout 60s >&2
"$BIN/helm" --kubeconfig "$T/kubeconfig" list >&2

# Optional soak: the node must stay Ready past the controller-manager's node-monitor grace
# period (kwok renews its Lease), and nothing gets evicted.
SOAK=${SMOKE_SOAK_SECONDS:-0}
if ((SOAK > 0)); then
  log "soaking ${SOAK}s"
  sleep "$SOAK"
  "${K[@]}" get node fake-gpu-0 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' | grep -qx True ||
    { log "node not Ready after soak"; exit 1; }
  taints=$("${K[@]}" get node fake-gpu-0 -o jsonpath='{.spec.taints}')
  [[ -z "$taints" ]] || { log "node tainted after soak: $taints"; exit 1; }
  "${K[@]}" get deploy gpu-trainer -o jsonpath='{.status.availableReplicas}' | grep -qx 2 ||
    { log "gpu-trainer lost availability during soak"; exit 1; }
  log "ok: node Ready, untainted and pods available after ${SOAK}s"
fi

rss=0
for pid in "${PIDS[@]}"; do rss=$((rss + $(ps -o rss= -p "$pid" 2>/dev/null || echo 0))); done
log "resident memory of etcd+apiserver+kcm+scheduler+kwok: $((rss / 1024)) MiB"
log "ALL CHECKS PASSED (control plane ready in ${ready_ms} ms, total $((SECONDS - t0)) s)"
