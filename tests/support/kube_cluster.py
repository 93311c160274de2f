"""A real Kubernetes control plane as plain processes on loopback, for tests.

etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok are the pinned
binaries that ``scripts/k8s/build.sh`` builds from Go sources (no Docker, no kind). kwok
plays the kubelet for one fake GPU node, so pods get scheduled and become Ready without
containers. The start-up recipe and every flag are the ones ``scripts/k8s/smoke.sh``
verified; ``scripts/k8s/NOTES.md`` explains them.

Each process runs in its own session; ``stop`` sends SIGTERM to the process groups in
reverse start order and SIGKILL after 10 s, by PID. Logs stay under ``root``.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from fedops.ports import free_port
from tests.support.processes import ManagedProcess

__all__ = ["KubeCluster", "KubeClusterError", "KubeCommandError", "kube_bin_dir"]

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "scripts" / "k8s" / "build.sh"
BUILD_TIMEOUT = 40 * 60.0
SEED_VOLUMES = 60
NODE_NAME = "fake-gpu-0"
# What every (fake) container has written, served by kwok through the pods/log API.
POD_LOG_LINES = ("fedops-test: container started", "fedops-test: serving the fleet API", "fedops-test: ready")
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok", "helm")


class KubeClusterError(RuntimeError):
    """The cluster could not be built, started or queried."""


class KubeCommandError(KubeClusterError):
    """kubectl or helm exited non-zero; the message carries its stderr."""

    def __init__(self, command: list[str], result: subprocess.CompletedProcess[str]) -> None:
        self.command = command
        self.result = result
        output = result.stderr.strip() or result.stdout.strip()
        super().__init__(f"{' '.join(command)} exited {result.returncode}:\n{output}")


def _kill_group(process: subprocess.Popen[Any], sig: signal.Signals) -> None:
    # The process leads its own group (start_new_session), so its PID is the group id.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def kube_bin_dir() -> Path:
    """Build (or reuse, in a few ms) the pinned binaries; returns their directory.

    A cold build takes about 14 minutes; ``make k8s-tools`` does it ahead of pytest.
    """
    process = subprocess.Popen(
        ["bash", str(BUILD_SCRIPT)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=BUILD_TIMEOUT)
    except BaseException:
        _kill_group(process, signal.SIGKILL)
        process.wait(timeout=30)
        raise
    lines = stdout.strip().splitlines()
    if process.returncode != 0 or not lines:
        tail = "\n".join(stderr.strip().splitlines()[-30:])
        raise KubeClusterError(f"{BUILD_SCRIPT} failed (exit {process.returncode}):\n{tail}")
    bin_dir = Path(lines[-1])
    missing = [name for name in BINARIES if not (bin_dir / name).is_file()]
    if missing:
        raise KubeClusterError(f"{BUILD_SCRIPT} printed {bin_dir}, which lacks {', '.join(missing)}")
    return bin_dir


class _Component(ManagedProcess):
    """One control-plane process: its own process group, its log in a file."""

    def __init__(self, name: str, command: list[str], log_path: Path) -> None:
        super().__init__(command, log_path=log_path)
        self.name = name

    def log_tail(self, lines: int = 30) -> str:
        """The log's last lines, after its error lines (a usage error prints them first)."""
        try:
            text = self.output().splitlines()
        except OSError:
            return ""
        tail = text[-lines:]
        errors = [line for line in text if line.startswith("Error:") or '"command failed"' in line]
        errors = [line for line in errors[-5:] if line not in tail]
        return "\n".join([*errors, "...", *tail] if errors else tail)


class KubeCluster:
    """etcd + kube-apiserver + kube-controller-manager + kube-scheduler + kwok on 127.0.0.1.

    After ``start()``: node ``fake-gpu-0`` (32 CPUs, 256Gi, 110 pods, 8 ``nvidia.com/gpu``)
    is Ready, and 60 hostPath PVs of 100Gi (storage class ``""``) are available, so PVCs
    without a storage class bind (there is no default StorageClass).
    """

    node_name = NODE_NAME

    def __init__(self, bin_dir: Path, root: Path) -> None:
        self.bin_dir = Path(bin_dir)
        self.root = Path(root)
        self.kubeconfig = self.root / "kubeconfig"
        self.ca_file = self.root / "ca.crt"
        self.client_cert = self.root / "admin.crt"
        self.client_key = self.root / "admin.key"
        self.kwok_stages = self.bin_dir.parent / "share" / "kwok-stages.yaml"
        self.pod_log_file = self.root / "pod.log"
        self.etcd_port = 0
        self.api_port = 0
        self.server = ""
        self.version = ""
        self._components: list[_Component] = []
        self._volumes = 0
        self._atexit_registered = False

    # -- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        if self._components:
            raise KubeClusterError("cluster already started")
        missing = [name for name in BINARIES if not (self.bin_dir / name).is_file()]
        if missing or not self.kwok_stages.is_file():
            raise KubeClusterError(
                f"{self.bin_dir} lacks {', '.join(missing) or self.kwok_stages.name}; "
                "run `make k8s-tools` (bash scripts/k8s/build.sh)"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        atexit.register(self.stop)
        self._atexit_registered = True
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every process (reverse order, SIGTERM then SIGKILL after 10 s). Idempotent."""
        errors: list[BaseException] = []
        while self._components:
            component = self._components.pop()
            try:
                component.stop()
            except BaseException as error:  # keep stopping the others
                errors.append(error)
        if self._atexit_registered:
            atexit.unregister(self.stop)
            self._atexit_registered = False
        shutil.rmtree(self.root / "etcd-data", ignore_errors=True)
        if errors:
            raise errors[0]

    def _start(self) -> None:
        self._write_certificates()
        self.etcd_port, etcd_peer_port, self.api_port = free_port(), free_port(), free_port()
        self.server = f"https://127.0.0.1:{self.api_port}"
        self._write_kubeconfig()

        etcd = f"http://127.0.0.1:{self.etcd_port}"
        peer = f"http://127.0.0.1:{etcd_peer_port}"
        self._launch(
            "etcd",
            "--name=fedops-test",
            f"--data-dir={self.root / 'etcd-data'}",
            f"--listen-client-urls={etcd}",
            f"--advertise-client-urls={etcd}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=fedops-test={peer}",
            "--unsafe-no-fsync=true",
            "--log-level=warn",
        )
        self._wait(30, "etcd /health", lambda: self._http_ok(f"{etcd}/health"))

        root = self.root
        self._launch(
            "kube-apiserver",
            f"--etcd-servers={etcd}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.api_port}",
            # Loopback is not a valid advertise address for the endpoint reconciler.
            "--endpoint-reconciler-type=none",
            f"--tls-cert-file={self.client_cert}",
            f"--tls-private-key-file={self.client_key}",
            f"--client-ca-file={self.ca_file}",
            f"--service-account-key-file={root / 'sa.pub'}",
            f"--service-account-signing-key-file={root / 'sa.key'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--service-cluster-ip-range=10.96.0.0/24",
            "--authorization-mode=Node,RBAC",
            "--allow-privileged=true",
            f"--cert-dir={root / 'apiserver-certs'}",
            "--v=1",
        )
        self._wait(120, "kube-apiserver /readyz", lambda: self._http_ok(f"{self.server}/readyz"))
        self.version = str(json.loads(self._https_get("/version"))["gitVersion"])

        kubeconfigs = (
            f"--kubeconfig={self.kubeconfig}",
            f"--authentication-kubeconfig={self.kubeconfig}",
            f"--authorization-kubeconfig={self.kubeconfig}",
        )
        no_serving = ("--leader-elect=false", "--secure-port=0", "--bind-address=127.0.0.1")
        self._launch(
            "kube-controller-manager",
            *kubeconfigs,
            *no_serving,
            f"--root-ca-file={self.ca_file}",
            f"--service-account-private-key-file={root / 'sa.key'}",
            "--use-service-account-credentials=true",
            "--v=1",
        )
        self._launch("kube-scheduler", *kubeconfigs, *no_serving, "--v=1")
        kwok_port = free_port()
        self._launch(
            "kwok",
            f"--kubeconfig={self.kubeconfig}",
            f"--config={self._write_kwok_config()}",
            "--node-lease-duration-seconds=40",
            "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            "--manage-nodes-with-label-selector=",
            # Distinct from the service range; never routed, only strings in objects.
            "--cidr=10.244.0.0/24",
            # kwok also plays the node's kubelet API (pods/log) on loopback, with TLS.
            "--node-ip=127.0.0.1",
            f"--node-port={kwok_port}",
            f"--server-address=127.0.0.1:{kwok_port}",
            f"--tls-cert-file={self.client_cert}",
            f"--tls-private-key-file={self.client_key}",
        )
        self._wait(
            60,
            "default ServiceAccount in default (kube-controller-manager up)",
            lambda: self._kubectl_ok("get", "serviceaccount", "default", "-n", "default"),
        )

        self._create_objects([self._node_manifest()])
        self._wait(60, f"node {NODE_NAME} Ready (kwok)", self._node_ready)
        self.add_volumes(SEED_VOLUMES)

    def _write_kwok_config(self) -> Path:
        """The release's stages (the kwok binary has none built in; build.sh writes them)
        plus a ClusterLogs object: every container's log is ``pod_log_file``."""
        # The container runtime (CRI) log format kubelets read: time, stream, tag, text.
        self.pod_log_file.write_text(
            "".join(
                f"2026-01-01T00:00:0{i}.000000000Z stdout F {line}\n" for i, line in enumerate(POD_LOG_LINES)
            )
        )
        cluster_logs = {
            "apiVersion": "kwok.x-k8s.io/v1alpha1",
            "kind": "ClusterLogs",
            "metadata": {"name": "fedops-test-logs"},
            "spec": {"logs": [{"logsFile": str(self.pod_log_file)}]},
        }
        path = self.root / "kwok.yaml"
        path.write_text(self.kwok_stages.read_text().rstrip() + "\n---\n" + json.dumps(cluster_logs) + "\n")
        return path

    def _launch(self, binary: str, *flags: str) -> None:
        command = [str(self.bin_dir / binary), *flags]
        self._components.append(_Component(binary, command, self.root / f"{binary}.log"))

    def _check_alive(self, waiting_for: str) -> None:
        for component in self._components:
            if not component.alive():
                raise KubeClusterError(
                    f"{component.name} exited ({component.process.returncode}) while waiting for "
                    f"{waiting_for}; last lines of {component.log_path}:\n{component.log_tail()}"
                )

    def _wait(self, timeout: float, what: str, condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive(what)
            if condition():
                return
            if time.monotonic() >= deadline:
                raise KubeClusterError(
                    f"timed out after {timeout:.0f} s waiting for {what} (logs in {self.root})"
                )
            time.sleep(0.25)

    # -- setup helpers ------------------------------------------------------------------

    def _openssl(self, *args: str) -> None:
        result = subprocess.run(
            ["openssl", *args], cwd=self.root, capture_output=True, text=True, timeout=60, check=False
        )
        if result.returncode != 0:
            raise KubeClusterError(f"openssl {' '.join(args)} failed:\n{result.stderr}")

    def _write_certificates(self) -> None:
        self._openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "365",
            "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=fedops-test-ca",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        )  # fmt: skip
        self._openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "admin.key", "-out", "admin.csr",
            "-subj", "/O=system:masters/CN=admin",
        )  # fmt: skip
        (self.root / "admin.ext").write_text(
            "basicConstraints=CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=serverAuth,clientAuth\n"
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        )
        self._openssl(
            "x509", "-req", "-in", "admin.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "365", "-extfile", "admin.ext", "-out", "admin.crt",
        )  # fmt: skip
        # Service-account token signing key pair, separate from the serving key.
        self._openssl("genrsa", "-out", "sa.key", "2048")
        self._openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub")

    def _write_kubeconfig(self) -> None:
        self.kubectl(
            "config", "set-cluster", "local", f"--server={self.server}",
            f"--certificate-authority={self.ca_file}", "--embed-certs=true",
        )  # fmt: skip
        self.kubectl(
            "config", "set-credentials", "admin", f"--client-certificate={self.client_cert}",
            f"--client-key={self.client_key}", "--embed-certs=true",
        )  # fmt: skip
        self.kubectl("config", "set-context", "local", "--cluster=local", "--user=admin")
        self.kubectl("config", "use-context", "local")

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        context.load_cert_chain(str(self.client_cert), str(self.client_key))
        return context

    def _https_get(self, path: str) -> bytes:
        with urllib.request.urlopen(  # noqa: S310 - fixed https URL on loopback
            f"{self.server}{path}", context=self._ssl_context(), timeout=5
        ) as response:
            body: bytes = response.read()
            return body

    def _http_ok(self, url: str) -> bool:
        context = self._ssl_context() if url.startswith("https:") else None
        try:
            with urllib.request.urlopen(url, context=context, timeout=2) as response:  # noqa: S310
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def _kubectl_ok(self, *args: str) -> bool:
        try:  # a slow answer on a busy machine is a "not yet", not a failed start
            return self.kubectl(*args, check=False, timeout=15).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def _node_ready(self) -> bool:
        try:
            result = self.kubectl("get", "node", NODE_NAME, "-o", "json", check=False, timeout=15)
        except subprocess.TimeoutExpired:
            return False
        if result.returncode != 0:
            return False
        conditions = json.loads(result.stdout).get("status", {}).get("conditions", [])
        return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)

    @staticmethod
    def _node_manifest() -> dict[str, Any]:
        resources = {"cpu": "32", "memory": "256Gi", "pods": "110", "nvidia.com/gpu": "8"}
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": NODE_NAME,
                "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {
                    "kubernetes.io/hostname": NODE_NAME,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "kubernetes.io/role": "agent",
                    "node-role.kubernetes.io/agent": "",
                    "type": "kwok",
                },
            },
            "spec": {},
            "status": {"capacity": dict(resources), "allocatable": dict(resources)},
        }

    def _create_objects(self, objects: list[dict[str, Any]]) -> None:
        manifest = {"apiVersion": "v1", "kind": "List", "items": objects}
        self.kubectl("create", "-f", "-", input=json.dumps(manifest), timeout=120)

    # -- public helpers -----------------------------------------------------------------

    def _run(
        self,
        binary: str,
        args: tuple[str, ...],
        *,
        input: str | None,
        check: bool,
        timeout: float,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / binary), "--kubeconfig", str(self.kubeconfig), *args]
        result = subprocess.run(
            command,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, **(env or {})},
            stdin=None if input is not None else subprocess.DEVNULL,
        )
        if check and result.returncode != 0:
            raise KubeCommandError(command, result)
        return result

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run the built kubectl (same version as the server) against this cluster."""
        return self._run("kubectl", args, input=input, check=check, timeout=timeout)

    def helm(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run the built helm against this cluster; its cache/config/data stay under ``root``."""
        helm_home = self.root / "helm"
        env = {
            "KUBECONFIG": str(self.kubeconfig),
            "HELM_CACHE_HOME": str(helm_home / "cache"),
            "HELM_CONFIG_HOME": str(helm_home / "config"),
            "HELM_DATA_HOME": str(helm_home / "data"),
        }
        return self._run("helm", args, input=input, check=check, timeout=timeout, env=env)

    def add_volumes(self, count: int, size: str = "100Gi") -> None:
        """Create ``count`` more hostPath PVs (class ``""``, ReadWriteOnce, Retain)."""
        volumes = []
        for number in range(self._volumes, self._volumes + count):
            name = f"fedops-test-pv-{number}"
            volumes.append(
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolume",
                    "metadata": {"name": name, "labels": {"fedops.test/volume": "true"}},
                    "spec": {
                        "capacity": {"storage": size},
                        "accessModes": ["ReadWriteOnce"],
                        "persistentVolumeReclaimPolicy": "Retain",
                        "storageClassName": "",
                        "hostPath": {"path": str(self.root / "volumes" / name)},
                    },
                }
            )
        if volumes:
            self._create_objects(volumes)
        self._volumes += count

    def create_namespace(self, name: str) -> None:
        """Create ``name`` and wait (bounded) for its ``default`` ServiceAccount, which pods need."""
        self.kubectl("create", "namespace", name)
        self._wait(
            30,
            f"ServiceAccount default in namespace {name}",
            lambda: self._kubectl_ok("get", "serviceaccount", "default", "-n", name),
        )

    def delete_namespace(self, name: str, wait: bool = True) -> None:
        """Delete ``name``; with ``wait``, until it is gone (at most 120 s)."""
        if wait:
            self.kubectl(
                "delete",
                "namespace",
                name,
                "--ignore-not-found",
                "--wait=true",
                "--timeout=120s",
                timeout=130,
            )
        else:
            self.kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=false")

    def resident_memory(self) -> int:
        """Resident set size of all control-plane processes together, in bytes."""
        total = 0
        page = os.sysconf("SC_PAGE_SIZE")
        for component in self._components:
            with contextlib.suppress(OSError, IndexError, ValueError):
                statm = Path(f"/proc/{component.process.pid}/statm").read_text().split()
                total += int(statm[1]) * page
        return total
